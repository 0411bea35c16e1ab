//! A worker's timers: the deadlines of goroutines parked with `park_until`.
//!
//! Each worker keeps a min-heap of `(deadline, goroutine, park generation)`.
//! Only goroutines homed on the worker arm timers there, and only the worker
//! fires them, so the heap needs no lock. A timer is never removed when its
//! goroutine is woken early: when it fires, it wakes the goroutine only if
//! the goroutine is still in the same park (`park_gen` unchanged), and is
//! otherwise discarded. The worker sleeps no longer than its earliest deadline.
//!
//! (The full timer subsystem — `time::Timer`, `Ticker`, stop/reset, a 4-ary
//! heap — builds on this in `ferrogo::time`.)

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::g::GRef;

/// One armed timer.
struct Entry {
    /// When it fires.
    deadline: Instant,
    /// Tie-breaker keeping equal deadlines in arming order.
    seq: u64,
    /// The goroutine to wake.
    g: GRef,
    /// The goroutine's `park_gen` when armed.
    generation: u64,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// The timer heap of one worker. Owner thread only.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Timers {
    /// Arms a timer for `g`'s current park.
    pub(crate) fn arm(&mut self, deadline: Instant, g: GRef) {
        self.seq += 1;
        let generation = g.park_gen.get();
        self.heap.push(Entry {
            deadline,
            seq: self.seq,
            g,
            generation,
        });
    }

    /// Number of armed timers.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.deadline)
    }

    /// Pops every timer due at `now` whose goroutine is still in the park it
    /// was armed for, and hands each goroutine to `wake`.
    pub(crate) fn fire(&mut self, now: Instant, mut wake: impl FnMut(GRef)) {
        while self.heap.peek().is_some_and(|e| e.deadline <= now) {
            let e = self.heap.pop().expect("peeked");
            if e.g.park_gen.get() == e.generation {
                wake(e.g);
            }
        }
    }

    /// Drops every timer (shutdown).
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
