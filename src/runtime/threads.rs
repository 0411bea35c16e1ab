//! Plain OS threads as first-class waiters, and the thread accounting the
//! deadlock detector relies on.
//!
//! Every blocking primitive works from a plain thread too: the thread parks
//! with `std::thread::park` (a futex on Linux) instead of switching. While it
//! is parked in ferrogo it is counted in [`PARKED`], and every return from such
//! a park bumps [`EPOCH`].
//!
//! The deadlock detector must never report while some thread outside the
//! runtime is running (it may hold a channel and wake a goroutine). It cannot
//! see which threads hold what, so it counts: the process's threads
//! (`/proc/self/status`) must all be either ferrogo's own ([`INTERNAL`]:
//! workers, monitors, idle blocking-pool threads) or parked in ferrogo.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use super::park::WaitReason;

/// Threads currently parked inside a ferrogo primitive.
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Bumped each time a thread returns from a ferrogo park.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Threads ferrogo itself created and that are alive.
static INTERNAL: AtomicUsize = AtomicUsize::new(0);

/// The pseudo id of the calling thread (bit 62 set, so it never equals a goroutine id).
pub(crate) fn thread_pseudo_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 62);
    // Under loom every model thread runs on one OS thread: a loom
    // thread-local gives each its own id (NEXT stays a plain counter, outside
    // the model; ids need only be distinct).
    #[cfg(loom)]
    use loom::thread_local;
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// Parks the calling OS thread (token semantics); `deadline` bounds the wait.
pub(crate) fn park_thread(_reason: WaitReason, deadline: Option<Instant>) {
    PARKED.fetch_add(1, Ordering::SeqCst);
    match deadline {
        None => crate::loom::thread::park(),
        // Loom has no timed park and no clock: return at once (a spurious
        // return, which callers allow; they re-check the deadline).
        #[cfg(loom)]
        Some(_) => loom::thread::yield_now(),
        #[cfg(not(loom))]
        Some(d) => {
            let now = Instant::now();
            if d > now {
                std::thread::park_timeout(d - now);
            }
        }
    }
    EPOCH.fetch_add(1, Ordering::SeqCst);
    PARKED.fetch_sub(1, Ordering::SeqCst);
}

/// Marks the calling thread as one of ferrogo's own until the guard drops.
pub(crate) fn internal() -> InternalGuard {
    INTERNAL.fetch_add(1, Ordering::SeqCst);
    InternalGuard(())
}

/// Keeps a thread counted in [`INTERNAL`].
pub(crate) struct InternalGuard(());

impl Drop for InternalGuard {
    fn drop(&mut self) {
        INTERNAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A snapshot of outside activity for the deadlock detector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Outside {
    /// Wake-ups of threads parked in ferrogo so far.
    pub(crate) epoch: u64,
    /// True when every thread of the process is ferrogo's own or parked in ferrogo.
    pub(crate) all_accounted: bool,
}

/// Reads the outside activity now.
pub(crate) fn outside() -> Outside {
    let epoch = EPOCH.load(Ordering::SeqCst);
    let known = INTERNAL.load(Ordering::SeqCst) + PARKED.load(Ordering::SeqCst);
    let total = process_threads();
    Outside {
        epoch,
        all_accounted: total.is_some_and(|t| t <= known),
    }
}

/// Threads of this process, from `/proc/self/status`.
fn process_threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}
