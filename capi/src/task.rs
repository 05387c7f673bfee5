//! `QIOTask`: the completion of an operation, possibly run in a worker thread (QEMU's
//! `io/task.h`). Connects, listens, DNS lookups and handshakes report through one.

use std::sync::{Mutex, MutexGuard, PoisonError};

use glib_sys::{gboolean, gpointer, GDestroyNotify, GError, GMainContext, GFALSE, GTRUE};
use qio::io::task::ThreadTask;
use qio::io::MainContext;

use crate::boundary::{ffi_guard, require, Fail};
use crate::callback::{Notified, UserData};
use crate::ffi::{
    call_c, callback, free_handle, handle, main_context, AnyRef, Castable, Owned, Tag,
};

/// An operation's completion; freed by qio_task_free(), or by qio itself after a
/// threaded task's callback.
pub struct QIOTask {
    _private: [u8; 0],
}

/// A task's completion callback.
pub type QIOTaskFunc = Option<unsafe extern "C" fn(task: *mut QIOTask, opaque: gpointer)>;
/// A task's worker, run in a worker thread by qio_task_run_in_thread().
pub type QIOTaskWorker = Option<unsafe extern "C" fn(task: *mut QIOTask, opaque: gpointer)>;

#[derive(Default)]
struct State {
    error: Option<ErrorBox>,
    result: Option<Notified>,
    worker: Option<Notified>,
    thread: Option<ThreadTask>,
}

/// A GError owned by a task.
struct ErrorBox(*mut GError);
// SAFETY: a GError is plain data, freed once by its owner.
unsafe impl Send for ErrorBox {}

impl Drop for ErrorBox {
    fn drop(&mut self) {
        // SAFETY: our GError.
        unsafe { glib_sys::g_error_free(self.0) };
    }
}

pub(crate) struct Task {
    /// The object the task reports on, with the reference the task holds.
    source: Option<AnyRef>,
    func: QIOTaskFunc,
    opaque: Notified,
    state: Mutex<State>,
}

impl Castable for QIOTask {
    type Ownership = Owned;
    type Rust = Task;
    const NAME: &'static str = "QIOTask";
    const TAG: Tag = Tag::new(b"QTsk");
}

impl Task {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the result (`qio_task_set_result_pointer`), freeing any previous one.
    pub(crate) fn set_result(&self, result: gpointer, destroy: GDestroyNotify) {
        let old = self.state().result.replace(Notified::new(result, destroy));
        drop(old);
    }

    /// Records `error` unless one is recorded already (the first error wins).
    pub(crate) fn set_error(&self, error: &qio::Error) {
        let mut state = self.state();
        if state.error.is_none() {
            let mut gerror = std::ptr::null_mut();
            crate::error::set(&mut gerror, error);
            state.error = Some(ErrorBox(gerror));
        }
    }

    /// The task's result, if any, provided it was set with `owner` as its destroy
    /// function (how qio recognises results it stored itself); another one is a
    /// precondition failure.
    pub(crate) fn result_set_by(
        &self,
        owner: unsafe extern "C" fn(gpointer),
    ) -> Result<Option<gpointer>, Fail> {
        match &self.state().result {
            None => Ok(None),
            Some(result) if result.is_freed_by(owner) => Ok(Some(result.data.get())),
            Some(_) => Err(Fail::Precondition("task is a lookup task".into())),
        }
    }
}

/// A new task handle reporting on `source`.
pub(crate) fn new(
    source: Option<AnyRef>,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> *mut QIOTask {
    crate::ffi::new(Task {
        source,
        func,
        opaque: Notified::new(opaque, destroy),
        state: Mutex::default(),
    })
}

/// A new task reporting on @source (NULL, or any shared qio object: a channel, a
/// #QIONetListener, the #QIODNSResolver..., referenced until the task is freed),
/// completed by calling @func(task, @opaque); @destroy runs on @opaque when the task
/// is freed.
///
/// Returns: (transfer full): the task, to free with qio_task_free() unless it is run
/// with qio_task_run_in_thread().
#[no_mangle]
pub unsafe extern "C" fn qio_task_new(
    source: gpointer,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> *mut QIOTask {
    ffi_guard!(std::ptr::null_mut(), {
        let source = match source.is_null() {
            true => None,
            // SAFETY: a source argument is NULL or a qio object (the C contract);
            // AnyRef refuses what its header does not show as a shared one.
            false => Some(unsafe { AnyRef::new(source, "source is a qio object")? }),
        };
        Ok(new(source, func, opaque, destroy))
    })
}

/// A task reporting on `source` for an asynchronous operation, as the completion to
/// hand the operation: run with its result, it sets the task's error if any, completes
/// the task (calling `func`) and frees it; dropped without running (the channel closed
/// or went away first), it only frees the task.
pub(crate) fn completion(
    source: AnyRef,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> impl FnOnce(qio::Result<()>) + Send + 'static {
    let pending = PendingTask(UserData(new(Some(source), func, opaque, destroy).cast()));
    move |result: qio::Result<()>| {
        let task = pending.task();
        if let Err(e) = result {
            // SAFETY: the live task we own until `pending` drops.
            let t = unsafe { crate::ffi::borrow(task, "task") };
            t.expect("a pending task is live").set_error(&e);
        }
        // SAFETY: as above.
        unsafe { qio_task_complete(task) };
    }
}

/// A task handed to an operation: freed when dropped, completed first if it ran.
struct PendingTask(UserData);

impl PendingTask {
    fn task(&self) -> *mut QIOTask {
        self.0.get().cast()
    }
}

impl Drop for PendingTask {
    fn drop(&mut self) {
        // SAFETY: our task, freed once.
        unsafe { qio_task_free(self.task()) };
    }
}

/// Runs the task's callback (it may be run once; the task is not freed).
#[no_mangle]
pub unsafe extern "C" fn qio_task_complete(task: *mut QIOTask) {
    ffi_guard!((), {
        let t = handle!(task);
        if let Some(func) = t.func {
            call_c!(func(task, t.opaque.data.get()));
        }
        Ok(())
    })
}

/// Frees @task: runs the destroy notifies of its opaque data, worker data and result,
/// frees any error and drops its reference on the source. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_task_free(task: *mut QIOTask) {
    ffi_guard!((), { free_handle!(task) })
}

/// Records @err (transfer full) as the task's failure, unless one is recorded already
/// (then @err is freed). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_task_set_error(task: *mut QIOTask, err: *mut GError) {
    ffi_guard!((), {
        let t = handle!(task);
        if !err.is_null() {
            let err = ErrorBox(err);
            let mut state = t.state();
            if state.error.is_none() {
                state.error = Some(err);
            }
        }
        Ok(())
    })
}

/// Moves the task's error, if any, into @error.
///
/// Returns: TRUE if the task had failed (@error set), FALSE otherwise.
#[no_mangle]
pub unsafe extern "C" fn qio_task_propagate_error(
    task: *mut QIOTask,
    error: *mut *mut GError,
) -> gboolean {
    ffi_guard!(GFALSE, error, {
        let taken = handle!(task).state().error.take();
        Ok(match taken {
            None => GFALSE,
            Some(err) => {
                let err = std::mem::ManuallyDrop::new(err);
                // SAFETY: g_propagate_error takes the GError (or frees it for NULL).
                unsafe { glib_sys::g_propagate_error(error, err.0) };
                GTRUE
            }
        })
    })
}

/// Sets the task's result, freed with @destroy (which also runs on a result replaced
/// by a later call).
#[no_mangle]
pub unsafe extern "C" fn qio_task_set_result_pointer(
    task: *mut QIOTask,
    result: gpointer,
    destroy: GDestroyNotify,
) {
    ffi_guard!((), {
        handle!(task).set_result(result, destroy);
        Ok(())
    })
}

/// Returns: (transfer none) (nullable): the task's result.
#[no_mangle]
pub unsafe extern "C" fn qio_task_get_result_pointer(task: *mut QIOTask) -> gpointer {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(handle!(task)
            .state()
            .result
            .as_ref()
            .map_or(std::ptr::null_mut(), |r| r.data.get()))
    })
}

/// Returns: (transfer none) (nullable): the object the task reports on.
#[no_mangle]
pub unsafe extern "C" fn qio_task_get_source(task: *mut QIOTask) -> gpointer {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(handle!(task)
            .source
            .as_ref()
            .map_or(std::ptr::null_mut(), AnyRef::as_ptr))
    })
}

/// Runs `work` on the task in a worker thread, then completes and frees the task in
/// the thread iterating `context`.
///
/// # Safety
/// `task` is NULL or a live task handle, given up to this call.
pub(crate) unsafe fn run_in_thread(
    task: *mut QIOTask,
    work: impl FnOnce(&Task) + Send + 'static,
    context: &MainContext,
) -> Result<(), Fail> {
    let t = handle!(task);
    let thread = ThreadTask::default();
    {
        let mut state = t.state();
        require!(state.thread.is_none(), "task is not already running");
        state.thread = Some(thread.clone());
    }
    let handle = UserData(task.cast());
    let worker = move || {
        // SAFETY: the task lives until the completion below, which runs after this.
        let t = unsafe { crate::ffi::borrow::<QIOTask>(handle.get().cast(), "task") };
        work(t.expect("a running task is live"))
    };
    let complete = move || {
        let task: *mut QIOTask = handle.get().cast();
        // SAFETY: the task is complete and freed exactly once, here.
        unsafe {
            qio_task_complete(task);
            qio_task_free(task);
        }
    };
    // `t` is not used from here on: the completion may free the task at any time.
    thread.start(worker, complete, context);
    Ok(())
}

/// Runs `work` on a new task (source: `source`; completed by `func`) in a worker
/// thread, then completes and frees the task in the thread iterating `context`.
pub(crate) fn run_new(
    source: Option<AnyRef>,
    (func, opaque, destroy): (QIOTaskFunc, gpointer, GDestroyNotify),
    work: impl FnOnce(&Task) + Send + 'static,
    context: &MainContext,
) -> Result<(), Fail> {
    let task = new(source, func, opaque, destroy);
    // SAFETY: the task just made, given up to the thread.
    unsafe { run_in_thread(task, work, context) }
}

/// Runs @worker(@task, @opaque) in a new thread, then @task's callback in the thread
/// iterating @context (NULL: the default context), then frees @task; @destroy runs on
/// @opaque when the task is freed.
#[no_mangle]
pub unsafe extern "C" fn qio_task_run_in_thread(
    task: *mut QIOTask,
    worker: QIOTaskWorker,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        let worker = callback!(worker);
        handle!(task).state().worker = Some(Notified::new(opaque, destroy));
        let (task_handle, opaque) = (UserData(task.cast()), UserData(opaque));
        let work = move |_: &Task| call_c!(worker(task_handle.get().cast(), opaque.get()));
        let context = main_context!(context);
        // SAFETY: the caller's task, given up here.
        unsafe { run_in_thread(task, work, &context) }
    })
}

/// Waits for @task's worker thread, then runs the callback here (unless the context
/// already did) and frees the task. Call it from the thread that would otherwise run
/// the callback.
#[no_mangle]
pub unsafe extern "C" fn qio_task_wait_thread(task: *mut QIOTask) {
    ffi_guard!((), {
        // No borrow outlives this statement: the wait frees the task.
        let thread = handle!(task).state().thread.clone();
        let thread = thread.ok_or(Fail::Precondition("task is running in a thread".into()))?;
        thread.wait();
        Ok(())
    })
}
