//! TLS for `ssl:` and `pssl:` OpenFlow channels, as Open vSwitch does it:
//! both sides present a certificate and both check the peer's against the
//! configured CA certificate (`vsctl set-ssl PRIVKEY CERT CACERT`).
//!
//! - [`SslSource`] hands the daemon's current SSL settings to the channel
//!   tasks and wakes them when `set-ssl`/`del-ssl` change them.
//! - [`client_config`] and [`server_config`] read the PEM files and build
//!   rustls configurations. They run at every connection attempt (and every
//!   accepted `pssl:` connection), not once: a replaced certificate is used
//!   from the next connection on, and a missing or broken file is a logged
//!   one-line error and a retry, never a crash.
//!
//! Why the controller's host name is not checked: Open vSwitch
//! authenticates a controller only by its certificate chain to the CA
//! (OpenFlow PKIs made by `ovs-pki` put a free-form CN in certificates, no
//! DNS or IP subject alternative names), and a switch connects to an IP
//! address anyway. rustls' stock verifier ([`WebPkiServerVerifier`]) always
//! checks the name, so [`CaOnlyVerifier`] runs the same webpki chain
//! verification (signature chain to the CA, validity dates, key usage)
//! through rustls' own `verify_server_cert_signed_by_trust_anchor` and
//! leaves the name out. Handshake signatures are verified as usual.
//!
//! The crypto is rustls' `ring` provider; TLS 1.2 and 1.3 are offered.
//! Certificates must be X.509 v3 (webpki refuses v1 end-entity ones).
//!
//! [`WebPkiServerVerifier`]: rustls::client::WebPkiServerVerifier

use crate::config::model::SslConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
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

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The configuration to connect to a controller: our certificate for
/// client authentication, the controller's checked against the CA only.
pub fn client_config(ssl: &SslConfig) -> Result<Arc<ClientConfig>, String> {
    let (certs, key, roots) = load(ssl)?;
    let provider = provider();
    let verifier = CaOnlyVerifier {
        roots: Arc::new(roots),
        algs: provider.signature_verification_algorithms,
    };
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(certs, key)
        .map_err(|e| key_error(ssl, e))?;
    Ok(Arc::new(cfg))
}

/// The configuration to accept `pssl:` connections: our certificate, and
/// a client certificate signed by the CA required.
pub fn server_config(ssl: &SslConfig) -> Result<Arc<ServerConfig>, String> {
    let (certs, key, roots) = load(ssl)?;
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("CA certificate {}: {e}", ssl.ca_cert.display()))?;
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| key_error(ssl, e))?;
    Ok(Arc::new(cfg))
}

fn key_error(ssl: &SslConfig, e: rustls::Error) -> String {
    format!(
        "private key {} and certificate {} cannot be used together: {e}",
        ssl.private_key.display(),
        ssl.certificate.display()
    )
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    RootCertStore,
);

/// Reads the three files; each error names the file and the problem.
fn load(ssl: &SslConfig) -> Result<Identity, String> {
    let key = read_key(&ssl.private_key)?;
    let certs = read_certs(&ssl.certificate, "certificate")?;
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&ssl.ca_cert, "CA certificate")? {
        roots
            .add(ca)
            .map_err(|e| format!("CA certificate {}: {e}", ssl.ca_cert.display()))?;
    }
    Ok((certs, key, roots))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// Every certificate in a PEM file (at least one).
pub fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the {what} {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} {} holds no PEM certificate (BEGIN CERTIFICATE)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read_file(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "the private key {} holds no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            path.display()
        ),
        e => format!("the private key {} is not valid PEM: {e}", path.display()),
    })
}

/// Accepts a server certificate that chains to the CA, whatever names it
/// carries (see the module documentation for why).
#[derive(Debug)]
pub struct CaOnlyVerifier {
    roots: Arc<RootCertStore>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CaOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algs.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The server name rustls wants for a connection to `ip` (used for SNI
/// logic only: [`CaOnlyVerifier`] ignores it).
pub fn server_name(ip: std::net::IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(ip.into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

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
        let mut roots = RootCertStore::empty();
        for c in read_certs(ca, "CA certificate").expect("CA") {
            roots.add(c).expect("root");
        }
        let provider = provider();
        let verifier = CaOnlyVerifier {
            roots: Arc::new(roots),
            algs: provider.signature_verification_algorithms,
        };
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
