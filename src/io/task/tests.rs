use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

use super::*;

#[test]
fn completion_runs_once_in_the_context_thread_after_the_worker() {
    let context = MainContext::new();
    let worker_thread = Arc::new(Mutex::new(None::<ThreadId>));
    let completions = Arc::new(AtomicUsize::new(0));
    let (w, c) = (worker_thread.clone(), completions.clone());
    let task = run_in_thread(
        move || *w.lock().unwrap() = Some(std::thread::current().id()),
        move || {
            c.fetch_add(1, Ordering::SeqCst);
        },
        &context,
    );
    while completions.load(Ordering::SeqCst) == 0 {
        context.iteration(true);
    }
    assert_ne!(
        worker_thread.lock().unwrap().unwrap(),
        std::thread::current().id()
    );
    task.wait();
    assert_eq!(completions.load(Ordering::SeqCst), 1);
}

#[test]
fn wait_completes_here_and_removes_the_pending_source() {
    let context = MainContext::new();
    let completions = Arc::new(AtomicUsize::new(0));
    let c = completions.clone();
    let task = in_thread(
        || 42,
        move |v| assert_eq!(c.fetch_add(v, Ordering::SeqCst), 0),
        &context,
    );
    task.wait();
    assert_eq!(completions.load(Ordering::SeqCst), 42);
    // Nothing is left to dispatch.
    assert!(!context.iteration(false));
}
