//! The sanity check of our own x509 identity at load time (QEMU's
//! `qcrypto_tls_creds_x509_sanity_check`), so that a bad certificate fails where it is
//! configured rather than in every handshake with a vague peer error. QEMU's rules and
//! messages: validity periods; basicConstraints (a CA flag on a leaf, none on a CA);
//! key usage and key purpose, enforced only when the extension is critical; the chain
//! in the cert file in order, then through the CA file to a self-signed root; and
//! finally gnutls' own verification against the CAs.

use std::os::raw::c_uint;
use std::path::Path;

use super::ffi;
use super::x509::X509Cert;
use crate::{Error, ErrorKind, Result};

const PURPOSE_SERVER: &str = "1.3.6.1.5.5.7.3.1";
const PURPOSE_CLIENT: &str = "1.3.6.1.5.5.7.3.2";
const PURPOSE_ANY: &str = "2.5.29.37.0";

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// What a certificate is checked as.
#[derive(Clone, Copy)]
struct Role {
    server: bool,
    ca: bool,
}

impl Role {
    fn name(self) -> &'static str {
        match (self.ca, self.server) {
            (true, _) => "CA",
            (false, true) => "server",
            (false, false) => "client",
        }
    }
}

/// Checks the identity in `cert_file` (leaf first, then intermediates) against the
/// CA certificates in `ca_file`.
pub(super) fn check(server: bool, ca_file: &Path, cert_file: &Path) -> Result<()> {
    let cas = X509Cert::list_from_file(ca_file)?;
    let certs = X509Cert::list_from_file(cert_file)?;
    for (i, cert) in certs.iter().enumerate() {
        check_cert(cert, cert_file, Role { server, ca: i != 0 })?;
    }
    if certs.is_empty() {
        return Ok(());
    }
    check_chain(&certs, &cas, ca_file, server)?;
    check_pair(&certs, cert_file, &cas, ca_file, server)
}

fn check_cert(cert: &X509Cert, file: &Path, role: Role) -> Result<()> {
    let file = file.display();
    // SAFETY: time(NULL) cannot fail on Linux.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    if cert.expiration() < now {
        return Err(invalid(format!(
            "The {} certificate {file} has expired",
            role.name()
        )));
    }
    if cert.activation() > now {
        return Err(invalid(format!(
            "The {} certificate {file} is not yet active",
            role.name()
        )));
    }
    let constraints = cert.basic_constraints().map_err(|e| {
        invalid(format!(
            "Unable to query certificate {file} basic constraints: {}",
            e.message()
        ))
    })?;
    match (constraints, role.ca) {
        (Some(true), false) => {
            return Err(invalid(format!(
                "The certificate {file} basic constraints show a CA, but we need one for a {}",
                role.name()
            )))
        }
        (Some(false), true) => {
            return Err(invalid(format!(
                "The certificate {file} basic constraints do not show a CA"
            )))
        }
        (None, true) => {
            return Err(invalid(format!(
                "The certificate {file} is missing basic constraints for a CA"
            )))
        }
        _ => {}
    }
    let (usage, critical) = cert
        .key_usage()
        .map_err(|e| {
            invalid(format!(
                "Unable to query certificate {file} key usage: {}",
                e.message()
            ))
        })?
        .unwrap_or(match role.ca {
            true => (ffi::GNUTLS_KEY_KEY_CERT_SIGN, false),
            false => (ffi::GNUTLS_KEY_DIGITAL_SIGNATURE, false),
        });
    let (needed, what): (c_uint, _) = match role.ca {
        true => (ffi::GNUTLS_KEY_KEY_CERT_SIGN, "certificate signing"),
        false => (ffi::GNUTLS_KEY_DIGITAL_SIGNATURE, "digital signature"),
    };
    if usage & needed == 0 && critical {
        return Err(invalid(format!(
            "Certificate {file} usage does not permit {what}"
        )));
    }
    if !role.ca {
        check_purpose(cert, &file.to_string(), role.server)?;
    }
    Ok(())
}

fn check_purpose(cert: &X509Cert, file: &str, server: bool) -> Result<()> {
    let purposes = cert.key_purposes().map_err(|e| {
        invalid(format!(
            "Unable to query certificate {file} key purpose: {}",
            e.message()
        ))
    })?;
    let allows = |wanted: &str| {
        purposes.is_empty()
            || purposes
                .iter()
                .any(|(oid, _)| oid == wanted || oid == PURPOSE_ANY)
    };
    let critical = purposes.iter().any(|(_, critical)| *critical);
    let (wanted, end) = match server {
        true => (PURPOSE_SERVER, "server"),
        false => (PURPOSE_CLIENT, "client"),
    };
    if !allows(wanted) && critical {
        return Err(invalid(format!(
            "Certificate {file} purpose does not allow use with a TLS {end}"
        )));
    }
    Ok(())
}

/// Each certificate of the file issued by the next, then issuers through the CA file
/// up to a self-signed one, each checked as a CA.
fn check_chain(certs: &[X509Cert], cas: &[X509Cert], ca_file: &Path, server: bool) -> Result<()> {
    for pair in certs.windows(2) {
        if !pair[0].issued_by(&pair[1]) {
            return Err(invalid(format!(
                "Cert '{}' does not match issuer of cert '{}'",
                pair[1].dn()?,
                pair[0].dn()?
            )));
        }
    }
    let mut current = certs.last().expect("a non-empty chain");
    // Bounded by the CA list: a loop of cross-signed CAs cannot spin forever.
    for _ in 0..=cas.len() {
        if current.issued_by(current) {
            return Ok(());
        }
        let issuer = cas.iter().find(|ca| current.issued_by(ca)).ok_or_else(|| {
            current
                .dn()
                .map(|dn| invalid(format!("Cert '{dn}' has no issuer in CA chain")))
                .unwrap_or_else(|e| e)
        })?;
        check_cert(issuer, ca_file, Role { server, ca: true })?;
        current = issuer;
    }
    Err(invalid(format!(
        "The CA certificates in {} do not end in a self-signed root",
        ca_file.display()
    )))
}

/// gnutls' verification of our chain against the CA list.
fn check_pair(
    certs: &[X509Cert],
    cert_file: &Path,
    cas: &[X509Cert],
    ca_file: &Path,
    server: bool,
) -> Result<()> {
    let certs: Vec<_> = certs.iter().map(X509Cert::raw).collect();
    let cas: Vec<_> = cas.iter().map(X509Cert::raw).collect();
    let mut status = 0;
    // SAFETY: arrays of live certificates with their lengths; no CRLs.
    let rc = unsafe {
        ffi::gnutls_x509_crt_list_verify(
            certs.as_ptr(),
            certs.len() as c_uint,
            cas.as_ptr(),
            cas.len() as c_uint,
            std::ptr::null(),
            0,
            0,
            &mut status,
        )
    };
    let end = if server { "server" } else { "client" };
    if rc < 0 {
        return Err(invalid(format!(
            "Unable to verify {end} certificate {} against CA certificate {}",
            cert_file.display(),
            ca_file.display()
        )));
    }
    if status != 0 {
        return Err(invalid(format!(
            "Our own certificate {} failed validation against {}: {}",
            cert_file.display(),
            ca_file.display(),
            super::x509::status_reason(status)
        )));
    }
    Ok(())
}
