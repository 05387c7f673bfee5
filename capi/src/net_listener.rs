//! `QIONetListener`: listening sockets whose clients are handed to a callback (QEMU's
//! `io/net-listener.h`).

use std::os::raw::{c_char, c_int, c_uint};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use glib_sys::{gboolean, gpointer, GDestroyNotify, GError, GMainContext, GFALSE};
use qio::io::{Channel, NetListener, Socket};

use crate::boundary::{ffi_guard, require};
use crate::callback::Notified;
use crate::channel::{channel, new_handle};
use crate::channel_socket::QIOChannelSocket;
use crate::ffi::{
    c_str, call_c, handle, keep_handle, main_context, ref_handle, unref_handle, Castable,
    HandleRef, Shared, Tag,
};
use crate::socket_address::{self, QIOSocketAddress};

/// A set of listening sockets, shared: qio_net_listener_ref() and
/// qio_net_listener_unref(); the last unref closes the sockets.
pub struct QIONetListener {
    _private: [u8; 0],
}

/// What a listener handle holds: the listener, and the handles of its sockets that C
/// has been given, so that qio_net_listener_sioc() returns the same one each time.
#[derive(Default)]
pub(crate) struct Listener {
    listener: NetListener,
    siocs: Mutex<Vec<HandleRef<QIOChannelSocket>>>,
}

impl Listener {
    fn siocs(&self) -> MutexGuard<'_, Vec<HandleRef<QIOChannelSocket>>> {
        self.siocs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of `socket`, one of the listener's: the one C has, or a new one.
    fn sioc(&self, socket: &Arc<Channel<Socket>>) -> *mut QIOChannelSocket {
        let sockets = self.listener.sockets();
        let mut siocs = self.siocs();
        // Forget the handles of sockets the listener no longer has.
        siocs.retain(|h| sockets.iter().any(|s| is(h, s)));
        if let Some(sioc) = siocs.iter().find(|h| is(h, socket)) {
            return sioc.as_ptr();
        }
        let sioc = HandleRef::adopt(new_handle(socket.clone()));
        let ptr = sioc.as_ptr();
        siocs.push(sioc);
        ptr
    }
}

/// Whether the handle `sioc` holds `socket`.
fn is(sioc: &HandleRef<QIOChannelSocket>, socket: &Arc<Channel<Socket>>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(&sioc.get().channel), Arc::as_ptr(socket))
}

impl Castable for QIONetListener {
    type Ownership = Shared;
    type Rust = Listener;
    const NAME: &'static str = "QIONetListener";
    const TAG: Tag = Tag::new(b"QNLs");
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

/// A listener without sockets.
///
/// Returns: (transfer full): the listener.
#[no_mangle]
pub extern "C" fn qio_net_listener_new() -> *mut QIONetListener {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(crate::ffi::new(Listener::default()))
    })
}

/// Adds a reference to @listener.
///
/// Returns: (transfer full): @listener.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_ref(
    listener: *mut QIONetListener,
) -> *mut QIONetListener {
    ffi_guard!(std::ptr::null_mut(), { ref_handle!(listener) })
}

/// Drops a reference to @listener; the last one removes its watches and closes its
/// sockets. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_unref(listener: *mut QIONetListener) {
    ffi_guard!((), { unref_handle!(listener) })
}

/// Names the sockets added from now on "@name-listen".
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_set_name(
    listener: *mut QIONetListener,
    name: *const c_char,
) {
    ffi_guard!((), {
        let listener = &handle!(listener).listener;
        listener.set_name(&c_str!(name).to_string_lossy());
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
        handle!(listener)
            .listener
            .open_sync(&handle!(addr).addr, num)?;
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
        let (listener, socket) = (handle!(listener), channel!(sioc));
        listener.siocs().push(keep_handle!(sioc));
        listener.listener.add(socket);
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
        let weak = keep_handle!(listener).downgrade();
        let data = Notified::new(data, notify);
        let client = func.map(|func| {
            let f: qio::io::listener::ClientFunc = Arc::new(move |socket| {
                // The client's handle is the callback's to borrow (transfer none), and
                // the listener's held for the call.
                let sioc = HandleRef::<QIOChannelSocket>::adopt(new_handle(socket));
                if let Some(listener) = weak.upgrade() {
                    call_c!(func(listener.as_ptr(), sioc.as_ptr(), data.data.get()));
                }
            });
            f
        });
        let context = main_context!(context);
        handle!(listener).listener.set_client_func(client, &context);
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
    // SAFETY: the same arguments, with the default context.
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
        Ok(handle!(listener)
            .listener
            .wait_client()
            .map_or(std::ptr::null_mut(), new_handle))
    })
}

/// Stops listening: removes the watches and closes the sockets.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_disconnect(listener: *mut QIONetListener) {
    ffi_guard!((), {
        handle!(listener).listener.disconnect();
        Ok(())
    })
}

/// Returns: whether @listener has sockets and was not disconnected.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_is_connected(listener: *mut QIONetListener) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(handle!(listener).listener.is_connected().into())
    })
}

/// Returns: the number of listening sockets.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_nsioc(listener: *mut QIONetListener) -> usize {
    ffi_guard!(0, { Ok(handle!(listener).listener.sockets().len()) })
}

/// Returns: (transfer none) (nullable): listening socket @n, NULL past the end.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_sioc(
    listener: *mut QIONetListener,
    n: usize,
) -> *mut QIOChannelSocket {
    ffi_guard!(std::ptr::null_mut(), {
        let listener = handle!(listener);
        let sockets = listener.listener.sockets();
        require!(n < sockets.len(), "n < qio_net_listener_nsioc (listener)");
        Ok(listener.sioc(&sockets[n]))
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
        let sockets = handle!(listener).listener.sockets();
        require!(n < sockets.len(), "n < qio_net_listener_nsioc (listener)");
        Ok(socket_address::into_handle(sockets[n].local_address()?))
    })
}

/// Limits the clients open at once to @max_clients (0: no limit, the default as in
/// QEMU). A connection past the limit is accepted and closed at once, so the peer sees
/// it end instead of waiting in the backlog, and is counted by
/// qio_net_listener_get_num_refused(); the client function never sees it. A client
/// counts from when it is handed out until it is closed or its last reference dropped.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_set_max_clients(
    listener: *mut QIONetListener,
    max_clients: c_uint,
) {
    ffi_guard!((), {
        let max = (max_clients > 0).then_some(max_clients as usize);
        handle!(listener).listener.set_max_clients(max);
        Ok(())
    })
}

/// Returns: the limit set by qio_net_listener_set_max_clients(), 0 for none.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_get_max_clients(listener: *mut QIONetListener) -> c_uint {
    ffi_guard!(0, {
        let max = handle!(listener).listener.max_clients().unwrap_or(0);
        Ok(c_uint::try_from(max).unwrap_or(c_uint::MAX))
    })
}

/// Returns: how many of the clients handed out are neither closed nor dropped.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_get_num_clients(listener: *mut QIONetListener) -> c_uint {
    ffi_guard!(0, {
        let open = handle!(listener).listener.num_clients();
        Ok(c_uint::try_from(open).unwrap_or(c_uint::MAX))
    })
}

/// Returns: how many connections the client limit has turned away.
#[no_mangle]
pub unsafe extern "C" fn qio_net_listener_get_num_refused(listener: *mut QIONetListener) -> u64 {
    ffi_guard!(0, { Ok(handle!(listener).listener.num_refused()) })
}
