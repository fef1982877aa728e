//! The management protocol between `ofswitch vsctl` and the daemon: one
//! JSON line each way over the unix socket `<state_dir>/ofswitch.ctl`.
//!
//! ```text
//! → {"argv": ["add-br", "br0"], "format": "text"}
//! ← {"ok": true, "output": "", "error": null, "exit_code": 0}
//! ```
//!
//! One request per connection: the client writes its line, the daemon
//! answers one line and closes. The daemon runs the request with
//! [`crate::config::vsctl::execute_with_format`]; the CLI only forwards its
//! arguments, so what a command means is decided in one place. JSON lines
//! keep the protocol usable from a shell (`socat`) and from tokio alike.

use crate::config::vsctl::{Format, VsctlError, VsctlOutput};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The management socket's name in the state directory.
pub const SOCKET_FILE: &str = "ofswitch.ctl";

/// Longest request or response line accepted (bytes).
pub const MAX_LINE: u64 = 16 << 20;

/// `<state_dir>/ofswitch.ctl`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_FILE)
}

/// A command line for the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The words after `ofswitch vsctl`.
    pub argv: Vec<String>,
    /// Default output format; a `--format` in `argv` wins.
    #[serde(default)]
    pub format: Format,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// What to print on stdout.
    #[serde(default)]
    pub output: String,
    /// One line, without the `ofswitch vsctl: ` prefix.
    #[serde(default)]
    pub error: Option<String>,
    /// The process exit status: 0, 1 (error) or 2 (`br-exists`: no).
    pub exit_code: i32,
    /// Lines for stderr (without the prefix) that do not fail the command:
    /// an interface the change added or changed and the daemon could not
    /// set up, as ovs-vsctl's "Error detected while setting up".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Response {
    /// A success that prints `output`.
    pub fn output(output: impl Into<String>) -> Response {
        Response {
            ok: true,
            output: output.into(),
            error: None,
            exit_code: 0,
            warnings: Vec::new(),
        }
    }

    /// A failure with exit status 1.
    pub fn error(message: impl Into<String>) -> Response {
        Response {
            ok: false,
            output: String::new(),
            error: Some(message.into()),
            exit_code: 1,
            warnings: Vec::new(),
        }
    }

    /// The answer to a [`crate::config::vsctl::execute`] result.
    pub fn from_result(result: &Result<VsctlOutput, VsctlError>) -> Response {
        match result {
            Ok(out) => Response {
                ok: true,
                output: out.output.clone(),
                error: None,
                exit_code: out.exit_code,
                warnings: Vec::new(),
            },
            Err(e) => Response::error(e.message.clone()),
        }
    }
}

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to the daemon at {}: {} (start it with `ofswitch daemon`)", path.display(), io_reason(source))]
    Connect { path: PathBuf, source: io::Error },
    #[error("lost the connection to the daemon at {}: {}", path.display(), io_reason(source))]
    Io { path: PathBuf, source: io::Error },
    #[error("the daemon at {} sent an invalid response: {detail}", path.display())]
    BadResponse { path: PathBuf, detail: String },
}

/// An I/O error's message without the " (os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Sends `argv` to the daemon of `state_dir` and waits for its answer.
pub fn request(state_dir: &Path, argv: Vec<String>) -> Result<Response, ClientError> {
    request_with(
        state_dir,
        &Request {
            argv,
            format: Format::Text,
        },
        None,
    )
}

/// [`request`] with a full request and an optional timeout for the
/// exchange.
pub fn request_with(
    state_dir: &Path,
    req: &Request,
    timeout: Option<Duration>,
) -> Result<Response, ClientError> {
    let path = socket_path(state_dir);
    let stream = UnixStream::connect(&path).map_err(|source| ClientError::Connect {
        path: path.clone(),
        source,
    })?;
    let io_err = |source: io::Error| ClientError::Io {
        path: path.clone(),
        source,
    };
    stream.set_read_timeout(timeout).map_err(io_err)?;
    stream.set_write_timeout(timeout).map_err(io_err)?;
    let mut line = serde_json::to_vec(req).map_err(|e| io_err(io::Error::other(e)))?;
    line.push(b'\n');
    (&stream).write_all(&line).map_err(io_err)?;
    let reply = read_line(&stream).map_err(io_err)?;
    if reply.is_empty() {
        return Err(ClientError::BadResponse {
            path: path.clone(),
            detail: "it closed the connection without answering".into(),
        });
    }
    serde_json::from_str(&reply).map_err(|e| ClientError::BadResponse {
        path: path.clone(),
        detail: e.to_string(),
    })
}

/// Reads one line (without its newline), at most [`MAX_LINE`] bytes.
fn read_line(stream: impl Read) -> io::Result<String> {
    let mut reader = BufReader::new(stream.take(MAX_LINE));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.len() as u64 >= MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Serves one connection, blocking: reads a request line, answers with
/// `handler`'s response (or an error response for a malformed request).
/// For the daemon's blocking code paths and for tests.
pub fn serve_one<S: Read + Write>(
    mut stream: S,
    handler: impl FnOnce(Request) -> Response,
) -> io::Result<()> {
    let line = read_line(&mut stream)?;
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(req) => handler(req),
        Err(e) => Response::error(format!("invalid request: {e}")),
    };
    let mut out = serde_json::to_vec(&response).map_err(io::Error::other)?;
    out.push(b'\n');
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn wire_format() {
        let req: Request = serde_json::from_str(r#"{"argv":["list-br"]}"#).unwrap();
        assert_eq!(req.format, Format::Text);
        let req: Request = serde_json::from_str(r#"{"argv":[],"format":"json"}"#).unwrap();
        assert_eq!(req.format, Format::Json);
        let resp = Response::error("no bridge named br9");
        assert_eq!(
            serde_json::to_string(&resp).unwrap(),
            r#"{"ok":false,"output":"","error":"no bridge named br9","exit_code":1}"#
        );
    }

    #[test]
    fn not_running_message() {
        let dir = tempfile::tempdir().unwrap();
        let e = request(dir.path(), vec!["show".into()])
            .unwrap_err()
            .to_string();
        let want = format!(
            "cannot connect to the daemon at {}: No such file or directory (start it with `ofswitch daemon`)",
            socket_path(dir.path()).display()
        );
        assert_eq!(e, want);
    }

    #[test]
    fn client_and_serve_one() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(socket_path(dir.path())).unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (s, _) = listener.accept().unwrap();
                serve_one(s, |req| Response {
                    ok: true,
                    output: req.argv.join(" "),
                    error: None,
                    exit_code: 0,
                    warnings: vec!["careful".into()],
                })
                .unwrap();
            }
        });
        let r = request(dir.path(), vec!["list-br".into(), "x".into()]).unwrap();
        assert_eq!(r.output, "list-br x");
        assert_eq!(r.warnings, ["careful"]);
        // A malformed request gets an error response.
        let mut s = UnixStream::connect(socket_path(dir.path())).unwrap();
        s.write_all(b"garbage\n").unwrap();
        let reply: Response = serde_json::from_str(&read_line(&s).unwrap()).unwrap();
        assert!(!reply.ok);
        assert!(reply.error.unwrap().starts_with("invalid request"));
        server.join().unwrap();
    }
}
