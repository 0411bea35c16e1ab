//! The wait queue every blocking `sync` primitive is built on (Go's
//! `runtime/sema.go`, re-thought for park/ready).
//!
//! # What it is
//!
//! [`Sema`] is a counting semaphore of *wake permits* with a FIFO (or, per
//! call, LIFO) queue of parked waiters. `Mutex`, `RwMutex` and `WaitGroup`
//! keep their real state in their own atomic word and use a `Sema` only to
//! sleep and to be woken, exactly like Go's `runtime_SemacquireMutex` /
//! `runtime_Semrelease`. `Cond` and `Semaphore` keep their own queue of
//! [`Node`]s under their own lock and use the same node protocol.
//!
//! A [`Node`] is one parked waiter: its wake handle, a `state`
//! (`WAITING → WOKEN | GRANTED`) and a weight (used by `Semaphore`). It lives
//! in an `Arc` so the waker can still hold it after the waiter returned
//! (a late `wake` is then a harmless spurious wake-up: park has token
//! semantics). One allocation per *blocking* acquire; the uncontended paths
//! never allocate.
//!
//! # Invariants
//!
//! * `count` is the number of wake permits not yet taken; it only changes by
//!   `release` (+1) and a successful `try_acquire` CAS (−1), so it never
//!   underflows.
//! * While `queue`'s lock is free, `nwait == queue.len()`. `nwait` is changed
//!   only under that lock; it is read without the lock only by `release` as a
//!   hint ("anyone to wake?").
//! * A node's `state` leaves `WAITING` only under the queue lock, by the
//!   releaser that popped it, and is re-armed to `WAITING` only under the
//!   lock by its owner before it is pushed again. So a node is in the queue
//!   at most once and each pop is paired with exactly one state store and one
//!   `wake`.
//! * `GRANTED` means the releaser took the permit *on behalf of* the waiter
//!   (Go's `ticket = 1`, the handoff used by the mutex's starvation mode):
//!   the waiter returns without touching `count`.
//!
//! # No lost wake-up
//!
//! The acquirer, holding the queue lock, does `nwait += 1` and then re-reads
//! `count` before it parks. The releaser does `count += 1` and then reads
//! `nwait`. Both re-reads are read-modify-writes (`fetch_add(0)`), not plain
//! loads: an RMW always reads the latest value in the variable's
//! modification order. So either
//!
//! 1. the releaser's RMW on `nwait` comes after the acquirer's increment in
//!    `nwait`'s order: it sees a waiter, takes the lock — which the acquirer
//!    holds until its node is queued — and pops and wakes a node; or
//! 2. it comes before: then the acquirer's increment reads from it (an
//!    RMW chain, release → acquire), so the releaser's `count += 1`
//!    happens-before the acquirer's re-read of `count`, which sees the permit
//!    and takes it instead of parking. (If a barging acquirer takes that
//!    permit first, its own later `release` sees our `nwait` the same way.)
//!
//! With plain SeqCst loads the argument also holds (one total order), but
//! it would then rest on SeqCst *loads*, which loom models only as acquire
//! (false alarms); the RMW form needs only release/acquire and is what the
//! model checks. It costs one locked instruction on paths that already
//! found contention.
//!
//! A woken (not granted) waiter retries from the top: a barging acquirer may
//! have taken the permit first, and then the waiter queues again. Every
//! permit added while a waiter is queued pops one waiter, so permits and
//! parked waiters never coexist for long: a waiter is parked only while
//! `count == 0` as seen under the lock, or while a wake is on its way to it.
//! The park itself is token-based, so a `wake` that lands before `park`
//! makes the park return at once; the waiter loops on its own `state`, so a
//! spurious return costs only a re-check.
//!
//! # Rejected alternatives
//!
//! * Go's treap of semaphore addresses (one global table hashed by address):
//!   needed in Go because `sync.Mutex` must be a zero-size-overhead value
//!   with a plain `uint32` sema; in Rust each primitive can own its queue.
//! * An intrusive list with nodes on the waiter's stack: saves an allocation
//!   per blocking acquire but needs `unsafe` pointer juggling and a
//!   guarantee the waker is done with the node before the waiter returns;
//!   the `Arc` node removes that whole class of bug for a malloc on a path
//!   that is about to park anyway.
//!
//! # Model checking
//!
//! The queue logic is generic over a [`Parker`] (how to name, park and wake
//! the current execution context). The runtime uses [`Rt`] (park.rs); the
//! loom model at the bottom of this file uses loom threads, with the queue's
//! lock and atomics coming from the `crate::loom` facade.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::loom::atomic::{AtomicU8, AtomicU32, Ordering};
use crate::loom::{Mutex, lock};
use crate::runtime::park::{self, WaitReason, Waiter};

/// How the queue names, parks and wakes execution contexts: the seam that
/// lets loom check the queue without the runtime.
pub(crate) trait Parker {
    /// A handle that wakes one context.
    type Handle: Send + Sync;
    /// The calling context's handle.
    fn current() -> Self::Handle;
    /// Parks the caller (token semantics; spurious returns allowed).
    fn park(reason: WaitReason);
    /// Wakes `h`, or makes its next park return at once.
    fn wake(h: &Self::Handle);
}

/// The runtime's parker: goroutines switch out, plain threads sleep.
pub(crate) struct Rt;

impl Parker for Rt {
    type Handle = Waiter;
    #[inline]
    fn current() -> Waiter {
        Waiter::current()
    }
    #[inline]
    fn park(reason: WaitReason) {
        park::park(reason)
    }
    #[inline]
    fn wake(h: &Waiter) {
        // The node keeps its handle; the clone moves into the run queue.
        h.clone().wake()
    }
}

/// `Node::state`: queued (or about to be), not yet woken.
pub(crate) const WAITING: u8 = 0;
/// `Node::state`: popped and woken; the waiter must re-check its condition.
pub(crate) const WOKEN: u8 = 1;
/// `Node::state`: popped and handed what it waited for (a permit, a lock).
pub(crate) const GRANTED: u8 = 2;

/// One parked waiter.
pub(crate) struct Node<P: Parker = Rt> {
    /// Who to wake. Set at creation, never changed.
    waiter: P::Handle,
    /// `WAITING`, `WOKEN` or `GRANTED`. Leaves `WAITING` only by the waker
    /// that popped the node, under the owning queue's lock (`Release`,
    /// pairs with the `Acquire` load in [`Node::wait`]).
    state: AtomicU8,
    /// What the waiter asks for (permits of a weighted `Semaphore`); 0 when
    /// unused. Immutable.
    pub(crate) weight: u64,
}

impl<P: Parker> Node<P> {
    /// A node for the calling context, in state `WAITING`.
    pub(crate) fn new(weight: u64) -> Arc<Node<P>> {
        Arc::new(Node {
            waiter: P::current(),
            state: AtomicU8::new(WAITING),
            weight,
        })
    }

    /// Re-arms a node that was woken, before it is queued again.
    /// Precondition: the caller holds the queue lock and owns the node
    /// (it is in no queue).
    pub(crate) fn rearm(&self) {
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Parks until the node left `WAITING`; returns `WOKEN` or `GRANTED`.
    /// Precondition: called by the context the node was created for.
    pub(crate) fn wait(&self, reason: WaitReason) -> u8 {
        loop {
            // Acquire: pairs with the Release store in `complete`, so what
            // the waker did before (handing over a lock) is visible.
            let s = self.state.load(Ordering::Acquire);
            if s != WAITING {
                return s;
            }
            P::park(reason);
        }
    }

    /// Marks a popped node `outcome` (`WOKEN` or `GRANTED`). Precondition:
    /// the caller popped it from its queue (so it is the only one that may
    /// complete it); `Sema` does it under the queue lock, which its re-arm
    /// step relies on. Call [`Node::wake`] after unlocking.
    pub(crate) fn complete(&self, outcome: u8) {
        debug_assert!(outcome == WOKEN || outcome == GRANTED);
        debug_assert_eq!(self.state.load(Ordering::Relaxed), WAITING);
        self.state.store(outcome, Ordering::Release);
    }

    /// Wakes the node's waiter (after [`Node::complete`]).
    pub(crate) fn wake(&self) {
        P::wake(&self.waiter);
    }
}

/// A queue of waiters, for primitives that keep their own state beside it
/// under one lock (`Cond`, `Semaphore`).
pub(crate) type WaitQueue<P = Rt> = VecDeque<Arc<Node<P>>>;

/// A semaphore of wake permits with a queue of parked waiters (see the
/// module comment for the protocol).
pub(crate) struct Sema<P: Parker = Rt> {
    /// Wake permits not yet taken.
    count: AtomicU32,
    /// Waiters registered under the lock (== `queue.len()` whenever the lock
    /// is free); read lock-free by `release` as a hint.
    nwait: AtomicU32,
    /// Parked waiters, head first. Touched only under its lock.
    queue: Mutex<WaitQueue<P>>,
    /// The parker is a type-level choice only.
    _parker: PhantomData<fn() -> P>,
}

impl<P: Parker> Sema<P> {
    /// A semaphore with no permits and no waiters.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Sema {
            count: AtomicU32::new(0),
            nwait: AtomicU32::new(0),
            queue: Mutex::new(VecDeque::new()),
            _parker: PhantomData,
        }
    }

    /// A semaphore with no permits and no waiters (loom's types are not const).
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Sema {
            count: AtomicU32::new(0),
            nwait: AtomicU32::new(0),
            queue: Mutex::new(VecDeque::new()),
            _parker: PhantomData,
        }
    }

    /// Takes a permit if one is available (Go's `cansemacquire`).
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_from(self.count.load(Ordering::SeqCst))
    }

    /// `try_acquire` starting from a read `v` of `count`.
    #[inline]
    fn try_acquire_from(&self, mut v: u32) -> bool {
        loop {
            if v == 0 {
                return false;
            }
            match self
                .count
                .compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
    }

    /// Takes a permit, parking (with `reason`) until one is available.
    /// `lifo` queues the caller at the head instead of the tail (the mutex
    /// uses it for waiters that already waited once).
    pub(crate) fn acquire(&self, lifo: bool, reason: WaitReason) {
        if self.try_acquire() {
            return;
        }
        // Allocated at the first time we must queue; reused if woken
        // without a permit and queued again.
        let mut node: Option<Arc<Node<P>>> = None;
        loop {
            let mut q = lock(&self.queue);
            // No-lost-wake-up step 1 (module comment): register, then re-read
            // `count` with an RMW.
            self.nwait.fetch_add(1, Ordering::SeqCst);
            if self.try_acquire_from(self.count.fetch_add(0, Ordering::SeqCst)) {
                self.nwait.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let n = match &node {
                Some(n) => {
                    n.rearm();
                    n.clone()
                }
                None => node.insert(Node::new(0)).clone(),
            };
            if lifo {
                q.push_front(n.clone());
            } else {
                q.push_back(n.clone());
            }
            debug_assert_eq!(self.nwait.load(Ordering::Relaxed) as usize, q.len());
            drop(q);
            if n.wait(reason) == GRANTED {
                return;
            }
        }
    }

    /// Adds a permit and wakes the head waiter, if any. With `handoff`, the
    /// permit is taken on the woken waiter's behalf (if still there) so no
    /// other caller can barge in; returns true in that case, and the caller
    /// should then yield so the waiter runs soon (Go's starvation handoff).
    pub(crate) fn release(&self, handoff: bool) -> bool {
        // No-lost-wake-up step 2: publish the permit, then read `nwait` with
        // an RMW.
        self.count.fetch_add(1, Ordering::SeqCst);
        if self.nwait.fetch_add(0, Ordering::SeqCst) == 0 {
            return false;
        }
        let mut q = lock(&self.queue);
        let Some(node) = q.pop_front() else {
            // A waiter registered but found the permit itself.
            return false;
        };
        self.nwait.fetch_sub(1, Ordering::SeqCst);
        let granted = handoff && self.try_acquire();
        node.complete(if granted { GRANTED } else { WOKEN });
        drop(q);
        node.wake();
        granted
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Models: a binary lock built from `Sema` (count 1 = free) used by two
    //! or three loom threads, with and without handoff. Mutual exclusion is
    //! asserted with an `in_cs` flag; conservation by the final counter;
    //! a lost wake-up shows up as loom's "deadlock" (every thread parked).
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    struct LoomParker;

    impl Parker for LoomParker {
        type Handle = loom::thread::Thread;
        fn current() -> Self::Handle {
            thread::current()
        }
        fn park(_reason: WaitReason) {
            thread::park();
        }
        fn wake(h: &Self::Handle) {
            h.unpark();
        }
    }

    struct World {
        sema: Sema<LoomParker>,
        in_cs: AtomicUsize,
        total: AtomicUsize,
    }

    fn critical(w: &World, handoff: bool) {
        w.sema.acquire(false, WaitReason::SyncMutex);
        assert_eq!(
            w.in_cs.fetch_add(1, Ordering::SeqCst),
            0,
            "mutual exclusion"
        );
        w.total.fetch_add(1, Ordering::SeqCst);
        w.in_cs.fetch_sub(1, Ordering::SeqCst);
        w.sema.release(handoff);
    }

    fn run(threads: usize, handoff: bool) {
        let mut b = loom::model::Builder::new();
        if b.preemption_bound.is_none() {
            // Three threads explode without a bound; LOOM_MAX_PREEMPTIONS overrides.
            b.preemption_bound = Some(if threads > 2 { 2 } else { 3 });
        }
        b.check(move || {
            let w = Arc::new(World {
                sema: Sema::new(),
                in_cs: AtomicUsize::new(0),
                total: AtomicUsize::new(0),
            });
            w.sema.release(false); // the lock starts free
            let hs: Vec<_> = (1..threads)
                .map(|_| {
                    let w = w.clone();
                    thread::spawn(move || critical(&w, handoff))
                })
                .collect();
            critical(&w, handoff);
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(w.total.load(Ordering::SeqCst), threads);
            // Conservation: exactly the one permit is left, nobody waits.
            assert!(w.sema.try_acquire());
            assert!(!w.sema.try_acquire());
            assert_eq!(w.sema.nwait.load(Ordering::SeqCst), 0);
        });
    }

    #[test]
    fn loom_sema_two_threads() {
        run(2, false);
    }

    #[test]
    fn loom_sema_two_threads_handoff() {
        run(2, true);
    }

    #[test]
    fn loom_sema_three_threads() {
        run(3, true);
    }
}
