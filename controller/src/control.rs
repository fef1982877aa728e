//! The control socket: `ofcontroller status` and `ofcontroller reload` ask
//! a running `ofcontroller run --control PATH` over a unix socket.
//!
//! Why a unix socket: it is local only, who may use it is the file's
//! permissions (the socket is made owner-only, as a reload changes the
//! network), and no port has to be picked. At start, a socket file left by
//! a controller that died is removed, but only if nothing answers on it: a
//! second controller on the same path refuses to start instead of taking
//! the first one's socket away.
//!
//! Why this protocol: a request is one word on one line (`status`,
//! `reload`), the reply one line of JSON ([`Reply`]), then the server
//! closes. One exchange per connection needs no framing beyond the newline
//! and no state, `echo status | socat - UNIX-CONNECT:PATH` works by hand,
//! and a script reads the reply with any JSON parser (`status --json`
//! prints the [`Status`] in it as is).

use crate::status::{render, Status};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// Where `ofcontroller run` listens, and the others ask, by default.
pub const DEFAULT_PATH: &str = "/run/ofcontroller.ctl";

/// How long either side waits for the other.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request line read (the words are short).
const MAX_REQUEST: u64 = 256;

/// What a client asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The switches, ports, VLANs and learned MACs.
    Status,
    /// Re-read the policy file, as SIGHUP does.
    Reload,
}

impl Request {
    pub fn word(self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Reload => "reload",
        }
    }
}

impl std::str::FromStr for Request {
    type Err = String;
    fn from_str(s: &str) -> Result<Request, String> {
        match s.trim() {
            "status" => Ok(Request::Status),
            "reload" => Ok(Request::Reload),
            other => Err(format!("unknown request {other:?} (status, reload)")),
        }
    }
}

/// The answer, one JSON object: `{"status": {...}}`,
/// `{"reloaded": {"file": ...}}`, `{"refused": {"error": ...}}` (the
/// running policy is kept) or `{"error": {"error": ...}}` (a bad request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Status(Status),
    Reloaded { file: String },
    Refused { error: String },
    Error { error: String },
}

/// What the socket serves: the running controller.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> Reply;
}

/// Why [`bind`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Another controller answers on the path.
    Taken(String),
    /// Anything else (no such directory, no permission, not a socket).
    Other(String),
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::Taken(m) | BindError::Other(m) => f.write_str(m),
        }
    }
}

/// The socket file, removed when this is dropped (at a clean exit).
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Listens on `path`, owner-only. A socket file there that nothing answers
/// on (left by a controller that died) is replaced; one that answers, or a
/// file that is not a socket, is an error. Needs a tokio runtime.
pub fn bind(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let name = path.display();
    let other = |what: &str, e: std::io::Error| BindError::Other(format!("{what} {name}: {e}"));
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(BindError::Other(format!(
                "{name} exists and is not a socket"
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            let m = format!("another ofcontroller is running on {name}");
            return Err(BindError::Taken(m));
        }
        std::fs::remove_file(path).map_err(|e| other("cannot remove stale", e))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| other("cannot listen on", e))?;
    let file = SocketFile(path.to_path_buf());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| other("cannot restrict", e))?;
    Ok((listener, file))
}

/// Answers every client, one task each, forever.
pub async fn serve<H: Handler>(listener: UnixListener, handler: Arc<H>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, handler.clone()));
            }
            Err(e) => {
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One exchange: a request line in, a reply line out.
async fn answer<H: Handler>(stream: UnixStream, handler: Arc<H>) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let mut r = tokio::io::BufReader::new(r.take(MAX_REQUEST));
    let reply = match tokio::time::timeout(TIMEOUT, r.read_line(&mut line)).await {
        Ok(Ok(_)) => match line.parse::<Request>() {
            Ok(req) => handler.handle(req),
            Err(error) => Reply::Error { error },
        },
        Ok(Err(e)) => Reply::Error {
            error: format!("reading the request: {e}"),
        },
        Err(_) => Reply::Error {
            error: "no request line".into(),
        },
    };
    let text = encode(&reply);
    if let Err(e) = tokio::time::timeout(TIMEOUT, w.write_all(text.as_bytes())).await {
        tracing::debug!("control socket: reply not sent: {e}");
    }
}

/// A reply as its line.
fn encode(reply: &Reply) -> String {
    match serde_json::to_string(reply) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Plain data with string keys: serializing cannot fail; answer anyway.
        Err(e) => format!("{{\"error\":{{\"error\":\"{e}\"}}}}\n"),
    }
}

/// Asks the controller on `path` (blocking; no runtime needed). The error
/// is one line.
pub fn request(path: &Path, req: Request) -> Result<Reply, String> {
    let name = path.display();
    let unreachable = |e: std::io::Error| {
        format!("cannot reach {name}: {e} (is `ofcontroller run --control {name}` running?)")
    };
    let mut s = std::os::unix::net::UnixStream::connect(path).map_err(unreachable)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(unreachable)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(unreachable)?;
    writeln!(s, "{}", req.word()).map_err(|e| format!("{name}: sending the request: {e}"))?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| format!("{name}: reading the reply: {e}"))?;
    decode(&line).map_err(|e| format!("{name}: {e}"))
}

/// A reply line, parsed.
fn decode(line: &str) -> Result<Reply, String> {
    if line.trim().is_empty() {
        return Err("no reply".into());
    }
    serde_json::from_str(line).map_err(|e| format!("bad reply: {e}"))
}

/// What `ofcontroller status|reload` prints for a reply: `Ok` on stdout,
/// `Err` (one line) on stderr with exit status 1.
pub fn outcome(reply: Reply, json: bool) -> Result<String, String> {
    match reply {
        Reply::Status(st) if json => serde_json::to_string_pretty(&st)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| e.to_string()),
        Reply::Status(st) => Ok(render(&st)),
        Reply::Reloaded { file } => Ok(format!("policy {file} reloaded\n")),
        Reply::Refused { error } => Err(format!("{error} (policy refused, running one kept)")),
        Reply::Error { error } => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::sample;

    #[test]
    fn requests_are_words() {
        for r in [Request::Status, Request::Reload] {
            assert_eq!(r.word().parse::<Request>(), Ok(r));
        }
        assert_eq!(" status\n".parse::<Request>(), Ok(Request::Status));
        assert!("stats".parse::<Request>().is_err());
    }

    #[test]
    fn replies_round_trip_on_one_line() {
        for reply in [
            Reply::Status(sample()),
            Reply::Reloaded {
                file: "/etc/p.toml".into(),
            },
            Reply::Refused {
                error: "p.toml:3: vlans.a.vid: out of range".into(),
            },
            Reply::Error {
                error: "no request line".into(),
            },
        ] {
            let line = encode(&reply);
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line}"
            );
            assert_eq!(decode(&line), Ok(reply));
        }
        assert_eq!(
            encode(&Reply::Reloaded { file: "f".into() }),
            "{\"reloaded\":{\"file\":\"f\"}}\n"
        );
        assert!(decode("").is_err());
        assert!(decode("{\"nonsense\":1}").is_err());
    }

    #[test]
    fn outcomes() {
        let ok = outcome(
            Reply::Reloaded {
                file: "p.toml".into(),
            },
            false,
        );
        assert_eq!(ok, Ok("policy p.toml reloaded\n".into()));
        let refused = outcome(
            Reply::Refused {
                error: "p.toml:3: bad".into(),
            },
            false,
        );
        assert!(refused.is_err_and(|e| e.starts_with("p.toml:3: bad")));
        let json = outcome(Reply::Status(sample()), true).expect("json");
        assert_eq!(serde_json::from_str::<Status>(&json).ok(), Some(sample()));
        let text = outcome(Reply::Status(sample()), false).expect("text");
        assert_eq!(text, render(&sample()));
    }

    struct Fixed;
    impl Handler for Fixed {
        fn handle(&self, req: Request) -> Reply {
            match req {
                Request::Status => Reply::Status(sample()),
                Request::Reload => Reply::Refused {
                    error: "nope".into(),
                },
            }
        }
    }

    #[test]
    fn serves_over_a_socket_and_refuses_a_second_server() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ctl");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (listener, file) = rt.block_on(async { bind(&path) }).expect("bind");
        rt.spawn(serve(listener, Arc::new(Fixed)));
        let p = path.clone();
        let reply = rt.block_on(async move {
            tokio::task::spawn_blocking(move || request(&p, Request::Status))
                .await
                .expect("join")
        });
        assert_eq!(reply, Ok(Reply::Status(sample())));
        let p = path.clone();
        let reply = rt.block_on(async move {
            tokio::task::spawn_blocking(move || request(&p, Request::Reload))
                .await
                .expect("join")
        });
        assert!(matches!(reply, Ok(Reply::Refused { .. })));
        // Someone answers: a second bind is refused, the file kept.
        let again = rt.block_on(async { bind(&path) });
        assert!(again.is_err_and(
            |e| matches!(e, BindError::Taken(m) if m.contains("another ofcontroller is running"))
        ));
        assert!(path.exists());
        drop(rt);
        // The server is gone but the file stays (a crash): replaced.
        std::mem::forget(file);
        assert!(request(&path, Request::Status).is_err_and(|e| e.contains("cannot reach")));
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (_l, file) = rt
            .block_on(async { bind(&path) })
            .expect("rebind over a stale socket");
        drop(file);
        assert!(!path.exists());
        // Not a socket: left alone.
        std::fs::write(&path, "x").expect("write");
        let e = rt.block_on(async { bind(&path) });
        assert!(e.is_err_and(|e| matches!(e, BindError::Other(m) if m.contains("not a socket"))));
    }
}
