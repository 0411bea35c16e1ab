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
//! 2. If the receive queue holds a `WAITING` entry then `buf` is empty; if the
//!    send queue holds a
//!    `WAITING` entry then `buf.len() == cap` (a waiting counterpart is always
//!    served before the buffer).
//! 3. Once `closed`, no entry is added to either queue and both are empty;
//!    once `rx_gone`, the send queue stays empty. Both flags never go back to false.
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
//!
//! ## Layout: one cache line per rendezvous hand-off
//!
//! In a long pipeline (the prime sieve: thousands of goroutines joined by
//! rendezvous channels) each hand-off touches channels and stacks last used
//! a whole pass ago, so it pays a cache miss per line it touches. The state
//! a rendezvous needs therefore sits in the first 64 bytes of a 64-aligned
//! `Locked`, and each queue keeps its oldest entry inline:
//!
//! ```text
//!  0       8       16          24                 48                 72
//!  │rendez-│lock   │closed,     │recv_head (Entry) │send_head (Entry) │ recv_rest, send_rest,
//!  │vous   │word   │rx_gone,    │                  │        (to 72)   │ buf (VecDeque) .. cap,
//!  │       │       │*_more      │                  │                  │ closed mirror
//!  └─ first cache line: a send to a waiting receiver and a receiver ──┘
//!     registering touch nothing else of the channel
//! ```
//!
//! `rendezvous` (cap == 0) is read without the lock and lets rendezvous
//! operations skip the buffer; it is also the niche that holds `Chan`'s
//! flavor tag, so dispatching reads that line too. The queue heads remove the
//! `VecDeque` heap buffer (one more line, in another allocation) from the
//! common case of at most one blocked operation per direction. Measured in
//! the commit that introduced it (BENCHMARKS.md).
use std::collections::VecDeque;
use std::mem;
use std::ptr;
use std::time::Instant;

use super::channel::{Queue, TryRecv, TrySend, pause, spin_again, wake};
use super::context::{self, Context, Entry, Owner};
use super::lock::SpinLock;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::runtime::park::{WaitReason, Waiter};

/// Preallocate the buffer up to this many bytes; beyond it the buffer grows on
/// demand (once per high-water mark, never per operation in steady state).
const PREALLOC_BYTES: usize = 1 << 20;

/// State guarded by the channel lock. `repr(C)`: the fields up to
/// `send_head` share the lock's cache line (module docs, "Layout").
///
/// Each wait queue is FIFO: its `*_head` (the oldest entry, or
/// [`Entry::VACANT`]), then `*_rest`. A vacant head means an empty queue
/// (`*_rest` is empty too), and `*_more == !*_rest.is_empty()`.
#[repr(C)]
struct State<T> {
    /// `close` was called or the last sender dropped.
    closed: bool,
    /// The last receiver dropped: sends fail from now on.
    rx_gone: bool,
    /// `recv_rest` holds entries.
    recv_more: bool,
    /// `send_rest` holds entries.
    send_more: bool,
    /// The oldest blocked receiver (its slot holds `None`), or vacant.
    recv_head: Entry<T>,
    /// The oldest blocked sender (its slot holds `Some(value)`), or vacant.
    send_head: Entry<T>,
    /// Blocked receivers after `recv_head`, oldest first.
    recv_rest: VecDeque<Entry<T>>,
    /// Blocked senders after `send_head`, oldest first.
    send_rest: VecDeque<Entry<T>>,
    /// Buffered values, oldest first; `len() <= cap` (invariant 1).
    /// Never touched by a rendezvous channel's operations.
    buf: VecDeque<T>,
}

/// One wait queue of a [`State`], borrowed: its inline head, the flag and
/// the overflow list (see [`State`] for how they make one FIFO).
struct WaitQueue<'a, T> {
    /// The oldest entry, or vacant when the queue is empty.
    head: &'a mut Entry<T>,
    /// True while `rest` holds entries.
    more: &'a mut bool,
    /// The entries after `head`, oldest first.
    rest: &'a mut VecDeque<Entry<T>>,
}

impl<T> WaitQueue<'_, T> {
    #[inline]
    fn push_back(&mut self, e: Entry<T>) {
        if self.head.is_vacant() {
            *self.head = e;
        } else {
            self.rest.push_back(e);
            *self.more = true;
        }
    }

    #[inline]
    fn pop_front(&mut self) -> Option<Entry<T>> {
        if self.head.is_vacant() {
            return None;
        }
        let next = if *self.more {
            let next = self.rest.pop_front();
            *self.more = !self.rest.is_empty();
            next.unwrap_or(Entry::VACANT)
        } else {
            Entry::VACANT
        };
        Some(mem::replace(self.head, next))
    }

    fn iter(&self) -> impl Iterator<Item = &Entry<T>> {
        let head = (!self.head.is_vacant()).then_some(&*self.head);
        head.into_iter().chain(self.rest.iter())
    }

    /// Removes the entry of (`cx`, `case`), if there.
    fn remove(&mut self, cx: *const Context, case: usize) {
        if ptr::eq(self.head.cx, cx) && self.head.case() == case {
            self.pop_front();
        } else if let Some(pos) = self
            .rest
            .iter()
            .position(|e| ptr::eq(e.cx, cx) && e.case() == case)
        {
            self.rest.remove(pos);
            *self.more = !self.rest.is_empty();
        }
    }
}

/// The locked flavor of one channel. `repr(C)` and 64-aligned: the fields up
/// to the queue heads fill its first cache line (module docs, "Layout").
#[repr(C, align(64))]
pub(crate) struct Locked<T> {
    /// `cap == 0`: operations never look at the buffer. Immutable; read
    /// without the lock. Its niche holds `Chan`'s flavor tag.
    rendezvous: bool,
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
#[inline]
fn pop_claim<T>(q: &mut WaitQueue<'_, T>) -> Option<Entry<T>> {
    while let Some(e) = q.pop_front() {
        // We hold the lock of the queue that held it (context invariant 1).
        if e.try_claim() {
            return Some(e);
        }
    }
    None
}

/// True if `q` holds a still-waiting entry of a context other than `cx`
/// (a select must not match its own opposite case). Precondition: lock held.
fn has_counterpart<T>(q: &WaitQueue<'_, T>, cx: *const Context) -> bool {
    q.iter().any(|e| {
        // SAFETY: as in `pop_claim`: queued, so live, and the lock is held.
        !ptr::eq(e.cx, cx) && unsafe { &*e.cx }.is_waiting()
    })
}

/// Claims every waiting entry of `q` and completes it without moving a value:
/// receivers see `None`, senders keep their value (their send failed).
fn fail_all<T>(q: &mut WaitQueue<'_, T>, wake: &mut Vec<Waiter>) {
    while let Some(e) = pop_claim(q) {
        // SAFETY: `pop_claim` claimed `e.cx` under the lock we still hold;
        // every caller wakes `wake` right after unlocking.
        wake.push(unsafe { e.complete() });
    }
}

impl<T> State<T> {
    #[inline]
    fn queue(&mut self, which: Queue) -> WaitQueue<'_, T> {
        match which {
            Queue::Send => WaitQueue {
                head: &mut self.send_head,
                more: &mut self.send_more,
                rest: &mut self.send_rest,
            },
            Queue::Recv => WaitQueue {
                head: &mut self.recv_head,
                more: &mut self.recv_more,
                rest: &mut self.recv_rest,
            },
        }
    }

    /// Removes the entry of (`cx`, `case`) from `which`, if still there.
    fn remove(&mut self, which: Queue, cx: *const Context, case: usize) {
        self.queue(which).remove(cx, case);
    }

    /// `cap` is 0 for a rendezvous channel (the buffer is never touched).
    #[inline]
    fn try_send(&mut self, value: T, cap: usize) -> TrySend<T> {
        if self.closed || self.rx_gone {
            return TrySend::Closed(value);
        }
        if let Some(e) = pop_claim(&mut self.queue(Queue::Recv)) {
            // SAFETY: we claimed `e.cx`, so we alone may write its slot, which
            // is live (context invariants 2, 3); the slot holds `None`, so
            // overwriting without dropping loses nothing.
            unsafe { e.slot.write(Some(value)) };
            // SAFETY: claimed above, lock still held; the callers of
            // `try_send` wake the waiter right after unlocking.
            return TrySend::Sent(Some(unsafe { e.complete() }));
        }
        if cap > 0 && self.buf.len() < cap {
            self.buf.push_back(value);
            return TrySend::Sent(None);
        }
        TrySend::Full(value)
    }

    /// `buffered` is false for a rendezvous channel (the buffer is never
    /// touched).
    #[inline]
    fn try_recv(&mut self, buffered: bool) -> TryRecv<T> {
        if let Some(value) = buffered.then(|| self.buf.pop_front()).flatten() {
            // A slot opened: move the oldest blocked sender's value in behind
            // (keeps FIFO order and invariant 2).
            let mut woken = None;
            if !self.send_head.is_vacant() {
                if let Some(e) = pop_claim(&mut self.queue(Queue::Send)) {
                    // SAFETY: claimed, live, lock held (context invariants 2, 3).
                    let v = unsafe { (*e.slot).take() };
                    self.buf
                        .push_back(v.expect("ferrogo: blocked sender without a value"));
                    // SAFETY: claimed above, lock still held; the callers of
                    // `try_recv` wake the waiter right after unlocking.
                    woken = Some(unsafe { e.complete() });
                }
            }
            return TryRecv::Got(value, woken);
        }
        if let Some(e) = pop_claim(&mut self.queue(Queue::Send)) {
            // SAFETY: claimed, live, lock held (context invariants 2, 3).
            let v = unsafe { (*e.slot).take() };
            // SAFETY: claimed above, lock still held; woken by the callers
            // of `try_recv` right after unlocking.
            let w = unsafe { e.complete() };
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
            rendezvous: cap == 0,
            state: SpinLock::new(State {
                closed: false,
                rx_gone: false,
                recv_more: false,
                send_more: false,
                recv_head: Entry::VACANT,
                send_head: Entry::VACANT,
                recv_rest: VecDeque::new(),
                send_rest: VecDeque::new(),
                buf: VecDeque::with_capacity(prealloc),
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

    /// The capacity `State::try_send` works with: 0 for a rendezvous
    /// channel without reading `cap` (which sits in another cache line).
    #[inline]
    fn send_cap(&self) -> usize {
        if self.rendezvous { 0 } else { self.cap }
    }

    /// Non-blocking send.
    pub(crate) fn try_send(&self, value: T) -> TrySend<T> {
        let mut st = self.state.lock();
        match st.try_send(value, self.send_cap()) {
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
        match st.try_recv(!self.rendezvous) {
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
            value = match st.try_send(value, self.send_cap()) {
                TrySend::Sent(w) => {
                    drop(st);
                    wake(w);
                    return Ok(());
                }
                TrySend::Closed(v) => return Err((v, false)),
                TrySend::Full(v) => v,
            };
            if self.rendezvous || !spin_again(spins) {
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
        st.queue(Queue::Send).push_back(Entry {
            cx: &cx,
            slot: &raw mut slot,
            owner: Owner::single(&cx),
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
            match st.try_recv(!self.rendezvous) {
                TryRecv::Got(v, w) => {
                    drop(st);
                    wake(w);
                    return Ok(v);
                }
                TryRecv::Closed => return Err(false),
                TryRecv::Empty => {}
            }
            if self.rendezvous || !spin_again(spins) {
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
        st.queue(Queue::Recv).push_back(Entry {
            cx: &cx,
            slot: &raw mut slot,
            owner: Owner::single(&cx),
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
            fail_all(&mut st.queue(Queue::Recv), &mut wake_list);
            fail_all(&mut st.queue(Queue::Send), &mut wake_list);
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
            fail_all(&mut st.queue(Queue::Send), &mut wake_list);
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
            Queue::Recv => {
                !st.buf.is_empty() || st.closed || has_counterpart(&st.queue(Queue::Send), cx)
            }
            Queue::Send => {
                st.closed
                    || st.rx_gone
                    || st.buf.len() < self.cap
                    || has_counterpart(&st.queue(Queue::Recv), cx)
            }
        };
        if !ready {
            st.queue(which).push_back(Entry {
                cx,
                slot,
                owner: Owner::case_of(case),
            });
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

#[cfg(test)]
mod tests {
    use super::{Locked, State};
    use std::mem::{align_of, offset_of, size_of};

    /// The module docs' layout: what a rendezvous hand-off touches of the
    /// channel is in the first cache line of `Locked`.
    #[test]
    fn rendezvous_state_in_first_cache_line() {
        assert_eq!(align_of::<Locked<u64>>(), 64);
        assert_eq!(offset_of!(Locked<u64>, rendezvous), 0);
        // The lock word is the spin lock's first field (`repr(C)`), the state
        // follows at the next 8-byte boundary.
        let state = offset_of!(Locked<u64>, state) + 8;
        assert!(state + offset_of!(State<u64>, recv_head) + size_of::<super::Entry<u64>>() <= 64);
        assert!(state + offset_of!(State<u64>, send_head) < 64);
    }
}
