//! The locked flavor: one lock, a buffer and two wait queues (Go's `hchan`).
//!
//! # Design
//!
//! Serves rendezvous channels (capacity 0), zero-sized element types and
//! buffers too large to preallocate; other buffered channels use the
//! lock-free [`array`](super::array) flavor (see [`channel`](super::channel)).
//! Its state sits behind one [`SpinLock`]: the buffer (`VecDeque<T>`, never
//! above `cap`), the `closed`/`rx_gone` flags and the queues of blocked
//! senders and receivers (entries from [`context`](super::context)).
//! Capacity 0 is the same code with a buffer that never holds anything: a
//! send completes only by handing its value straight to a queued receiver,
//! or by queuing itself for a receiver to take.
//!
//! Invariants (under the lock):
//! 1. `buf.len() <= cap`.
//! 2. If `recvq` holds a `WAITING` entry then `buf` is empty; if `sendq` holds a
//!    `WAITING` entry then `buf.len() == cap` (a waiting counterpart is always
//!    served before the buffer).
//! 3. Once `closed`, no entry is added to either queue and both are empty;
//!    once `rx_gone`, `sendq` stays empty. Both flags never go back to false.
//! 4. No `T` is dropped and no waiter is woken while the lock is held: values
//!    travel out of the critical section and wakes are returned to the caller
//!    (`Option<Waiter>`) to run after unlocking.
//!
//! A counterpart that completes a queued entry has moved the value through
//! the entry's slot (Go's direct hand-off), so a woken operation is done.
//!
//! Operations are split in two halves: `try_*` (never blocks; the fast path
//! and the select "poll" pass) and `register`/`unregister` used by blocked
//! single operations and by select. The fast path looks at a queue only
//! through `VecDeque::pop_front`/`is_empty` — no allocation, no atomics
//! besides the lock.
//!
//! A zero-sized `T` costs no buffer memory because `VecDeque` of a ZST never
//! allocates.
use std::collections::VecDeque;
use std::mem;
use std::ptr;
use std::time::Instant;

use super::channel::{Queue, SPIN_ROUNDS, TryRecv, TrySend, pause, wake};
use super::context::{self, Context, Entry};
use super::lock::SpinLock;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::runtime::park::{WaitReason, Waiter};

/// Preallocate the buffer up to this many bytes; beyond it the buffer grows on
/// demand (once per high-water mark, never per operation in steady state).
const PREALLOC_BYTES: usize = 1 << 20;

/// State guarded by the channel lock.
struct State<T> {
    /// Buffered values, oldest first; `len() <= cap` (invariant 1).
    buf: VecDeque<T>,
    /// `close` was called or the last sender dropped.
    closed: bool,
    /// The last receiver dropped: sends fail from now on.
    rx_gone: bool,
    /// Blocked senders, oldest first; each slot holds `Some(value)`.
    sendq: VecDeque<Entry<T>>,
    /// Blocked receivers, oldest first; each slot holds `None`.
    recvq: VecDeque<Entry<T>>,
}

/// The locked flavor of one channel.
pub(crate) struct Locked<T> {
    /// Buffer, flags and queues (see [`State`]).
    state: SpinLock<State<T>>,
    /// Buffer capacity; 0 for a rendezvous channel. Immutable.
    cap: usize,
    /// Mirror of `State::closed`, set under the lock, read without it by
    /// `is_closed` (Release/Acquire pair with the setter in `close`).
    closed: AtomicBool,
}

// SAFETY: the raw pointers inside queued entries are only dereferenced under
// the lock and point at data owned by blocked callers (context invariant 3);
// values of `T` cross threads through the buffer and slots, hence `T: Send`.
unsafe impl<T: Send> Send for Locked<T> {}
// SAFETY: all shared access to `State` goes through the lock; see `Send`.
unsafe impl<T: Send> Sync for Locked<T> {}

/// Pops entries until one can be claimed; stale entries are dropped (context
/// invariant 4). Precondition: the caller holds the lock owning `q`.
fn pop_claim<T>(q: &mut VecDeque<Entry<T>>) -> Option<Entry<T>> {
    while let Some(e) = q.pop_front() {
        // SAFETY: a queued entry's context is live (context invariant 3) and we
        // hold the lock of the queue that held it (invariant 1).
        if unsafe { &*e.cx }.try_claim(e.case) {
            return Some(e);
        }
    }
    None
}

/// True if `q` holds a still-waiting entry of a context other than `cx`
/// (a select must not match its own opposite case). Precondition: lock held.
fn has_counterpart<T>(q: &VecDeque<Entry<T>>, cx: *const Context) -> bool {
    q.iter().any(|e| {
        // SAFETY: as in `pop_claim`: queued, so live, and the lock is held.
        !ptr::eq(e.cx, cx) && unsafe { &*e.cx }.is_waiting()
    })
}

/// Claims every waiting entry of `q` and completes it without moving a value:
/// receivers see `None`, senders keep their value (their send failed).
fn fail_all<T>(q: &mut VecDeque<Entry<T>>, wake: &mut Vec<Waiter>) {
    while let Some(e) = pop_claim(q) {
        // SAFETY: `pop_claim` claimed `e.cx` under the lock we still hold.
        wake.push(unsafe { Context::complete(e.cx, e.case) });
    }
}

impl<T> State<T> {
    fn queue(&mut self, which: Queue) -> &mut VecDeque<Entry<T>> {
        match which {
            Queue::Send => &mut self.sendq,
            Queue::Recv => &mut self.recvq,
        }
    }

    /// Removes the entry of (`cx`, `case`) from `which`, if still there.
    fn remove(&mut self, which: Queue, cx: *const Context, case: usize) {
        let q = self.queue(which);
        if let Some(pos) = q.iter().position(|e| ptr::eq(e.cx, cx) && e.case == case) {
            q.remove(pos);
        }
    }

    fn try_send(&mut self, value: T, cap: usize) -> TrySend<T> {
        if self.closed || self.rx_gone {
            return TrySend::Closed(value);
        }
        if let Some(e) = pop_claim(&mut self.recvq) {
            // SAFETY: we claimed `e.cx`, so we alone may write its slot, which
            // is live (context invariants 2, 3); the slot holds `None`, so
            // overwriting without dropping loses nothing.
            unsafe { e.slot.write(Some(value)) };
            // SAFETY: claimed above, lock still held.
            return TrySend::Sent(Some(unsafe { Context::complete(e.cx, e.case) }));
        }
        if self.buf.len() < cap {
            self.buf.push_back(value);
            return TrySend::Sent(None);
        }
        TrySend::Full(value)
    }

    fn try_recv(&mut self) -> TryRecv<T> {
        if let Some(value) = self.buf.pop_front() {
            // A slot opened: move the oldest blocked sender's value in behind
            // (keeps FIFO order and invariant 2).
            let mut woken = None;
            if !self.sendq.is_empty() {
                if let Some(e) = pop_claim(&mut self.sendq) {
                    // SAFETY: claimed, live, lock held (context invariants 2, 3).
                    let v = unsafe { (*e.slot).take() };
                    self.buf
                        .push_back(v.expect("ferrogo: blocked sender without a value"));
                    // SAFETY: claimed above, lock still held.
                    woken = Some(unsafe { Context::complete(e.cx, e.case) });
                }
            }
            return TryRecv::Got(value, woken);
        }
        if let Some(e) = pop_claim(&mut self.sendq) {
            // SAFETY: claimed, live, lock held (context invariants 2, 3).
            let v = unsafe { (*e.slot).take() };
            // SAFETY: claimed above, lock still held.
            let w = unsafe { Context::complete(e.cx, e.case) };
            return TryRecv::Got(v.expect("ferrogo: blocked sender without a value"), Some(w));
        }
        if self.closed {
            TryRecv::Closed
        } else {
            TryRecv::Empty
        }
    }
}

impl<T> Locked<T> {
    /// A new open channel with buffer capacity `cap` and one handle of each kind.
    pub(crate) fn new(cap: usize) -> Locked<T> {
        let size = mem::size_of::<T>();
        // A ZST never allocates (`checked_div` is `None` for size 0).
        let prealloc = PREALLOC_BYTES
            .checked_div(size)
            .map_or(0, |max| cap.min(max));
        Locked {
            state: SpinLock::new(State {
                buf: VecDeque::with_capacity(prealloc),
                closed: false,
                rx_gone: false,
                sendq: VecDeque::new(),
                recvq: VecDeque::new(),
            }),
            cap,
            closed: AtomicBool::new(false),
        }
    }

    /// Values currently buffered.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// True once closed (even while buffered values remain).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// True if a send would fail: closed, or every receiver is gone.
    pub(crate) fn is_send_closed(&self) -> bool {
        let st = self.state.lock();
        st.closed || st.rx_gone
    }

    /// Non-blocking send.
    pub(crate) fn try_send(&self, value: T) -> TrySend<T> {
        let mut st = self.state.lock();
        match st.try_send(value, self.cap) {
            TrySend::Sent(w) => {
                drop(st);
                wake(w);
                TrySend::Sent(None)
            }
            other => other,
        }
    }

    /// Non-blocking receive.
    pub(crate) fn try_recv(&self) -> TryRecv<T> {
        let mut st = self.state.lock();
        match st.try_recv() {
            TryRecv::Got(v, w) => {
                drop(st);
                wake(w);
                TryRecv::Got(v, None)
            }
            other => other,
        }
    }

    /// Blocking send with an optional deadline. `Err((value, timed_out))`.
    #[inline]
    pub(crate) fn send(&self, value: T, deadline: Option<Instant>) -> Result<(), (T, bool)> {
        let mut value = value;
        let mut spins = 0;
        let mut st = loop {
            let mut st = self.state.lock();
            value = match st.try_send(value, self.cap) {
                TrySend::Sent(w) => {
                    drop(st);
                    wake(w);
                    return Ok(());
                }
                TrySend::Closed(v) => return Err((v, false)),
                TrySend::Full(v) => v,
            };
            if self.cap == 0 || spins >= SPIN_ROUNDS {
                break st;
            }
            drop(st);
            pause(&mut spins);
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err((value, true));
        }
        let cx = Context::new();
        let mut slot = Some(value);
        st.sendq.push_back(Entry {
            cx: &cx,
            slot: &raw mut slot,
            case: 0,
        });
        drop(st);
        let completed = self.wait(&cx, Queue::Send, WaitReason::ChanSend, deadline);
        // The counterpart (or our timeout) is done with the slot.
        match slot {
            None => Ok(()),
            Some(v) => Err((v, !completed)),
        }
    }

    /// Blocking receive with an optional deadline. `Err(timed_out)`.
    #[inline]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, bool> {
        let mut spins = 0;
        let mut st = loop {
            let mut st = self.state.lock();
            match st.try_recv() {
                TryRecv::Got(v, w) => {
                    drop(st);
                    wake(w);
                    return Ok(v);
                }
                TryRecv::Closed => return Err(false),
                TryRecv::Empty => {}
            }
            if self.cap == 0 || spins >= SPIN_ROUNDS {
                break st;
            }
            drop(st);
            pause(&mut spins);
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(true);
        }
        let cx = Context::new();
        let mut slot: Option<T> = None;
        st.recvq.push_back(Entry {
            cx: &cx,
            slot: &raw mut slot,
            case: 0,
        });
        drop(st);
        let completed = self.wait(&cx, Queue::Recv, WaitReason::ChanRecv, deadline);
        match slot {
            Some(v) => Ok(v),
            None => Err(!completed),
        }
    }

    /// Parks until a counterpart completes `cx` (true) or the deadline passes
    /// with `cx` still waiting (false; the entry has been removed). `cx` is a
    /// single-operation context queued on this channel's `which` queue as case 0.
    #[inline(always)]
    fn wait(
        &self,
        cx: &Context,
        which: Queue,
        reason: WaitReason,
        deadline: Option<Instant>,
    ) -> bool {
        // Context invariant 3 on unwinding out of `park`.
        let guard = Unregister {
            chan: self,
            cx,
            which,
            case: 0,
        };
        let completed = context::wait_single(cx, reason, deadline, || {
            let mut st = self.state.lock();
            // Only this channel's lock holders claim a single-op context, and
            // they complete it in the same critical section: under the lock
            // it is WAITING or COMPLETE.
            let waiting = cx.is_waiting();
            if waiting {
                st.remove(which, cx, 0);
            }
            waiting
        });
        mem::forget(guard);
        completed
    }

    /// Closes the channel (idempotent) and fails every blocked operation.
    pub(crate) fn close(&self) {
        let mut wake_list = Vec::new();
        {
            let mut st = self.state.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            // Pairs with the Acquire in `is_closed`.
            self.closed.store(true, Ordering::Release);
            fail_all(&mut st.recvq, &mut wake_list);
            fail_all(&mut st.sendq, &mut wake_list);
            // Stale entries left behind belong to owners that will remove them.
        }
        for w in wake_list {
            w.wake();
        }
    }

    /// The last receiver went away: sends fail from now on.
    pub(crate) fn disconnect_receivers(&self) {
        let mut wake_list = Vec::new();
        {
            let mut st = self.state.lock();
            st.rx_gone = true;
            fail_all(&mut st.sendq, &mut wake_list);
        }
        for w in wake_list {
            w.wake();
        }
    }

    /// Select support: returns true (without queuing) if the operation in
    /// `which` direction could proceed now for a context other than `cx`;
    /// otherwise queues (`cx`, `slot`, `case`) and returns false.
    ///
    /// # Safety
    ///
    /// `cx` and `slot` stay valid, and `slot` untouched by the caller, until
    /// the caller has called [`Locked::unregister`] for the same (`cx`, `case`)
    /// or observed `cx` completed on `case`; for `Queue::Send`, `*slot` is `Some`.
    pub(crate) unsafe fn register(
        &self,
        which: Queue,
        cx: &Context,
        slot: *mut Option<T>,
        case: usize,
    ) -> bool {
        let mut st = self.state.lock();
        let ready = match which {
            Queue::Recv => !st.buf.is_empty() || st.closed || has_counterpart(&st.sendq, cx),
            Queue::Send => {
                st.closed || st.rx_gone || st.buf.len() < self.cap || has_counterpart(&st.recvq, cx)
            }
        };
        if !ready {
            st.queue(which).push_back(Entry { cx, slot, case });
        }
        ready
    }

    /// Select support: removes (`cx`, `case`) from `which` if still queued.
    /// After it returns no counterpart touches that entry's slot again.
    pub(crate) fn unregister(&self, which: Queue, cx: &Context, case: usize) {
        self.state.lock().remove(which, cx, case);
    }
}

/// Removes a single operation's entry if its frame unwinds while queued.
struct Unregister<'a, T> {
    /// The channel whose queue holds the entry.
    chan: &'a Locked<T>,
    /// The entry's context.
    cx: &'a Context,
    /// The queue holding the entry.
    which: Queue,
    /// The entry's case index.
    case: usize,
}

impl<T> Drop for Unregister<'_, T> {
    fn drop(&mut self) {
        self.chan.unregister(self.which, self.cx, self.case);
    }
}
