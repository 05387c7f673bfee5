//! `QIOSocketAddress`: where a socket connects or listens, replacing QEMU's QAPI
//! `SocketAddress`, with a text form (`tcp:HOST:PORT`, `unix:PATH`,
//! `unix-abstract:NAME`, `vsock:CID:PORT`, `fd:N`).

use std::ffi::{CString, OsStr};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use glib_sys::GError;
use qio::io::{InetAddress, SocketAddress, UnixAddress};

use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{self, Castable};

/// The kind of a #QIOSocketAddress, with QAPI's `SocketAddressType` values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QIOSocketAddressType {
    QIO_SOCKET_ADDRESS_TYPE_INET = 0,
    QIO_SOCKET_ADDRESS_TYPE_UNIX = 1,
    QIO_SOCKET_ADDRESS_TYPE_VSOCK = 2,
    QIO_SOCKET_ADDRESS_TYPE_FD = 3,
}

/// A socket address, freed with qio_socket_address_free().
pub struct QIOSocketAddress {
    _private: [u8; 0],
}

/// An address with the C strings its getters hand out.
pub(crate) struct Address {
    pub(crate) addr: SocketAddress,
    host: Option<CString>,
    port: Option<CString>,
    path: Option<CString>,
}

impl Castable for QIOSocketAddress {
    type Rust = Address;
    const NAME: &'static str = "QIOSocketAddress";
    const TAG: u32 = u32::from_be_bytes(*b"QSAd");
}

fn c_string(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}

/// Hands `addr` to C as a new handle.
pub(crate) fn into_handle(addr: SocketAddress) -> *mut QIOSocketAddress {
    let (host, port, path) = match &addr {
        SocketAddress::Inet(inet) => (
            c_string(inet.host.as_bytes()),
            c_string(inet.port.as_bytes()),
            None,
        ),
        SocketAddress::Unix(unix) => (None, None, c_string(unix.path.as_os_str().as_bytes())),
        _ => (None, None, None),
    };
    ffi::box_into_handle(Address {
        addr,
        host,
        port,
        path,
    })
}

/// The address behind a handle, borrowed for one call.
///
/// # Safety
/// `addr` is NULL or a live handle.
pub(crate) unsafe fn borrow<'a>(
    addr: *const QIOSocketAddress,
    param: &str,
) -> Result<&'a SocketAddress, Fail> {
    // SAFETY: the caller's contract.
    unsafe { ffi::box_ref(addr, param).map(|a| &a.addr) }
}

/// A required C string argument.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn required<'a>(text: *const c_char, param: &'static str) -> Result<&'a [u8], Fail> {
    // SAFETY: the caller's contract.
    unsafe { ffi::opt_c_str(text) }
        .map(|t| t.to_bytes())
        .ok_or_else(|| Fail::Precondition(format!("{param} != NULL").into()))
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses @text as QEMU's `socket_parse()` does, with its error messages:
/// `tcp:HOST:PORT` (or `inet:HOST:PORT`, or `HOST:PORT` alone; `[...]` around an IPv6
/// host; options `,ipv4[=on|off]`, `,ipv6[=on|off]`, `,numeric`), `unix:PATH`,
/// `unix-abstract:NAME`, `vsock:CID:PORT` or `fd:N`.
///
/// Returns: (transfer full) (nullable): the address, or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_parse(
    text: *const c_char,
    error: *mut *mut GError,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's string.
        let text = utf8(unsafe { required(text, "text")? });
        Ok(into_handle(SocketAddress::parse(&text)?))
    })
}

/// A TCP address for @host (a name or numeric address; "" for any) and @port (a
/// number or service name).
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_new_inet(
    host: *const c_char,
    port: *const c_char,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's strings.
        let (host, port) =
            unsafe { (utf8(required(host, "host")?), utf8(required(port, "port")?)) };
        Ok(into_handle(SocketAddress::Inet(InetAddress {
            host,
            port,
            ..InetAddress::default()
        })))
    })
}

fn unix(path: &[u8], is_abstract: bool) -> *mut QIOSocketAddress {
    let path = PathBuf::from(OsStr::from_bytes(path));
    into_handle(SocketAddress::Unix(UnixAddress { path, is_abstract }))
}

/// A UNIX socket address at @path.
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_new_unix(path: *const c_char) -> *mut QIOSocketAddress {
    // SAFETY: the caller's string.
    ffi_guard!(std::ptr::null_mut(), {
        Ok(unix(unsafe { required(path, "path")? }, false))
    })
}

/// A UNIX socket address named @name in Linux's abstract namespace.
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_new_unix_abstract(
    name: *const c_char,
) -> *mut QIOSocketAddress {
    // SAFETY: the caller's string.
    ffi_guard!(std::ptr::null_mut(), {
        Ok(unix(unsafe { required(name, "name")? }, true))
    })
}

/// A vsock address.
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub extern "C" fn qio_socket_address_new_vsock(cid: u32, port: u32) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(into_handle(SocketAddress::Vsock { cid, port }))
    })
}

/// An address naming an already open socket descriptor by number (@name, e.g. "3");
/// connecting or listening takes the descriptor over.
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_new_fd(name: *const c_char) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's string.
        Ok(into_handle(SocketAddress::Fd(utf8(unsafe {
            required(name, "name")?
        }))))
    })
}

/// Returns: (transfer full): @addr in the text form qio_socket_address_parse() reads.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_to_string(
    addr: *const QIOSocketAddress,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        Ok(ffi::g_string(&unsafe { borrow(addr, "addr")? }.to_string()))
    })
}

/// Returns: (transfer full): a copy of @addr.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_copy(
    addr: *const QIOSocketAddress,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        Ok(into_handle(unsafe { borrow(addr, "addr")? }.clone()))
    })
}

/// Frees @addr; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_free(addr: *mut QIOSocketAddress) {
    // SAFETY: the caller's handle (or NULL), checked.
    ffi_guard!((), { unsafe { ffi::box_free(addr, "addr") } })
}

/// Returns: the kind of @addr (%QIO_SOCKET_ADDRESS_TYPE_INET on misuse).
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_type(
    addr: *const QIOSocketAddress,
) -> QIOSocketAddressType {
    ffi_guard!(QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_INET, {
        // SAFETY: the caller's handle, checked.
        Ok(match unsafe { borrow(addr, "addr")? } {
            SocketAddress::Inet(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_INET,
            SocketAddress::Unix(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_UNIX,
            SocketAddress::Vsock { .. } => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_VSOCK,
            SocketAddress::Fd(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_FD,
        })
    })
}

/// One of the address's C strings (NULL when it has none).
///
/// # Safety
/// `addr` is NULL or a live handle.
unsafe fn field(
    addr: *const QIOSocketAddress,
    pick: fn(&Address) -> &Option<CString>,
) -> Result<*const c_char, Fail> {
    // SAFETY: the caller's contract; checked.
    let address = unsafe { ffi::box_ref(addr, "addr")? };
    Ok(pick(address)
        .as_ref()
        .map_or(std::ptr::null(), |s| s.as_ptr()))
}

/// Returns: (transfer none) (nullable): the host of an inet address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_host(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null(), { unsafe { field(addr, |a| &a.host) } })
}

/// Returns: (transfer none) (nullable): the port of an inet address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_port(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null(), { unsafe { field(addr, |a| &a.port) } })
}

/// Returns: (transfer none) (nullable): the path (or abstract name) of a UNIX
/// address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_path(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null(), { unsafe { field(addr, |a| &a.path) } })
}
