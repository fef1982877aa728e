//! `ofcontroller run` over TLS and unix sockets, with a real `ofswitch`
//! daemon and two namespace hosts (learning only, no policy):
//!
//! - `--listen ssl:`: a switch whose certificate our CA signed (`vsctl
//!   set-ssl`, `set-controller BR ssl:...`) is resynced and its hosts ping
//!   each other; a switch whose certificate another CA signed is refused
//!   (no "connected" line, the log names the TLS failure) though it trusts
//!   our controller: the controller requires client certificates of its CA.
//!   The files are read at each accepted connection: a broken certificate
//!   is a log line naming it, a repaired one is used at once.
//! - `--connect ssl:` to a bridge's `pssl:` (the switch's certificate has
//!   no subject alternative names, as ovs-pki's: checked against the CA
//!   only).
//! - `--connect unix:PATH` to a bridge's `punix:PATH`.
//!
//! Certificates come from the `openssl` command (`common::Pki`).

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn require_all() -> bool {
    require_pki() && require("ping", have("ping"))
}

/// `--private-key K --certificate C --ca-cert CA` of `id`.
fn tls_args(id: &Identity) -> [&str; 6] {
    [
        "--private-key",
        id.key(),
        "--certificate",
        id.cert(),
        "--ca-cert",
        id.ca(),
    ]
}

/// Our CA and the switch's and the controller's certificates it signed
/// (no subject alternative names, as ovs-pki's).
fn ours() -> (Pki, Identity, Identity) {
    let pki = Pki::new("ours");
    let (switch, controller) = (pki.issue("switch", None), pki.issue("controller", None));
    (pki, switch, controller)
}

/// The daemon's TLS identity `id`, and `target` as `br`'s controller.
fn set_ssl_controller(d: &Daemon, br: &str, id: &Identity, target: &str) {
    d.vsctl(&[
        "set-ssl",
        id.key(),
        id.cert(),
        id.ca(),
        "--",
        "set-controller",
        br,
        target,
    ]);
}

/// The first line of the controller's log with `needle`, once there is one.
fn wait_line(ctl: &Controller, needle: &str) -> String {
    wait_for(&format!("{needle:?} in the controller's log"), T, || {
        ctl.log().contains(needle)
    });
    let log = ctl.log();
    log.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn controller_accepts_ssl_switches_of_its_ca_only() {
    if !require_all() {
        return;
    }
    let (pki, switch, controller) = ours();
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let dpid = d.datapath_id(&br);
    let hosts = TwoHosts::add(&d, &br, "10.241.0");

    let port = free_port();
    let target = format!("ssl:127.0.0.1:{port}");
    let mut args = vec!["run", "--listen", &target];
    args.extend(tls_args(&controller));
    let ctl = Controller::spawn(&args, d.dir().join("controller.log"))
        .wait_listening(|| tcp_listening(port));
    set_ssl_controller(&d, &br, &switch, &target);
    wait_for("the controller to resync the switch over TLS", T, || {
        ctl.log().contains("resynced")
    });
    let log = ctl.log();
    assert!(
        log.contains(&format!("switch {dpid:016x} connected")),
        "{log}"
    );
    hosts.assert_ping(&ctl, &d);

    // A switch whose certificate another CA signed. It trusts our CA, so
    // the refusal is the controller's: it requires a client certificate
    // its CA signed.
    let other = Pki::new("theirs");
    let stranger = Identity {
        ca: switch.ca.clone(),
        ..other.issue("switch", None)
    };
    let d2 = Daemon::start(&[]);
    let br2 = d2.secure_bridge();
    let dpid2 = d2.datapath_id(&br2);
    set_ssl_controller(&d2, &br2, &stranger, &target);
    let refusal = wait_line(&ctl, "TLS handshake with");
    assert!(
        refusal.contains("failed") && refusal.contains("certificate"),
        "the refusal names the TLS failure: {refusal}"
    );
    eprintln!("refused: {refusal}");
    // (With TLS 1.3 the client's handshake ends before the server has
    // checked its certificate: the stranger sees only a closed connection.)
    let log = ctl.log();
    assert!(
        !log.contains(&format!("switch {dpid2:016x} connected")),
        "a switch of another CA got in:\n{log}"
    );
    // The good switch is still served.
    hosts.assert_ping(&ctl, &d);

    // The files are read at every accepted connection: a broken
    // certificate is one logged line naming it (the next switch refused,
    // the running one kept), a repaired one is used at once.
    let good_cert = std::fs::read(&controller.cert).expect("read the certificate");
    std::fs::write(&controller.cert, "not a certificate\n").expect("break the certificate");
    let line = wait_line(&ctl, "holds no PEM certificate");
    assert!(line.contains(controller.cert()), "{line}");
    std::fs::write(&controller.cert, good_cert).expect("repair the certificate");
    // The stranger, given a certificate of our CA, gets in.
    let welcome = pki.issue("switch2", None);
    d2.vsctl(&["set-ssl", welcome.key(), welcome.cert(), welcome.ca()]);
    wait_for("the second switch, now of our CA, to connect", T, || {
        ctl.log()
            .contains(&format!("switch {dpid2:016x} connected"))
    });
    hosts.assert_ping(&ctl, &d);
}

#[test]
fn controller_connects_out_over_ssl_to_a_pssl_bridge() {
    if !require_all() {
        return;
    }
    let (_pki, switch, controller) = ours();
    let d = Daemon::start(&[]);
    d.vsctl(&["set-ssl", switch.key(), switch.cert(), switch.ca()]);
    let port = free_port();
    let target = format!("ssl:127.0.0.1:{port}");
    let mut args = vec!["--connect", &target];
    args.extend(tls_args(&controller));
    let (_br, ctl, _hosts) = connects_out(&d, &args, &format!("pssl:{port}:127.0.0.1"), "10.242.0");
    assert!(
        ctl.log().contains(&format!("connected from {target}")),
        "{}",
        ctl.log()
    );
}

#[test]
fn controller_connects_out_to_a_punix_bridge() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let sock = d.dir().join(format!("{}.sock", unique("c")));
    let sock = sock.to_str().expect("UTF-8 temp path");
    let (_br, ctl, _hosts) = connects_out(
        &d,
        &["--connect", &format!("unix:{sock}")],
        &format!("punix:{sock}"),
        "10.243.0",
    );
    assert!(
        ctl.log().contains(&format!("connected from unix:{sock}")),
        "{}",
        ctl.log()
    );
}
