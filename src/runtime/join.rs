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
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::g::{G, GBox, Goroutine, Tail};
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
                // Nobody will ever join: report a panic like std threads do.
                // SAFETY: DONE is ours; the handle is gone, nobody else reads.
                if let Some(Err(payload)) = unsafe { (*self.result.get()).as_ref() } {
                    crate::debug::report::unjoined_panic(&who(), payload.as_ref());
                }
            }
            _ => {}
        }
    }
}

/// The typed tail of a goroutine's allocation: its body until it runs, and
/// the result slot.
pub(crate) struct Task<F, T> {
    /// The body; taken by the one `run`. Touched only by the worker starting
    /// the goroutine, on its stack.
    body: UnsafeCell<Option<F>>,
    /// The result slot the `JoinHandle` reads.
    packet: Packet<T>,
}

// SAFETY: `body` is taken once by the goroutine itself (`Tail::run`); `F:
// Send` lets it move to whichever worker starts it. `packet` is Sync by its
// own protocol.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Task<F, T> {
    pub(crate) fn new(body: F) -> Task<F, T> {
        Task {
            body: UnsafeCell::new(Some(body)),
            packet: Packet::new(),
        }
    }
}

impl<F, T> Tail for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, g: &G) {
        // SAFETY: `run` is called once, by the goroutine on its own stack;
        // nobody else touches `body`.
        let body = unsafe { (*self.body.get()).take() }.expect("goroutine body runs once");
        let result = catch_unwind(AssertUnwindSafe(body));
        if let Err(payload) = result {
            if g.unwinding.get() {
                // The runtime unwinds this goroutine at shutdown: let it through.
                resume_unwind(payload);
            }
            self.packet.complete(Err(payload), || g.identity());
        } else {
            self.packet.complete(result, || g.identity());
        }
    }
}

/// What a `JoinHandle<T>` sees of a goroutine's tail.
pub(crate) trait JoinTail<T>: Send + Sync {
    fn packet(&self) -> &Packet<T>;
}

impl<F: Send, T: Send> JoinTail<T> for Task<F, T> {
    fn packet(&self) -> &Packet<T> {
        &self.packet
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
    /// The goroutine's allocation, seen through its result slot.
    task: Arc<GBox<dyn JoinTail<T>>>,
    /// Who it joins.
    goroutine: Goroutine,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Arc<GBox<dyn JoinTail<T>>>, goroutine: Goroutine) -> JoinHandle<T> {
        JoinHandle { task, goroutine }
    }

    fn packet(&self) -> &Packet<T> {
        self.task.tail.packet()
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
        &self.goroutine
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
            // Finished but never joined: report a panic nobody will see otherwise.
            // SAFETY: DONE observed; the goroutine no longer touches `result`.
            if let Some(Err(payload)) = unsafe { (*p.result.get()).as_ref() } {
                crate::debug::report::unjoined_panic(&self.goroutine, payload.as_ref());
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", &self.goroutine)
            .finish_non_exhaustive()
    }
}
