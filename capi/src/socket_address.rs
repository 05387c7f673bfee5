//! `QIOSocketAddress`: where a socket connects or listens, replacing QEMU's QAPI
//! `SocketAddress`, with a text form (`tcp:HOST:PORT`, `unix:PATH`,
//! `unix-abstract:NAME`, `vsock:CID:PORT`, `fd:N`).

use std::ffi::{CString, OsStr};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use glib_sys::GError;
use qio::io::{InetAddress, SocketAddress, UnixAddress};

use crate::boundary::ffi_guard;
use crate::ffi::{c_str, free_handle, handle, Castable, Owned, Tag};

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
    type Ownership = Owned;
    type Rust = Address;
    const NAME: &'static str = "QIOSocketAddress";
    const TAG: Tag = Tag::new(b"QSAd");
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
    crate::ffi::new(Address {
        addr,
        host,
        port,
        path,
    })
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
        let text = utf8(c_str!(text).to_bytes());
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
        let (host, port) = (utf8(c_str!(host).to_bytes()), utf8(c_str!(port).to_bytes()));
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
    ffi_guard!(std::ptr::null_mut(), {
        Ok(unix(c_str!(path).to_bytes(), false))
    })
}

/// A UNIX socket address named @name in Linux's abstract namespace.
///
/// Returns: (transfer full): the address.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_new_unix_abstract(
    name: *const c_char,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(unix(c_str!(name).to_bytes(), true))
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
        Ok(into_handle(SocketAddress::Fd(utf8(
            c_str!(name).to_bytes(),
        ))))
    })
}

/// Returns: (transfer full): @addr in the text form qio_socket_address_parse() reads.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_to_string(
    addr: *const QIOSocketAddress,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(crate::ffi::g_string(&handle!(addr).addr.to_string()))
    })
}

/// Returns: (transfer full): a copy of @addr.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_copy(
    addr: *const QIOSocketAddress,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(into_handle(handle!(addr).addr.clone()))
    })
}

/// Frees @addr; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_free(addr: *mut QIOSocketAddress) {
    ffi_guard!((), { free_handle!(addr) })
}

/// Returns: the kind of @addr (%QIO_SOCKET_ADDRESS_TYPE_INET on misuse).
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_type(
    addr: *const QIOSocketAddress,
) -> QIOSocketAddressType {
    ffi_guard!(QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_INET, {
        Ok(match &handle!(addr).addr {
            SocketAddress::Inet(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_INET,
            SocketAddress::Unix(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_UNIX,
            SocketAddress::Vsock { .. } => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_VSOCK,
            SocketAddress::Fd(_) => QIOSocketAddressType::QIO_SOCKET_ADDRESS_TYPE_FD,
        })
    })
}

/// One of the text fields of the address behind `addr`, as a C string it owns.
fn field(addr: &Address, pick: fn(&Address) -> &Option<CString>) -> *const c_char {
    pick(addr).as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Returns: (transfer none) (nullable): the host of an inet address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_host(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    ffi_guard!(std::ptr::null(), { Ok(field(handle!(addr), |a| &a.host)) })
}

/// Returns: (transfer none) (nullable): the port of an inet address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_port(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    ffi_guard!(std::ptr::null(), { Ok(field(handle!(addr), |a| &a.port)) })
}

/// Returns: (transfer none) (nullable): the path (or abstract name) of a UNIX
/// address, else NULL.
#[no_mangle]
pub unsafe extern "C" fn qio_socket_address_get_path(
    addr: *const QIOSocketAddress,
) -> *const c_char {
    ffi_guard!(std::ptr::null(), { Ok(field(handle!(addr), |a| &a.path)) })
}
