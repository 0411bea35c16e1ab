//! `Once`: run an initialiser exactly once, successfully.
//!
//! # Design
//!
//! Go's `sync.Once` shape: an atomic `done` flag for the fast path (one
//! `Acquire` load) and a [`RawMutex`] that serialises the slow path, so
//! concurrent callers park (wait reason `sync.Once.Do`) until the first
//! caller's initialiser returned.
//!
//! **Panics differ from Go on purpose.** Go marks the `Once` done even when
//! `f` panics (its `defer` sets the flag), so later calls silently skip an
//! initialisation that never completed. Here a panicking initialiser leaves
//! the `Once` *not* done: the panic propagates to that caller, the lock is
//! released by unwinding, and the next caller (or a waiting one) runs its
//! own initialiser. In Rust a panic usually means the value was never
//! built, so "done" would hand later callers uninitialised state; std's
//! `Once` poisons instead, which would make every later call panic — we
//! prefer a retry, since ferrogo's locks do not poison either.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::mutex::RawMutex;
use crate::runtime::WaitReason;

/// Runs an initialiser exactly once (Go's `sync.Once`).
///
/// Concurrent callers park until the running initialiser finishes. If the
/// initialiser panics, the `Once` is **not** marked done and the panic
/// propagates; a later call runs its initialiser again (see the module docs
/// for why this differs from Go).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use ferrogo::sync::Once;
///
/// static INIT: Once = Once::new();
/// static CALLS: AtomicU32 = AtomicU32::new(0);
///
/// let hs: Vec<_> = (0..8)
///     .map(|_| ferrogo::go(|| INIT.call_once(|| { CALLS.fetch_add(1, Ordering::SeqCst); })))
///     .collect();
/// for h in hs { h.join().unwrap(); }
/// assert_eq!(CALLS.load(Ordering::SeqCst), 1);
/// ```
pub struct Once {
    /// Set (Release) after an initialiser returned normally; read Acquire on
    /// the fast path, so its effects are visible to every later caller.
    done: AtomicBool,
    /// Held by the caller running the initialiser; others park on it.
    m: RawMutex,
}

/// Unlocks the `Once`'s mutex even if the initialiser unwinds.
struct Unlock<'a>(&'a RawMutex);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl Once {
    /// A `Once` that has not run (usable in a `static`).
    ///
    /// ```
    /// let once = ferrogo::sync::Once::new();
    /// assert!(!once.is_completed());
    /// ```
    pub const fn new() -> Self {
        Once {
            done: AtomicBool::new(false),
            m: RawMutex::new(),
        }
    }

    /// Runs `f` if no initialiser has completed yet; otherwise returns at
    /// once. When this returns normally, an initialiser has completed and
    /// its effects are visible.
    ///
    /// ```
    /// let once = ferrogo::sync::Once::new();
    /// let mut n = 0;
    /// once.call_once(|| n += 1);
    /// once.call_once(|| n += 1);
    /// assert_eq!(n, 1);
    /// ```
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        self.call_slow(f);
    }

    #[cold]
    fn call_slow<F: FnOnce()>(&self, f: F) {
        self.m.lock(WaitReason::SyncOnce);
        let _unlock = Unlock(&self.m);
        if !self.done.load(Ordering::Relaxed) {
            f();
            // Release: pairs with the Acquire fast-path load.
            self.done.store(true, Ordering::Release);
        }
    }

    /// True once an initialiser has completed.
    ///
    /// ```
    /// let once = ferrogo::sync::Once::new();
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish_non_exhaustive()
    }
}
