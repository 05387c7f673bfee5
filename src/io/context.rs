//! Owned references to GLib main-loop objects, for the I/O code that keeps them: a
//! `GMainContext` to attach sources to later, and an attached `GSource` to remove.

use glib_sys::{GMainContext, GSource};

/// A reference on a `GMainContext`, or NULL for the global default context.
pub(crate) struct ContextRef(*mut GMainContext);

// SAFETY: GLib contexts are thread-safe; we hold a reference while we keep the pointer.
unsafe impl Send for ContextRef {}

impl ContextRef {
    /// Takes a reference on `context` (NULL: the default context).
    ///
    /// # Safety
    /// `context` is NULL or a valid context.
    pub(crate) unsafe fn new(context: *mut GMainContext) -> ContextRef {
        if !context.is_null() {
            // SAFETY: the caller's valid context.
            unsafe { glib_sys::g_main_context_ref(context) };
        }
        ContextRef(context)
    }

    /// The context, for attaching sources (NULL: the default).
    pub(crate) fn as_ptr(&self) -> *mut GMainContext {
        self.0
    }
}

impl Clone for ContextRef {
    fn clone(&self) -> ContextRef {
        // SAFETY: we hold a reference, so the context is valid.
        unsafe { ContextRef::new(self.0) }
    }
}

impl Drop for ContextRef {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the reference taken in `new`.
            unsafe { glib_sys::g_main_context_unref(self.0) };
        }
    }
}

/// Our reference on an attached source: dropping it removes the source from its
/// context (its callback never runs again) and releases the reference.
pub(crate) struct AttachedSource(*mut GSource);

// SAFETY: GLib sources may be destroyed and unreffed from any thread.
unsafe impl Send for AttachedSource {}

impl AttachedSource {
    /// Takes over our reference on `source`.
    ///
    /// # Safety
    /// `source` is a source we hold a reference on, handed over here.
    pub(crate) unsafe fn new(source: *mut GSource) -> AttachedSource {
        AttachedSource(source)
    }
}

impl Drop for AttachedSource {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe {
            glib_sys::g_source_destroy(self.0);
            glib_sys::g_source_unref(self.0);
        }
    }
}
