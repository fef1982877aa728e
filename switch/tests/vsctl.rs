//! `ofswitch vsctl` end to end without the daemon: the real binary talks
//! over the management socket to a small server thread that does what the
//! daemon will do with a request (protocol → vsctl::execute → store), on a
//! temporary state directory.

use ofswitch::config::model::Config;
use ofswitch::config::protocol::{self, Response};
use ofswitch::config::runtime::NoRuntime;
use ofswitch::config::{store, vsctl};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Serves management requests on `<state_dir>/ofswitch.ctl` from a thread,
/// starting from the configuration stored in the state dir.
fn start_server(state_dir: &Path) {
    let sock = protocol::socket_path(state_dir);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).expect("bind the management socket");
    let dir = state_dir.to_path_buf();
    let mut config = store::load(&dir).expect("load the stored config");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let _ = protocol::serve_one(stream, |req| handle(&dir, &mut config, &req));
        }
    });
}

fn handle(dir: &Path, current: &mut Config, req: &protocol::Request) -> Response {
    let mut next = current.clone();
    let result = vsctl::execute_with_format(&mut next, &req.argv, req.format, &NoRuntime);
    if let Ok(out) = &result {
        if out.changed {
            if let Err(e) = store::save(dir, &next) {
                return Response::error(e.to_string());
            }
            *current = next;
        }
    }
    Response::from_result(&result)
}

fn vsctl(state_dir: &Path, args: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ofswitch"))
        .arg("--state-dir")
        .arg(state_dir)
        .arg("vsctl")
        .args(args.split_whitespace())
        .env_remove("OFSWITCH_STATE_DIR")
        .output()
        .expect("run ofswitch")
}

/// Runs and expects success; returns stdout.
fn ok(state_dir: &Path, args: &str) -> String {
    let out = vsctl(state_dir, args);
    assert!(
        out.status.success(),
        "{args}: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs and expects failure; returns (exit code, stderr).
fn fails(state_dir: &Path, args: &str) -> (i32, String) {
    let out = vsctl(state_dir, args);
    assert!(!out.status.success(), "{args}: unexpectedly succeeded");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn temp_state() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("state dir");
    (dir, state)
}

#[test]
fn daemon_not_running() {
    let (_tmp, state) = temp_state();
    let (code, stderr) = fails(&state, "show");
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "ofswitch vsctl: cannot connect to the daemon at {}: No such file or directory \
             (start it with `ofswitch daemon`)\n",
            state.join("ofswitch.ctl").display()
        )
    );
}

#[test]
fn configure_through_the_socket() {
    let (_tmp, state) = temp_state();
    start_server(&state);

    assert_eq!(ok(&state, "list-br"), "");
    ok(&state, "add-br br0");
    ok(&state, "--may-exist add-br br0");
    ok(&state, "add-port br0 p1 tag=10 -- add-port br0 vx1 -- set interface vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=5");
    assert_eq!(ok(&state, "list-ports br0"), "p1\nvx1\n");
    let show = ok(&state, "show");
    assert!(show.starts_with("    Bridge br0\n"), "{show}");
    assert!(show.contains("        Port vx1\n            Interface vx1\n                type: vxlan\n                options: {key=\"5\", remote_ip=\"10.0.0.2\"}\n                ofport: 2\n"), "{show}");

    // Errors: one line on stderr, exit status 1, nothing changed.
    let (code, stderr) = fails(&state, "add-br br0");
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "ofswitch vsctl: cannot create a bridge named br0 because a bridge named br0 already exists\n"
    );
    let (code, stderr) = fails(&state, "add-br br5 -- del-br br9");
    assert_eq!(
        (code, stderr.as_str()),
        (1, "ofswitch vsctl: no bridge named br9\n")
    );
    assert_eq!(ok(&state, "list-br"), "br0\n");

    // br-exists: exit status 2 without a message.
    ok(&state, "br-exists br0");
    let (code, stderr) = fails(&state, "br-exists br9");
    assert_eq!((code, stderr.as_str()), (2, ""));

    // JSON for scripts.
    let json = ok(&state, "--format=json list interface vx1");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v[0]["type"], "vxlan");
    assert_eq!(v[0]["ofport"], 2);
    let v: serde_json::Value = serde_json::from_str(&ok(&state, "-f json show")).expect("json");
    assert_eq!(v["bridges"][0]["ports"][1]["tag"], 10);

    // Stored on disk.
    let stored = store::load(&state).expect("load");
    assert_eq!(stored.bridges["br0"].ports["vx1"].ofport, 2);
    assert!(state.join("conf.json").exists());
}

#[test]
fn port_numbers_survive_a_restart() {
    let (_tmp, state) = temp_state();
    start_server(&state);
    ok(
        &state,
        "add-br br0 -- add-port br0 a -- add-port br0 b -- add-port br0 c",
    );
    ok(&state, "del-port br0 b");
    // "Restart the daemon": a new server loading conf.json.
    start_server(&state);
    ok(&state, "add-port br0 d");
    assert_eq!(ok(&state, "get interface a ofport"), "1\n");
    assert_eq!(ok(&state, "get interface c ofport"), "3\n");
    assert_eq!(ok(&state, "get interface d ofport"), "2\n");
}

#[test]
fn help_without_daemon() {
    let (_tmp, state) = temp_state();
    let out = ok(&state, "help");
    assert!(out.contains("add-br BRIDGE"));
}
