//! The array flavor: buffered channels on a lock-free ring.
//!
//! # Design
//!
//! Values travel through a [`Ring`] (compare-and-swap on its head or tail, no
//! lock). Only blocking needs a lock: each direction has a [`Waiters`] list of
//! blocked contexts, touched when an operation must wait or when a
//! counterpart finds someone registered (one `SeqCst` load says whether to
//! look at all).
//!
//! A completion here is a *notification*, not a hand-off: a sender that
//! pushed a value claims and completes one waiting receiver's context, and
//! that receiver retries its pop (likewise a receiver that freed a slot
//! notifies one sender). Every notified operation retries — a blocked
//! operation loops, a select retries the notified case first — so a
//! notification is never dropped unused: if the retry fails, another
//! operation took the value or slot, and that operation's progress is the
//! one the notification announced.
//!
//! No lost wake-up: a waiter registers (`Waiters::register`: `SeqCst` store
//! of "not empty") and then re-checks the ring (`SeqCst` loads); a
//! counterpart changes the ring (`SeqCst` CAS) and then loads "not empty"
//! (`SeqCst`). In the single total order of these four, either the waiter's
//! re-check sees the change or the counterpart sees the waiter (C++20
//! [atomics.order]; crossbeam-channel's array flavor rests on the same
//! argument).
//!
//! What loom checks (`loom_tests.rs`): claims, notifications, retries, close
//! and select registration over this flavor. Under `cfg(loom)` the ring is
//! a locked stand-in (see `ring.rs`), whose lock orders ring and waiter list
//! by itself, so the `SeqCst` argument above is argued, not model-checked.
//! Removing the re-check after registering does make the models deadlock.
//!
//! Compared with the locked flavor (Go's direct hand-off) this gives up FIFO
//! order among *blocked* senders (a woken sender may lose the freed slot to
//! one that never blocked); Go does not promise an order among concurrent
//! senders either. It wins where buffered channels are busy: senders and
//! receivers on different cores never wait for each other's critical
//! section (see BENCHMARKS.md: SPSC, MPMC, select).
use std::collections::VecDeque;
use std::mem;
use std::ptr;
use std::time::Instant;

use super::channel::{Queue, TryRecv, TrySend, pause, spin_again};
use super::context::{self, Context};
use super::lock::SpinLock;
use super::ring::{Pop, Push, Ring};
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::runtime::park::{WaitReason, Waiter};

/// One registered blocked case.
struct Waiting {
    /// The owner's context; live while queued (context invariant 3).
    cx: *const Context,
    /// The case index inside the owner's select (0 for a plain operation).
    case: usize,
}

/// The blocked operations of one direction of an array channel.
pub(crate) struct Waiters {
    /// Registered cases, oldest first. Claimed and completed only under this lock.
    queue: SpinLock<VecDeque<Waiting>>,
    /// True while `queue` is empty; written under the lock, read without it
    /// by counterparts deciding whether to notify (`SeqCst`, module docs).
    empty: AtomicBool,
}

impl Waiters {
    fn new() -> Waiters {
        Waiters {
            queue: SpinLock::new(VecDeque::new()),
            empty: AtomicBool::new(true),
        }
    }

    /// Queues (`cx`, `case`). The caller re-checks the ring afterwards.
    fn register(&self, cx: &Context, case: usize) {
        let mut q = self.queue.lock();
        q.push_back(Waiting { cx, case });
        // SeqCst: ordered before the caller's re-check (module docs).
        self.empty.store(false, Ordering::SeqCst);
    }

    /// Removes (`cx`, `case`) if still queued. Afterwards no counterpart
    /// touches `cx` through this list.
    fn unregister(&self, cx: &Context, case: usize) {
        let mut q = self.queue.lock();
        if let Some(pos) = q.iter().position(|w| ptr::eq(w.cx, cx) && w.case == case) {
            q.remove(pos);
        }
        self.empty.store(q.is_empty(), Ordering::SeqCst);
    }

    /// Removes the single-operation context `cx` if no counterpart completed
    /// it; true if it was removed (the caller timed out).
    fn remove_if_waiting(&self, cx: &Context) -> bool {
        let mut q = self.queue.lock();
        // Claim and completion happen in one critical section of this lock,
        // and nothing else claims a single-operation context: under the lock
        // it is WAITING or COMPLETE.
        if !cx.is_waiting() {
            return false;
        }
        if let Some(pos) = q.iter().position(|w| ptr::eq(w.cx, cx)) {
            q.remove(pos);
        }
        self.empty.store(q.is_empty(), Ordering::SeqCst);
        true
    }

    /// Notifies one registered case, if any: the ring changed in its favour.
    #[inline]
    fn notify(&self) {
        // SeqCst: ordered after the caller's change to the ring (module docs).
        if !self.empty.load(Ordering::SeqCst) {
            self.notify_slow(false);
        }
    }

    /// Notifies every registered case (close, or the last receiver gone).
    fn notify_all(&self) {
        self.notify_slow(true);
    }

    #[cold]
    fn notify_slow(&self, all: bool) {
        // The first woken needs no allocation (the common single notify).
        let mut first: Option<Waiter> = None;
        let mut rest: Vec<Waiter> = Vec::new();
        {
            let mut q = self.queue.lock();
            while let Some(w) = q.pop_front() {
                // SAFETY: a queued entry's context is live (context invariant
                // 3) and we hold the lock of the list that held it.
                if unsafe { &*w.cx }.try_claim(w.case) {
                    // SAFETY: claimed just now, under the same lock.
                    let waiter = unsafe { Context::complete(w.cx, w.case) };
                    if first.is_none() {
                        first = Some(waiter);
                    } else {
                        rest.push(waiter);
                    }
                    if !all {
                        break;
                    }
                }
                // An unclaimable entry is stale (its owner committed
                // elsewhere or gave up) and is dropped (context invariant 4).
            }
            self.empty.store(q.is_empty(), Ordering::SeqCst);
        }
        for w in first.into_iter().chain(rest) {
            w.wake();
        }
    }
}

// SAFETY: the raw context pointers are dereferenced only under the queue's
// lock while their owners keep them live (context invariant 3); the contexts
// themselves are shared by design (atomics and a waiter handle).
unsafe impl Send for Waiters {}
// SAFETY: as for `Send`; all access to the queue goes through its lock.
unsafe impl Sync for Waiters {}

/// The array flavor of one channel.
pub(crate) struct Array<T> {
    /// The buffered values; its mark bit means "sends fail".
    ring: Ring<T>,
    /// `close` was called (the mark alone also covers "every receiver gone").
    /// Stored before the mark is set, so whoever sees the mark sees this.
    closed: AtomicBool,
    /// Senders waiting for a free slot.
    senders: Waiters,
    /// Receivers waiting for a value.
    receivers: Waiters,
}

impl<T> Array<T> {
    /// A channel with `cap >= 1` preallocated slots.
    pub(crate) fn new(cap: usize) -> Array<T> {
        Array {
            ring: Ring::new(cap),
            closed: AtomicBool::new(false),
            senders: Waiters::new(),
            receivers: Waiters::new(),
        }
    }

    /// Values currently buffered.
    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// True if a send would fail: closed, or every receiver gone.
    pub(crate) fn is_send_closed(&self) -> bool {
        self.ring.is_marked()
    }

    /// Non-blocking send.
    #[inline]
    pub(crate) fn try_send(&self, value: T) -> TrySend<T> {
        match self.ring.push(value) {
            Ok(()) => {
                self.receivers.notify();
                TrySend::Sent(None)
            }
            Err(Push::Full(v)) => TrySend::Full(v),
            Err(Push::Marked(v)) => TrySend::Closed(v),
        }
    }

    /// Non-blocking receive.
    #[inline]
    pub(crate) fn try_recv(&self) -> TryRecv<T> {
        match self.ring.pop() {
            Pop::Got(v) => {
                self.senders.notify();
                TryRecv::Got(v, None)
            }
            Pop::Empty => TryRecv::Empty,
            Pop::Marked => TryRecv::Closed,
        }
    }

    /// True if an operation in direction `which` could proceed now.
    fn ready(&self, which: Queue) -> bool {
        match which {
            Queue::Send => !self.ring.is_full() || self.ring.is_marked(),
            Queue::Recv => !self.ring.is_empty() || self.ring.is_marked(),
        }
    }

    fn waiters(&self, which: Queue) -> &Waiters {
        match which {
            Queue::Send => &self.senders,
            Queue::Recv => &self.receivers,
        }
    }

    /// Blocking send with an optional deadline. `Err((value, timed_out))`.
    #[inline]
    pub(crate) fn send(&self, value: T, deadline: Option<Instant>) -> Result<(), (T, bool)> {
        let mut value = value;
        let mut spins = 0;
        loop {
            value = match self.try_send(value) {
                TrySend::Sent(_) => return Ok(()),
                TrySend::Closed(v) => return Err((v, false)),
                TrySend::Full(v) => v,
            };
            if spin_again(spins) {
                pause(&mut spins);
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err((value, true));
            }
            if !self.block(Queue::Send, WaitReason::ChanSend, deadline) {
                return Err((value, true));
            }
        }
    }

    /// Blocking receive with an optional deadline. `Err(timed_out)`.
    #[inline]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, bool> {
        let mut spins = 0;
        loop {
            match self.try_recv() {
                TryRecv::Got(v, _) => return Ok(v),
                TryRecv::Closed => return Err(false),
                TryRecv::Empty => {}
            }
            if spin_again(spins) {
                pause(&mut spins);
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(true);
            }
            if !self.block(Queue::Recv, WaitReason::ChanRecv, deadline) {
                return Err(true);
            }
        }
    }

    /// Registers a single operation in direction `which` and parks until
    /// notified (true: retry) or until the deadline passes unnotified (false).
    #[inline(always)]
    fn block(&self, which: Queue, reason: WaitReason, deadline: Option<Instant>) -> bool {
        let waiters = self.waiters(which);
        let cx = Context::new();
        waiters.register(&cx, 0);
        if self.ready(which) {
            // Turned ready while registering: retry (a notification that
            // raced in is consumed by that retry).
            waiters.unregister(&cx, 0);
            return true;
        }
        // Context invariant 3 on unwinding out of `park`.
        let guard = Unregister {
            waiters,
            cx: &cx,
            case: 0,
        };
        let notified =
            context::wait_single(&cx, reason, deadline, || waiters.remove_if_waiting(&cx));
        mem::forget(guard);
        notified
    }

    /// Closes the channel (idempotent) and notifies every blocked operation.
    pub(crate) fn close(&self) {
        // Release, before the mark: whoever sees the mark sees `closed`.
        self.closed.store(true, Ordering::Release);
        self.ring.mark();
        self.receivers.notify_all();
        self.senders.notify_all();
    }

    /// The last receiver went away: sends fail from now on.
    pub(crate) fn disconnect_receivers(&self) {
        self.ring.mark();
        self.senders.notify_all();
    }

    /// Select support: true (queuing nothing) if the operation in direction
    /// `which` could proceed now; otherwise queues (`cx`, `case`) and returns
    /// false. A completion of that entry is a notification: the select retries
    /// the case.
    pub(crate) fn register(&self, which: Queue, cx: &Context, case: usize) -> bool {
        let waiters = self.waiters(which);
        waiters.register(cx, case);
        if self.ready(which) {
            waiters.unregister(cx, case);
            return true;
        }
        false
    }

    /// Select support: removes (`cx`, `case`) from `which` if still queued.
    pub(crate) fn unregister(&self, which: Queue, cx: &Context, case: usize) {
        self.waiters(which).unregister(cx, case);
    }
}

/// Removes a single operation's entry if its frame unwinds while queued.
struct Unregister<'a> {
    /// The list holding the entry.
    waiters: &'a Waiters,
    /// The entry's context.
    cx: &'a Context,
    /// The entry's case index.
    case: usize,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.waiters.unregister(self.cx, self.case);
    }
}
