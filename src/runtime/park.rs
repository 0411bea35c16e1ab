//! Park/ready: the one primitive everything that blocks is built on.
//!
//! A blocking operation (channel, select, lock, join, sleep, ...) records
//! itself somewhere a waker will find it (a [`Waiter`]), checks its condition,
//! and calls [`park`]. Whoever makes the condition true calls
//! [`Waiter::wake`]. The same two calls work for a goroutine (which switches
//! back to its worker, leaving the OS thread free) and for a plain OS thread
//! (which really sleeps, on a futex via `std::thread::park`).
//!
//! # Semantics (token, like `std::thread::park`)
//!
//! `park` returns after a `wake` aimed at the caller has happened since the
//! previous `park` returned. A wake that comes *before* the park makes the
//! park return at once; several wakes collapse into one; spurious returns are
//! allowed. Callers therefore always loop on their own condition.
//!
//! # The goroutine protocol
//!
//! `G::state` is `RUNNING`, `NOTIFIED` or `PARKED`.
//!
//! ```text
//!  goroutine park():                    wake(g), any thread:
//!   NOTIFIED→RUNNING? return at once     RUNNING  → NOTIFIED   (park will see it)
//!   else switch to the worker;           NOTIFIED → (nothing)
//!   the worker, off the goroutine's      PARKED   → RUNNING, then queue g on its
//!   stack, does RUNNING→PARKED:                     home worker (inbox or runnext;
//!                                                   with migration: the waker's
//!                                                   worker or the injector)
//!     ok:  parked, run something else
//!     NOTIFIED: a wake raced in; set
//!          RUNNING and run it again
//! ```
//!
//! The `RUNNING→PARKED` transition happens only after the goroutine's context
//! is saved (the worker does it after `resume` returned), so a waker that sees
//! `PARKED` may queue the goroutine right away: nobody can resume a coroutine
//! that is still running. Exactly one waker wins `PARKED→RUNNING`, so a parked
//! goroutine is queued at most once. Orderings: the waker's successful CAS is
//! `AcqRel` and the parking CAS is `AcqRel`, so everything the goroutine wrote
//! before parking is visible to the waker's side and everything the waker
//! wrote before waking (the value it handed over) is visible to the goroutine
//! when it runs again (also through the run-queue hand-off).
//!
//! # Who owns a parked goroutine's reference
//!
//! A goroutine that runs is held by its worker through a `GRef`, and a
//! queued one by its queue. When the parking CAS succeeds the worker does not
//! drop its reference: it forgets it, and the `PARKED` state owns it. The
//! one waker that wins `PARKED→RUNNING` adopts that reference and queues the
//! goroutine with it. So a wake by a waker that holds no reference of its own
//! costs no reference-count operation, where it used to cost two (the
//! waker's increment, the worker's decrement after the next park): unbuf
//! 190 → 170 ns per round trip, ring 84 → 66 ns per hop, sieve 2.27 → 2.06 s
//! (interleaved runs, BENCHMARKS.md). A waker that does hold one
//! (a timer entry, a sync primitive's `Waiter`) queues the goroutine with
//! its own and drops the adopted one: the same two operations as before.
//! Shutdown adopts the reference of every goroutine still parked.
//!
//! A waker may go without a reference only while the goroutine cannot finish
//! under it: [`Waiter::Local`] names a goroutine homed on the waking thread,
//! in a runtime without migration, by a waker that does not switch before
//! the wake. That goroutine is not executing (the thread executes the
//! waker), so it has switched out since it last ran, is entered in its
//! worker's registry (which holds a reference until it finishes), and cannot
//! finish before the thread runs it again.
//!
//! With migration the worker that resumes the goroutine may not be the one
//! that parked it. That is the same chain: the parking worker's last touch
//! of the coroutine precedes its `RUNNING→PARKED` release, the waker's
//! acquire CAS follows it, and the waker hands the goroutine to the next
//! worker through a run queue (release push, acquire pop).

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::g::{GRef, NOTIFIED, PARKED, RUNNING, Switch};
use super::record::Header;
use super::{scheduler, threads, worker};
use crate::loom::thread::Thread;

/// Why a goroutine (or thread) is parked; printed by deadlock reports and dumps.
///
/// The names follow Go's wait reasons where Go has one.
///
/// ```
/// assert_eq!(ferrogo::WaitReason::ChanRecv.to_string(), "chan receive");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum WaitReason {
    /// Not waiting (a running or runnable goroutine).
    None,
    /// Waiting in `JoinHandle::join`.
    Join,
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanRecv,
    /// Blocked in `select!`/`Select` with at least one case.
    Select,
    /// Blocked in a `select!` with no cases that can ever become ready.
    SelectNoCases,
    /// Receiving from or sending to a nil (`never()`) channel.
    ChanNil,
    /// Sleeping.
    Sleep,
    /// Waiting for a `sync::Mutex`.
    SyncMutex,
    /// Waiting for a `sync::RwMutex` read lock.
    SyncRwRead,
    /// Waiting for a `sync::RwMutex` write lock.
    SyncRwWrite,
    /// Waiting in `WaitGroup::wait`.
    SyncWaitGroup,
    /// Waiting in `Cond::wait`.
    SyncCond,
    /// Waiting for another caller's `Once` initialiser.
    SyncOnce,
    /// Waiting to acquire a `Semaphore`.
    Semaphore,
    /// Waiting for a `blocking(..)` call to finish on the blocking pool.
    Blocking,
    /// Waiting for a socket to become ready.
    IoWait,
}

impl WaitReason {
    const ALL: [WaitReason; 17] = [
        WaitReason::None,
        WaitReason::Join,
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::ChanNil,
        WaitReason::Sleep,
        WaitReason::SyncMutex,
        WaitReason::SyncRwRead,
        WaitReason::SyncRwWrite,
        WaitReason::SyncWaitGroup,
        WaitReason::SyncCond,
        WaitReason::SyncOnce,
        WaitReason::Semaphore,
        WaitReason::Blocking,
        WaitReason::IoWait,
    ];

    /// Decodes the value stored in a goroutine record.
    pub(crate) fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::None)
    }

    /// Go's wording for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "running",
            WaitReason::Join => "join",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::ChanNil => "chan receive (nil chan)",
            WaitReason::Sleep => "sleep",
            WaitReason::SyncMutex => "sync.Mutex.Lock",
            WaitReason::SyncRwRead => "sync.RWMutex.RLock",
            WaitReason::SyncRwWrite => "sync.RWMutex.Lock",
            WaitReason::SyncWaitGroup => "sync.WaitGroup.Wait",
            WaitReason::SyncCond => "sync.Cond.Wait",
            WaitReason::SyncOnce => "sync.Once.Do",
            WaitReason::Semaphore => "semacquire",
            WaitReason::Blocking => "blocking call",
            WaitReason::IoWait => "IO wait",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handle that wakes one parked execution context (goroutine or OS thread).
#[derive(Clone)]
pub(crate) enum Waiter {
    /// A goroutine.
    G(GRef),
    /// A goroutine homed on the thread that holds this handle, in a runtime
    /// without migration, named without a reference (module docs, "Who
    /// owns a parked goroutine's reference"). Only [`Waiter::local`] makes
    /// one, and it must be woken before that thread switches to anything
    /// else; it is never stored.
    Local(LocalG),
    /// A plain OS thread. (No pseudo id, unlike [`WaiterRef::Thread`]: a
    /// `Waiter` sits in every goroutine's result slot, so it stays two words.)
    Thread(Thread),
}

/// The record of a goroutine named by [`Waiter::Local`] (no reference).
#[derive(Clone, Copy)]
pub(crate) struct LocalG(NonNull<Header>);

// SAFETY: the record is shared between threads anyway (`GRef` is `Send` and
// `Sync`); what a `LocalG` adds is only a liveness condition, which
// `Waiter::local`'s contract states: it is woken on the thread that made it,
// before that thread switches.
unsafe impl Send for LocalG {}
// SAFETY: as for `Send`.
unsafe impl Sync for LocalG {}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waiter::G(g) => write!(f, "Waiter(goroutine {})", g.id()),
            // SAFETY: alive while the handle exists (see `Waiter::Local`).
            Waiter::Local(p) => write!(f, "Waiter(goroutine {})", unsafe { p.0.as_ref() }.g.id()),
            Waiter::Thread(t) => write!(f, "Waiter(thread {:?})", t.id()),
        }
    }
}

impl Waiter {
    /// The calling goroutine, or the calling OS thread outside goroutines.
    pub(crate) fn current() -> Waiter {
        match worker::current_gref() {
            Some(g) => Waiter::G(g),
            None => Waiter::Thread(crate::loom::thread::current()),
        }
    }

    /// A handle on the goroutine whose record is `g`, for a waker about to
    /// complete its blocked operation: [`Waiter::Local`] when this thread is
    /// its home worker in a runtime without migration, else an owning one.
    ///
    /// # Safety
    ///
    /// `g` is alive now (its owner is blocked in the operation the caller
    /// completes), and the caller wakes the handle before this thread
    /// switches to another goroutine.
    #[inline]
    pub(crate) unsafe fn local(g: NonNull<Header>) -> Waiter {
        // SAFETY: alive per the fn contract.
        if worker::is_home_without_migration(unsafe { &g.as_ref().g }) {
            Waiter::Local(LocalG(g))
        } else {
            // SAFETY: alive per the fn contract; we take a reference.
            Waiter::G(unsafe { GRef::clone_raw(g) })
        }
    }

    /// Wakes the context if it is parked, or makes its next park return at
    /// once. Consumes the handle: a goroutine's reference moves into its run
    /// queue instead of being cloned (two atomic operations fewer per wake).
    pub(crate) fn wake(self) {
        match self {
            Waiter::G(g) => wake_g(g),
            // SAFETY: the goroutine cannot finish before this thread runs it
            // again (module docs), and this is the wake `Waiter::local` asked for.
            Waiter::Local(p) => unsafe { wake_local(p.0) },
            Waiter::Thread(t) => t.unpark(),
        }
    }
}

/// A non-owning name for the calling goroutine or thread, for blocking
/// operations that record it somewhere a waker finds it *while the caller
/// stays blocked in that operation* (channel contexts). Creating one costs no
/// atomic operation for a goroutine; [`WaiterRef::to_waiter`] takes the
/// reference when a waker actually needs it.
pub(crate) enum WaiterRef {
    /// A goroutine's record.
    G(NonNull<Header>),
    /// A plain OS thread, with its pseudo id.
    Thread(Thread, u64),
}

impl WaiterRef {
    /// The calling goroutine, or the calling OS thread outside goroutines.
    pub(crate) fn current() -> WaiterRef {
        match worker::current_gref_ptr() {
            Some(p) => WaiterRef::G(p),
            None => WaiterRef::Thread(crate::loom::thread::current(), threads::thread_pseudo_id()),
        }
    }

    /// An owning handle to wake the named context.
    ///
    /// # Safety
    ///
    /// The named goroutine must still be alive: its owner has not returned
    /// from the blocking operation this `WaiterRef` was created for (for a
    /// channel: the caller holds the claim on the owner's context, so the
    /// owner waits for it).
    pub(crate) unsafe fn to_waiter(&self) -> Waiter {
        match self {
            WaiterRef::G(p) => {
                // SAFETY: per the fn contract the record is alive; we take
                // one more reference.
                Waiter::G(unsafe { GRef::clone_raw(*p) })
            }
            WaiterRef::Thread(t, _) => Waiter::Thread(t.clone()),
        }
    }

    /// The goroutine's record (`None` for a thread), without a reference.
    pub(crate) fn record(&self) -> Option<NonNull<Header>> {
        match self {
            WaiterRef::G(p) => Some(*p),
            WaiterRef::Thread(..) => None,
        }
    }

    /// The goroutine's id, or the thread's pseudo id (the numbering of
    /// [`current_id`]).
    pub(crate) fn id(&self) -> u64 {
        match self {
            // SAFETY: only called by the owner or under the same liveness
            // guarantee as `to_waiter` (debug checks).
            WaiterRef::G(p) => unsafe { p.as_ref().g.id() },
            WaiterRef::Thread(_, id) => *id,
        }
    }
}

/// The id of the calling context: its goroutine id, or outside goroutines
/// the thread's pseudo id (ids from 2^62 up, never a goroutine's).
pub(crate) fn current_id() -> u64 {
    match worker::current_g_id() {
        Some(id) => id,
        None => threads::thread_pseudo_id(),
    }
}

/// Moves `g` to the next state a wake asks for; true if this wake won
/// `PARKED→RUNNING` (and so must queue it, exactly once, with the reference
/// the `PARKED` state owned).
#[inline]
fn transition_wake(g: &super::g::G) -> bool {
    let mut state = g.state.load(Ordering::Acquire);
    loop {
        let next = match state {
            RUNNING => NOTIFIED,
            PARKED => RUNNING,
            _ => return false, // NOTIFIED already: wakes collapse
        };
        match g
            .state
            .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return state == PARKED,
            Err(s) => state = s,
        }
    }
}

/// Wakes goroutine `g` (see the protocol in the module comment).
pub(crate) fn wake_g(g: GRef) {
    if transition_wake(&g) {
        // SAFETY: we won PARKED→RUNNING, so the reference the parking worker
        // forgot is ours; we queue `g` with our own and release that one.
        let parked = unsafe { GRef::adopt(GRef::as_raw(&g)) };
        scheduler::ready_started(g);
        drop(parked);
    }
}

/// Wakes the goroutine whose record is `p` without holding a reference.
///
/// # Safety
///
/// The goroutine is alive until this returns: it is homed on this thread,
/// which does not switch to it before this returns (see [`Waiter::Local`]).
unsafe fn wake_local(p: NonNull<Header>) {
    // SAFETY: alive per the fn contract.
    if transition_wake(unsafe { &p.as_ref().g }) {
        // SAFETY: we won PARKED→RUNNING: the parked reference is ours.
        scheduler::ready_started(unsafe { GRef::adopt(p) });
    }
}

/// Parks the caller until woken (or spuriously); records `reason`.
#[inline]
pub(crate) fn park(reason: super::WaitReason) {
    match worker::current_g() {
        Some(g) => {
            // SAFETY: `g` is the goroutine running this code on its own stack.
            unsafe { park_g(g, reason) }
        }
        None => threads::park_thread(reason, None),
    }
}

/// Parks the caller until woken, spuriously, or `deadline` has passed (the
/// caller re-checks the clock).
pub(crate) fn park_until(reason: WaitReason, deadline: Instant) {
    match worker::current_g() {
        Some(g) => {
            if deadline <= Instant::now() {
                return;
            }
            worker::arm_timer(deadline, g);
            // SAFETY: as in `park`.
            unsafe { park_g(g, reason) }
        }
        None => threads::park_thread(reason, Some(deadline)),
    }
}

/// Goroutine side of the protocol.
///
/// # Safety
///
/// `g` must be the goroutine calling this, on its own stack.
#[inline(always)]
unsafe fn park_g(g: &super::g::G, reason: WaitReason) {
    // A plain load first: in the common case (no wake pending) the park
    // costs no locked instruction here.
    let notified = g.state.load(Ordering::Relaxed) == NOTIFIED
        && g.state
            .compare_exchange(NOTIFIED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
    if !notified {
        g.set_wait_reason(reason);
        // SAFETY: per the fn contract we run on g's own stack.
        unsafe { g.switch_out(Switch::Park) };
        g.set_wait_reason(WaitReason::None);
    }
    // Only this goroutine writes `park_gen`: a plain load and store suffice.
    g.park_gen.store(
        g.park_gen.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}
