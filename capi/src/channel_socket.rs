//! `QIOChannelSocket`: stream and datagram sockets (QEMU's `io/channel-socket.h`).

use std::os::raw::c_int;
use std::sync::Arc;

use glib_sys::{gpointer, GDestroyNotify, GError, GMainContext};
use qio::io::{Channel, Socket, SocketAddress};

use crate::boundary::{ffi_guard, Fail};
use crate::channel::{adopt_fd, borrow_typed, into_handle};
use crate::socket_address::{self, QIOSocketAddress};
use crate::task::{self, QIOTaskFunc};

/// A socket channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelSocket {
    _private: [u8; 0],
}

/// The socket behind a handle, borrowed for one call.
///
/// # Safety
/// `sioc` is NULL or a channel handle the caller holds a reference to.
unsafe fn socket(
    sioc: *mut QIOChannelSocket,
) -> Result<std::mem::ManuallyDrop<Arc<Channel<Socket>>>, Fail> {
    // SAFETY: the caller's contract.
    unsafe { borrow_typed::<Socket, _>(sioc, "ioc", "QIO_IS_CHANNEL_SOCKET") }
}

/// A socket channel without a socket: connect, listen or dgram gives it one.
///
/// Returns: (transfer full): the channel.
#[no_mangle]
pub extern "C" fn qio_channel_socket_new() -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(into_handle(Socket::new_channel()))
    })
}

/// A channel that takes over the socket @fd.
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set (@fd then
/// stays the caller's).
#[no_mangle]
pub extern "C" fn qio_channel_socket_new_fd(
    fd: c_int,
    error: *mut *mut GError,
) -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), error, {
        crate::boundary::require!(fd >= 0, "fd >= 0");
        Ok(into_handle(adopt_fd(fd, Socket::new_fd)?))
    })
}

/// Connects @ioc to @addr, trying each address a name resolves to.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_connect_sync(
    ioc: *mut QIOChannelSocket,
    addr: *const QIOSocketAddress,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handles, checked.
        let (channel, addr) = unsafe { (socket(ioc)?, socket_address::borrow(addr, "addr")?) };
        channel.connect_sync(addr)?;
        Ok(0)
    })
}

/// Listens on @addr with a backlog of @num; closing the channel removes a UNIX
/// socket's path.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_listen_sync(
    ioc: *mut QIOChannelSocket,
    addr: *const QIOSocketAddress,
    num: c_int,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handles, checked.
        let (channel, addr) = unsafe { (socket(ioc)?, socket_address::borrow(addr, "addr")?) };
        channel.listen_sync(addr, num)?;
        Ok(0)
    })
}

/// Makes @ioc a datagram socket bound to @local_addr (nullable: any address) and
/// connected to @remote_addr (inet or UNIX).
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_dgram_sync(
    ioc: *mut QIOChannelSocket,
    local_addr: *const QIOSocketAddress,
    remote_addr: *const QIOSocketAddress,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handles, checked.
        let (channel, local, remote) = unsafe {
            (
                socket(ioc)?,
                optional(local_addr)?,
                socket_address::borrow(remote_addr, "remote_addr")?,
            )
        };
        channel.dgram_sync(local.as_ref(), remote)?;
        Ok(0)
    })
}

/// A copy of an optional address.
///
/// # Safety
/// `addr` is NULL or a live handle.
unsafe fn optional(addr: *const QIOSocketAddress) -> Result<Option<SocketAddress>, Fail> {
    match addr.is_null() {
        true => Ok(None),
        // SAFETY: the caller's contract.
        false => Ok(Some(
            unsafe { socket_address::borrow(addr, "local_addr")? }.clone(),
        )),
    }
}

/// Runs `op` on the socket in a worker thread, completing a task (source: the socket)
/// with @callback in @context.
///
/// # Safety
/// `ioc` is a live socket handle; `context` is NULL or valid.
unsafe fn in_thread(
    ioc: *mut QIOChannelSocket,
    op: impl FnOnce(&Channel<Socket>) -> qio::Result<()> + Send + 'static,
    callback: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) -> Result<(), Fail> {
    // SAFETY: the caller's handle, checked.
    let channel = Arc::clone(&*unsafe { socket(ioc)? });
    let task = task::new_channel_task(channel.upcast(), callback, opaque, destroy);
    let work = move |t: &task::Task| {
        if let Err(e) = op(&channel) {
            t.set_error(&e);
        }
    };
    // SAFETY: the new task, given up to the thread; the caller's context.
    unsafe { task::run_in_thread(task, work, context) }
}

/// qio_channel_socket_connect_sync() in a worker thread; @callback then runs with a
/// task (source: @ioc) in the thread iterating @context (NULL: the default context).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_connect_async(
    ioc: *mut QIOChannelSocket,
    addr: *const QIOSocketAddress,
    callback: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        let addr = unsafe { socket_address::borrow(addr, "addr")? }.clone();
        // SAFETY: the caller's handle and context.
        unsafe {
            in_thread(
                ioc,
                move |s| s.connect_sync(&addr),
                callback,
                opaque,
                destroy,
                context,
            )
        }
    })
}

/// qio_channel_socket_listen_sync() in a worker thread, reported as
/// qio_channel_socket_connect_async() does.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_listen_async(
    ioc: *mut QIOChannelSocket,
    addr: *const QIOSocketAddress,
    num: c_int,
    callback: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        let addr = unsafe { socket_address::borrow(addr, "addr")? }.clone();
        // SAFETY: the caller's handle and context.
        unsafe {
            in_thread(
                ioc,
                move |s| s.listen_sync(&addr, num),
                callback,
                opaque,
                destroy,
                context,
            )
        }
    })
}

/// qio_channel_socket_dgram_sync() in a worker thread, reported as
/// qio_channel_socket_connect_async() does.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_dgram_async(
    ioc: *mut QIOChannelSocket,
    local_addr: *const QIOSocketAddress,
    remote_addr: *const QIOSocketAddress,
    callback: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handles, checked.
        let (local, remote) = unsafe {
            (
                optional(local_addr)?,
                socket_address::borrow(remote_addr, "remote_addr")?.clone(),
            )
        };
        let op = move |s: &Channel<Socket>| s.dgram_sync(local.as_ref(), &remote);
        // SAFETY: the caller's handle and context.
        unsafe { in_thread(ioc, op, callback, opaque, destroy, context) }
    })
}

/// Accepts a connection on the listening @ioc.
///
/// Returns: (transfer full) (nullable): the client's channel, or NULL with @error set
/// (also when a non-blocking listener has no client waiting).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_accept(
    ioc: *mut QIOChannelSocket,
    error: *mut *mut GError,
) -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's handle, checked.
        Ok(into_handle(unsafe { socket(ioc)? }.accept()?))
    })
}

/// Returns: (transfer full) (nullable): the socket's local address, or NULL with @error
/// set; free with qio_socket_address_free().
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_get_local_address(
    ioc: *mut QIOChannelSocket,
    error: *mut *mut GError,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's handle, checked.
        Ok(socket_address::into_handle(
            unsafe { socket(ioc)? }.local_address()?,
        ))
    })
}

/// Returns: (transfer full) (nullable): the peer's address, or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_get_remote_address(
    ioc: *mut QIOChannelSocket,
    error: *mut *mut GError,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's handle, checked.
        Ok(socket_address::into_handle(
            unsafe { socket(ioc)? }.remote_address()?,
        ))
    })
}

/// Sets the socket's send buffer size (SO_SNDBUF).
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_set_send_buffer(
    ioc: *mut QIOChannelSocket,
    size: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        unsafe { socket(ioc)? }.set_send_buffer(size)?;
        Ok(0)
    })
}
