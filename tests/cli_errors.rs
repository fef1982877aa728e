//! Bad command-line input: a one-line error on stderr that names the
//! problem, a non-zero exit status, nothing on stdout, and no change to the
//! switch. `--help` prints usage and exits 0.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// `ofswitch --state-dir DIR ARGS...` without a daemon object.
fn ofswitch(dir: &Path, args: &[&str]) -> Output {
    Command::new(ofswitch_bin())
        .arg("--state-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run ofswitch")
}

/// Checks a failure: non-zero exit, exactly one line on stderr that
/// starts with `prefix` and contains every one of `names`, empty stdout.
#[track_caller]
fn fails(out: Output, what: &str, prefix: &str, names: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "{what}: should fail, stdout:\n{stdout}"
    );
    assert_ne!(out.status.code(), Some(0), "{what}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected one line on stderr, got:\n{err}"
    );
    assert!(lines[0].starts_with(prefix), "{what}: {err}");
    for n in names {
        assert!(lines[0].contains(n), "{what}: {n:?} not in: {err}");
    }
    assert!(stdout.trim().is_empty(), "{what}: stdout:\n{stdout}");
}

#[test]
fn no_daemon_running() {
    // Needs no root: nothing is started.
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for args in [
        &["vsctl", "show"][..],
        &["vsctl", "add-br", "br0"],
        &["vsctl", "list-br"],
    ] {
        fails(
            ofswitch(d, args),
            &format!("{args:?} without a daemon"),
            "ofswitch vsctl: ",
            &[
                "cannot connect to the daemon",
                "ofswitch.ctl",
                "ofswitch daemon",
            ],
        );
    }
    fails(
        ofswitch(d, &["ofctl", "dump-flows", "br0"]),
        "ofctl without a daemon",
        "ofswitch ofctl: ",
        &["cannot connect to br0", "br0.mgmt", "daemon running"],
    );
    fails(
        ofswitch(d, &["appctl", "fdb/show", "br0"]),
        "appctl without a daemon",
        "ofswitch appctl: ",
        &["cannot connect to the daemon", "ofswitch.ctl"],
    );
    // Usage errors are found before connecting to anything.
    fails(
        ofswitch(d, &["appctl", "fdb/frobnicate"]),
        "unknown appctl command",
        "ofswitch appctl: ",
        &["\"fdb/frobnicate\" is not a valid command"],
    );
    fails(
        ofswitch(d, &["appctl", "fdb/show"]),
        "appctl command without its bridge",
        "ofswitch appctl: ",
        &["wrong number of arguments", "fdb/show BRIDGE"],
    );
    fails(
        ofswitch(d, &["ofctl", "mod-port", "br0", "p1", "sideways"]),
        "unknown mod-port command",
        "ofswitch ofctl: ",
        &["unknown mod-port command 'sideways'"],
    );
    fails(
        ofswitch(d, &["ofctl", "frobnicate", "br0"]),
        "unknown ofctl verb",
        "ofswitch ofctl: ",
        &["unknown command 'frobnicate'"],
    );
    fails(
        ofswitch(
            d,
            &[
                "ofctl",
                "add-flow",
                "br0",
                "priority=1,foo=bar,actions=drop",
            ],
        ),
        "unknown match field",
        "ofswitch ofctl: ",
        &["unknown field 'foo'"],
    );
    fails(
        ofswitch(d, &["ofctl", "add-flow", "br0", "priority=1,actions=bogus"]),
        "unknown action",
        "ofswitch ofctl: ",
        &["unknown action 'bogus'"],
    );
    fails(
        ofswitch(d, &["ofctl", "add-flow", "br0", "table=300,actions=drop"]),
        "table out of range",
        "ofswitch ofctl: ",
        &["table 300"],
    );
    fails(
        ofswitch(d, &["ofctl", "add-flow", "br0"]),
        "add-flow without a flow",
        "ofswitch ofctl: ",
        &["add-flow", "usage: ofswitch ofctl add-flow SWITCH FLOW"],
    );
    fails(
        ofswitch(d, &["ofctl", "dump-flows"]),
        "dump-flows without a switch",
        "ofswitch ofctl: ",
        &["needs a switch"],
    );
    fails(
        ofswitch(d, &["ofctl", "add-group", "br0", "group_id=1,type=bogus"]),
        "bad group type",
        "ofswitch ofctl: ",
        &["group type 'bogus'"],
    );
    fails(
        ofswitch(d, &["ofctl", "-O", "OpenFlow10", "show", "br0"]),
        "unsupported protocol",
        "ofswitch ofctl: ",
        &["OpenFlow10"],
    );
    fails(
        ofswitch(d, &["ofctl", "--timeout=abc", "show", "br0"]),
        "bad timeout",
        "ofswitch ofctl: ",
        &["abc", "timeout"],
    );
    fails(
        ofswitch(d, &["ofctl", "--bogus", "show", "br0"]),
        "unknown ofctl option",
        "ofswitch ofctl: ",
        &["--bogus"],
    );
    fails(
        ofswitch(d, &["vsctl", "--timeout=abc", "show"]),
        "bad vsctl timeout",
        "ofswitch vsctl: ",
        &["--timeout", "abc"],
    );

    // The daemon refuses bad options before starting.
    for (args, names) in [
        (
            &["daemon", "--probe-interval", "0"][..],
            &["--probe-interval"][..],
        ),
        (&["daemon", "--probe-interval=-1"], &["--probe-interval"]),
        (
            &["daemon", "--probe-interval", "99999"],
            &["--probe-interval"],
        ),
        (
            &["daemon", "--probe-interval", "abc"],
            &["--probe-interval", "abc"],
        ),
        (&["daemon", "--bogus"], &["--bogus"]),
    ] {
        fails(
            ofswitch(d, args),
            &format!("{args:?}"),
            "ofswitch daemon: ",
            names,
        );
    }
    assert!(
        !d.join("ofswitch.ctl").exists(),
        "no daemon was started by bad options"
    );

    // --help: usage on stdout, exit 0.
    for (args, want) in [
        (
            &["vsctl", "--help"][..],
            "usage: ofswitch [--state-dir DIR] vsctl",
        ),
        (
            &["ofctl", "--help"],
            "usage: ofswitch [--state-dir DIR] ofctl",
        ),
    ] {
        let out = ofswitch(d, args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", out.status);
        assert!(text.starts_with(want), "{args:?}:\n{text}");
        assert!(text.lines().count() > 5, "{args:?}:\n{text}");
    }
    let out = ofswitch(d, &["ofctl", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for verb in [
        "add-flow SWITCH FLOW",
        "dump-flows SWITCH",
        "packet-out SWITCH",
    ] {
        assert!(text.contains(verb), "ofctl --help lists {verb}:\n{text}");
    }
    let out = ofswitch(d, &["vsctl", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["add-br", "add-port", "set-controller"] {
        assert!(text.contains(cmd), "vsctl --help lists {cmd}:\n{text}");
    }
    let out = ofswitch(d, &["daemon", "--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--probe-interval"));
}

#[test]
fn bad_input_against_a_running_daemon() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let p = unique("p");
    d.vsctl(&["add-br", &br]);
    d.add_port_of_type(&br, &p, "dummy");
    let before = d.vsctl(&["show"]);
    let missing = unique("nb");
    let vs = |args: &[&str]| {
        let mut all = vec!["vsctl"];
        all.extend_from_slice(args);
        d.run(&all)
    };
    let of = |args: &[&str]| {
        let mut all = vec!["ofctl"];
        all.extend_from_slice(args);
        d.run(&all)
    };

    // Unknown bridge.
    fails(
        vs(&["del-br", &missing]),
        "del-br of a missing bridge",
        "ofswitch vsctl: ",
        &["no bridge named", &missing],
    );
    fails(
        vs(&["add-port", &missing, "px"]),
        "add-port to a missing bridge",
        "ofswitch vsctl: ",
        &["no bridge named", &missing],
    );
    fails(
        vs(&["set-controller", &missing, "tcp:127.0.0.1:6653"]),
        "set-controller of a missing bridge",
        "ofswitch vsctl: ",
        &[&missing],
    );
    fails(
        of(&["dump-flows", &missing]),
        "ofctl dump-flows of a missing bridge",
        "ofswitch ofctl: ",
        &["cannot connect to", &missing, "bridge created"],
    );
    // Duplicates.
    fails(
        vs(&["add-br", &br]),
        "add-br of an existing bridge",
        "ofswitch vsctl: ",
        &["already exists", &br],
    );
    fails(
        vs(&["add-port", &br, &p]),
        "add-port of an existing port",
        "ofswitch vsctl: ",
        &["already exists", &p],
    );
    // Bad values.
    let q = unique("q");
    for (tag, names) in [
        ("tag=5000", &["5000", "4095"][..]),
        ("tag=abc", &["abc"]),
        ("tag=-1", &["-1"]),
    ] {
        fails(
            vs(&["add-port", &br, &q, tag]),
            &format!("add-port with {tag}"),
            "ofswitch vsctl: ",
            names,
        );
    }
    fails(
        vs(&[
            "add-port",
            &br,
            &q,
            "--",
            "set",
            "interface",
            &q,
            "type=bogus",
        ]),
        "add-port with a bad interface type",
        "ofswitch vsctl: ",
        &["bogus", "interface type"],
    );
    for (target, names) in [
        ("bogus:1", &["bogus:1"][..]),
        ("tcp:host:6653", &["tcp:host:6653"]),
        ("ptcp:99999", &["ptcp:99999", "port"]),
        ("6653", &["6653"]),
    ] {
        fails(
            vs(&["set-controller", &br, target]),
            &format!("set-controller {target}"),
            "ofswitch vsctl: ",
            names,
        );
    }
    fails(
        vs(&["set", "bridge", &br, "fail_mode=sometimes"]),
        "bad fail_mode",
        "ofswitch vsctl: ",
        &["fail-mode", "standalone"],
    );
    // vsctl commands are checked by the daemon (one transaction).
    fails(
        vs(&["frobnicate"]),
        "unknown vsctl command",
        "ofswitch vsctl: ",
        &["unknown command 'frobnicate'"],
    );
    fails(
        vs(&["add-br"]),
        "add-br without a name",
        "ofswitch vsctl: ",
        &["add-br", "argument"],
    );
    // Nothing above changed the configuration (all or nothing).
    assert_eq!(d.vsctl(&["show"]), before);

    // ofctl input errors against a real bridge.
    fails(
        of(&[
            "add-flow",
            &br,
            "priority=1,in_port=1,nw_src=10.0.0.1,actions=drop",
        ]),
        "nw_src without ip",
        "ofswitch ofctl: ",
        &["nw_src"],
    );
    fails(
        of(&["add-flow", &br, "priority=1,actions=output:"]),
        "output without a port",
        "ofswitch ofctl: ",
        &["output"],
    );
    fails(
        of(&["add-flows", &br, "/nonexistent/flows.txt"]),
        "add-flows of a missing file",
        "ofswitch ofctl: ",
        &["/nonexistent/flows.txt"],
    );
    fails(
        of(&["show", &br, "extra"]),
        "show with an extra argument",
        "ofswitch ofctl: ",
        &["usage: ofswitch ofctl show SWITCH"],
    );
    // An error from the switch names the message and the OpenFlow error.
    fails(
        of(&["add-flow", &br, "priority=5,actions=group:99"]),
        "add-flow to a missing group",
        "ofswitch ofctl: ",
        &["OFPT_FLOW_MOD", "OFPBAC_BAD_OUT_GROUP"],
    );
    // And the bridge still answers.
    let flows = d.run(&["ofctl", "dump-flows", &br]);
    assert!(flows.status.success());
    assert_eq!(
        String::from_utf8_lossy(&flows.stdout).lines().count(),
        2,
        "only the default flow"
    );
}
