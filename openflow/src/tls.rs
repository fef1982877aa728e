//! TLS for `ssl:` and `pssl:` OpenFlow channels, as Open vSwitch does it:
//! both sides present a certificate and both check the peer's against a
//! CA certificate (a switch's `vsctl set-ssl PRIVKEY CERT CACERT`, a
//! controller's `--private-key --certificate --ca-cert`). Only with the
//! `tls` feature: the switch and the controller share this one copy, and
//! the wire library's default build stays free of crypto.
//!
//! - [`client_config`] (the side that connects) and [`server_config`]
//!   (the side that accepts, requiring a client certificate signed by the
//!   CA) read the PEM files and build rustls configurations. Callers run
//!   them at every connection attempt (and every accepted connection), not
//!   once: a replaced certificate is used from the next connection on, and
//!   a missing or broken file is a one-line error naming the file.
//!
//! Why the peer's host name is not checked: Open vSwitch authenticates a
//! peer only by its certificate chain to the CA (OpenFlow PKIs made by
//! `ovs-pki` put a free-form CN in certificates, no DNS or IP subject
//! alternative names), and a channel connects to an IP address anyway.
//! rustls' stock verifier ([`WebPkiServerVerifier`]) always checks the
//! name, so [`CaOnlyVerifier`] runs the same webpki chain verification
//! (signature chain to the CA, validity dates, key usage) through rustls'
//! own `verify_server_cert_signed_by_trust_anchor` and leaves the name out.
//! Handshake signatures are verified as usual.
//!
//! The crypto is rustls' `ring` provider; TLS 1.2 and 1.3 are offered.
//! Certificates must be X.509 v3 (webpki refuses v1 end-entity ones).
//!
//! [`WebPkiServerVerifier`]: rustls::client::WebPkiServerVerifier

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;

/// The PEM files of one side's TLS identity.
#[derive(Clone, Copy, Debug)]
pub struct TlsFiles<'a> {
    /// Our private key.
    pub private_key: &'a Path,
    /// Our certificate (chain), presented to the peer.
    pub certificate: &'a Path,
    /// The CA certificate(s) that the peer's certificate must be signed by.
    pub ca_cert: &'a Path,
}

/// The crypto provider every configuration here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The configuration to connect: our certificate for client
/// authentication, the peer's checked against the CA only.
pub fn client_config(files: TlsFiles<'_>) -> Result<Arc<ClientConfig>, String> {
    let (certs, key, roots) = load(files)?;
    let provider = provider();
    let verifier = CaOnlyVerifier::new(roots, &provider);
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(certs, key)
        .map_err(|e| key_error(files, e))?;
    Ok(Arc::new(cfg))
}

/// The configuration to accept: our certificate, and a client certificate
/// signed by the CA required.
pub fn server_config(files: TlsFiles<'_>) -> Result<Arc<ServerConfig>, String> {
    let (certs, key, roots) = load(files)?;
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("CA certificate {}: {e}", files.ca_cert.display()))?;
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| key_error(files, e))?;
    Ok(Arc::new(cfg))
}

fn key_error(files: TlsFiles<'_>, e: rustls::Error) -> String {
    format!(
        "private key {} and certificate {} cannot be used together: {e}",
        files.private_key.display(),
        files.certificate.display()
    )
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    RootCertStore,
);

/// Reads the three files; each error names the file and the problem.
fn load(files: TlsFiles<'_>) -> Result<Identity, String> {
    let key = read_key(files.private_key)?;
    let certs = read_certs(files.certificate, "certificate")?;
    let roots = read_roots(files.ca_cert)?;
    Ok((certs, key, roots))
}

/// The CA certificates of a PEM file as trust anchors.
pub fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for ca in read_certs(path, "CA certificate")? {
        roots
            .add(ca)
            .map_err(|e| format!("CA certificate {}: {e}", path.display()))?;
    }
    Ok(roots)
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

impl CaOnlyVerifier {
    /// Trusts `roots`, with `provider`'s signature algorithms.
    pub fn new(roots: RootCertStore, provider: &CryptoProvider) -> CaOnlyVerifier {
        CaOnlyVerifier {
            roots: Arc::new(roots),
            algs: provider.signature_verification_algorithms,
        }
    }
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
