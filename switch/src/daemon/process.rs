//! Being a daemon: logging, the pid file, detaching from the terminal.
//!
//! `--detach` forks before the tokio runtime starts (forking a running
//! runtime is undefined), and the parent waits on a pipe until the child
//! reports that it is ready (sockets bound, configuration loaded) or why
//! it failed, so `ofswitch daemon --detach` exits 0 only when the switch
//! really runs, and prints the child's error otherwise, as
//! `ovs-vswitchd --detach` does.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Sets up `tracing`: level from `RUST_LOG` (default `info`), to stderr,
/// or appended to `log_file`.
pub fn init_logging(log_file: Option<&Path>) -> io::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match log_file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init()
        }
        None => builder.with_writer(io::stderr).try_init(),
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
    Ok(())
}

/// A pid file that removes itself when dropped.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
}

impl Pidfile {
    /// Writes our pid to `path`, refusing when the file names a process
    /// that is still alive (another daemon on the same state directory).
    pub fn create(path: &Path) -> io::Result<Pidfile> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                // SAFETY: kill(pid, 0) only checks for existence.
                let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
                // SAFETY: getpid has no preconditions.
                if alive && pid != unsafe { libc::getpid() } {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "another ofswitch daemon (pid {pid}) already runs with {}",
                            path.display()
                        ),
                    ));
                }
            }
        }
        let tmp = path.with_extension("pid.tmp");
        {
            let mut f = File::create(&tmp)?;
            // SAFETY: getpid has no preconditions.
            writeln!(f, "{}", unsafe { libc::getpid() })?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(Pidfile {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The child's side of `--detach`: tell the waiting parent how start-up
/// went.
#[derive(Debug)]
pub struct ReadyPipe(Option<File>);

impl ReadyPipe {
    /// Not detached: reporting does nothing.
    pub fn none() -> ReadyPipe {
        ReadyPipe(None)
    }

    /// Start-up worked: the parent exits 0.
    pub fn ready(&mut self) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(b"ok\n");
        }
    }

    /// Start-up failed: the parent prints `msg` and exits 1.
    pub fn failed(&mut self, msg: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(format!("error: {msg}\n").as_bytes());
        }
    }
}

/// Forks. In the parent, waits for the child's report and exits the
/// process (0 when the child is ready, 1 with its message otherwise). In
/// the child, starts a new session, points stdio at /dev/null and returns
/// the pipe to report on. Call before starting any thread or runtime.
pub fn detach() -> io::Result<ReadyPipe> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: no other threads run yet (documented precondition).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        drop(wr);
        let mut report = String::new();
        let _ = File::from(rd).read_to_string(&mut report);
        if report.starts_with("ok") {
            std::process::exit(0);
        }
        let msg = report.trim().trim_start_matches("error: ");
        if msg.is_empty() {
            eprintln!("ofswitch daemon: the detached daemon exited during start-up (see its log)");
        } else {
            eprintln!("ofswitch daemon: {msg}");
        }
        std::process::exit(1);
    }
    drop(rd);
    // SAFETY: setsid in the fresh child has no preconditions.
    unsafe { libc::setsid() };
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for target in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), target) };
        }
    }
    Ok(ReadyPipe(Some(File::from(wr))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_refuses_a_live_owner_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ofswitch.pid");
        {
            let p = Pidfile::create(&path).expect("create");
            assert!(p.path().exists());
            // Our own pid in the file is not "another daemon".
            let again = Pidfile::create(&path).expect("same process");
            std::mem::forget(again);
        }
        assert!(!path.exists(), "removed on drop");
        // pid 1 is alive and not us.
        std::fs::write(&path, "1\n").expect("write");
        let e = Pidfile::create(&path).expect_err("pid 1 is alive");
        assert!(e.to_string().contains("already runs"), "{e}");
        // A dead pid is stale and replaced.
        std::fs::write(&path, "999999999\n").expect("write");
        drop(Pidfile::create(&path).expect("stale pid file replaced"));
    }
}
