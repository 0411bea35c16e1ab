//! A bounded lock-free MPMC ring buffer: the buffer of the `array` flavor.
//!
//! # Design
//!
//! Dmitry Vyukov's bounded MPMC queue, in the form crossbeam-channel's
//! `flavors/array.rs` gives it (own code; the algorithm is theirs): `cap`
//! slots, each with a `stamp` saying which lap may touch it next, and two
//! counters `head` (next receive) and `tail` (next send). A counter packs
//! `lap * one_lap + index`, where `one_lap` is the next power of two above
//! `cap`; the bit above every index bit, `mark_bit`, is set in `tail` once
//! sends must fail (the channel closed or lost its receivers).
//!
//! ```text
//!   slot.stamp == tail           the slot is free for the sender of lap(tail)
//!   slot.stamp == head + 1       the slot holds the value for the receiver of lap(head)
//!
//!   push: CAS tail → tail+1 (claims the slot), write the value,
//!         stamp = tail + 1                         (Release: publishes the value)
//!   pop:  CAS head → head+1 (claims the slot), read the value,
//!         stamp = head + one_lap                   (Release: frees the slot)
//! ```
//!
//! Invariants:
//! 1. A slot is written only by the sender whose CAS claimed it and read only
//!    by the receiver whose CAS claimed it; the stamps order the two
//!    (Acquire load of the stamp before touching the value, Release store
//!    after), so the `k`-th receive happens before the `k+cap`-th send
//!    completes and a send happens before the receive of its value.
//! 2. The values in the ring are exactly the slots from `head` to `tail`
//!    whose stamps say "full"; `Drop` drops those and nothing else.
//! 3. Once set, the mark bit stays; `push` fails with the value handed back
//!    when it sees it. `pop` keeps draining values already in the ring.
//!
//! Ordering for the waiters above this buffer (`array.rs`): the CASes on
//! `head`/`tail` and the emptiness/fullness checks (`is_empty`, `is_full`)
//! are `SeqCst`. A blocked operation registers (a `SeqCst` store) and then
//! re-checks with these loads; a counterpart's `SeqCst` CAS precedes its look
//! at the waiter list. In the single total order one of the two sees the
//! other, so no wake-up is lost.
//!
//! The buffer is pure data: no parking, no runtime, so Miri reaches it
//! directly (the tests below). Loom does not: its exploration never bounds
//! the spin-waits of this algorithm (a receiver waiting for a sender that
//! claimed a slot to publish it exceeded every branch limit tried, even in a
//! three-thread model of the ring alone). Under `cfg(loom)` a locked
//! stand-in with the same interface replaces it, so the loom models in
//! `loom_tests.rs` check the waiter protocol of `array.rs` above it; the
//! ring itself is covered by Miri and the threaded conservation test.
#[cfg(not(loom))]
use std::cell::UnsafeCell;
#[cfg(not(loom))]
use std::mem::MaybeUninit;
#[cfg(not(loom))]
use std::sync::atomic::{self, AtomicUsize, Ordering};

#[cfg(not(loom))]
use crossbeam_utils::{Backoff, CachePadded};

/// Why a push failed; the value comes back.
pub(crate) enum Push<T> {
    /// Every slot holds a value.
    Full(T),
    /// The mark bit is set: sends fail.
    Marked(T),
}

/// Outcome of a pop.
pub(crate) enum Pop<T> {
    /// The oldest value.
    Got(T),
    /// Nothing buffered and the mark bit is clear.
    Empty,
    /// Nothing buffered and the mark bit is set.
    Marked,
}

/// One slot of the ring.
#[cfg(not(loom))]
struct Slot<T> {
    /// Which lap may touch the slot next (module docs).
    stamp: AtomicUsize,
    /// The value, initialised exactly while the stamp says "full".
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The ring: `cap` slots and the two counters.
#[cfg(not(loom))]
pub(crate) struct Ring<T> {
    /// Next position to receive from (`lap * one_lap + index`).
    head: CachePadded<AtomicUsize>,
    /// Next position to send to, plus `mark_bit`.
    tail: CachePadded<AtomicUsize>,
    /// The slots; `len() == cap`.
    slots: Box<[Slot<T>]>,
    /// Number of slots, at least 1.
    cap: usize,
    /// Smallest power of two above every index: one lap of a counter.
    one_lap: usize,
    /// Set in `tail` once sends must fail; `one_lap` bits below it are the index.
    mark_bit: usize,
}

// SAFETY: values of `T` move between threads through the slots (hence
// `T: Send`); each slot's value is touched only by the one thread whose CAS
// claimed it (invariant 1), so sharing `&Ring` needs nothing more of `T`.
#[cfg(not(loom))]
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`.
#[cfg(not(loom))]
unsafe impl<T: Send> Sync for Ring<T> {}

#[cfg(not(loom))]
impl<T> Ring<T> {
    /// An empty ring of `cap` slots. Precondition: `cap >= 1`.
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(cap >= 1, "ferrogo: a ring needs at least one slot");
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit * 2;
        // Slot `i` starts free for lap 0: stamp == i (head == tail == 0).
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots,
            cap,
            one_lap,
            mark_bit,
        }
    }

    /// The counter after `pos`: the next index, or index 0 of the next lap.
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        let lap = pos & !(self.one_lap - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            lap.wrapping_add(self.one_lap)
        }
    }

    /// Pushes `value`, or hands it back if the ring is full or marked.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), Push<T>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(Push::Marked(value));
            }
            let slot = &self.slots[tail & (self.mark_bit - 1)];
            // Acquire: pairs with the Release in `pop` that freed the slot.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // The slot is free for this lap: claim it.
                match self.tail.compare_exchange_weak(
                    tail,
                    self.next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: our CAS claimed the slot for this lap, and its
                        // stamp said free: no value lives there and no other
                        // thread touches it until we publish the stamp below
                        // (invariant 1).
                        unsafe { (*slot.value.get()).write(value) };
                        // Release: publishes the value to the receiver of this lap.
                        slot.stamp.store(tail + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value: full, unless a
                // receiver has just claimed it.
                atomic::fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(Push::Full(value));
                }
                backoff.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another sender claimed the slot and is still writing it.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest value.
    #[inline]
    pub(crate) fn pop(&self) -> Pop<T> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[head & (self.mark_bit - 1)];
            // Acquire: pairs with the Release in `push` that published the value.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                // The slot holds this lap's value: claim it.
                match self.head.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: our CAS claimed the slot, whose stamp says it
                        // holds an initialised value that no one else reads
                        // (invariant 1); we move it out exactly once.
                        let value = unsafe { (*slot.value.get()).assume_init_read() };
                        // Release: frees the slot for the sender of the next lap.
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Pop::Got(value);
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // The slot is free: empty, unless a sender has just claimed it.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !self.mark_bit == head {
                    return if tail & self.mark_bit != 0 {
                        Pop::Marked
                    } else {
                        Pop::Empty
                    };
                }
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another receiver claimed the slot and is still reading it.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Sets the mark bit; true if this call set it (sends fail from now on).
    pub(crate) fn mark(&self) -> bool {
        // SeqCst: a waiter's re-check after registering must see it (module docs).
        self.tail.fetch_or(self.mark_bit, Ordering::SeqCst) & self.mark_bit == 0
    }

    /// True once the mark bit is set.
    pub(crate) fn is_marked(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// True if a pop would find nothing now (a value being written counts as present).
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail & !self.mark_bit == head
    }

    /// True if a push would find no free slot now.
    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    /// Values currently buffered (a consistent snapshot of both counters).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // Retry if `tail` moved while we read `head`.
            if self.tail.load(Ordering::SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }
}

#[cfg(not(loom))]
impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread touches the ring; every claimed slot
        // has been published, so the values are exactly `len()` slots from
        // `head` (invariant 2).
        let head = self.head.load(Ordering::Relaxed);
        let n = self.len();
        let hix = head & (self.mark_bit - 1);
        for i in 0..n {
            let index = (hix + i) % self.cap;
            // SAFETY: slots `head .. head + len` hold initialised values
            // (invariant 2), each dropped once here and never read again.
            unsafe { (*self.slots[index].value.get()).assume_init_drop() };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Pop, Push, Ring};
    use std::sync::Arc;

    fn got<T>(p: Pop<T>) -> Option<T> {
        match p {
            Pop::Got(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn fifo_wraps_and_reports_full_and_empty() {
        let r = Ring::new(3);
        for lap in 0..5 {
            assert!(r.is_empty());
            for i in 0..3 {
                assert!(r.push(lap * 10 + i).is_ok());
            }
            assert!(r.is_full());
            assert_eq!(r.len(), 3);
            assert!(matches!(r.push(99), Err(Push::Full(99))));
            for i in 0..3 {
                assert_eq!(got(r.pop()), Some(lap * 10 + i));
            }
            assert!(matches!(r.pop(), Pop::Empty));
        }
    }

    #[test]
    fn mark_fails_pushes_but_drains() {
        let r = Ring::new(2);
        r.push(String::from("a")).ok().unwrap();
        assert!(r.mark());
        assert!(!r.mark(), "only the first mark reports true");
        assert!(matches!(r.push(String::from("b")), Err(Push::Marked(s)) if s == "b"));
        assert_eq!(r.len(), 1);
        assert_eq!(got(r.pop()).as_deref(), Some("a"));
        assert!(matches!(r.pop(), Pop::Marked));
    }

    #[test]
    fn drop_releases_buffered_values_once() {
        let v = Arc::new(());
        let r = Ring::new(4);
        for _ in 0..6 {
            // Wrap around once so the live values straddle the end.
            let _ = r.push(v.clone());
            let _ = r.pop();
        }
        for _ in 0..3 {
            r.push(v.clone()).ok().unwrap();
        }
        assert_eq!(Arc::strong_count(&v), 4);
        drop(r);
        assert_eq!(Arc::strong_count(&v), 1);
    }

    #[test]
    fn threads_conserve_values() {
        let n: u64 = if cfg!(miri) { 50 } else { 20_000 };
        let r = Arc::new(Ring::new(4));
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..n {
                        let mut v = p * n + i;
                        while let Err(Push::Full(back)) = r.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let (mut sum, mut count) = (0u64, 0u64);
                    while count < n {
                        match r.pop() {
                            Pop::Got(v) => {
                                sum += v;
                                count += 1;
                            }
                            _ => std::thread::yield_now(),
                        }
                    }
                    sum
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total, (0..2 * n).sum::<u64>());
    }
}

/// The loom stand-in (module docs): a locked queue with the same interface
/// and outcomes. Its lock gives acquire/release only; the waiter protocol's
/// total order comes from `array.rs`'s fences under loom.
#[cfg(loom)]
pub(crate) struct Ring<T> {
    /// The values, oldest first, and the mark.
    state: crate::loom::Mutex<(std::collections::VecDeque<T>, bool)>,
    /// Number of slots.
    cap: usize,
}

#[cfg(loom)]
impl<T> Ring<T> {
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(cap >= 1, "ferrogo: a ring needs at least one slot");
        Ring {
            state: crate::loom::Mutex::new((std::collections::VecDeque::new(), false)),
            cap,
        }
    }

    pub(crate) fn push(&self, value: T) -> Result<(), Push<T>> {
        let mut st = crate::loom::lock(&self.state);
        if st.1 {
            Err(Push::Marked(value))
        } else if st.0.len() == self.cap {
            Err(Push::Full(value))
        } else {
            st.0.push_back(value);
            Ok(())
        }
    }

    pub(crate) fn pop(&self) -> Pop<T> {
        let mut st = crate::loom::lock(&self.state);
        match st.0.pop_front() {
            Some(v) => Pop::Got(v),
            None if st.1 => Pop::Marked,
            None => Pop::Empty,
        }
    }

    pub(crate) fn mark(&self) -> bool {
        !std::mem::replace(&mut crate::loom::lock(&self.state).1, true)
    }

    pub(crate) fn is_marked(&self) -> bool {
        crate::loom::lock(&self.state).1
    }

    pub(crate) fn is_empty(&self) -> bool {
        crate::loom::lock(&self.state).0.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        crate::loom::lock(&self.state).0.len() == self.cap
    }

    pub(crate) fn len(&self) -> usize {
        crate::loom::lock(&self.state).0.len()
    }
}
