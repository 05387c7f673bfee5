//! `QIOChannelSocket`: stream and datagram sockets (QEMU's `io/channel-socket.h`).

use std::os::raw::c_int;
use std::sync::Arc;

use glib_sys::{gpointer, GDestroyNotify, GError, GMainContext};
use qio::io::{Channel, MainContext, Socket};

use crate::boundary::{ffi_guard, require, Fail};
use crate::channel::{channel, channel_type, new_handle};
use crate::ffi::{adopt_fd, handle, keep_handle, main_context, opt_handle, AnyRef};
use crate::socket_address::{self, QIOSocketAddress};
use crate::task::{self, QIOTaskFunc};

/// A socket channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelSocket {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelSocket,
    Socket,
    b"QChs",
    "QIO_IS_CHANNEL_SOCKET",
    c"qio-channel-socket"
);

/// The socket's descriptor, which the channel keeps owning (QEMU code reads
/// `sioc->fd`): for setsockopt(), fstat() and the like, not for closing.
///
/// Returns: the descriptor; -1 before it connects or listens, after it is closed, and
/// (with a critical) if @sioc is not a socket channel.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_get_fd(sioc: *mut QIOChannelSocket) -> c_int {
    ffi_guard!(-1, { Ok(channel!(sioc).imp().raw_fd()) })
}

/// A socket channel without a socket: connect, listen or dgram gives it one.
///
/// Returns: (transfer full): the channel.
#[no_mangle]
pub extern "C" fn qio_channel_socket_new() -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(new_handle(Socket::new_channel()))
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
        require!(fd >= 0, "fd >= 0");
        Ok(new_handle(adopt_fd(fd, Socket::new_fd)?))
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
        channel!(ioc).connect_sync(&handle!(addr).addr)?;
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
        channel!(ioc).listen_sync(&handle!(addr).addr, num)?;
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
        let local = opt_handle!(local_addr).map(|a| &a.addr);
        channel!(ioc).dgram_sync(local, &handle!(remote_addr).addr)?;
        Ok(0)
    })
}

/// Runs `op` on `socket` in a worker thread, then completes a task (source: the
/// socket's handle) with @callback in `context`.
fn run_in_thread(
    socket: Arc<Channel<Socket>>,
    source: AnyRef,
    op: impl FnOnce(&Channel<Socket>) -> qio::Result<()> + Send + 'static,
    done: (QIOTaskFunc, gpointer, GDestroyNotify),
    context: &MainContext,
) -> Result<(), Fail> {
    let work = move |t: &task::Task| {
        if let Err(e) = op(&socket) {
            t.set_error(&e);
        }
    };
    task::run_new(Some(source), done, work, context)
}

/// The body of the `_async` exports: `op` on the socket behind `ioc` in a worker
/// thread, then the task (source: `ioc`) completed in `context`.
macro_rules! in_thread {
    ($ioc:ident, $op:expr, ($($done:ident),+), $context:ident) => {
        run_in_thread(
            channel!($ioc),
            keep_handle!($ioc).into(),
            $op,
            ($($done),+),
            &main_context!($context),
        )
    };
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
        let addr = handle!(addr).addr.clone();
        let op = move |s: &Channel<Socket>| s.connect_sync(&addr);
        in_thread!(ioc, op, (callback, opaque, destroy), context)
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
        let addr = handle!(addr).addr.clone();
        let op = move |s: &Channel<Socket>| s.listen_sync(&addr, num);
        in_thread!(ioc, op, (callback, opaque, destroy), context)
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
        let local = opt_handle!(local_addr).map(|a| a.addr.clone());
        let remote = handle!(remote_addr).addr.clone();
        let op = move |s: &Channel<Socket>| s.dgram_sync(local.as_ref(), &remote);
        in_thread!(ioc, op, (callback, opaque, destroy), context)
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
        Ok(new_handle(channel!(ioc).accept()?))
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
        Ok(socket_address::into_handle(channel!(ioc).local_address()?))
    })
}

/// Returns: (transfer full) (nullable): the peer's address, or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_socket_get_remote_address(
    ioc: *mut QIOChannelSocket,
    error: *mut *mut GError,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), error, {
        Ok(socket_address::into_handle(channel!(ioc).remote_address()?))
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
        channel!(ioc).set_send_buffer(size)?;
        Ok(0)
    })
}
