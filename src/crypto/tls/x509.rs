//! x509 certificates parsed by gnutls, for checking peers and our own credentials.

use std::ffi::CString;
use std::os::raw::{c_int, c_uint};
use std::path::Path;

use super::ffi;
use crate::crypto::HashAlgo;
use crate::{Error, ErrorKind, Result};

/// A parsed x509 certificate, freed when dropped.
pub(crate) struct X509Cert(ffi::gnutls_x509_crt_t);

impl Drop for X509Cert {
    fn drop(&mut self) {
        // SAFETY: initialized by gnutls_x509_crt_init, freed once.
        unsafe { ffi::gnutls_x509_crt_deinit(self.0) };
    }
}

impl X509Cert {
    /// A certificate from `data` in `format` (`GNUTLS_X509_FMT_DER` or `_PEM`).
    fn import(data: &ffi::gnutls_datum_t, format: c_int) -> Result<X509Cert> {
        let mut handle = std::ptr::null_mut();
        // SAFETY: gnutls_x509_crt_init fills the handle.
        let rc = unsafe { ffi::gnutls_x509_crt_init(&mut handle) };
        super::check("Cannot initialize certificate", rc)?;
        let cert = X509Cert(handle);
        // SAFETY: a live certificate and a datum whose bytes outlive the call.
        let rc = unsafe { ffi::gnutls_x509_crt_import(handle, data, format) };
        super::check("Cannot import certificate", rc)?;
        Ok(cert)
    }

    pub(crate) fn import_der(der: &ffi::gnutls_datum_t) -> Result<X509Cert> {
        X509Cert::import(der, ffi::GNUTLS_X509_FMT_DER)
    }

    /// The first certificate of the PEM text `pem`.
    fn import_pem(pem: &[u8]) -> Result<X509Cert> {
        let datum = ffi::gnutls_datum_t {
            data: pem.as_ptr().cast_mut(),
            size: c_uint::try_from(pem.len())
                .map_err(|_| Error::new(ErrorKind::InvalidArgument, "Certificate too large"))?,
        };
        X509Cert::import(&datum, ffi::GNUTLS_X509_FMT_PEM)
    }

    /// The certificate's DER encoding, what its fingerprint digests.
    fn der(&self) -> Result<Vec<u8>> {
        let mut datum = empty_datum();
        // SAFETY: a live certificate; gnutls allocates the datum's data.
        let rc =
            unsafe { ffi::gnutls_x509_crt_export2(self.0, ffi::GNUTLS_X509_FMT_DER, &mut datum) };
        super::check("Cannot export certificate", rc)?;
        Ok(take_datum(datum))
    }

    pub(crate) fn expiration(&self) -> libc::time_t {
        // SAFETY: a live certificate.
        unsafe { ffi::gnutls_x509_crt_get_expiration_time(self.0) }
    }

    pub(crate) fn activation(&self) -> libc::time_t {
        // SAFETY: a live certificate.
        unsafe { ffi::gnutls_x509_crt_get_activation_time(self.0) }
    }

    /// The subject DN in certificate order (`C=UK,CN=qemu`).
    pub(crate) fn dn(&self) -> Result<String> {
        let mut datum = empty_datum();
        // SAFETY: a live certificate; gnutls allocates the datum's data.
        let rc = unsafe { ffi::gnutls_x509_crt_get_dn2(self.0, &mut datum) };
        super::check("Cannot get client distinguished name", rc)?;
        Ok(String::from_utf8_lossy(&take_datum(datum)).into_owned())
    }

    /// Whether the certificate names `hostname` (subjectAltName DNS or IP entries, the
    /// CN only without them).
    pub(crate) fn matches_hostname(&self, hostname: &str) -> Result<bool> {
        let hostname = CString::new(hostname)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "Hostname contains a NUL byte"))?;
        // SAFETY: a live certificate and a NUL-terminated name.
        Ok(unsafe { ffi::gnutls_x509_crt_check_hostname(self.0, hostname.as_ptr()) } != 0)
    }

    /// Every certificate in the PEM file at `path`, in file order.
    pub(crate) fn list_from_file(path: &Path) -> Result<Vec<X509Cert>> {
        let pem = crate::config_file::read_or_fail(path)?;
        let datum = ffi::gnutls_datum_t {
            data: pem.as_ptr().cast_mut(),
            size: pem.len() as c_uint,
        };
        let mut list = std::ptr::null_mut();
        let mut count = 0;
        // SAFETY: a datum over `pem`; gnutls allocates the array and the certificates.
        let rc = unsafe {
            ffi::gnutls_x509_crt_list_import2(
                &mut list,
                &mut count,
                &datum,
                ffi::GNUTLS_X509_FMT_PEM,
                0,
            )
        };
        super::check(
            &format!("Unable to import certificate {}", path.display()),
            rc,
        )?;
        // SAFETY: `count` certificates we now own; the array is freed with gnutls_free.
        unsafe {
            let certs = std::slice::from_raw_parts(list, count as usize)
                .iter()
                .map(|&crt| X509Cert(crt))
                .collect();
            if let Some(free) = ffi::gnutls_free {
                free(list.cast());
            }
            Ok(certs)
        }
    }

    pub(crate) fn raw(&self) -> ffi::gnutls_x509_crt_t {
        self.0
    }

    /// basicConstraints: `Some(is_ca)`, or `None` without the extension.
    pub(crate) fn basic_constraints(&self) -> Result<Option<bool>> {
        // SAFETY: a live certificate; NULL outputs are allowed.
        let rc = unsafe {
            ffi::gnutls_x509_crt_get_basic_constraints(
                self.0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        match rc {
            ffi::GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE => Ok(None),
            rc if rc < 0 => Err(Error::new(ErrorKind::Failed, super::strerror(rc))),
            rc => Ok(Some(rc > 0)),
        }
    }

    /// keyUsage bits and whether the extension is critical; `None` without it.
    pub(crate) fn key_usage(&self) -> Result<Option<(c_uint, bool)>> {
        let (mut usage, mut critical) = (0, 0);
        // SAFETY: a live certificate and two outputs.
        let rc = unsafe { ffi::gnutls_x509_crt_get_key_usage(self.0, &mut usage, &mut critical) };
        match rc {
            ffi::GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE => Ok(None),
            rc if rc < 0 => Err(Error::new(ErrorKind::Failed, super::strerror(rc))),
            _ => Ok(Some((usage, critical != 0))),
        }
    }

    /// The extendedKeyUsage purpose OIDs, each with whether it was marked critical.
    pub(crate) fn key_purposes(&self) -> Result<Vec<(String, bool)>> {
        let mut purposes = Vec::new();
        for index in 0.. {
            let mut size = 0;
            // SAFETY: a size query with no buffer.
            let rc = unsafe {
                ffi::gnutls_x509_crt_get_key_purpose_oid(
                    self.0,
                    index,
                    std::ptr::null_mut(),
                    &mut size,
                    std::ptr::null_mut(),
                )
            };
            match rc {
                ffi::GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE => break,
                ffi::GNUTLS_E_SHORT_MEMORY_BUFFER => {}
                rc => return Err(Error::new(ErrorKind::Failed, super::strerror(rc.min(-1)))),
            }
            let mut oid = vec![0u8; size];
            let mut critical = 0;
            // SAFETY: a buffer of the size gnutls asked for.
            let rc = unsafe {
                ffi::gnutls_x509_crt_get_key_purpose_oid(
                    self.0,
                    index,
                    oid.as_mut_ptr().cast(),
                    &mut size,
                    &mut critical,
                )
            };
            if rc < 0 {
                return Err(Error::new(ErrorKind::Failed, super::strerror(rc)));
            }
            let oid = oid.split(|&b| b == 0).next().unwrap_or_default();
            purposes.push((String::from_utf8_lossy(oid).into_owned(), critical != 0));
        }
        Ok(purposes)
    }

    /// Whether `issuer` issued this certificate (by name).
    pub(crate) fn issued_by(&self, issuer: &X509Cert) -> bool {
        // SAFETY: two live certificates.
        unsafe { ffi::gnutls_x509_crt_check_issuer(self.0, issuer.0) != 0 }
    }
}

fn empty_datum() -> ffi::gnutls_datum_t {
    ffi::gnutls_datum_t {
        data: std::ptr::null_mut(),
        size: 0,
    }
}

/// The bytes of a datum gnutls allocated, which it frees.
fn take_datum(datum: ffi::gnutls_datum_t) -> Vec<u8> {
    if datum.data.is_null() {
        return Vec::new();
    }
    // SAFETY: gnutls filled `size` bytes at `data` for us to free with gnutls_free.
    unsafe {
        let bytes = std::slice::from_raw_parts(datum.data, datum.size as usize).to_vec();
        if let Some(free) = ffi::gnutls_free {
            free(datum.data.cast());
        }
        bytes
    }
}

/// The fingerprint of the first certificate in the PEM text `pem`: the `alg` digest of
/// its DER encoding (QEMU's `qcrypto_get_x509_cert_fingerprint`, with QEMU's messages).
/// Every hash algorithm works, where QEMU takes those its gnutls has.
pub fn cert_fingerprint(pem: &[u8], alg: HashAlgo) -> Result<Vec<u8>> {
    let cert = X509Cert::import_pem(pem)
        .map_err(|_| Error::new(ErrorKind::Failed, "Failed to import certificate"))?;
    crate::crypto::hash::digest(alg, &[&cert.der()?])
}

/// QEMU's words for a gnutls verification status: the last of these that applies.
pub(super) fn status_reason(status: c_uint) -> &'static str {
    [
        (
            ffi::GNUTLS_CERT_INSECURE_ALGORITHM,
            "The certificate uses an insecure algorithm",
        ),
        (ffi::GNUTLS_CERT_REVOKED, "The certificate has been revoked"),
        (
            ffi::GNUTLS_CERT_SIGNER_NOT_FOUND,
            "The certificate hasn't got a known issuer",
        ),
        (ffi::GNUTLS_CERT_INVALID, "The certificate is not trusted"),
    ]
    .into_iter()
    .find(|(bit, _)| status & bit != 0)
    .map_or("Invalid certificate", |(_, reason)| reason)
}
