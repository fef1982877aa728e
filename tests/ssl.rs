//! TLS OpenFlow channels end to end, with certificates made by the
//! `openssl` command (`common::Pki`, as `ovs-pki` would: a CA, a switch certificate, a
//! controller certificate with no subject alternative names) and peers
//! written with rustls and the `openflow` crate:
//!
//! - `ssl:` to a controller whose certificate the CA signed: the session
//!   comes up (HELLO, FEATURES_REPLY with the bridge's datapath id) and
//!   `show` reports it connected. Before `set-ssl` the switch logs why it
//!   cannot connect, and connects promptly once it is set.
//! - `ssl:` to a controller whose certificate ANOTHER CA signed: refused,
//!   no OpenFlow session.
//! - `pssl:` with a TLS client of the CA: a session; a client of another
//!   CA or with no certificate: none.
//! - Real `ovs-ofctl --private-key ... show ssl:` against `pssl:`.

mod common;

use common::*;
use openflow::{Body, Framer, Hello, Message};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("read certificates")
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

fn roots(id: &Identity) -> Arc<RootCertStore> {
    let mut r = RootCertStore::empty();
    for c in certs(&id.ca) {
        r.add(c).expect("CA certificate");
    }
    Arc::new(r)
}

fn key(id: &Identity) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(&id.key).expect("PEM private key")
}

/// A controller's TLS server: requires a client certificate of its CA.
fn server_config(id: &Identity) -> Arc<ServerConfig> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(id), provider())
            .build()
            .expect("client verifier");
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&id.cert), key(id))
        .expect("server identity");
    Arc::new(cfg)
}

/// A TLS client of the switch's `pssl:`: the stock verifier (the switch's
/// certificate names 127.0.0.1), with our certificate if `auth`.
fn client_config(id: &Identity, auth: bool) -> Arc<ClientConfig> {
    let b = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots(id));
    let cfg = if auth {
        b.with_client_auth_cert(certs(&id.cert), key(id))
            .expect("client identity")
    } else {
        b.with_no_client_auth()
    };
    Arc::new(cfg)
}

/// An OpenFlow peer over any TLS stream, one thread, blocking reads with
/// a deadline.
struct Peer<S: Read + Write> {
    tls: S,
    tcp: TcpStream,
    framer: Framer,
    xid: u32,
}

impl<S: Read + Write> Peer<S> {
    fn send(&mut self, body: Body) -> std::io::Result<u32> {
        self.xid += 1;
        self.tls
            .write_all(&Message::new(self.xid, body).to_bytes())?;
        self.tls.flush()?;
        Ok(self.xid)
    }

    /// The next message other than ECHO (answered), or the error that
    /// ended the stream; `Ok(None)` on timeout.
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<Message>> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 65536];
        loop {
            if let Some(bytes) = self.framer.next_message().expect("a well-framed stream") {
                let m = Message::decode(&bytes).expect("a decodable message");
                if let Body::EchoRequest(d) = &m.body {
                    let reply = Message::new(m.xid, Body::EchoReply(d.clone()));
                    self.tls.write_all(&reply.to_bytes())?;
                    continue;
                }
                return Ok(Some(m));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.tcp.set_read_timeout(Some(left))?;
            match self.tls.read(&mut buf) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed",
                    ))
                }
                Ok(n) => self.framer.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// HELLO both ways, then FEATURES; the datapath id.
    fn handshake(&mut self) -> std::io::Result<u64> {
        let m = self.recv(T)?.ok_or_else(|| timeout("HELLO"))?;
        assert!(matches!(m.body, Body::Hello(_)), "{:?}", m.body);
        self.send(Body::Hello(Hello::with_versions(&[4])))?;
        let xid = self.send(Body::FeaturesRequest)?;
        loop {
            let m = self.recv(T)?.ok_or_else(|| timeout("FEATURES_REPLY"))?;
            if m.xid == xid {
                let Body::FeaturesReply(f) = m.body else {
                    panic!("expected FEATURES_REPLY, got {:?}", m.body);
                };
                return Ok(f.datapath_id);
            }
        }
    }
}

fn timeout(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no {what} within {T:?}"),
    )
}

/// Waits for the switch to connect to `listener` and starts TLS as the
/// controller `id`.
fn accept_tls(
    listener: &TcpListener,
    id: &Identity,
) -> Peer<rustls::StreamOwned<ServerConnection, TcpStream>> {
    listener.set_nonblocking(true).expect("nonblocking");
    let t0 = Instant::now();
    let tcp = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && t0.elapsed() < T => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the switch did not connect within {T:?}: {e}"),
        }
    };
    tcp.set_nonblocking(false).expect("blocking");
    let conn = ServerConnection::new(server_config(id)).expect("TLS server");
    let sock = tcp.try_clone().expect("clone socket");
    Peer {
        tls: rustls::StreamOwned::new(conn, sock),
        tcp,
        framer: Framer::new(),
        xid: 100,
    }
}

/// Connects to the switch's `pssl:` on 127.0.0.1:`port` as `id`.
fn connect_tls(
    port: u16,
    id: &Identity,
    auth: bool,
) -> Peer<rustls::StreamOwned<ClientConnection, TcpStream>> {
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let conn = ClientConnection::new(client_config(id, auth), name).expect("TLS client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect to pssl");
    let sock = tcp.try_clone().expect("clone socket");
    Peer {
        tls: rustls::StreamOwned::new(conn, sock),
        tcp,
        framer: Framer::new(),
        xid: 100,
    }
}

/// The `show` lines of controller `target`, up to the next controller or
/// port.
fn controller_section(show: &str, target: &str) -> String {
    let head = format!("Controller \"{target}\"");
    let mut lines = show.lines().skip_while(|l| !l.contains(&head));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    out.extend(lines.take_while(|l| l.starts_with("            ")));
    out.join("\n")
}

#[test]
fn ssl_controller_with_certificates_of_the_ca() {
    if !require_pki() {
        return;
    }
    let (pki, other) = (Pki::new("ours"), Pki::new("theirs"));
    let (switch, controller) = (pki.issue("switch", None), pki.issue("controller", None));
    let impostor = other.issue("controller", None);
    let d = Daemon::start(&[]);
    let br = unique("br");
    d.vsctl(&["add-br", &br, "--", "set-fail-mode", &br, "secure"]);
    let dpid = d.datapath_id(&br);

    // The target first: without SSL settings the switch says why it does
    // not connect, and keeps trying.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let target = format!("ssl:127.0.0.1:{port}");
    d.vsctl(&["set-controller", &br, &target]);
    wait_for("the missing-SSL error in the log", T, || {
        d.log().contains("no SSL key and certificates configured")
    });
    d.vsctl(&["set-ssl", switch.key(), switch.cert(), switch.ca()]);
    assert!(d.vsctl(&["get-ssl"]).contains(switch.cert()));

    let mut c = accept_tls(&listener, &controller);
    let got = c
        .handshake()
        .unwrap_or_else(|e| panic!("OpenFlow over TLS: {e}\n{}", d.log()));
    assert_eq!(got, dpid);
    wait_for("show to report the ssl controller connected", T, || {
        controller_section(&d.vsctl(&["show"]), &target).contains("is_connected: true")
    });
    // ECHO works both ways over the session.
    let xid = c.send(Body::EchoRequest(b"tls".to_vec())).expect("send");
    let m = c.recv(T).expect("read").expect("ECHO_REPLY");
    assert_eq!(m.xid, xid);

    // A controller whose certificate another CA signed: no session.
    let listener2 = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target2 = format!(
        "ssl:127.0.0.1:{}",
        listener2.local_addr().expect("addr").port()
    );
    d.vsctl(&["set-controller", &br, &target2]);
    let mut bad = accept_tls(&listener2, &impostor);
    match bad.recv(Duration::from_secs(3)) {
        Ok(Some(m)) => panic!("an impostor controller got {:?}", m.body),
        Ok(None) => panic!("the handshake with the impostor neither failed nor ended"),
        Err(e) => eprintln!("impostor refused as expected: {e}"),
    }
    wait_for("the refusal in the log", T, || {
        d.log().contains("TLS handshake failed")
    });
    let show = d.vsctl(&["show"]);
    assert!(
        !controller_section(&show, &target2).contains("is_connected"),
        "{show}"
    );
    d.vsctl(&["del-controller", &br, "--", "del-ssl"]);
    assert_eq!(d.vsctl(&["get-ssl"]), "");
}

#[test]
fn pssl_requires_client_certificates_of_the_ca() {
    if !require_pki() {
        return;
    }
    let (pki, other) = (Pki::new("ours"), Pki::new("theirs"));
    let switch = pki.issue("switch", Some("IP:127.0.0.1"));
    let client = pki.issue("client", None);
    let stranger = other.issue("client", None);
    let d = Daemon::start(&[]);
    let br = unique("br");
    let port = free_port();
    d.vsctl(&[
        "add-br",
        &br,
        "--",
        "set-ssl",
        switch.key(),
        switch.cert(),
        switch.ca(),
        "--",
        "set-controller",
        &br,
        &format!("pssl:{port}:127.0.0.1"),
    ]);
    let dpid = d.datapath_id(&br);
    wait_for("the pssl listener", T, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let mut c = connect_tls(port, &client, true);
    let got = c
        .handshake()
        .unwrap_or_else(|e| panic!("OpenFlow over TLS: {e}\n{}", d.log()));
    assert_eq!(got, dpid);

    // The stranger's client has no certificate the switch trusts; it
    // trusts the switch though (same CA file as ours, only its own
    // certificate differs).
    let stranger = Identity {
        ca: client.ca.clone(),
        ..stranger
    };
    for (who, id, auth) in [
        ("another CA's client", &stranger, true),
        ("a client without certificate", &client, false),
    ] {
        let mut p = connect_tls(port, id, auth);
        match p.recv(Duration::from_secs(3)) {
            Ok(Some(m)) => panic!("{who} got {:?}", m.body),
            Ok(None) => panic!("{who}: the handshake neither failed nor ended"),
            Err(e) => eprintln!("{who} refused as expected: {e}"),
        }
    }
    // The good session is still up.
    let xid = c.send(Body::EchoRequest(Vec::new())).expect("send");
    assert_eq!(c.recv(T).expect("read").map(|m| m.xid), Some(xid));
}

#[test]
fn ovs_ofctl_over_pssl() {
    if !require_pki() || !require("ovs-ofctl", have("ovs-ofctl")) {
        return;
    }
    let pki = Pki::new("ours");
    let (switch, client) = (pki.issue("switch", None), pki.issue("ofctl", None));
    let d = Daemon::start(&[]);
    let br = unique("br");
    let port = free_port();
    d.vsctl(&[
        "add-br",
        &br,
        "--",
        "set-ssl",
        switch.key(),
        switch.cert(),
        switch.ca(),
        "--",
        "set-controller",
        &br,
        &format!("pssl:{port}:127.0.0.1"),
    ]);
    let dpid = d.datapath_id(&br);
    wait_for("the pssl listener", T, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let out = Command::new("ovs-ofctl")
        .args([
            "-O",
            "OpenFlow13",
            "-t",
            "10",
            &format!("--private-key={}", client.key()),
            &format!("--certificate={}", client.cert()),
            &format!("--ca-cert={}", client.ca()),
            "show",
            &format!("ssl:127.0.0.1:{port}"),
        ])
        .output()
        .expect("run ovs-ofctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ovs-ofctl show failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    assert!(stdout.contains(&format!("dpid:{dpid:016x}")), "{stdout}");
}
