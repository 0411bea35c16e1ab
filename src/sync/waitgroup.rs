//! `WaitGroup`: wait for a collection of goroutines to finish.
//!
//! # Design (after Go's `sync/waitgroup.go`; our own code)
//!
//! One 64-bit word: the counter in the high 32 bits (signed), the number of
//! parked waiters in the low 32 bits, plus a [`Sema`] the waiters park on.
//!
//! * `add(d)`: add `d << 32`. A negative counter panics ("sync: negative
//!   WaitGroup counter", Go's message). When the counter reaches zero with
//!   waiters registered, the adder resets the whole word to 0 *before*
//!   releasing the sema once per waiter — so the group is immediately reusable
//!   as a barrier for the next round.
//! * `wait()`: if the counter is 0 return; else CAS the waiter count up and
//!   park on the sema. Registering and the counter share one word, so a
//!   waiter can never register after the counter reached zero unnoticed.
//!
//! Go's misuse checks are kept: `add` racing a `wait` while the counter is 0
//! with waiters present, and reuse before the previous `wait`s returned,
//! panic with Go's messages.
//!
//! Handle choice: `WaitGroup` is a plain value shared through `Arc` (or a
//! `static`, or a borrow in scoped code), like Go's `*WaitGroup`. It is not
//! `Clone`: in crossbeam a clone *is* an `add(1)`, and a clone that silently
//! shares the counter would surprise either camp.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::sema::Sema;
use crate::runtime::WaitReason;

/// Waits for a collection of goroutines (or threads) to finish.
///
/// The caller calls [`add`](WaitGroup::add) with the number of tasks, each
/// task calls [`done`](WaitGroup::done) when finished, and
/// [`wait`](WaitGroup::wait) parks until the counter is zero. Once the
/// counter is back to zero and every `wait` returned, the group can be used
/// again (a reusable barrier).
///
/// Share it through an `Arc` (it is not `Clone`; see the module docs).
///
/// # Panics
///
/// `add`/`done` panic with `"sync: negative WaitGroup counter"` if the
/// counter would go below zero, like Go.
///
/// ```
/// use std::sync::Arc;
/// use ferrogo::sync::WaitGroup;
///
/// let wg = Arc::new(WaitGroup::new());
/// for _ in 0..10 {
///     wg.add(1);
///     let wg = wg.clone();
///     ferrogo::go(move || {
///         // ... work ...
///         wg.done();
///     });
/// }
/// wg.wait();
/// ```
pub struct WaitGroup {
    /// Counter (high 32 bits, signed) and waiter count (low 32 bits).
    state: AtomicU64,
    /// Waiters park here; released once per waiter when the counter hits 0.
    sema: Sema,
}

impl WaitGroup {
    /// A group with counter zero (usable in a `static`).
    ///
    /// ```
    /// let wg = ferrogo::sync::WaitGroup::new();
    /// wg.wait(); // counter is zero: returns at once
    /// ```
    pub const fn new() -> Self {
        WaitGroup {
            state: AtomicU64::new(0),
            sema: Sema::new(),
        }
    }

    /// Adds `delta` (which may be negative) to the counter; at zero, every
    /// waiter is released.
    ///
    /// Call `add` with a positive delta *before* starting the goroutine (or
    /// other event) to wait for, as in Go.
    ///
    /// # Panics
    ///
    /// `"sync: negative WaitGroup counter"` if the counter goes below zero;
    /// `"sync: WaitGroup misuse: Add called concurrently with Wait"` when an
    /// `add` from zero races with waiters.
    ///
    /// ```
    /// let wg = ferrogo::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-2);
    /// wg.wait();
    /// ```
    pub fn add(&self, delta: i64) {
        let Ok(d) = i32::try_from(delta) else {
            panic!("sync: WaitGroup delta {delta} out of range");
        };
        // SeqCst: the counter and the waiters are one word read by `wait`'s
        // CAS; this RMW also publishes the task's writes to the waiter that
        // observes the counter reach zero (Release half) and orders them.
        let shifted = ((d as i64) << 32) as u64;
        let state = self
            .state
            .fetch_add(shifted, Ordering::SeqCst)
            .wrapping_add(shifted);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if w != 0 && d > 0 && v == d {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // Counter is 0 and there are waiters. Nobody may change the state
        // now: adds from zero would be the misuse above, and waiters do not
        // register at counter 0. Reset it, then release each waiter.
        if self.state.load(Ordering::SeqCst) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        self.state.store(0, Ordering::SeqCst);
        for _ in 0..w {
            self.sema.release(false);
        }
    }

    /// Decrements the counter by one (`add(-1)`).
    ///
    /// # Panics
    ///
    /// `"sync: negative WaitGroup counter"` if the counter was zero.
    ///
    /// ```
    /// let wg = ferrogo::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// let r = std::panic::catch_unwind(|| wg.done());
    /// assert!(r.is_err());
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks the goroutine (or thread) until the counter is zero.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let wg = Arc::new(ferrogo::sync::WaitGroup::new());
    /// wg.add(1);
    /// let wg2 = wg.clone();
    /// ferrogo::go(move || wg2.done());
    /// wg.wait();
    /// ```
    pub fn wait(&self) {
        crate::runtime::checkpoint();
        let mut state = self.state.load(Ordering::SeqCst);
        loop {
            if state >> 32 == 0 {
                return; // counter is zero
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    self.sema.acquire(false, WaitReason::SyncWaitGroup);
                    if self.state.load(Ordering::SeqCst) != 0 {
                        panic!("sync: WaitGroup is reused before previous Wait has returned");
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// The current counter (a snapshot, for diagnostics).
    ///
    /// ```
    /// let wg = ferrogo::sync::WaitGroup::new();
    /// wg.add(3);
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn count(&self) -> i64 {
        (self.state.load(Ordering::SeqCst) >> 32) as i32 as i64
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}
