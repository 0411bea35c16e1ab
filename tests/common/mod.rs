//! Shared helpers for the channel integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Runs `f` as the main goroutine of a fresh runtime with 1 and then 2 workers.
pub fn at_procs<F>(f: F)
where
    F: Fn() + Send + Sync + Clone + 'static,
{
    for n in [1, 2] {
        let f = f.clone();
        ferrogo::Runtime::builder()
            .max_procs(n)
            .build()
            .unwrap()
            .run(f);
    }
}

/// Generous bound for "this should be quick" assertions on a loaded 2-core VM.
pub const SLACK: Duration = Duration::from_secs(10);

/// Panics if `f` takes longer than `SLACK`.
pub fn within_slack<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    assert!(start.elapsed() < SLACK, "{what} took {:?}", start.elapsed());
    v
}

/// Gives other goroutines a chance to run and block (a few yields and a short sleep).
pub fn settle() {
    for _ in 0..10 {
        ferrogo::yield_now();
    }
    // Parks the goroutine (not the worker) for a moment: a nil-channel timeout.
    let _ = ferrogo::never::<()>().recv_timeout(Duration::from_millis(5));
}

/// A value that counts its drops in a shared counter.
#[derive(Debug)]
pub struct DropCounter {
    pub id: usize,
    pub drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
