//! The runtime core: goroutines, workers, the scheduler, park/ready.
//!
//! Map of this folder (one concept per file):
//!
//! | file | concept |
//! |---|---|
//! | `g.rs` | the goroutine record, its lifecycle and ownership rules |
//! | `record.rs` | the goroutine's allocation: layout, `GRef` counting, typed body and result |
//! | `gcache.rs` | memory for records: per-thread free lists by size class, a trimmed pool |
//! | `park.rs` | park/ready: the one blocking primitive, `WaitReason` |
//! | `threads.rs` | plain OS threads as waiters; thread accounting |
//! | `scheduler.rs` | shared scheduler state, placement of goroutines |
//! | `worker.rs` | a worker thread: its `Core`, starting, running and finishing goroutines |
//! | `worker/find.rs` | how a worker finds work: pick order, stealing, spinning, sleeping |
//! | `worker/shutdown.rs` | a worker's shutdown: unwinding its goroutines, dropping what is queued |
//! | `idle.rs` | the idle/spinning protocol (loom-checked) |
//! | `timer.rs` | per-worker timer heap for `park_until` |
//! | `sysmon.rs` | the monitor thread: preemption requests, deadlock checks, stack scavenging |
//! | `spill.rs` | new goroutines of a saturated worker start on an idle one |
//! | `join.rs` | `JoinHandle` and its result slot |
//! | `blocking.rs` | `blocking(f)` and its thread pool |
//! | `builder.rs` | `Runtime`, `RuntimeBuilder`, `Builder`, `go`, `run` |

pub(crate) mod blocking;
pub(crate) mod builder;
pub(crate) mod g;
pub(crate) mod gcache;
pub(crate) mod idle;
pub(crate) mod join;
pub(crate) mod park;
pub(crate) mod record;
pub(crate) mod scheduler;
pub(crate) mod spill;
pub(crate) mod sysmon;
pub(crate) mod threads;
pub(crate) mod timer;
pub(crate) mod worker;

pub use park::WaitReason;

/// Lets other goroutines run; the caller continues later (Go's `Gosched`).
///
/// The caller goes behind every goroutine already waiting on its worker,
/// including ones that have not started yet. On a plain thread this is
/// `std::thread::yield_now`.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
/// let flag = Arc::new(AtomicBool::new(false));
/// let f2 = flag.clone();
/// rt.run(move || {
///     ferrogo::go(move || f2.store(true, Ordering::SeqCst));
///     while !flag.load(Ordering::SeqCst) {
///         ferrogo::yield_now(); // lets the new goroutine run, even on one worker
///     }
/// });
/// ```
#[inline]
pub fn yield_now() {
    if !worker::yield_current() {
        std::thread::yield_now();
    }
}

/// A cheap preemption point for long computations: yields if the calling
/// goroutine has used up its 10 ms time slice, else returns at once (a
/// thread-local read and one relaxed load).
///
/// Every ferrogo call that may block is such a point already; call this in
/// loops that make no runtime calls, so other goroutines on the same worker
/// are not starved.
///
/// ```
/// ferrogo::go(|| {
///     let mut x = 0u64;
///     for i in 0..10_000_000u64 {
///         x = x.wrapping_add(i);
///         if i % 1024 == 0 { ferrogo::checkpoint(); }
///     }
///     x
/// }).join().unwrap();
/// ```
#[inline]
pub fn checkpoint() {
    worker::checkpoint();
}

/// The identity of the calling goroutine (id 0 on a plain thread).
///
/// ```
/// let id = ferrogo::go(|| ferrogo::current().id()).join().unwrap();
/// assert!(id > 0);
/// ```
pub fn current() -> g::Goroutine {
    match worker::current_g() {
        Some(g) => g.identity(),
        None => g::Goroutine::of_thread(),
    }
}

/// Goroutines spawned and not yet finished in the caller's runtime (the
/// global runtime when called from a plain thread), like Go's
/// `runtime.NumGoroutine` — the main goroutine of `run` included.
///
/// ```
/// let n = ferrogo::run(|| ferrogo::num_goroutine());
/// assert!(n >= 1);
/// ```
pub fn num_goroutine() -> usize {
    match worker::current_shared() {
        Some(s) => s.live(),
        None => builder::global().num_goroutine(),
    }
}
