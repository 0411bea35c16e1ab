//! `JoinHandle`: the result slot a goroutine fills and its spawner waits on.
//!
//! # Protocol (`Packet::state`)
//!
//! ```text
//!   EMPTY ──joiner registers its Waiter──► WAITING ──goroutine finishes──► DONE (+ wake)
//!     │                                                                     ▲
//!     ├──goroutine finishes──────────────────────────────────────────────► DONE
//!     └──handle dropped─► DETACHED ──goroutine finishes──► (a panic is reported)
//! ```
//!
//! The goroutine writes `result` and then swaps in `DONE` (release); the
//! joiner reads `result` only after observing `DONE` (acquire). The joiner
//! writes `waiter` before its `EMPTY→WAITING` CAS (release); the goroutine
//! reads it only after its swap returned `WAITING` (acquire).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

use super::g::{GRef, Goroutine};
use super::park::{self, WaitReason, Waiter};

const EMPTY: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;
const DETACHED: u8 = 3;

/// The result slot shared by a goroutine and its `JoinHandle`.
pub(crate) struct Packet<T> {
    /// EMPTY, WAITING, DONE or DETACHED (see the module comment).
    state: AtomicU8,
    /// The goroutine's outcome; written once by the goroutine before DONE.
    result: UnsafeCell<Option<thread::Result<T>>>,
    /// The joiner to wake; written by the joiner before WAITING.
    waiter: UnsafeCell<Option<Waiter>>,
}

// SAFETY: `result` and `waiter` are each written by one side and read by the
// other only after the release/acquire hand-off on `state` described above.
unsafe impl<T: Send> Send for Packet<T> {}
// SAFETY: as for Send.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    /// An empty slot.
    pub(crate) fn new() -> Packet<T> {
        Packet {
            state: AtomicU8::new(EMPTY),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Stores the goroutine's outcome and wakes the joiner. Called once, by
    /// the goroutine, as its last act. `who` names it for the report of a
    /// panic nobody will join.
    pub(crate) fn complete(&self, result: thread::Result<T>, who: impl FnOnce() -> Goroutine) {
        // SAFETY: only the goroutine writes `result`, once, before DONE; the
        // joiner does not read it before observing DONE.
        unsafe { *self.result.get() = Some(result) };
        match self.state.swap(DONE, Ordering::AcqRel) {
            WAITING => {
                // SAFETY: the joiner wrote `waiter` before its release CAS to
                // WAITING, which our acquire swap observed; it no longer
                // touches it.
                let w = unsafe { (*self.waiter.get()).take() };
                if let Some(w) = w {
                    w.wake();
                }
            }
            DETACHED => {
                // Nobody will ever join. Report a panic like std threads do,
                // and drop the outcome here, on the goroutine's own stack:
                // left in the record it would be dropped by whoever drops
                // the last reference, possibly the worker loop, which a
                // panicking `Drop` would take down.
                // SAFETY: DONE is ours; the handle is gone, nobody else reads.
                let result = unsafe { (*self.result.get()).take() };
                let who = who();
                if let Some(Err(payload)) = &result {
                    crate::debug::report::unjoined_panic(&who, payload.as_ref());
                }
                if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(result))) {
                    crate::debug::report::unjoined_panic(&who, payload.as_ref());
                    // Its own `Drop` could panic again, out of the worker's
                    // frame: leak it (std aborts in the same spot).
                    std::mem::forget(payload);
                }
            }
            _ => {}
        }
    }
}

/// An owned permission to join a goroutine (wait for it and take its result).
///
/// Dropping the handle detaches the goroutine: it keeps running, and if it
/// panics the panic is reported on stderr with its id and name.
///
/// ```
/// let h = ferrogo::go(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    /// The goroutine's record (a `Record<_, T>`: its packet holds a `T`).
    g: GRef,
    /// The handle hands out a `T` (by value, from `join`). `fn() -> T`
    /// keeps the handle `Send` and `Sync` like `std::thread::JoinHandle`;
    /// every handle is made by a spawn, which requires `T: Send`.
    _result: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// The handle of a goroutine whose record `g` was made by
    /// `record::new::<_, T>`.
    ///
    /// # Safety
    ///
    /// `g`'s record has result type `T`.
    pub(crate) unsafe fn new(g: GRef) -> JoinHandle<T> {
        JoinHandle {
            g,
            _result: PhantomData,
        }
    }

    #[inline]
    fn packet(&self) -> &Packet<T> {
        // SAFETY: the record has result type `T` (`new`'s contract).
        unsafe { self.g.packet::<T>() }
    }

    /// Waits for the goroutine to finish and returns its value, or `Err`
    /// with the panic payload if it panicked. Works from goroutines (which
    /// park, leaving the worker free) and from plain threads (which sleep).
    ///
    /// ```
    /// let h = ferrogo::go(|| panic!("boom"));
    /// let err = h.join().unwrap_err();
    /// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn join(self) -> thread::Result<T> {
        let p = self.packet();
        if p.state.load(Ordering::Acquire) != DONE {
            // SAFETY: only the joiner writes `waiter`, and only before
            // publishing WAITING; the goroutine reads it after WAITING.
            unsafe { *p.waiter.get() = Some(Waiter::current()) };
            let _ = p
                .state
                .compare_exchange(EMPTY, WAITING, Ordering::AcqRel, Ordering::Acquire);
            while p.state.load(Ordering::Acquire) != DONE {
                park::park(WaitReason::Join);
            }
        }
        // SAFETY: DONE observed with acquire: the goroutine's write of
        // `result` is visible and it no longer touches it.
        let result = unsafe { (*p.result.get()).take() };
        result.expect("ferrogo: joined goroutine left no result")
    }

    /// True once the goroutine has finished (`join` will not block).
    ///
    /// ```
    /// let h = ferrogo::go(|| ());
    /// while !h.is_finished() { ferrogo::yield_now(); }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet().state.load(Ordering::Acquire) == DONE
    }

    /// The identity of the goroutine this handle joins.
    ///
    /// ```
    /// let h = ferrogo::Builder::new().name("fetch").spawn(|| ()).unwrap();
    /// assert_eq!(h.goroutine().name(), Some("fetch"));
    /// h.join().unwrap();
    /// ```
    pub fn goroutine(&self) -> &Goroutine {
        self.g.identity_ref()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let p = self.packet();
        if p.state
            .compare_exchange(EMPTY, DETACHED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        if p.state.load(Ordering::Acquire) == DONE {
            // Finished but never joined. The outcome is dropped here, on the
            // dropping thread, like any value it drops (a panicking `Drop`
            // propagates to it), never on a worker that happens to drop the
            // record's last reference.
            // SAFETY: DONE observed; the goroutine no longer touches `result`.
            let result = unsafe { (*p.result.get()).take() };
            if let Some(Err(payload)) = &result {
                // A panic nobody will see otherwise.
                crate::debug::report::unjoined_panic(self.goroutine(), payload.as_ref());
            }
            drop(result);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", self.goroutine())
            .finish_non_exhaustive()
    }
}
