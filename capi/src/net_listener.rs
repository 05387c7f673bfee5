//! `QIONetListener`: listening sockets whose clients are handed to a callback (QEMU's
//! `io/net-listener.h`).

use std::os::raw::{c_char, c_int};
use std::sync::Arc;

use glib_sys::{gboolean, gpointer, GDestroyNotify, GError, GMainContext, GFALSE};
use qio::io::NetListener;

use crate::boundary::{ffi_guard, require, Fail};
use crate::callback::Notified;
use crate::channel::{borrow_typed, into_handle};
use crate::channel_socket::QIOChannelSocket;
use crate::ffi::{self, Castable, WeakHandle};
use crate::socket_address::{self, QIOSocketAddress};

/// A set of listening sockets, shared: qio_net_listener_ref() and
/// qio_net_listener_unref(); the last unref closes the sockets.
pub struct QIONetListener {
    _private: [u8; 0],
}

impl Castable for QIONetListener {
    type Rust = NetListener;
    const NAME: &'static str = "QIONetListener";
    const TAG: u32 = u32::from_be_bytes(*b"QNLs");
}

/// What runs for each accepted client: @sioc is (transfer none), so take a reference
/// to keep it.
pub type QIONetListenerClientFunc = Option<
    unsafe extern "C" fn(
        listener: *mut QIONetListener,
        sioc: *mut QIOChannelSocket,
        data: gpointer,
    ),
>;

/// The listener behind a handle, borrowed for one call.
///
/// # Safety
/// `listener` is NULL or a handle the caller holds a reference to.
unsafe fn get<'a>(listener: *mut QIONetListener) -> Result<&'a NetListener, Fail> {
    // SAFETY: the caller's contract.
    unsafe { ffi::arc_borrow(listener, "listener") }
}

/// A listener without sockets.
///
/// Returns: (transfer full): the listener.
#[no_mangle]
pub extern "C" fn qio_net_listener_new() -> *mut QIONetListener {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(ffi::arc_into_handle(NetListener::new()))
    })
}

/// Adds a reference to @listener.
///
/// Returns: (transfer full): @listener.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_ref(
    listener: *mut QIONetListener,
) -> *mut QIONetListener {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null_mut(), {
        unsafe { ffi::arc_ref(listener, "listener") }
    })
}

/// Drops a reference to @listener; the last one removes its watches and closes its
/// sockets. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_unref(listener: *mut QIONetListener) {
    // SAFETY: the caller's handle (or NULL), checked.
    ffi_guard!((), { unsafe { ffi::arc_unref(listener, "listener") } })
}

/// Names the sockets added from now on "@name-listen".
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_set_name(
    listener: *mut QIONetListener,
    name: *const c_char,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handle and string.
        let (listener, name) = unsafe { (get(listener)?, ffi::opt_c_str(name)) };
        listener.set_name(
            &name
                .ok_or(Fail::Precondition("name != NULL".into()))?
                .to_string_lossy(),
        );
        Ok(())
    })
}

/// Listens on every address @addr resolves to, with a backlog of @num.
///
/// Returns: 0 if any address could be listened on, else -1 with @error set to the
/// first failure.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_open_sync(
    listener: *mut QIONetListener,
    addr: *const QIOSocketAddress,
    num: c_int,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handles, checked.
        let (listener, addr) = unsafe { (get(listener)?, socket_address::borrow(addr, "addr")?) };
        listener.open_sync(addr, num)?;
        Ok(0)
    })
}

/// Adds the listening socket @sioc (the listener takes its own reference).
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_add(
    listener: *mut QIONetListener,
    sioc: *mut QIOChannelSocket,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handles, checked.
        let (listener, sioc) = unsafe {
            (
                get(listener)?,
                borrow_typed(sioc, "sioc", "QIO_IS_CHANNEL_SOCKET")?,
            )
        };
        listener.add(Arc::clone(&sioc));
        Ok(())
    })
}

/// Calls @func(@listener, client, @data) for each accepted client in the thread
/// iterating @context (NULL: the default context); NULL @func stops accepting. The
/// previous function's @notify runs when it is replaced, and @notify runs on @data
/// when this one is.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_set_client_func_full(
    listener: *mut QIONetListener,
    func: QIONetListenerClientFunc,
    data: gpointer,
    notify: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        let (l, weak) = unsafe {
            (
                get(listener)?,
                WeakHandle::<QIONetListener>::new(listener, "listener")?,
            )
        };
        let data = Notified::new(data, notify);
        let client = func.map(|func| {
            let f: qio::io::listener::ClientFunc = Arc::new(move |sioc| {
                let sioc_handle = Arc::as_ptr(&sioc) as *mut QIOChannelSocket;
                // SAFETY: the caller's callback, with live handles (the listener is
                // held for the call, the client until it returns).
                weak.with(|listener| unsafe { func(listener, sioc_handle, data.data.get()) });
            });
            f
        });
        // SAFETY: the caller's context.
        unsafe { l.set_client_func(client, context) };
        Ok(())
    })
}

/// qio_net_listener_set_client_func_full() on the default context.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_set_client_func(
    listener: *mut QIONetListener,
    func: QIONetListenerClientFunc,
    data: gpointer,
    notify: GDestroyNotify,
) {
    // SAFETY: forwarded contract.
    unsafe {
        qio_net_listener_set_client_func_full(listener, func, data, notify, std::ptr::null_mut())
    }
}

/// Blocks until a client connects, with the client function suspended meanwhile.
///
/// Returns: (transfer full) (nullable): the client, NULL if there is no socket.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_wait_client(
    listener: *mut QIONetListener,
) -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        Ok(unsafe { get(listener)? }
            .wait_client()
            .map_or(std::ptr::null_mut(), into_handle))
    })
}

/// Stops listening: removes the watches and closes the sockets.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_disconnect(listener: *mut QIONetListener) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        unsafe { get(listener)? }.disconnect();
        Ok(())
    })
}

/// Returns: whether @listener has sockets and was not disconnected.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_is_connected(listener: *mut QIONetListener) -> gboolean {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(GFALSE, {
        Ok(unsafe { get(listener)? }.is_connected().into())
    })
}

/// Returns: the number of listening sockets.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_nsioc(listener: *mut QIONetListener) -> usize {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(0, { Ok(unsafe { get(listener)? }.sockets().len()) })
}

/// Returns: (transfer none) (nullable): listening socket @n, NULL past the end.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_sioc(
    listener: *mut QIONetListener,
    n: usize,
) -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        let sockets = unsafe { get(listener)? }.sockets();
        require!(n < sockets.len(), "n < qio_net_listener_nsioc (listener)");
        // The listener keeps its reference, so the pointer stays valid.
        Ok(Arc::as_ptr(&sockets[n]) as *mut QIOChannelSocket)
    })
}

/// Returns: (transfer full) (nullable): the local address of listening socket @n, or
/// NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_get_local_address(
    listener: *mut QIONetListener,
    n: usize,
    error: *mut *mut GError,
) -> *mut QIOSocketAddress {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's handle, checked.
        let sockets = unsafe { get(listener)? }.sockets();
        require!(n < sockets.len(), "n < qio_net_listener_nsioc (listener)");
        Ok(socket_address::into_handle(sockets[n].local_address()?))
    })
}
