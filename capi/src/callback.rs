//! C callbacks' user data, carried to the thread that runs the callback, and its
//! destroy notify, run exactly once.

use glib_sys::{gpointer, GDestroyNotify};

/// A C pointer handed back to C, possibly from another thread: callbacks' user data
/// follows the threading of the callback it was registered with (the caller's
/// contract), so qio only carries it.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) gpointer);

impl UserData {
    /// The pointer. (A method, so that closures capture the whole Send wrapper rather
    /// than its pointer field.)
    pub(crate) fn get(self) -> gpointer {
        self.0
    }
}

// SAFETY: qio never dereferences it; see the type's documentation.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// User data and its destroy notify: the notify runs once, when this is dropped.
pub(crate) struct Notified {
    pub(crate) data: UserData,
    notify: GDestroyNotify,
}

impl Notified {
    pub(crate) fn new(data: gpointer, notify: GDestroyNotify) -> Self {
        Notified {
            data: UserData(data),
            notify,
        }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        if let Some(notify) = self.notify {
            // SAFETY: the caller's notify for its data, called once.
            unsafe { notify(self.data.get()) };
        }
    }
}

impl Notified {
    /// Whether `notify` is this data's destroy function (how qio recognises data it
    /// attached itself).
    pub(crate) fn is_freed_by(&self, notify: unsafe extern "C" fn(gpointer)) -> bool {
        self.notify.is_some_and(|f| std::ptr::fn_addr_eq(f, notify))
    }
}
