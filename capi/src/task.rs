//! `QIOTask`: the completion of an operation, possibly run in a worker thread (QEMU's
//! `io/task.h`). Connects, listens, DNS lookups and handshakes report through one.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use glib_sys::{gboolean, gpointer, GDestroyNotify, GError, GMainContext, GFALSE, GTRUE};
use qio::io::task::ThreadTask;
use qio::io::Channel;

use crate::boundary::{ffi_guard, require, Fail};
use crate::callback::{Notified, UserData};
use crate::dns_resolver::QIODNSResolver;
use crate::ffi::{self, Castable};
use crate::net_listener::QIONetListener;

/// An operation's completion; freed by qio_task_free(), or by qio itself after a
/// threaded task's callback.
pub struct QIOTask {
    _private: [u8; 0],
}

/// A task's completion callback.
pub type QIOTaskFunc = Option<unsafe extern "C" fn(task: *mut QIOTask, opaque: gpointer)>;
/// A task's worker, run in a worker thread by qio_task_run_in_thread().
pub type QIOTaskWorker = Option<unsafe extern "C" fn(task: *mut QIOTask, opaque: gpointer)>;

/// The object a task reports on, with the reference the task holds.
enum Source {
    None,
    Channel(Arc<Channel>),
    Listener(*mut QIONetListener),
    Resolver(*mut QIODNSResolver),
}

impl Source {
    fn pointer(&self) -> gpointer {
        match self {
            Source::None => std::ptr::null_mut(),
            Source::Channel(channel) => channel.as_thin(),
            Source::Listener(listener) => listener.cast(),
            Source::Resolver(resolver) => resolver.cast(),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Listener(listener) = self {
            // SAFETY: the reference taken in `of`.
            unsafe { crate::net_listener::qio_net_listener_unref(*listener) };
        }
    }
}

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
    source: Source,
    func: QIOTaskFunc,
    opaque: Notified,
    state: Mutex<State>,
}

// SAFETY: the source pointers are qio handles (thread-safe); the rest is behind locks
// or C data that the C contract lets the callbacks' threads use.
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Sync for Task {}

impl Castable for QIOTask {
    type Rust = Task;
    const NAME: &'static str = "QIOTask";
    const TAG: u32 = u32::from_be_bytes(*b"QTsk");
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
}

/// The source object behind `source`: NULL, a channel, a listener or the resolver.
///
/// # Safety
/// `source` is NULL or a qio handle the caller holds a reference to.
unsafe fn source_of(source: gpointer) -> Result<Source, Fail> {
    if source.is_null() {
        return Ok(Source::None);
    }
    // SAFETY: the caller's contract.
    unsafe {
        if let Some(channel) = Channel::borrow_thin(source) {
            return Ok(Source::Channel(Arc::clone(&channel)));
        }
        if ffi::is_a::<QIONetListener>(source) {
            let listener = crate::net_listener::qio_net_listener_ref(source.cast());
            return Ok(Source::Listener(listener));
        }
        if ffi::is_a::<QIODNSResolver>(source) {
            return Ok(Source::Resolver(source.cast()));
        }
    }
    Err(Fail::Precondition(
        "source is a channel, listener or resolver".into(),
    ))
}

/// A new task reporting on @source (NULL, or a channel, #QIONetListener or
/// #QIODNSResolver, referenced until the task is freed), completed by calling
/// @func(task, @opaque); @destroy runs on @opaque when the task is freed.
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
        // SAFETY: the caller's handle (or NULL).
        let source = unsafe { source_of(source)? };
        Ok(new_task(source, func, opaque, destroy))
    })
}

fn new_task(
    source: Source,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> *mut QIOTask {
    ffi::box_into_handle::<QIOTask>(Task {
        source,
        func,
        opaque: Notified::new(opaque, destroy),
        state: Mutex::default(),
    })
}

/// A task on a channel, for exports that start one.
pub(crate) fn new_channel_task(
    channel: Arc<Channel>,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> *mut QIOTask {
    new_task(Source::Channel(channel), func, opaque, destroy)
}

/// A task on `channel` for an asynchronous operation, as the completion to hand the
/// operation: run with its result, it sets the task's error if any, completes the task
/// (calling `func`) and frees it; dropped without running (the channel closed or went
/// away first), it only frees the task.
pub(crate) fn completion(
    channel: Arc<Channel>,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> impl FnOnce(qio::Result<()>) + Send + 'static {
    let pending = PendingTask(UserData(
        new_channel_task(channel, func, opaque, destroy).cast(),
    ));
    move |result: qio::Result<()>| {
        // SAFETY: the live task we own until `pending` drops.
        unsafe {
            if let Err(e) = result {
                ffi::box_ref::<QIOTask>(pending.task(), "task")
                    .expect("a pending task is live")
                    .set_error(&e);
            }
            qio_task_complete(pending.task());
        }
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

/// A task on the resolver, for its asynchronous lookup.
pub(crate) fn new_resolver_task(
    resolver: *mut QIODNSResolver,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) -> *mut QIOTask {
    new_task(Source::Resolver(resolver), func, opaque, destroy)
}

/// Runs the task's callback (it may be run once; the task is not freed).
#[no_mangle]
pub unsafe extern "C" fn qio_task_complete(task: *mut QIOTask) {
    ffi_guard!((), {
        // SAFETY: the caller's task, checked.
        let t = unsafe { ffi::box_ref(task, "task")? };
        if let Some(func) = t.func {
            let opaque = t.opaque.data.get();
            // SAFETY: the caller's callback; no qio lock is held.
            unsafe { func(task, opaque) };
        }
        Ok(())
    })
}

/// Frees @task: runs the destroy notifies of its opaque data, worker data and result,
/// frees any error and drops its reference on the source. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_task_free(task: *mut QIOTask) {
    // SAFETY: the caller's task (or NULL), checked.
    ffi_guard!((), { unsafe { ffi::box_free(task, "task") } })
}

/// Records @err (transfer full) as the task's failure, unless one is recorded already
/// (then @err is freed). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_task_set_error(task: *mut QIOTask, err: *mut GError) {
    ffi_guard!((), {
        // SAFETY: the caller's task, checked.
        let t = unsafe { ffi::box_ref(task, "task")? };
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
    ffi_guard!(GFALSE, {
        // SAFETY: the caller's task, checked.
        let t = unsafe { ffi::box_ref(task, "task")? };
        let taken = t.state().error.take();
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
        // SAFETY: the caller's task, checked.
        unsafe { ffi::box_ref(task, "task")? }.set_result(result, destroy);
        Ok(())
    })
}

/// Returns: (transfer none) (nullable): the task's result.
#[no_mangle]
pub unsafe extern "C" fn qio_task_get_result_pointer(task: *mut QIOTask) -> gpointer {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's task, checked.
        let t = unsafe { ffi::box_ref(task, "task")? };
        Ok(t.state()
            .result
            .as_ref()
            .map_or(std::ptr::null_mut(), |r| r.data.get()))
    })
}

/// The task's result, if any, provided it was set with `owner` as its destroy
/// function (how qio recognises results it stored itself); another one is a
/// precondition failure.
///
/// # Safety
/// `task` is NULL or a live task handle.
pub(crate) unsafe fn result_set_by(
    task: *mut QIOTask,
    owner: unsafe extern "C" fn(gpointer),
) -> Result<Option<gpointer>, Fail> {
    // SAFETY: the caller's contract.
    let t = unsafe { ffi::box_ref(task, "task")? };
    let state = t.state();
    match &state.result {
        None => Ok(None),
        Some(result) if result.is_freed_by(owner) => Ok(Some(result.data.get())),
        Some(_) => Err(Fail::Precondition("task is a lookup task".into())),
    }
}

/// Returns: (transfer none) (nullable): the object the task reports on.
#[no_mangle]
pub unsafe extern "C" fn qio_task_get_source(task: *mut QIOTask) -> gpointer {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's task, checked.
        Ok(unsafe { ffi::box_ref(task, "task")? }.source.pointer())
    })
}

/// Runs `work` on the task in a worker thread, then completes and frees the task in
/// the thread iterating `context` (NULL: the default context).
///
/// # Safety
/// `task` is a live task handle, given up to this call; `context` is NULL or valid.
pub(crate) unsafe fn run_in_thread(
    task: *mut QIOTask,
    work: impl FnOnce(&Task) + Send + 'static,
    context: *mut GMainContext,
) -> Result<(), Fail> {
    // SAFETY: the caller's task, checked; it stays alive until the completion frees it.
    let t = unsafe { ffi::box_ref(task, "task")? };
    let thread = ThreadTask::default();
    {
        let mut state = t.state();
        require!(state.thread.is_none(), "task is not already running");
        state.thread = Some(thread.clone());
    }
    let handle = UserData(task.cast());
    let worker = move || {
        // SAFETY: the task lives until the completion below, which runs after this.
        let t = unsafe { ffi::box_ref::<QIOTask>(handle.get().cast(), "task") };
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
    // SAFETY: the caller's context. `t` is not used from here on: the completion
    // may free the task at any time.
    unsafe { thread.start(worker, complete, context) };
    Ok(())
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
        let worker = worker.ok_or(Fail::Precondition("worker != NULL".into()))?;
        // SAFETY: the caller's task, checked.
        let t = unsafe { ffi::box_ref(task, "task")? };
        t.state().worker = Some(Notified::new(opaque, destroy));
        let task_handle = UserData(task.cast());
        let opaque = UserData(opaque);
        // SAFETY: the caller's task and context; the worker is the caller's.
        unsafe {
            run_in_thread(
                task,
                move |_| worker(task_handle.get().cast(), opaque.get()),
                context,
            )
        }
    })
}

/// Waits for @task's worker thread, then runs the callback here (unless the context
/// already did) and frees the task. Call it from the thread that would otherwise run
/// the callback.
#[no_mangle]
pub unsafe extern "C" fn qio_task_wait_thread(task: *mut QIOTask) {
    ffi_guard!((), {
        // SAFETY: the caller's task, checked; no borrow outlives this statement, as
        // the wait frees the task.
        let thread = unsafe { ffi::box_ref(task, "task")? }
            .state()
            .thread
            .clone();
        let thread = thread.ok_or(Fail::Precondition("task is running in a thread".into()))?;
        thread.wait();
        Ok(())
    })
}
