//! `blocking(f)`: run a call that blocks its OS thread (file I/O, DNS, a
//! C library) on a separate pool thread while the goroutine parks, so the
//! worker keeps running other goroutines.
//!
//! The pool grows on demand (a job never waits for a busy thread) and a
//! thread idle for [`KEEP_ALIVE`] exits. Jobs in flight are counted so the
//! deadlock detector never reports while one may still wake a goroutine.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::park::{self, WaitReason, Waiter};
use super::{threads, worker};

/// How long an idle pool thread waits for a job before exiting.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Jobs submitted and not yet finished.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool's queue and its idle-thread count, under one lock.
struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            idle: 0,
        }),
        cv: Condvar::new(),
    })
}

/// Jobs in flight (for the deadlock detector).
pub(crate) fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

fn submit(job: Job) {
    let p = pool();
    let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
    st.jobs.push_back(job);
    if st.idle > 0 {
        drop(st);
        p.cv.notify_one();
        return;
    }
    drop(st);
    let spawned = std::thread::Builder::new()
        .name("ferrogo-blocking".into())
        .spawn(pool_thread);
    if let Err(e) = spawned {
        crate::debug::report::fatal(&format!("cannot start a blocking-pool thread: {e}"));
    }
}

fn pool_thread() {
    let _internal = threads::internal();
    let p = pool();
    let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            job();
            st = p.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        st.idle += 1;
        let (next, timeout) =
            p.cv.wait_timeout(st, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
        st = next;
        st.idle -= 1;
        if timeout.timed_out() && st.jobs.is_empty() {
            return;
        }
    }
}

/// Runs `f`, which may block its OS thread, without stalling the worker.
///
/// From a goroutine, `f` runs on a pool thread while the goroutine parks
/// (wait reason "blocking call"); other goroutines keep running on the
/// worker. From a plain thread, `f` simply runs on the calling thread.
/// A panic in `f` is resumed in the caller.
///
/// ```
/// let text = ferrogo::go(|| {
///     ferrogo::blocking(|| std::fs::read_to_string("Cargo.toml").unwrap())
/// }).join().unwrap();
/// assert!(text.contains("ferrogo"));
/// ```
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if worker::current_g().is_none() {
        return f();
    }
    struct Slot<T> {
        done: AtomicBool,
        value: Mutex<Option<std::thread::Result<T>>>,
    }
    let slot = Arc::new(Slot {
        done: AtomicBool::new(false),
        value: Mutex::new(None),
    });
    let s2 = slot.clone();
    let waiter = Waiter::current();
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    submit(Box::new(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        *s2.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        s2.done.store(true, Ordering::Release);
        waiter.wake();
    }));
    while !slot.done.load(Ordering::Acquire) {
        park::park(WaitReason::Blocking);
    }
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    let r = slot.value.lock().unwrap_or_else(|e| e.into_inner()).take();
    match r.expect("blocking job stored its result") {
        Ok(v) => v,
        Err(p) => resume_unwind(p),
    }
}
