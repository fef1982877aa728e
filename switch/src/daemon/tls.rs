//! TLS for `ssl:` and `pssl:` OpenFlow channels, as Open vSwitch does it:
//! both sides present a certificate and both check the peer's against the
//! configured CA certificate (`vsctl set-ssl PRIVKEY CERT CACERT`).
//!
//! - [`SslSource`] hands the daemon's current SSL settings to the channel
//!   tasks and wakes them when `set-ssl`/`del-ssl` change them.
//! - [`client_config`] and [`server_config`] build rustls configurations
//!   from those files with [`openflow::tls`] (the one copy of that code,
//!   shared with `ofcontroller`; its documentation says why the peer's
//!   host name is not checked). They run at every connection attempt (and
//!   every accepted `pssl:` connection), not once: a replaced certificate
//!   is used from the next connection on, and a missing or broken file is
//!   a logged one-line error and a retry, never a crash.

use crate::config::model::SslConfig;
pub use openflow::tls::server_name;
use openflow::tls::{self, TlsFiles};
use rustls::{ClientConfig, ServerConfig};
use std::sync::Arc;
use tokio::sync::watch;

/// The daemon's current SSL settings, shared by every bridge and channel
/// task; cloning shares it.
#[derive(Clone, Debug)]
pub struct SslSource(Arc<watch::Sender<Option<SslConfig>>>);

impl Default for SslSource {
    fn default() -> SslSource {
        SslSource::new(None)
    }
}

impl SslSource {
    pub fn new(ssl: Option<SslConfig>) -> SslSource {
        SslSource(Arc::new(watch::Sender::new(ssl)))
    }

    /// Replaces the settings; tasks waiting in [`SslSource::subscribe`]
    /// wake up only if they changed.
    pub fn set(&self, ssl: Option<SslConfig>) {
        self.0.send_if_modified(|cur| {
            let changed = *cur != ssl;
            *cur = ssl;
            changed
        });
    }

    pub fn get(&self) -> Option<SslConfig> {
        self.0.borrow().clone()
    }

    /// A receiver whose `changed()` fires when the settings change.
    pub fn subscribe(&self) -> watch::Receiver<Option<SslConfig>> {
        self.0.subscribe()
    }

    /// The client configuration for `ssl:` targets from the current
    /// settings.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        client_config(self.get().as_ref().ok_or_else(not_configured)?)
    }

    /// The server configuration for `pssl:` targets from the current
    /// settings.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        server_config(self.get().as_ref().ok_or_else(not_configured)?)
    }
}

fn not_configured() -> String {
    "no SSL key and certificates configured (use vsctl set-ssl PRIVKEY CERT CACERT)".to_string()
}

fn files(ssl: &SslConfig) -> TlsFiles<'_> {
    TlsFiles {
        private_key: &ssl.private_key,
        certificate: &ssl.certificate,
        ca_cert: &ssl.ca_cert,
    }
}

/// The configuration to connect to a controller: our certificate for
/// client authentication, the controller's checked against the CA only.
pub fn client_config(ssl: &SslConfig) -> Result<Arc<ClientConfig>, String> {
    tls::client_config(files(ssl))
}

/// The configuration to accept `pssl:` connections: our certificate, and
/// a client certificate signed by the CA required.
pub fn server_config(ssl: &SslConfig) -> Result<Arc<ServerConfig>, String> {
    tls::server_config(files(ssl))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A CA and certificates it signed, written as PEM files in a
    /// temporary directory.
    pub(crate) struct TestPki {
        pub dir: tempfile::TempDir,
        ca: rcgen::Certificate,
        ca_key: rcgen::KeyPair,
    }

    impl TestPki {
        pub(crate) fn new(name: &str) -> TestPki {
            let dir = tempfile::tempdir().expect("tempdir");
            let ca_key = rcgen::KeyPair::generate().expect("CA key");
            let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, format!("{name} CA"));
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let ca = params.self_signed(&ca_key).expect("CA certificate");
            std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write CA");
            TestPki { dir, ca, ca_key }
        }

        pub(crate) fn ca_path(&self) -> PathBuf {
            self.dir.path().join("ca.pem")
        }

        /// A certificate for `cn` with no subject alternative names (like
        /// ovs-pki's), as SslConfig with this CA.
        pub(crate) fn issue(&self, cn: &str) -> SslConfig {
            let key = rcgen::KeyPair::generate().expect("key");
            let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            let cert = params
                .signed_by(&key, &self.ca, &self.ca_key)
                .expect("sign");
            let (k, c) = (
                self.dir.path().join(format!("{cn}-key.pem")),
                self.dir.path().join(format!("{cn}-cert.pem")),
            );
            std::fs::write(&k, key.serialize_pem()).expect("write key");
            std::fs::write(&c, cert.pem()).expect("write cert");
            SslConfig {
                private_key: k,
                certificate: c,
                ca_cert: self.ca_path(),
            }
        }
    }

    /// A client configuration that trusts the CA in `ca` but presents no
    /// certificate.
    pub(crate) fn anonymous_client(ca: &Path) -> Arc<ClientConfig> {
        let provider = tls::provider();
        let verifier = tls::CaOnlyVerifier::new(tls::read_roots(ca).expect("CA"), &provider);
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Arc::new(cfg)
    }

    #[test]
    fn loads_a_good_identity() {
        let pki = TestPki::new("t");
        let ssl = pki.issue("switch");
        client_config(&ssl).expect("client config");
        server_config(&ssl).expect("server config");
    }

    #[test]
    fn bad_files_give_one_line_errors_naming_them() {
        let pki = TestPki::new("t");
        let good = pki.issue("switch");
        let junk = pki.dir.path().join("junk.pem");
        std::fs::write(&junk, "not a pem file\n").expect("write");
        let broken = pki.dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let missing = pki.dir.path().join("missing.pem");
        let other_pki = TestPki::new("other");
        let other = other_pki.issue("other");
        let cases = [
            (
                SslConfig {
                    private_key: missing.clone(),
                    ..good.clone()
                },
                "cannot read the private key",
            ),
            (
                SslConfig {
                    private_key: junk.clone(),
                    ..good.clone()
                },
                "holds no PEM private key",
            ),
            (
                SslConfig {
                    certificate: junk.clone(),
                    ..good.clone()
                },
                "holds no PEM certificate",
            ),
            (
                SslConfig {
                    certificate: broken.clone(),
                    ..good.clone()
                },
                "is not valid PEM",
            ),
            (
                SslConfig {
                    ca_cert: missing.clone(),
                    ..good.clone()
                },
                "cannot read the CA certificate",
            ),
            (
                SslConfig {
                    private_key: other.private_key.clone(),
                    ..good.clone()
                },
                "cannot be used together",
            ),
        ];
        for (ssl, want) in cases {
            for e in [
                client_config(&ssl).map(|_| ()).expect_err(want),
                server_config(&ssl).map(|_| ()).expect_err(want),
            ] {
                assert!(e.contains(want), "{e:?} lacks {want:?}");
                assert!(!e.contains('\n'), "{e:?} is one line");
            }
        }
        let e = SslSource::default()
            .client_config()
            .map(|_| ())
            .expect_err("unset");
        assert!(e.contains("set-ssl"), "{e}");
    }

    #[tokio::test]
    async fn source_wakes_subscribers_only_on_change() {
        let src = SslSource::default();
        let mut rx = src.subscribe();
        src.set(None);
        assert!(!rx.has_changed().expect("open"));
        let ssl = TestPki::new("t").issue("a");
        src.set(Some(ssl.clone()));
        assert!(rx.has_changed().expect("open"));
        rx.borrow_and_update();
        assert_eq!(src.clone().get(), Some(ssl));
    }
}
