//! A test PKI made with the `openssl` command, as `ovs-pki` would: a CA
//! and certificates it signs (EC P-256, X.509 v3, a free-form CN and by
//! default no subject alternative names), as PEM files in a temporary
//! directory. For the TLS end-to-end tests of the switch and the
//! controller.

use super::{have, require, require_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Root, `ip` and the `openssl` command: what a TLS end-to-end test needs.
pub fn require_pki() -> bool {
    require_root() && require("openssl", have("openssl"))
}

/// `openssl req` making a new P-256 key (unencrypted), then `args`.
fn openssl_req(dir: &Path, args: &[&str]) {
    let new_key = [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(dir, &[&new_key[..], args].concat());
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA made with the openssl command in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
    name: String,
}

/// A key and certificate file pair, with the CA that signed them.
pub struct Identity {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub ca: PathBuf,
}

impl Identity {
    fn s(p: &Path) -> &str {
        p.to_str().expect("UTF-8 temp path")
    }
    pub fn key(&self) -> &str {
        Identity::s(&self.key)
    }
    pub fn cert(&self) -> &str {
        Identity::s(&self.cert)
    }
    pub fn ca(&self) -> &str {
        Identity::s(&self.ca)
    }
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("ofswitch-pki")
            .tempdir()
            .expect("tempdir");
        openssl_req(
            dir.path(),
            &[
                "-x509",
                "-keyout",
                "ca-key.pem",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name} test CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Pki {
            dir,
            name: name.to_string(),
        }
    }

    /// A certificate for `cn` signed by this CA, with subject alternative
    /// name `san` if given (ovs-pki's have none).
    pub fn issue(&self, cn: &str, san: Option<&str>) -> Identity {
        static SERIAL: AtomicU32 = AtomicU32::new(1);
        let d = self.dir.path();
        let mut ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                       extendedKeyUsage=serverAuth,clientAuth\n"
            .to_string();
        if let Some(san) = san {
            ext.push_str(&format!("subjectAltName={san}\n"));
        }
        std::fs::write(d.join(format!("{cn}.ext")), ext).expect("write extensions");
        let (key, csr, cert) = (
            format!("{cn}-key.pem"),
            format!("{cn}.csr"),
            format!("{cn}-cert.pem"),
        );
        openssl_req(
            d,
            &[
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/O={}/CN={cn}", self.name),
            ],
        );
        let serial = format!(
            "{}",
            u64::from(std::process::id()) * 1000
                + u64::from(SERIAL.fetch_add(1, Ordering::Relaxed))
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-set_serial",
                &serial,
                "-days",
                "2",
                "-extfile",
                &format!("{cn}.ext"),
                "-out",
                &cert,
            ],
        );
        Identity {
            key: d.join(key),
            cert: d.join(cert),
            ca: d.join("ca.pem"),
        }
    }
}
