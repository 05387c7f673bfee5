//! GLib main-loop objects: [`MainContext`], where callbacks run, and [`SourceGuard`], an
//! attached source that goes away with its owner.

use std::ptr::NonNull;
use std::time::Duration;

use glib_sys::{gboolean, gpointer, GMainContext, GSource};

/// A GLib main context (`GMainContext`): where watches, task completions and listener
/// callbacks run, in the thread that iterates it. [`MainContext::default`] is GLib's
/// global default context, the one `g_main_loop_run(NULL)` and C's `NULL` mean.
///
/// ```
/// use qio::io::MainContext;
///
/// let context = MainContext::new();
/// // Nothing is attached, so nothing dispatches.
/// assert!(!context.iteration(false));
/// ```
pub struct MainContext(Option<NonNull<GMainContext>>);

// SAFETY: GLib main contexts are thread-safe, and we hold a reference while we keep
// the pointer.
unsafe impl Send for MainContext {}
// SAFETY: as above.
unsafe impl Sync for MainContext {}

impl MainContext {
    /// A new context of its own (`g_main_context_new`), for a thread that runs its own
    /// loop or for waiting on a few sources alone.
    pub fn new() -> MainContext {
        // SAFETY: g_main_context_new returns a new context with one reference, ours.
        MainContext(NonNull::new(unsafe { glib_sys::g_main_context_new() }))
    }

    /// The context at `context`, holding a reference of its own on it; NULL is the
    /// global default context.
    ///
    /// # Safety
    /// `context` is NULL or points at a live `GMainContext`.
    pub unsafe fn from_raw(context: *mut GMainContext) -> MainContext {
        if !context.is_null() {
            // SAFETY: the caller's live context.
            unsafe { glib_sys::g_main_context_ref(context) };
        }
        MainContext(NonNull::new(context))
    }

    /// The context, for GLib calls that take one (NULL for the default context).
    pub fn as_ptr(&self) -> *mut GMainContext {
        self.0.map_or(std::ptr::null_mut(), NonNull::as_ptr)
    }

    /// Runs one iteration (`g_main_context_iteration`), waiting for an event first when
    /// `may_block`; whether any source dispatched.
    pub fn iteration(&self, may_block: bool) -> bool {
        // SAFETY: a context we hold a reference on (or the default one).
        unsafe { glib_sys::g_main_context_iteration(self.as_ptr(), may_block.into()) != 0 }
    }
}

/// GLib's global default context.
impl Default for MainContext {
    fn default() -> MainContext {
        MainContext(None)
    }
}

impl Clone for MainContext {
    fn clone(&self) -> MainContext {
        // SAFETY: we hold a reference, so the context is live.
        unsafe { MainContext::from_raw(self.as_ptr()) }
    }
}

impl Drop for MainContext {
    fn drop(&mut self) {
        if let Some(context) = self.0 {
            // SAFETY: the reference we took.
            unsafe { glib_sys::g_main_context_unref(context.as_ptr()) };
        }
    }
}

impl std::fmt::Debug for MainContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MainContext").field(&self.as_ptr()).finish()
    }
}

impl MainContext {
    /// Runs `f` once, from the thread iterating this context, after `delay`, unless the
    /// returned guard is dropped first.
    pub fn add_timeout_once(
        &self,
        delay: Duration,
        f: impl FnOnce() + Send + 'static,
    ) -> SourceGuard {
        type Pending = Option<Box<dyn FnOnce() + Send>>;
        unsafe extern "C" fn fire(data: gpointer) -> gboolean {
            // SAFETY: `data` is the Box<Pending> below, alive until `release`; a source
            // is never dispatched concurrently with itself.
            if let Some(f) = unsafe { (*(data as *mut Pending)).take() } {
                f();
            }
            glib_sys::GFALSE
        }
        unsafe extern "C" fn release(data: gpointer) {
            // SAFETY: the Box<Pending> below, released once by GLib.
            unsafe { drop(Box::from_raw(data as *mut Pending)) };
        }
        let millis = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        let data: Box<Pending> = Box::new(Some(Box::new(f)));
        // SAFETY: a new source with our callback and its data, handed to the guard.
        unsafe {
            let source = glib_sys::g_timeout_source_new(millis);
            glib_sys::g_source_set_callback(
                source,
                Some(fire),
                Box::into_raw(data) as gpointer,
                Some(release),
            );
            SourceGuard::attach(NonNull::new_unchecked(source), self)
        }
    }
}

/// An attached source that is removed when this is dropped: dropping it destroys the
/// source in its context (its callback never runs again) and releases our reference.
pub struct SourceGuard(NonNull<GSource>);

// SAFETY: GLib sources may be destroyed and unreffed from any thread.
unsafe impl Send for SourceGuard {}
// SAFETY: the guard gives no access to the source, only its drop.
unsafe impl Sync for SourceGuard {}

impl SourceGuard {
    /// Attaches `source` to `context` and keeps our reference on it.
    ///
    /// # Safety
    /// `source` is a live, unattached source; our reference on it is handed over here.
    pub(crate) unsafe fn attach(source: NonNull<GSource>, context: &MainContext) -> SourceGuard {
        // SAFETY: the caller's live source.
        unsafe { glib_sys::g_source_attach(source.as_ptr(), context.as_ptr()) };
        SourceGuard(source)
    }
}

impl Drop for SourceGuard {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe {
            glib_sys::g_source_destroy(self.0.as_ptr());
            glib_sys::g_source_unref(self.0.as_ptr());
        }
    }
}

impl std::fmt::Debug for SourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SourceGuard").field(&self.0).finish()
    }
}
