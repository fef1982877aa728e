//! Traffic between namespaces: a program run in a namespace (or the root
//! one), a child killed when its guard drops, and a short iperf3 TCP run
//! that reports what the receiver got.

use super::{free_port, Netns};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `prog` run in `ns`, or in the root namespace for `None`.
pub fn in_ns(ns: Option<&Netns>, prog: &str) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.0, prog]);
            c
        }
        None => Command::new(prog),
    }
}

pub fn ns_name(ns: Option<&Netns>) -> &str {
    ns.map(|n| n.0.as_str()).unwrap_or("the root namespace")
}

/// A short iperf3 TCP run from a client in `client` to a server in
/// `server` listening on `server_ip` (`reverse`: the server sends).
/// Returns the bytes the receiving side got and the rate (for the log),
/// or what went wrong.
pub fn iperf3(
    client: Option<&Netns>,
    server: Option<&Netns>,
    server_ip: &str,
    reverse: bool,
) -> Result<(u64, f64), String> {
    let port = free_port().to_string();
    let srv = in_ns(server, "iperf3")
        .args(["-s", "-1", "-p", &port, "-B", server_ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("iperf3 server: {e}"))?;
    let _srv = Kill(srv);
    // Until the server listens.
    let t0 = Instant::now();
    loop {
        let out = in_ns(server, "ss")
            .args(["-Hltn", &format!("sport = :{port}")])
            .output()
            .map_err(|e| format!("ss: {e}"))?;
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "the iperf3 server in {} never listened on {server_ip}:{port}",
                ns_name(server)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut args = vec![
        "60", "iperf3", "-c", server_ip, "-p", &port, "-t", "2", "-J",
    ];
    if reverse {
        args.push("-R");
    }
    let out = in_ns(client, "timeout")
        .args(&args)
        .output()
        .map_err(|e| format!("iperf3 client: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let what = format!(
        "iperf3 {} -> {server_ip} in {} (reverse: {reverse})",
        ns_name(client),
        ns_name(server)
    );
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout).map_err(|e| format!("{what}: bad JSON ({e}): {stdout}"))?;
    if let Some(e) = v.get("error") {
        return Err(format!("{what}: {e}"));
    }
    let bytes = v["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    let bps = v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    if bytes == 0 {
        return Err(format!("{what}: the receiver got nothing: {stdout}"));
    }
    let retransmits = v["end"]["sum_sent"]["retransmits"].as_u64().unwrap_or(0);
    eprintln!(
        "{what}: {bytes} bytes, {:.0} Mbit/s, {retransmits} retransmits",
        bps / 1e6
    );
    Ok((bytes, bps))
}
