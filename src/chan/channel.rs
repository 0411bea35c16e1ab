//! The channel: handle counts over one of two flavors, with one method set.
//!
//! # Design
//!
//! `Chan<T>` is shared (`Arc`) by every `Sender`/`Receiver`. It counts the
//! handles and forwards each operation to its flavor, chosen once at
//! creation (crossbeam-channel's layout: the flavors share one method set, so
//! `mod.rs` and `select/` never look inside):
//!
//! * [`Array`] — buffered channels: a lock-free ring for the values, locked
//!   lists only for blocked operations; a woken operation retries.
//! * [`Locked`] — rendezvous channels, zero-sized element types (no buffer
//!   memory at all) and buffers above [`ARRAY_MAX_BYTES`]: Go's `hchan`, one
//!   lock over buffer and wait queues; a woken operation is done (the value
//!   moved through its slot).
//!
//! Both keep Go's rules: a closed channel drains before reporting closed,
//! sends fail once closed or once every receiver is gone, and the
//! happens-before edges of Go's memory model (see each flavor).
use std::mem;
use std::time::Instant;

use super::array::Array;
use super::context::Context;
use super::locked::Locked;
use crate::loom::atomic::AtomicUsize;
use crate::runtime::park::Waiter;

/// Largest buffer (capacity × slot size, in bytes) the array flavor
/// preallocates; larger buffers use the locked flavor, which grows its buffer
/// on demand.
const ARRAY_MAX_BYTES: usize = 16 << 20;

/// Fast-path retries (with 1, 2, 4, .. pause hints) before a blocking
/// operation on a buffered channel parks; see [`pause`]. Six, not four,
/// since [`spin_again`] stopped the spin when it cannot help: select over
/// four producers read 66–71 ns per message in four of four runs with six
/// rounds, 93–97 with four (bimodal 65–97 before the guard).
#[cfg(not(loom))]
pub(crate) const SPIN_ROUNDS: u32 = 6;
/// Under loom one round: the drop-lock-and-retry path stays covered, and
/// each further round would only multiply the interleavings to search.
#[cfg(loom)]
pub(crate) const SPIN_ROUNDS: u32 = 1;

/// Whether a blocking operation that found a buffered channel full (or
/// empty) after `spins` rounds should spin once more before parking.
///
/// Only while its counterpart may be running right now: the caller is a
/// plain thread, or another worker of its runtime is running a goroutine.
/// When every other worker is idle, a goroutine counterpart can only run on
/// the caller's own worker once the caller parks, so spinning would only
/// delay it: a buffered ping-pong on one worker cost 820–930 ns per round
/// trip with the spin and 2,200 ns with six rounds.
#[inline]
pub(crate) fn spin_again(spins: u32) -> bool {
    spins < SPIN_ROUNDS && crate::runtime::worker::others_running()
}

/// One round of the pre-park spin: 1, 2, 4, .. pause hints.
///
/// Before parking on a buffered channel, the blocking operations retry the
/// fast path a few times (`SPIN_ROUNDS`, while [`spin_again`] allows): a
/// streaming counterpart on another core usually frees or fills a slot
/// within a few hundred nanoseconds, far less than a park/wake round trip.
/// Unbuffered channels park at once (the rendezvous needs the counterpart
/// anyway).
pub(crate) fn pause(spins: &mut u32) {
    for _ in 0..(1u32 << *spins) {
        std::hint::spin_loop();
    }
    *spins += 1;
}

/// Wakes `w`, if any (after the lock that produced it is released).
pub(crate) fn wake(w: Option<Waiter>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// Which direction of a channel: its blocked senders or receivers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Queue {
    /// Blocked senders.
    Send,
    /// Blocked receivers.
    Recv,
}

/// Outcome of a non-blocking send attempt.
pub(crate) enum TrySend<T> {
    /// The value moved; wake this waiter after unlocking (flavor-internal:
    /// `Chan` always returns `None`).
    Sent(Option<Waiter>),
    /// No room and no receiver; the value comes back.
    Full(T),
    /// Closed or every receiver gone; the value comes back.
    Closed(T),
}

/// Outcome of a non-blocking receive attempt.
pub(crate) enum TryRecv<T> {
    /// A value; wake this waiter after unlocking (flavor-internal: `Chan`
    /// always returns `None`).
    Got(T, Option<Waiter>),
    /// Nothing now.
    Empty,
    /// Closed and drained.
    Closed,
}

/// The two implementations (module docs).
enum Flavor<T> {
    /// Buffered, on a lock-free ring. Boxed: its cache-padded counters make
    /// it ~5× the size of the locked flavor, which would otherwise be the
    /// size of every rendezvous channel too.
    Array(Box<Array<T>>),
    /// Go's `hchan`: rendezvous, zero-sized values, huge buffers.
    Locked(Locked<T>),
}

/// One channel, shared by all its handles.
pub(crate) struct Chan<T> {
    /// The implementation; fixed at creation.
    flavor: Flavor<T>,
    /// Buffer capacity; 0 for a rendezvous channel. Immutable.
    cap: usize,
    /// Live `Sender` handles; the channel closes when it reaches 0.
    pub(crate) senders: AtomicUsize,
    /// Live `Receiver` handles; sends fail once it reaches 0.
    pub(crate) receivers: AtomicUsize,
}

/// Forwards a call to whichever flavor `$chan` has.
macro_rules! dispatch {
    ($chan:expr, $f:ident => $call:expr) => {
        match &$chan.flavor {
            Flavor::Array($f) => $call,
            Flavor::Locked($f) => $call,
        }
    };
}

impl<T> Chan<T> {
    /// A new open channel with buffer capacity `cap` and one handle of each kind.
    pub(crate) fn new(cap: usize) -> Chan<T> {
        let slot = mem::size_of::<T>() + mem::size_of::<usize>();
        let array = cap > 0
            && mem::size_of::<T>() > 0
            && cap.checked_mul(slot).is_some_and(|b| b <= ARRAY_MAX_BYTES);
        Chan {
            flavor: if array {
                Flavor::Array(Box::new(Array::new(cap)))
            } else {
                Flavor::Locked(Locked::new(cap))
            },
            cap,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    /// Buffer capacity.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Values currently buffered.
    pub(crate) fn len(&self) -> usize {
        dispatch!(self, f => f.len())
    }

    /// True once closed (even while buffered values remain).
    pub(crate) fn is_closed(&self) -> bool {
        dispatch!(self, f => f.is_closed())
    }

    /// True if a send would fail: closed, or every receiver is gone.
    pub(crate) fn is_send_closed(&self) -> bool {
        dispatch!(self, f => f.is_send_closed())
    }

    /// True if completing a registered entry moves the value through its slot
    /// (a woken operation is done); false if it only notifies (retry).
    pub(crate) fn hands_off(&self) -> bool {
        matches!(self.flavor, Flavor::Locked(_))
    }

    /// Non-blocking send; wakes whoever it must.
    #[inline]
    pub(crate) fn try_send(&self, value: T) -> TrySend<T> {
        // A channel operation is a preemption point (the slice may be used up).
        crate::runtime::checkpoint();
        self.poll_send(value)
    }

    /// Non-blocking receive; wakes whoever it must.
    #[inline]
    pub(crate) fn try_recv(&self) -> TryRecv<T> {
        // A channel operation is a preemption point (the slice may be used up).
        crate::runtime::checkpoint();
        self.poll_recv()
    }

    /// `try_send` without the preemption check (select checks once per call).
    #[inline]
    pub(crate) fn poll_send(&self, value: T) -> TrySend<T> {
        dispatch!(self, f => f.try_send(value))
    }

    /// `try_recv` without the preemption check (select checks once per call).
    #[inline]
    pub(crate) fn poll_recv(&self) -> TryRecv<T> {
        dispatch!(self, f => f.try_recv())
    }

    /// Blocking send with an optional deadline. `Err((value, timed_out))`.
    #[inline]
    pub(crate) fn send(&self, value: T, deadline: Option<Instant>) -> Result<(), (T, bool)> {
        // A channel operation is a preemption point (the slice may be used up).
        crate::runtime::checkpoint();
        dispatch!(self, f => f.send(value, deadline))
    }

    /// Blocking receive with an optional deadline. `Err(timed_out)`.
    #[inline]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, bool> {
        // A channel operation is a preemption point (the slice may be used up).
        crate::runtime::checkpoint();
        dispatch!(self, f => f.recv(deadline))
    }

    /// Closes the channel (idempotent) and fails or wakes every blocked operation.
    pub(crate) fn close(&self) {
        dispatch!(self, f => f.close())
    }

    /// The last receiver went away: sends fail from now on.
    pub(crate) fn disconnect_receivers(&self) {
        dispatch!(self, f => f.disconnect_receivers())
    }

    /// Select support: returns true (without queuing) if the operation in
    /// `which` direction could proceed now for a context other than `cx`;
    /// otherwise queues (`cx`, `slot`, `case`) and returns false.
    ///
    /// # Safety
    ///
    /// `cx` and `slot` stay valid, and `slot` untouched by the caller, until
    /// the caller has called [`Chan::unregister`] for the same (`cx`, `case`)
    /// or observed `cx` completed on `case`; for `Queue::Send`, `*slot` is `Some`.
    pub(crate) unsafe fn register(
        &self,
        which: Queue,
        cx: &Context,
        slot: *mut Option<T>,
        case: usize,
    ) -> bool {
        match &self.flavor {
            // The array flavor never touches the slot.
            Flavor::Array(f) => f.register(which, cx, case),
            // SAFETY: the caller's contract is the flavor's.
            Flavor::Locked(f) => unsafe { f.register(which, cx, slot, case) },
        }
    }

    /// Select support: removes (`cx`, `case`) from `which` if still queued.
    /// After it returns no counterpart touches that entry's slot again.
    pub(crate) fn unregister(&self, which: Queue, cx: &Context, case: usize) {
        dispatch!(self, f => f.unregister(which, cx, case))
    }
}

#[cfg(all(test, not(loom)))]
mod spin_tests {
    use super::spin_again;

    #[test]
    fn spinning_only_while_a_counterpart_may_run() {
        // A plain thread's counterpart may be anywhere.
        assert!(spin_again(0));
        // On a runtime with one worker nothing else runs meanwhile.
        let rt = crate::Runtime::builder().max_procs(1).build().unwrap();
        assert!(!rt.run(|| spin_again(0)));
        // Past the last round, never.
        assert!(!spin_again(super::SPIN_ROUNDS));
    }
}

#[cfg(test)]
mod tests {
    use super::{Flavor, Locked};
    use std::mem::size_of;

    /// `Locked::rendezvous` lends its niche to the flavor tag, so dispatching
    /// reads the hand-off's cache line, not one of its own (`locked.rs`,
    /// "Layout").
    #[test]
    fn flavor_tag_in_locked_niche() {
        assert_eq!(size_of::<Flavor<u64>>(), size_of::<Locked<u64>>());
    }
}
