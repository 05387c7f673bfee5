//! A TLS session (QEMU's `crypto/tlssession.c`): gnutls driving a handshake and
//! records over a [`Transport`] the caller provides, non-blocking or not.
//!
//! One thread may read while another writes, as gnutls allows. For TLS 1.3 with an
//! AES cipher that is not enough (gnutls bug 1717: a key update touches state both
//! directions share), so a session that [requires thread
//! safety](Session::require_thread_safety) then serializes record I/O with a lock that
//! the transport callbacks release while they wait for the peer, as QEMU does.

use std::any::Any;
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use super::creds::{Creds, Endpoint, Loaded};
use super::x509::{status_reason, X509Cert};
use super::{ffi, strerror};
use crate::authz::Authz;
use crate::{Error, ErrorKind, Result};

/// What a session sends and receives records through. `Err` of kind
/// [`ErrorKind::WouldBlock`] means "nothing now, try again when ready".
pub trait Transport: Send + Sync {
    /// Sends some of `buf`; the count sent.
    fn push(&self, buf: &[u8]) -> Result<usize>;
    /// Sends some of `bufs` in order, as one write where the transport can (gnutls
    /// hands over several records at once); the count sent.
    fn push_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.push(buf),
            None => Ok(0),
        }
    }
    /// Receives into `buf`; the count received, 0 at end-of-file.
    fn pull(&self, buf: &mut [u8]) -> Result<usize>;
}

/// Where a handshake or a close stands (`QCryptoTLSSessionHandshakeStatus`,
/// `QCryptoTLSSessionByeStatus`): done, or waiting to send or to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Complete = 0,
    Sending = 1,
    Receiving = 2,
}

/// What a read got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// This many bytes; 0 at the peer's orderly close (`close_notify`).
    Bytes(usize),
    /// The peer closed the connection without `close_notify`
    /// (`QCRYPTO_TLS_SESSION_PREMATURE_TERMINATION`).
    PrematureEof,
}

/// A lock that a transport callback can release and take again while the record call
/// that holds it waits inside gnutls.
#[derive(Default)]
struct IoLock {
    held: Mutex<bool>,
    free: Condvar,
}

impl IoLock {
    fn acquire(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held {
            held = self.free.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        *held = true;
    }

    fn release(&self) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.free.notify_one();
    }
}

/// What gnutls' transport pointer points at (boxed, so its address is stable).
struct Shared {
    handle: ffi::gnutls_session_t,
    transport: RwLock<Option<Box<dyn Transport>>>,
    read_error: Mutex<Option<Error>>,
    write_error: Mutex<Option<Error>>,
    lock_enabled: AtomicBool,
    io_lock: IoLock,
}

impl Shared {
    /// Runs `io` on the transport with the record lock released, mapping its result to
    /// gnutls' convention; a failure is kept in `slot` for the caller's error message.
    fn transport_io(
        &self,
        slot: &Mutex<Option<Error>>,
        io: impl FnOnce(&dyn Transport) -> Result<usize>,
    ) -> isize {
        let locked = self.lock_enabled.load(Ordering::Acquire);
        if locked {
            self.io_lock.release();
        }
        let result = {
            let transport = self
                .transport
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            match transport.as_deref() {
                // A panic must not unwind through gnutls' C frames.
                Some(t) => catch_unwind(AssertUnwindSafe(|| io(t))).unwrap_or_else(|panic| {
                    Err(Error::new(ErrorKind::Failed, panic_message(&*panic)))
                }),
                None => Err(Error::new(
                    ErrorKind::Failed,
                    "TLS session has no transport",
                )),
            }
        };
        if locked {
            self.io_lock.acquire();
        }
        let errno = match result {
            Ok(n) => return n as isize,
            Err(e) if e.would_block() => {
                TRANSPORT_BLOCKED.set(true);
                libc::EAGAIN
            }
            Err(e) => {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                libc::EIO
            }
        };
        // SAFETY: the session is alive while gnutls calls its transport.
        unsafe { ffi::gnutls_transport_set_errno(self.handle, errno) };
        -1
    }

    fn take(slot: &Mutex<Option<Error>>) -> Option<Error> {
        slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

thread_local! {
    /// Whether a transport callback on this thread reported "would block" during the
    /// current gnutls call: see [`until_transport_blocks`].
    static TRANSPORT_BLOCKED: Cell<bool> = const { Cell::new(false) };
}

/// Runs the gnutls call `call` again for as long as it returns `GNUTLS_E_AGAIN`
/// without the transport having blocked. gnutls returns `E_AGAIN` after handling a
/// post-handshake message (a TLS 1.3 session ticket or key update) although the
/// transport may hold more records: passed on, that would make a blocking channel's
/// read return "would block". Only a transport that blocked means "wait for the peer".
/// A nested session (TLS over a channel over TLS) runs inside `call`, so the flag is
/// saved and restored around it.
fn until_transport_blocks(mut call: impl FnMut() -> isize) -> isize {
    loop {
        let outer = TRANSPORT_BLOCKED.replace(false);
        let rc = call();
        let blocked = TRANSPORT_BLOCKED.replace(outer);
        if rc != ffi::GNUTLS_E_AGAIN as isize || blocked {
            return rc;
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown");
    format!("TLS transport panicked: {what}")
}

unsafe extern "C" fn push(
    ptr: ffi::gnutls_transport_ptr_t,
    data: *const c_void,
    len: usize,
) -> isize {
    // SAFETY: the pointer is the session's boxed Shared; gnutls passes a readable
    // buffer of `len` bytes.
    let (shared, buf) = unsafe {
        (
            &*(ptr as *const Shared),
            std::slice::from_raw_parts(data.cast::<u8>(), len),
        )
    };
    shared.transport_io(&shared.write_error, |t| t.push(buf))
}

unsafe extern "C" fn push_vec(
    ptr: ffi::gnutls_transport_ptr_t,
    iov: *const libc::iovec,
    count: c_int,
) -> isize {
    // SAFETY: the pointer is the session's boxed Shared; gnutls passes `count` iovecs
    // of readable buffers, laid out as IoSlices are on Unix.
    let (shared, bufs) = unsafe {
        (
            &*(ptr as *const Shared),
            std::slice::from_raw_parts(iov.cast::<std::io::IoSlice<'_>>(), count.max(0) as usize),
        )
    };
    shared.transport_io(&shared.write_error, |t| t.push_vectored(bufs))
}

unsafe extern "C" fn pull(
    ptr: ffi::gnutls_transport_ptr_t,
    data: *mut c_void,
    len: usize,
) -> isize {
    // SAFETY: as for push, with a writable buffer.
    let (shared, buf) = unsafe {
        (
            &*(ptr as *const Shared),
            std::slice::from_raw_parts_mut(data.cast::<u8>(), len),
        )
    };
    shared.transport_io(&shared.read_error, |t| t.pull(buf))
}

/// One TLS connection's state (`QCryptoTLSSession`).
pub struct Session {
    shared: Box<Shared>,
    /// The credentials the session was made with, kept alive as gnutls uses them.
    _creds: Arc<Loaded>,
    handshake_complete: AtomicBool,
    require_thread_safety: AtomicBool,
    endpoint: Endpoint,
    /// Whether the peer's x509 certificate is checked after the handshake.
    verify_peer: bool,
    /// The name the server's certificate must match (clients).
    hostname: Option<String>,
    /// Who may connect, by certificate DN (servers).
    authz: Option<Authz>,
    /// The peer certificate's DN, once checked.
    peer_name: Mutex<Option<String>>,
}

// SAFETY: gnutls sessions may be used from any thread, one call at a time per
// direction; qio's own state is atomics and locks. Callers that read and write at
// once from two threads get the bug-1717 lock by requiring thread safety.
unsafe impl Send for Session {}
// SAFETY: as above.
unsafe impl Sync for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: our session, freed once, before the credentials it points to.
        unsafe { ffi::gnutls_deinit(self.shared.handle) };
    }
}

impl Session {
    /// A session for `endpoint` authenticating with `creds`, which must be for that
    /// endpoint (`qcrypto_tls_session_new`). With x509 credentials that verify the
    /// peer, a client's peer must match `hostname` and a server's peer DN must pass
    /// `authz`. It has no transport until [`set_transport`](Self::set_transport).
    pub fn new(
        creds: &Creds,
        hostname: Option<&str>,
        authz: Option<Authz>,
        endpoint: Endpoint,
    ) -> Result<Session> {
        if creds.endpoint() != endpoint {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Credentials endpoint doesn't match session",
            ));
        }
        let loaded = creds.current();
        let flags = match endpoint {
            Endpoint::Client => ffi::GNUTLS_CLIENT,
            Endpoint::Server => ffi::GNUTLS_SERVER,
        };
        let mut handle = std::ptr::null_mut();
        // SAFETY: gnutls_init fills the handle.
        let rc = unsafe { ffi::gnutls_init(&mut handle, flags) };
        super::check("Cannot initialize TLS session", rc)?;
        let session = Session {
            shared: Box::new(Shared {
                handle,
                transport: RwLock::new(None),
                read_error: Mutex::new(None),
                write_error: Mutex::new(None),
                lock_enabled: AtomicBool::new(false),
                io_lock: IoLock::default(),
            }),
            _creds: loaded.clone(),
            handshake_complete: AtomicBool::new(false),
            require_thread_safety: AtomicBool::new(false),
            endpoint,
            verify_peer: creds.verifies_peer(),
            hostname: hostname.map(str::to_owned),
            authz,
            peer_name: Mutex::new(None),
        };
        let priority = creds.priority();
        let c_priority = CString::new(priority.as_str()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                "TLS priority contains a NUL byte",
            )
        })?;
        // SAFETY: a live session and a NUL-terminated string.
        let rc = unsafe {
            ffi::gnutls_priority_set_direct(handle, c_priority.as_ptr(), std::ptr::null_mut())
        };
        if rc < 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "Unable to set TLS session priority {priority}: {}",
                    strerror(rc)
                ),
            ));
        }
        let (kind, cred) = loaded.gnutls();
        // SAFETY: credentials that outlive the session (we hold `loaded`).
        let rc = unsafe { ffi::gnutls_credentials_set(handle, kind, cred) };
        super::check("Cannot set session credentials", rc)?;
        if creds.is_x509() && endpoint == Endpoint::Server {
            // Ask clients for a certificate; check_credentials decides if one is needed.
            // SAFETY: a live session.
            unsafe { ffi::gnutls_certificate_server_set_request(handle, ffi::GNUTLS_CERT_REQUEST) };
        }
        // SAFETY: the boxed Shared lives as long as the session; the callbacks match.
        unsafe {
            ffi::gnutls_transport_set_ptr(handle, &*session.shared as *const Shared as *mut c_void);
            ffi::gnutls_transport_set_push_function(handle, push);
            ffi::gnutls_transport_set_vec_push_function(handle, push_vec);
            ffi::gnutls_transport_set_pull_function(handle, pull);
        }
        Ok(session)
    }

    /// Sets what records go through (`qcrypto_tls_session_set_callbacks`).
    pub fn set_transport(&self, transport: Box<dyn Transport>) {
        *self
            .shared
            .transport
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(transport);
    }

    /// Asks for the bug-1717 lock, for callers that read and write from two threads
    /// at once (`qcrypto_tls_session_require_thread_safety`); call before the handshake.
    pub fn require_thread_safety(&self) {
        self.require_thread_safety.store(true, Ordering::Release);
    }

    fn handle(&self) -> ffi::gnutls_session_t {
        self.shared.handle
    }

    /// Where an interrupted handshake or close continues.
    fn direction(&self) -> Progress {
        // SAFETY: a live session.
        match unsafe { ffi::gnutls_record_get_direction(self.handle()) } {
            0 => Progress::Receiving,
            _ => Progress::Sending,
        }
    }

    /// `message: gnutls' reason`, with the transport's own error when it had one.
    fn failure(&self, message: &str, rc: c_int) -> Error {
        let transport =
            Shared::take(&self.shared.read_error).or(Shared::take(&self.shared.write_error));
        let message = match transport {
            Some(e) => format!("{message}: {}: {}", strerror(rc), e.message()),
            None => format!("{message}: {}", strerror(rc)),
        };
        Error::new(ErrorKind::Failed, message)
    }

    /// Runs the handshake as far as the transport allows
    /// (`qcrypto_tls_session_handshake`).
    pub fn handshake(&self) -> Result<Progress> {
        // SAFETY: a live session.
        let rc =
            until_transport_blocks(|| unsafe { ffi::gnutls_handshake(self.handle()) as isize });
        match rc as c_int {
            0 => {
                self.handshake_complete.store(true, Ordering::Release);
                if self.require_thread_safety.load(Ordering::Acquire) {
                    // SAFETY: a live session whose handshake is complete.
                    let (version, cipher) = unsafe {
                        (
                            ffi::gnutls_protocol_get_version(self.handle()),
                            ffi::gnutls_cipher_get(self.handle()),
                        )
                    };
                    let needed = version == ffi::GNUTLS_TLS1_3
                        && cipher != ffi::GNUTLS_CIPHER_CHACHA20_POLY1305;
                    self.shared.lock_enabled.store(needed, Ordering::Release);
                }
                Ok(Progress::Complete)
            }
            ffi::GNUTLS_E_AGAIN | ffi::GNUTLS_E_INTERRUPTED => Ok(self.direction()),
            rc => Err(self.failure("TLS handshake failed", rc)),
        }
    }

    /// Whether the handshake has completed.
    pub fn handshake_complete(&self) -> bool {
        self.handshake_complete.load(Ordering::Acquire)
    }

    /// Runs `f` holding the record lock when it is enabled.
    fn locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let enabled = self.shared.lock_enabled.load(Ordering::Acquire);
        if enabled {
            self.shared.io_lock.acquire();
        }
        let result = f();
        if enabled {
            self.shared.io_lock.release();
        }
        result
    }

    /// Sends a closure alert, as far as the transport allows; a no-op before the
    /// handshake (`qcrypto_tls_session_bye`).
    pub fn bye(&self) -> Result<Progress> {
        if !self.handshake_complete() {
            return Ok(Progress::Complete);
        }
        // SAFETY: a live session.
        let rc = until_transport_blocks(|| {
            self.locked(|| unsafe { ffi::gnutls_bye(self.handle(), ffi::GNUTLS_SHUT_WR) }) as isize
        });
        match rc as c_int {
            0 => Ok(Progress::Complete),
            ffi::GNUTLS_E_AGAIN | ffi::GNUTLS_E_INTERRUPTED => Ok(self.direction()),
            rc => Err(self.failure("TLS termination failed", rc)),
        }
    }

    /// Encrypts and sends some of `buf` (`qcrypto_tls_session_write`).
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        // SAFETY: a live session and a readable buffer.
        let rc = until_transport_blocks(|| {
            self.locked(|| unsafe {
                ffi::gnutls_record_send(self.handle(), buf.as_ptr().cast(), buf.len())
            })
        });
        if rc >= 0 {
            return Ok(rc as usize);
        }
        let rc = rc as c_int;
        if rc == ffi::GNUTLS_E_AGAIN {
            return Err(Error::would_block_error());
        }
        Err(Shared::take(&self.shared.write_error).unwrap_or_else(|| {
            Error::new(
                ErrorKind::Failed,
                format!("Cannot write to TLS channel: {}", strerror(rc)),
            )
        }))
    }

    /// Receives and decrypts into `buf` (`qcrypto_tls_session_read`).
    pub fn read(&self, buf: &mut [u8]) -> Result<Received> {
        // SAFETY: a live session and a writable buffer.
        let rc = until_transport_blocks(|| {
            self.locked(|| unsafe {
                ffi::gnutls_record_recv(self.handle(), buf.as_mut_ptr().cast(), buf.len())
            })
        });
        if rc >= 0 {
            return Ok(Received::Bytes(rc as usize));
        }
        match rc as c_int {
            ffi::GNUTLS_E_AGAIN => Err(Error::would_block_error()),
            ffi::GNUTLS_E_PREMATURE_TERMINATION => Ok(Received::PrematureEof),
            rc => Err(Shared::take(&self.shared.read_error).unwrap_or_else(|| {
                Error::new(
                    ErrorKind::Failed,
                    format!("Cannot read from TLS channel: {}", strerror(rc)),
                )
            })),
        }
    }

    /// The bytes gnutls has decrypted and not handed out yet
    /// (`qcrypto_tls_session_check_pending`).
    pub fn check_pending(&self) -> usize {
        // SAFETY: a live session.
        unsafe { ffi::gnutls_record_check_pending(self.handle()) }
    }

    /// Checks the peer after the handshake (`qcrypto_tls_session_check_credentials`):
    /// for x509 credentials that verify the peer, its certificate chain, each
    /// certificate's validity period, then on the leaf the DN against the authz (a
    /// server) and the hostname (a client, which must have one). Anonymous and PSK
    /// sessions have nothing to check.
    pub fn check_credentials(&self) -> Result<()> {
        if !self.verify_peer {
            return Ok(());
        }
        let failed = |message: String| Error::new(ErrorKind::Failed, message);
        let mut status = 0;
        // SAFETY: a live session whose handshake completed.
        let rc = unsafe { ffi::gnutls_certificate_verify_peers2(self.handle(), &mut status) };
        // A peer that sent no certificate fails here, as in QEMU: "Verify failed: No
        // certificate was found."
        super::check("Verify failed", rc)?;
        if status != 0 {
            let reason = status_reason(status);
            return Err(failed(reason.into()));
        }
        let mut count = 0;
        // SAFETY: a live session; the list stays valid while the session does.
        let certs = unsafe { ffi::gnutls_certificate_get_peers(self.handle(), &mut count) };
        if certs.is_null() || count == 0 {
            return Err(failed("No certificate peers".into()));
        }
        // SAFETY: gnutls returned `count` datums.
        let certs = unsafe { std::slice::from_raw_parts(certs, count as usize) };
        // SAFETY: time(NULL) cannot fail on Linux.
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        for (i, der) in certs.iter().enumerate() {
            let cert = X509Cert::import_der(der)?;
            if cert.expiration() < now {
                return Err(failed("The certificate has expired".into()));
            }
            if cert.activation() > now {
                return Err(failed("The certificate is not yet activated".into()));
            }
            if i == 0 {
                self.check_leaf(&cert)?;
            }
        }
        Ok(())
    }

    /// The leaf's DN against the authz, and its names against the hostname.
    fn check_leaf(&self, cert: &X509Cert) -> Result<()> {
        let failed = |message: String| Error::new(ErrorKind::Failed, message);
        let dn = cert.dn()?;
        *self
            .peer_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(dn.clone());
        if let Some(authz) = &self.authz {
            if !authz.is_allowed(&dn)? {
                return Err(failed(format!("TLS x509 authz check for {dn} is denied")));
            }
        }
        match &self.hostname {
            Some(hostname) if !cert.matches_hostname(hostname)? => Err(failed(format!(
                "Certificate does not match the hostname {hostname}"
            ))),
            None if self.endpoint == Endpoint::Client => {
                Err(failed("No hostname for certificate validation".into()))
            }
            _ => Ok(()),
        }
    }

    /// The peer certificate's DN in certificate order (`C=UK,CN=qemu`), once
    /// [`check_credentials`](Self::check_credentials) has read it
    /// (`qcrypto_tls_session_get_peer_name`).
    pub fn peer_name(&self) -> Option<String> {
        self.peer_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key size in bytes of the negotiated cipher (`qcrypto_tls_session_get_key_size`).
    pub fn key_size(&self) -> Result<usize> {
        // SAFETY: a live session.
        let size =
            unsafe { ffi::gnutls_cipher_get_key_size(ffi::gnutls_cipher_get(self.handle())) };
        match size {
            0 => Err(Error::new(
                ErrorKind::Failed,
                "Cannot get TLS cipher key size",
            )),
            size => Ok(size),
        }
    }

    /// The negotiated protocol version's name, such as `TLS1.3`: qio's addition, for
    /// logs and status displays.
    pub fn protocol_name(&self) -> Result<&'static str> {
        // SAFETY: a live session; gnutls names versions with static strings.
        self.negotiated(|s| unsafe {
            ffi::gnutls_protocol_get_name(ffi::gnutls_protocol_get_version(s))
        })
    }

    /// The negotiated record cipher's name, such as `AES-256-GCM`: qio's addition, for
    /// logs and status displays.
    pub fn cipher_name(&self) -> Result<&'static str> {
        // SAFETY: a live session; gnutls names ciphers with static strings.
        self.negotiated(|s| unsafe { ffi::gnutls_cipher_get_name(ffi::gnutls_cipher_get(s)) })
    }

    /// The static name `name_of` gives this session once its handshake completed.
    fn negotiated(
        &self,
        name_of: impl FnOnce(ffi::gnutls_session_t) -> *const c_char,
    ) -> Result<&'static str> {
        if !self.handshake_complete() {
            return Err(Error::new(
                ErrorKind::Failed,
                "The TLS handshake has not completed",
            ));
        }
        let name = name_of(self.handle());
        if !name.is_null() {
            // SAFETY: gnutls names things with static NUL-terminated strings.
            if let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() {
                return Ok(name);
            }
        }
        Err(Error::new(
            ErrorKind::Failed,
            "gnutls has no name for the negotiated parameter",
        ))
    }
}
