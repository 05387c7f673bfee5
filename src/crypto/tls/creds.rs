//! TLS credentials: what a session authenticates with, loaded from QEMU's directory
//! layout. One `Creds` serves any number of sessions; each session keeps the loaded
//! gnutls credentials it started with alive, so a reload (x509) replaces them for new
//! sessions only.

use std::ffi::{c_int, c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use zeroize::Zeroizing;

use super::{check, ffi};
use crate::{Error, ErrorKind, Result};

/// Which end of a connection credentials are for (`QCryptoTLSCredsEndpoint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Client = 0,
    Server = 1,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Client => "client",
            Endpoint::Server => "server",
        }
    }
}

/// The kinds of credentials, with what each needs beyond the common properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredsKind {
    /// Anonymous Diffie-Hellman: encryption without authentication.
    Anon,
    /// A pre-shared key from `keys.psk`; a client uses `username`'s (default `qemu`).
    Psk { username: Option<String> },
    /// x509 certificates; with `verify_peer`, sessions check the peer's certificate;
    /// with `sanity_check`, our own identities are checked when loaded.
    X509 {
        verify_peer: bool,
        sanity_check: bool,
    },
}

impl CredsKind {
    fn type_name(&self) -> &'static str {
        match self {
            CredsKind::Anon => "tls-creds-anon",
            CredsKind::Psk { .. } => "tls-creds-psk",
            CredsKind::X509 { .. } => "tls-creds-x509",
        }
    }

    /// What this kind appends to the priority string: QEMU's suffix enabling its key
    /// exchanges, after dropping every other key exchange (and for anon, TLS 1.3, which
    /// has no anonymous one). A gnutls server without certificate credentials would
    /// otherwise accept a client's certificate suite or TLS 1.3 and then fail with
    /// "Insufficient credentials" (OpenSSL's and gnutls-cli's hellos do that).
    fn priority_suffix(&self) -> Option<&'static str> {
        match self {
            CredsKind::Anon => Some("-VERS-TLS1.3:-KX-ALL:+ANON-DH"),
            CredsKind::Psk { .. } => Some("-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK"),
            CredsKind::X509 { .. } => None,
        }
    }
}

/// The priority without one from the caller: gnutls' `NORMAL` without TLS 1.0 and 1.1
/// (RFC 8996 deprecates them), where QEMU's build default is `NORMAL` itself.
pub const DEFAULT_PRIORITY: &str = "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0";
/// The optional Diffie-Hellman parameters of a server, in `dir`.
const DH_PARAMS: &str = "dh-params.pem";
/// The PSK file, in `dir`: `username:hexkey` lines, as psktool writes them.
const PSK_FILE: &str = "keys.psk";
/// The CA certificates, in `dir`: required at both ends.
const CA_CERT: &str = "ca-cert.pem";
/// A server's optional certificate revocation list, in `dir`.
const CA_CRL: &str = "ca-crl.pem";
/// How many numbered identities (`server-cert-N.pem`) may follow the plain one.
const IDENTITY_MAX: usize = 4;

/// A gnutls credentials handle, freed with the function matching its type.
enum Handle {
    AnonClient(ffi::gnutls_anon_client_credentials_t),
    AnonServer(ffi::gnutls_anon_server_credentials_t),
    PskClient(ffi::gnutls_psk_client_credentials_t),
    PskServer(ffi::gnutls_psk_server_credentials_t),
    Certificate(ffi::gnutls_certificate_credentials_t),
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: allocated by the matching gnutls function, freed once.
        unsafe {
            match *self {
                Handle::AnonClient(h) => ffi::gnutls_anon_free_client_credentials(h),
                Handle::AnonServer(h) => ffi::gnutls_anon_free_server_credentials(h),
                Handle::PskClient(h) => ffi::gnutls_psk_free_client_credentials(h),
                Handle::PskServer(h) => ffi::gnutls_psk_free_server_credentials(h),
                Handle::Certificate(h) => ffi::gnutls_certificate_free_credentials(h),
            }
        }
    }
}

/// Diffie-Hellman parameters loaded from `dh-params.pem`.
struct DhParams(ffi::gnutls_dh_params_t);

impl Drop for DhParams {
    fn drop(&mut self) {
        // SAFETY: initialized by gnutls_dh_params_init, freed once.
        unsafe { ffi::gnutls_dh_params_deinit(self.0) };
    }
}

/// One load of credentials. The handle is declared (so dropped) before the DH
/// parameters it points to.
pub(crate) struct Loaded {
    handle: Handle,
    dh_params: Option<DhParams>,
}

// SAFETY: gnutls credentials and DH parameters are not changed after loading, and
// gnutls allows one credentials structure to serve sessions in several threads.
unsafe impl Send for Loaded {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for Loaded {}

impl Loaded {
    /// The gnutls credentials type and pointer, for `gnutls_credentials_set`.
    pub(crate) fn gnutls(&self) -> (c_int, *mut c_void) {
        match self.handle {
            Handle::AnonClient(h) | Handle::AnonServer(h) => (ffi::GNUTLS_CRD_ANON, h),
            Handle::PskClient(h) | Handle::PskServer(h) => (ffi::GNUTLS_CRD_PSK, h),
            Handle::Certificate(h) => (ffi::GNUTLS_CRD_CERTIFICATE, h),
        }
    }
}

/// TLS credentials for one endpoint (`QCryptoTLSCreds`).
pub struct Creds {
    config: Config,
    loaded: RwLock<Arc<Loaded>>,
}

/// What credentials are made from.
struct Config {
    kind: CredsKind,
    endpoint: Endpoint,
    dir: Option<PathBuf>,
    priority: Option<String>,
    /// The password of encrypted x509 private keys, NUL-terminated, wiped when dropped.
    key_password: Option<Zeroizing<Vec<u8>>>,
}

impl Creds {
    /// Anonymous credentials (`tls-creds-anon`); a server reads `dir/dh-params.pem` when
    /// there is one, a client needs no files.
    pub fn anon(endpoint: Endpoint, dir: Option<&Path>, priority: Option<&str>) -> Result<Creds> {
        Creds::new(CredsKind::Anon, endpoint, dir, priority)
    }

    /// Pre-shared key credentials (`tls-creds-psk`) from `dir/keys.psk`: a server takes
    /// the whole file; a client the key of `username` (default `qemu`), which a server
    /// must not be given.
    pub fn psk(
        endpoint: Endpoint,
        dir: Option<&Path>,
        username: Option<&str>,
        priority: Option<&str>,
    ) -> Result<Creds> {
        let username = username.map(str::to_owned);
        Creds::new(CredsKind::Psk { username }, endpoint, dir, priority)
    }

    /// x509 credentials (`tls-creds-x509`) from `dir`: `ca-cert.pem` (one or more CA
    /// certificates); for a server `server-cert.pem` and `server-key.pem` and an
    /// optional `ca-crl.pem` and `dh-params.pem`; for a client, optionally,
    /// `client-cert.pem` and `client-key.pem`. Up to four more identities may follow
    /// as `server-cert-0.pem`/`server-key-0.pem` and so on, the first ones preferred;
    /// a cert file may hold a chain, leaf first. Encrypted keys open with
    /// `key_password`. With `verify_peer`, sessions check the peer's certificate; with
    /// `sanity_check`, each identity is checked against QEMU's rules first.
    pub fn x509(
        endpoint: Endpoint,
        dir: Option<&Path>,
        verify_peer: bool,
        priority: Option<&str>,
        sanity_check: bool,
        key_password: Option<&[u8]>,
    ) -> Result<Creds> {
        let key_password = match key_password {
            Some(password) if password.contains(&0) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "Key password contains a NUL byte",
                ))
            }
            Some(password) => Some(Zeroizing::new([password, b"\0"].concat())),
            None => None,
        };
        let config = Config {
            kind: CredsKind::X509 {
                verify_peer,
                sanity_check,
            },
            endpoint,
            dir: dir.map(Path::to_owned),
            priority: priority.map(str::to_owned),
            key_password,
        };
        Creds::with_config(config)
    }

    fn new(
        kind: CredsKind,
        endpoint: Endpoint,
        dir: Option<&Path>,
        priority: Option<&str>,
    ) -> Result<Creds> {
        Creds::with_config(Config {
            kind,
            endpoint,
            dir: dir.map(Path::to_owned),
            priority: priority.map(str::to_owned),
            key_password: None,
        })
    }

    fn with_config(config: Config) -> Result<Creds> {
        let loaded = config.load()?;
        Ok(Creds {
            config,
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The endpoint these credentials are for.
    pub fn endpoint(&self) -> Endpoint {
        self.config.endpoint
    }

    /// Fails unless these credentials are for `endpoint`
    /// (`qcrypto_tls_creds_check_endpoint`).
    pub fn check_endpoint(&self, endpoint: Endpoint) -> Result<()> {
        if self.config.endpoint != endpoint {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "Expected TLS credentials for a {} endpoint",
                    endpoint.name()
                ),
            ));
        }
        Ok(())
    }

    /// The gnutls priority string sessions use: the given one or [`DEFAULT_PRIORITY`], then the
    /// kind's suffix (`qcrypto_tls_creds_get_priority`).
    pub fn priority(&self) -> String {
        let base = self.config.priority.as_deref().unwrap_or(DEFAULT_PRIORITY);
        match self.config.kind.priority_suffix() {
            Some(suffix) => format!("{base}:{suffix}"),
            None => base.to_owned(),
        }
    }

    /// Loads the files again and uses them for new sessions; on failure the current
    /// credentials stay (`qcrypto_tls_creds_reload`). Only x509 credentials reload.
    pub fn reload(&self) -> Result<()> {
        if !matches!(self.config.kind, CredsKind::X509 { .. }) {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "{} does not support reloading credentials",
                    self.config.kind.type_name()
                ),
            ));
        }
        let loaded = Arc::new(self.config.load()?);
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// Whether sessions check the peer's certificate (x509 with `verify_peer`).
    pub(crate) fn verifies_peer(&self) -> bool {
        matches!(
            self.config.kind,
            CredsKind::X509 {
                verify_peer: true,
                ..
            }
        )
    }

    /// Whether these are x509 credentials.
    pub(crate) fn is_x509(&self) -> bool {
        matches!(self.config.kind, CredsKind::X509 { .. })
    }

    /// The credentials new sessions use.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Config {
    /// `dir/name` if it exists; `None` if it does not and is not `required`
    /// (`qcrypto_tls_creds_get_path`).
    fn path(&self, name: &str, required: bool) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return match required {
                true => Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "Missing 'dir' property value",
                )),
                false => Ok(None),
            };
        };
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(_) => Ok(Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
            Err(e) => Err(Error::os(
                &format!("Unable to access credentials {}", path.display()),
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
        }
    }

    fn load(&self) -> Result<Loaded> {
        match (&self.kind, self.endpoint) {
            (CredsKind::X509 { .. }, _) => self.load_x509(),
            (CredsKind::Anon, Endpoint::Client) => Ok(Loaded {
                handle: Handle::AnonClient(allocate(
                    ffi::gnutls_anon_allocate_client_credentials,
                    ffi::gnutls_anon_free_client_credentials,
                )?),
                dh_params: None,
            }),
            (CredsKind::Anon, Endpoint::Server) => {
                let handle = allocate(
                    ffi::gnutls_anon_allocate_server_credentials,
                    ffi::gnutls_anon_free_server_credentials,
                )?;
                let mut loaded = Loaded {
                    handle: Handle::AnonServer(handle),
                    dh_params: None,
                };
                loaded.dh_params = self.set_server_dh(
                    handle,
                    ffi::gnutls_anon_set_server_dh_params,
                    ffi::gnutls_anon_set_server_known_dh_params,
                )?;
                Ok(loaded)
            }
            (CredsKind::Psk { username: Some(_) }, Endpoint::Server) => Err(Error::new(
                ErrorKind::InvalidArgument,
                "username should not be set when endpoint=server",
            )),
            (CredsKind::Psk { .. }, Endpoint::Server) => {
                let path = self.path(PSK_FILE, true)?.expect("a required path");
                // gnutls reads the file itself, at each handshake: check now that it is
                // one it can read, so a FIFO or a huge file fails here.
                read_psk_file(&path)?;
                let file = c_path(&path)?;
                let handle = allocate(
                    ffi::gnutls_psk_allocate_server_credentials,
                    ffi::gnutls_psk_free_server_credentials,
                )?;
                let mut loaded = Loaded {
                    handle: Handle::PskServer(handle),
                    dh_params: None,
                };
                // SAFETY: a live handle and a NUL-terminated path.
                let rc =
                    unsafe { ffi::gnutls_psk_set_server_credentials_file(handle, file.as_ptr()) };
                check("Cannot set PSK server credentials", rc)?;
                loaded.dh_params = self.set_server_dh(
                    handle,
                    ffi::gnutls_psk_set_server_dh_params,
                    ffi::gnutls_psk_set_server_known_dh_params,
                )?;
                Ok(loaded)
            }
            (CredsKind::Psk { username }, Endpoint::Client) => {
                let file = self.path(PSK_FILE, true)?.expect("a required path");
                let username = username.as_deref().unwrap_or("qemu");
                let key = psk_lookup(&file, username)?;
                let handle = allocate(
                    ffi::gnutls_psk_allocate_client_credentials,
                    ffi::gnutls_psk_free_client_credentials,
                )?;
                let loaded = Loaded {
                    handle: Handle::PskClient(handle),
                    dh_params: None,
                };
                let user = CString::new(username).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        "PSK username contains a NUL byte",
                    )
                })?;
                let datum = ffi::gnutls_datum_t {
                    data: key.as_ptr().cast_mut(),
                    size: key.len() as u32,
                };
                // SAFETY: a live handle; gnutls copies the username and the decoded key.
                let rc = unsafe {
                    ffi::gnutls_psk_set_client_credentials(
                        handle,
                        user.as_ptr(),
                        &datum,
                        ffi::GNUTLS_PSK_KEY_HEX,
                    )
                };
                check("Cannot set PSK client credentials", rc)?;
                Ok(loaded)
            }
        }
    }

    /// The endpoint's certificate and key pairs: the plain one, then numbered ones up
    /// to the first absent number. A cert without its key, or the reverse, is an error.
    fn identities(&self) -> Result<Vec<(PathBuf, PathBuf)>> {
        let role = self.endpoint.name();
        let mut found = Vec::new();
        for index in std::iter::once(None).chain((0..IDENTITY_MAX).map(Some)) {
            let suffix = index.map_or(String::new(), |i| format!("-{i}"));
            let cert = self.path(&format!("{role}-cert{suffix}.pem"), false)?;
            let key = self.path(&format!("{role}-key{suffix}.pem"), false)?;
            let dir = self.dir.as_deref().unwrap_or(Path::new(""));
            match (cert, key) {
                (Some(cert), Some(key)) => found.push((cert, key)),
                (None, None) if index.is_some() => break,
                (None, None) => {}
                (Some(cert), None) => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "Cert '{}' has no key '{}'",
                            cert.display(),
                            dir.join(format!("{role}-key{suffix}.pem")).display()
                        ),
                    ))
                }
                (None, Some(key)) => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "Key '{}' has no cert '{}'",
                            key.display(),
                            dir.join(format!("{role}-cert{suffix}.pem")).display()
                        ),
                    ))
                }
            }
        }
        if found.is_empty() && self.endpoint == Endpoint::Server {
            let dir = self.dir.as_deref().unwrap_or(Path::new(""));
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "Missing server cert '{}' & key '{}'",
                    dir.join("server-cert.pem").display(),
                    dir.join("server-key.pem").display()
                ),
            ));
        }
        Ok(found)
    }

    fn load_x509(&self) -> Result<Loaded> {
        let ca = self.path(CA_CERT, true)?.expect("a required path");
        let crl = match self.endpoint {
            Endpoint::Server => self.path(CA_CRL, false)?,
            Endpoint::Client => None,
        };
        let identities = self.identities()?;
        if matches!(
            self.kind,
            CredsKind::X509 {
                sanity_check: true,
                ..
            }
        ) {
            for (cert, _) in &identities {
                super::sanity::check(self.endpoint == Endpoint::Server, &ca, cert)?;
            }
        }
        let handle = allocate(
            ffi::gnutls_certificate_allocate_credentials,
            ffi::gnutls_certificate_free_credentials,
        )?;
        let mut loaded = Loaded {
            handle: Handle::Certificate(handle),
            dh_params: None,
        };
        // The files are read here, bounded and only if regular, and handed over as
        // memory: gnutls' own file loaders read anything without limit.
        let pem = crate::config_file::read_or_fail(&ca)?;
        // SAFETY: a live handle and a datum gnutls only reads during the call.
        let count = unsafe {
            ffi::gnutls_certificate_set_x509_trust_mem(
                handle,
                &ffi::gnutls_datum_t::of(&pem),
                ffi::GNUTLS_X509_FMT_PEM,
            )
        };
        let context = format!("Unable to load CA certificate {}", ca.display());
        if check(&context, count)? == 0 {
            return Err(Error::new(
                ErrorKind::Failed,
                format!("{context}: no certificate found"),
            ));
        }
        if let Some(crl) = crl {
            let pem = crate::config_file::read_or_fail(&crl)?;
            // SAFETY: as above.
            let rc = unsafe {
                ffi::gnutls_certificate_set_x509_crl_mem(
                    handle,
                    &ffi::gnutls_datum_t::of(&pem),
                    ffi::GNUTLS_X509_FMT_PEM,
                )
            };
            check(&format!("Unable to load CRL {}", crl.display()), rc)?;
        }
        let password = self
            .key_password
            .as_ref()
            .map_or(std::ptr::null(), |p| p.as_ptr().cast());
        for (cert, key) in &identities {
            let cert_pem = crate::config_file::read_or_fail(cert)?;
            let key_pem = Zeroizing::new(crate::config_file::read_or_fail(key)?);
            // SAFETY: as above; the password is NULL or NUL-terminated.
            let rc = unsafe {
                ffi::gnutls_certificate_set_x509_key_mem2(
                    handle,
                    &ffi::gnutls_datum_t::of(&cert_pem),
                    &ffi::gnutls_datum_t::of(&key_pem),
                    ffi::GNUTLS_X509_FMT_PEM,
                    password,
                    0,
                )
            };
            let context = format!(
                "Unable to load certificate {} and key {}",
                cert.display(),
                key.display()
            );
            check(&context, rc)?;
        }
        if self.endpoint == Endpoint::Server {
            loaded.dh_params = self.set_server_dh(
                handle,
                ffi::gnutls_certificate_set_dh_params,
                ffi::gnutls_certificate_set_known_dh_params,
            )?;
        }
        Ok(loaded)
    }

    /// Gives a server's credentials their Diffie-Hellman group, for DHE and anonymous
    /// key exchange: `dh-params.pem` when the directory has one, else RFC 7919's
    /// 2048-bit group. (QEMU generates random 2048-bit parameters instead, which takes
    /// seconds; with none, TLS 1.2 clients that offer no RFC 7919 group, such as
    /// OpenSSL's, find no DHE or anonymous suite.) The parameters returned must outlive
    /// the credentials, which keep a pointer to them.
    fn set_server_dh(
        &self,
        handle: *mut c_void,
        set: unsafe extern "C" fn(*mut c_void, ffi::gnutls_dh_params_t),
        set_known: unsafe extern "C" fn(*mut c_void, c_int) -> c_int,
    ) -> Result<Option<DhParams>> {
        let Some(params) = self.dh_params()? else {
            // SAFETY: a live handle of the type `set_known` takes.
            let rc = unsafe { set_known(handle, ffi::GNUTLS_SEC_PARAM_MEDIUM) };
            check("Cannot set Diffie-Hellman parameters", rc)?;
            return Ok(None);
        };
        // SAFETY: both live; the caller keeps the parameters in `Loaded`, which frees
        // them after the credentials.
        unsafe { set(handle, params.0) };
        Ok(Some(params))
    }

    /// A server's `dh-params.pem`, if it has one.
    fn dh_params(&self) -> Result<Option<DhParams>> {
        let Some(path) = self.path(DH_PARAMS, false)? else {
            return Ok(None);
        };
        let pem = crate::config_file::read_or_fail(&path)?;
        let params = DhParams(allocate(
            ffi::gnutls_dh_params_init,
            ffi::gnutls_dh_params_deinit,
        )?);
        let datum = ffi::gnutls_datum_t {
            data: pem.as_ptr().cast_mut(),
            size: pem.len() as u32,
        };
        // SAFETY: a live handle and a datum over `pem`, which gnutls only reads.
        let rc = unsafe {
            ffi::gnutls_dh_params_import_pkcs3(params.0, &datum, ffi::GNUTLS_X509_FMT_PEM)
        };
        check(
            &format!("Unable to load DH parameters from {}", path.display()),
            rc,
        )?;
        Ok(Some(params))
    }
}

/// Runs a gnutls `*_allocate_*`/`*_init` function; on failure frees whatever it left.
fn allocate<T>(
    init: unsafe extern "C" fn(*mut *mut T) -> std::os::raw::c_int,
    free: unsafe extern "C" fn(*mut T),
) -> Result<*mut T> {
    let mut handle = std::ptr::null_mut();
    // SAFETY: `init` fills the pointer.
    let rc = unsafe { init(&mut handle) };
    if rc < 0 {
        if !handle.is_null() {
            // SAFETY: what `init` allocated before failing.
            unsafe { free(handle) };
        }
        check("Cannot allocate credentials", rc)?;
    }
    Ok(handle)
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("Path {} contains a NUL byte", path.display()),
        )
    })
}

/// The hex key of `username` in a PSK file: the first line starting `username:`.
/// The file's content and the key are wiped when dropped.
fn psk_lookup(file: &Path, username: &str) -> Result<Zeroizing<Vec<u8>>> {
    let content = read_psk_file(file)?;
    psk_file_key(&content, username).ok_or_else(|| {
        Error::new(
            ErrorKind::Failed,
            format!(
                "Username {username} not found in PSK file {}",
                file.display()
            ),
        )
    })
}

/// The content of the PSK file `file`, wiped when dropped.
fn read_psk_file(file: &Path) -> Result<Zeroizing<Vec<u8>>> {
    crate::config_file::read(file)
        .map(Zeroizing::new)
        .map_err(|why| {
            Error::new(
                ErrorKind::Failed,
                format!("Cannot read PSK file {}: {why}", file.display()),
            )
        })
}

/// The key text of `username` in the content of a `keys.psk` file (`user:hexkey`
/// lines, LF or CRLF), wiped when dropped; `None` when the user has no line.
pub fn psk_file_key(content: &[u8], username: &str) -> Option<Zeroizing<Vec<u8>>> {
    let prefix = [username.as_bytes(), b":"].concat();
    content
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(prefix.as_slice()))
        .map(|key| Zeroizing::new(key.strip_suffix(b"\r").unwrap_or(key).to_vec()))
}
