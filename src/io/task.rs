//! Work that blocks (DNS lookups, connects) run in a worker thread, completed in a
//! main loop: the machinery under QEMU's `qio_task_run_in_thread` (`io/task.c`).
//!
//! The worker runs in its own thread; its completion then runs exactly once, either
//! from an idle source in the caller's `GMainContext`, or at once in the thread that
//! calls [`ThreadTask::wait`] (`qio_task_wait_thread`), which removes that idle source.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use glib_sys::{gboolean, gpointer, GSource};

use crate::io::MainContext;

type Completion = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    worker_done: bool,
    completion: Option<Completion>,
    /// The idle source that will run the completion, once the worker is done.
    idle: Option<SendSource>,
}

/// A `GSource` pointer moved between threads; GSource's API is thread-safe.
struct SendSource(*mut GSource);
// SAFETY: GLib sources may be destroyed and unreffed from any thread.
unsafe impl Send for SendSource {}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the completion out (it runs once, whoever gets it) and drops the idle
    /// source, removing it from its context first when `destroy`.
    fn take_completion(&self, destroy: bool) -> Option<Completion> {
        let mut state = self.state();
        if let Some(SendSource(idle)) = state.idle.take() {
            // SAFETY: our reference to the idle source.
            unsafe {
                if destroy {
                    glib_sys::g_source_destroy(idle);
                }
                glib_sys::g_source_unref(idle);
            }
        }
        state.completion.take()
    }
}

/// A worker thread whose completion is pending in a main context.
#[derive(Clone, Default)]
pub struct ThreadTask {
    shared: Arc<Shared>,
}

/// Runs `worker` in a new thread, then `complete` in the thread iterating `context`.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use qio::io::{task, MainContext};
///
/// let context = MainContext::new();
/// let done = Arc::new(AtomicBool::new(false));
/// let flag = done.clone();
/// task::run_in_thread(|| { /* blocking work */ }, move || flag.store(true, Ordering::SeqCst), &context);
/// while !done.load(Ordering::SeqCst) {
///     context.iteration(true);
/// }
/// ```
pub fn run_in_thread(
    worker: impl FnOnce() + Send + 'static,
    complete: impl FnOnce() + Send + 'static,
    context: &MainContext,
) -> ThreadTask {
    let task = ThreadTask::default();
    task.start(worker, complete, context);
    task
}

impl ThreadTask {
    /// Starts the worker of a new task, then `complete` in the thread iterating
    /// `context`; a task is started once. Holders of a clone made before may
    /// [`wait`](Self::wait) for it.
    pub fn start(
        &self,
        worker: impl FnOnce() + Send + 'static,
        complete: impl FnOnce() + Send + 'static,
        context: &MainContext,
    ) {
        self.shared.state().completion = Some(Box::new(complete));
        let context = context.clone();
        let thread_shared = self.shared.clone();
        let job: Job = Arc::new(Mutex::new(Some(Box::new(move || {
            worker();
            schedule_completion(&thread_shared, context);
        }))));
        let thread_job = job.clone();
        let spawned = std::thread::Builder::new()
            .name("io-task-worker".into())
            .spawn(move || run_job(&thread_job));
        if spawned.is_err() {
            // No thread to be had (resource exhaustion): do the work here, late but
            // with the same completion semantics.
            run_job(&job);
        }
    }
}

type Job = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

fn run_job(job: &Job) {
    let job = job.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(job) = job {
        job();
    }
}

/// Called in the worker thread when the worker is done: attaches the idle source that
/// runs the completion, then wakes any [`ThreadTask::wait`].
fn schedule_completion(shared: &Arc<Shared>, context: MainContext) {
    unsafe extern "C" fn idle(data: gpointer) -> gboolean {
        // SAFETY: `data` is the Arc<Shared> leaked below, alive until `release`.
        let shared = unsafe { &*(data as *const Shared) };
        if let Some(complete) = shared.take_completion(false) {
            complete();
        }
        glib_sys::GFALSE
    }
    unsafe extern "C" fn release(data: gpointer) {
        // SAFETY: the reference leaked below, released once by GLib.
        unsafe { drop(Arc::from_raw(data as *const Shared)) };
    }
    let mut state = shared.state();
    state.worker_done = true;
    // SAFETY: a new idle source holding a reference on `shared` until it is freed.
    unsafe {
        let source = glib_sys::g_idle_source_new();
        let data = Arc::into_raw(shared.clone()) as gpointer;
        glib_sys::g_source_set_callback(source, Some(idle), data, Some(release));
        state.idle = Some(SendSource(source));
        glib_sys::g_source_attach(source, context.as_ptr());
    }
    drop(state);
    shared.done.notify_all();
}

impl ThreadTask {
    /// Blocks until the worker is done, then runs the completion here unless the
    /// context already ran it.
    pub fn wait(&self) {
        let mut state = self.shared.state();
        while !state.worker_done {
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        if let Some(complete) = self.shared.take_completion(true) {
            complete();
        }
    }
}

/// Runs `work` in a worker thread and hands its result to `done` in `context`.
pub(crate) fn in_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(T) + Send + 'static,
    context: &MainContext,
) -> ThreadTask {
    let result = Arc::new(Mutex::new(None));
    let slot = result.clone();
    let worker = move || *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(work());
    let complete = move || {
        let value = result.lock().unwrap_or_else(PoisonError::into_inner).take();
        done(value.expect("the worker ran before the completion"));
    };
    run_in_thread(worker, complete, context)
}

#[cfg(test)]
mod tests;
