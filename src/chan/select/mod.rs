//! `select`: wait on several channel operations, commit exactly one.
//!
//! # Design
//!
//! Each operation is a *case* ([`RecvCase`], [`SendCase`]) behind the sealed
//! [`Case`] trait: `try_complete` (non-blocking attempt), `register` /
//! `unregister` (queue an entry on the channel). [`run`] drives any slice of
//! cases; both the `select!` macro (cases on the caller's stack, no
//! allocation) and the dynamic [`Select`] builder (boxed cases) use it.
//! A new kind of case implements the trait; `run` never changes. The
//! builder, its errors and the committed-operation handle are in
//! `select/dynamic.rs`; this file is the engine both share.
//!
//! The algorithm (Go's `selectgo`, with crossbeam's register-then-check):
//!
//! 1. Order the cases: a uniformly random permutation (Fisher–Yates with a
//!    thread-local xorshift), or declaration order when biased. The first
//!    ready case in a uniform permutation is uniform among the ready ones.
//! 2. Poll: `try_complete` each case in order; the first that succeeds wins.
//!    A closed channel's receive is always ready (it yields `None`); a send on
//!    a closed channel is ready too (it fails, handing the value back).
//! 3. Nothing ready: `default` (or an expired `after`) wins.
//! 4. Block: make one `Context` on the stack and register it on every case,
//!    in order. Registration re-checks readiness under that channel's lock;
//!    if a case turned ready in between, the owner aborts its context,
//!    unregisters and goes back to 2 (a counterpart that claimed the context
//!    first wins instead). Then park once until a counterpart commits one case
//!    (CAS on the context, see `context.rs`), or the deadline passes and the
//!    owner's own abort CAS succeeds.
//! 5. Unregister every case (taking each lock), which guarantees no
//!    counterpart touches a slot afterwards; return the winning index.
//!
//! Exactly one case commits: a case commits only by winning the context CAS
//! (blocked path) or by completing in step 2 before any context exists. A send
//! case that did not commit still owns its value in its slot; it is dropped
//! with the case (or kept for the next round in a reused [`Select`]).
//!
//! Rejected alternative: Go's lock-all-channels-in-address-order. It makes
//! poll+register atomic, but needs a sorted lock order over heterogeneous
//! channels and holds many locks at once; register-then-check needs one lock
//! at a time and costs a retry only on a race.
use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::DerefMut;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod dynamic;
pub use dynamic::{Select, SelectTimeoutError, SelectedOperation, TrySelectError};

use super::channel::{Queue, TryRecv, TrySend};
use super::context::Context;
use super::{Receiver, SendError, Sender};
use crate::runtime::park::{self, WaitReason};

mod sealed {
    /// Only this module's cases may implement `Case` (they keep its safety contract).
    pub trait Sealed {}
}

/// One operation of a select (implementation detail of `select!`/[`Select`]).
///
/// The trait is sealed: `run` relies on every implementation removing its
/// entries in `unregister`.
#[doc(hidden)]
pub trait Case: sealed::Sealed {
    /// Attempts the operation without blocking; true if it finished (the
    /// outcome is stored in the case).
    fn try_complete(&mut self) -> bool;
    /// Queues `cx` as case `index`, unless the operation could proceed now,
    /// in which case it returns true and queues nothing. The case must not be
    /// moved until `unregister` has been called.
    fn register(&mut self, cx: &Context, index: usize) -> bool;
    /// Removes the entry queued by `register`, if a counterpart did not pop it.
    fn unregister(&mut self, cx: &Context, index: usize);
    /// Records that this case won (read by the `select!` arms).
    fn mark_selected(&mut self);
    /// Identity of the channel, for [`SelectedOperation`]'s checks (null: never).
    fn chan_id(&self) -> *const ();
    /// True for a receive case.
    fn is_recv(&self) -> bool;
    /// True if a counterpart that completes this case's entry has moved the
    /// value (the case is done); false if the completion only notifies and
    /// the case must be retried (buffered channels, see `array.rs`).
    fn hands_off(&self) -> bool;
}

/// A receive case: `recv(rx) -> v`.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    /// The receiver polled.
    rx: &'a Receiver<T>,
    /// The received value after completion; `None` after completion means
    /// "closed". Written by a counterpart while registered.
    slot: Option<T>,
    /// Set by `run` when this case won.
    selected: bool,
}

/// A send case: `send(tx, value) -> res`.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    /// The sender used.
    tx: &'a Sender<T>,
    /// The value offered; taken by the receiver that commits. `Some` after
    /// completion means the send failed (closed). `None` before a round means
    /// the case is spent (never ready).
    slot: Option<T>,
    /// Set by `run` when this case won.
    selected: bool,
}

impl<'a, T> RecvCase<'a, T> {
    /// A case receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvCase {
            rx,
            slot: None,
            selected: false,
        }
    }

    /// True if this case won the select.
    pub fn __is_selected(&self) -> bool {
        self.selected
    }

    /// The outcome: `Some(v)`, or `None` when the channel is closed.
    pub fn __take(&mut self) -> Option<T> {
        self.slot.take()
    }
}

impl<'a, T> SendCase<'a, T> {
    /// A case sending `value` on `tx`.
    pub fn new(tx: &'a Sender<T>, value: T) -> Self {
        SendCase {
            tx,
            slot: Some(value),
            selected: false,
        }
    }

    /// True if this case won the select.
    pub fn __is_selected(&self) -> bool {
        self.selected
    }

    /// The outcome: `Ok(())`, or the value back when the channel is closed.
    pub fn __take(&mut self) -> Result<(), SendError<T>> {
        match self.slot.take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}

impl<T> sealed::Sealed for RecvCase<'_, T> {}
impl<T> sealed::Sealed for SendCase<'_, T> {}

impl<T> Case for RecvCase<'_, T> {
    fn try_complete(&mut self) -> bool {
        let Some(chan) = self.rx.chan() else {
            return false;
        };
        match chan.poll_recv() {
            TryRecv::Got(v, _) => {
                self.slot = Some(v);
                true
            }
            TryRecv::Closed => {
                self.slot = None;
                true
            }
            TryRecv::Empty => false,
        }
    }

    fn register(&mut self, cx: &Context, index: usize) -> bool {
        let Some(chan) = self.rx.chan() else {
            return false;
        };
        debug_assert!(self.slot.is_none());
        // SAFETY: `run` keeps this case in place and calls `unregister` before
        // touching the slot again or returning (also on unwind), and the slot
        // starts as `None` as a receive entry requires.
        unsafe { chan.register(Queue::Recv, cx, &raw mut self.slot, index) }
    }

    fn unregister(&mut self, cx: &Context, index: usize) {
        if let Some(chan) = self.rx.chan() {
            chan.unregister(Queue::Recv, cx, index);
        }
    }

    fn mark_selected(&mut self) {
        self.selected = true;
    }

    fn chan_id(&self) -> *const () {
        self.rx
            .chan()
            .map_or(ptr::null(), |c| std::sync::Arc::as_ptr(c).cast())
    }

    fn is_recv(&self) -> bool {
        true
    }

    fn hands_off(&self) -> bool {
        self.rx.chan().is_some_and(|c| c.hands_off())
    }
}

impl<T> Case for SendCase<'_, T> {
    fn try_complete(&mut self) -> bool {
        let Some(value) = self.slot.take() else {
            return false;
        };
        match self.tx.chan().poll_send(value) {
            TrySend::Sent(_) => true,
            TrySend::Closed(v) => {
                self.slot = Some(v);
                true
            }
            TrySend::Full(v) => {
                self.slot = Some(v);
                false
            }
        }
    }

    fn register(&mut self, cx: &Context, index: usize) -> bool {
        if self.slot.is_none() {
            return false; // spent: behaves like a nil channel
        }
        // SAFETY: as for `RecvCase::register`; the slot holds `Some(value)` as a
        // send entry requires.
        unsafe {
            self.tx
                .chan()
                .register(Queue::Send, cx, &raw mut self.slot, index)
        }
    }

    fn unregister(&mut self, cx: &Context, index: usize) {
        self.tx.chan().unregister(Queue::Send, cx, index);
    }

    fn mark_selected(&mut self) {
        self.selected = true;
    }

    fn chan_id(&self) -> *const () {
        std::sync::Arc::as_ptr(self.tx.chan()).cast()
    }

    fn is_recv(&self) -> bool {
        false
    }

    fn hands_off(&self) -> bool {
        self.tx.chan().hands_off()
    }
}

/// When a select stops waiting.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Timeout {
    /// Never: block until a case commits.
    Never,
    /// Now: poll once (`default`).
    Now,
    /// At the instant (`after`).
    At(Instant),
}

impl Timeout {
    /// `after(d)`: a deadline `d` from now; `Duration::MAX` (overflow) means never.
    pub fn after(d: Duration) -> Timeout {
        if d.is_zero() {
            return Timeout::Now;
        }
        Instant::now()
            .checked_add(d)
            .map_or(Timeout::Never, Timeout::At)
    }
}

thread_local! {
    /// xorshift64* state for case shuffling; any nonzero seed works.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A cheap per-thread random number (xorshift64*), seeded lazily.
fn next_random() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seed: a per-thread Weyl sequence step mixed with a stack address
            // (ASLR). Needs only to differ between threads and runs; no clock,
            // so it also runs under Miri's isolation.
            static SEEDS: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
            let local = 0u8;
            x = SEEDS.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                ^ (&raw const local as usize as u64).rotate_left(29);
            x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Shuffles `order` uniformly (Fisher–Yates). One 64-bit draw serves many
/// steps: each step takes `j = ⌊x·(i+1) / 2⁶⁴⌋` and keeps the low half of
/// the product as the next `x` (Lemire's multiply-shift reduction reusing
/// its remainder); a fresh draw is taken once the product of the ranges used
/// passes 2³², so the bias per step stays below 2⁻³².
///
/// Never inlined: it reads the `RNG` thread-local, and on a runtime that lets
/// goroutines migrate the address of a thread-local must be computed afresh
/// after every switch (see `runtime/worker.rs`). A call from the generic
/// `run` is not inlined across crates anyway; this keeps it so under LTO.
#[inline(never)]
fn shuffle(order: &mut [u32]) {
    let mut x = next_random();
    let mut used: u64 = 1;
    for i in (1..order.len()).rev() {
        let n = i as u64 + 1;
        used = used.saturating_mul(n);
        if used > 1 << 32 {
            x = next_random();
            used = n;
        }
        let m = u128::from(x) * u128::from(n);
        order.swap(i, (m >> 64) as usize);
        x = m as u64;
    }
}

/// Orders up to this many cases without allocating.
const INLINE_CASES: usize = 32;

/// Unregisters the registered prefix of a round on every exit (context invariant 3).
struct Round<'r, C: DerefMut<Target = D>, D: Case + ?Sized> {
    /// All cases.
    cases: &'r mut [C],
    /// The visiting order.
    order: &'r [u32],
    /// How many cases (in `order`) have an entry queued.
    registered: usize,
    /// The round's context.
    cx: &'r Context,
    /// `D` is only named through `C`.
    _d: PhantomData<fn(&D)>,
}

impl<C: DerefMut<Target = D>, D: Case + ?Sized> Drop for Round<'_, C, D> {
    fn drop(&mut self) {
        for &i in &self.order[..self.registered] {
            self.cases[i as usize].unregister(self.cx, i as usize);
        }
    }
}

/// Runs a select over `cases`; `Some(i)` when case `i` committed (and was
/// marked selected), `None` for `default`/timeout. Used by `select!`.
#[doc(hidden)]
pub fn run<C, D>(cases: &mut [C], timeout: Timeout, biased: bool) -> Option<usize>
where
    C: DerefMut<Target = D>,
    D: Case + ?Sized,
{
    // A select is a preemption point (the slice may be used up).
    crate::runtime::checkpoint();
    let n = cases.len();
    let mut inline = [0u32; INLINE_CASES];
    let mut heap = Vec::new();
    let order: &mut [u32] = if n <= INLINE_CASES {
        &mut inline[..n]
    } else {
        heap.resize(n, 0);
        &mut heap
    };
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u32;
    }
    if !biased {
        shuffle(order);
    }
    let order: &[u32] = order;
    let reason = if n == 0 {
        WaitReason::SelectNoCases
    } else {
        WaitReason::Select
    };

    loop {
        // 2. Poll.
        for &i in order {
            if cases[i as usize].try_complete() {
                cases[i as usize].mark_selected();
                return Some(i as usize);
            }
        }
        // 3. Nothing ready.
        let deadline = match timeout {
            Timeout::Now => return None,
            Timeout::At(d) if Instant::now() >= d => return None,
            Timeout::At(d) => Some(d),
            Timeout::Never => None,
        };
        // 4. Register on every case, then park once.
        let cx = Context::new_select();
        let mut round = Round {
            cases: &mut *cases,
            order,
            registered: 0,
            cx: &cx,
            _d: PhantomData,
        };
        let mut turned_ready = false;
        for &i in order {
            if round.cases[i as usize].register(&cx, i as usize) {
                turned_ready = true;
                break;
            }
            round.registered += 1;
        }
        let mut outcome = None;
        if turned_ready && cx.try_abort().is_ok() {
            // Retry the poll; `round` unregisters on drop.
        } else {
            outcome = loop {
                if let Some(i) = cx.completed() {
                    break Some(i);
                }
                match deadline {
                    Some(d) if Instant::now() >= d => {
                        if cx.try_abort().is_ok() {
                            break None;
                        }
                        // Claimed: the counterpart completes and wakes us.
                        park::park(reason);
                    }
                    Some(d) => park::park_until(reason, d),
                    None => park::park(reason),
                }
            };
            if outcome.is_none() {
                // 5. Timed out.
                drop(round);
                return None;
            }
        }
        // 5. Unregister everything (no counterpart touches a slot afterwards).
        drop(round);
        if let Some(i) = outcome {
            // A hand-off completed the case; a notification asks for a retry,
            // which fails only if another operation took the value or slot.
            if cases[i].hands_off() || cases[i].try_complete() {
                cases[i].mark_selected();
                return Some(i);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::shuffle;

    fn shuffled(n: u32) -> Vec<u32> {
        let mut order: Vec<u32> = (0..n).collect();
        shuffle(&mut order);
        order
    }

    /// True if `count` is within 6 standard deviations of a binomial mean.
    fn plausible(count: u32, trials: u32, p: f64) -> bool {
        let mean = f64::from(trials) * p;
        (f64::from(count) - mean).abs() < 6.0 * (mean * (1.0 - p)).sqrt()
    }

    /// All 24 orders of 4 cases come out equally often (the reused remainder
    /// must not bias later steps).
    #[test]
    fn shuffle_of_four_is_uniform() {
        let trials = 240_000;
        let mut counts = std::collections::HashMap::new();
        for _ in 0..trials {
            *counts.entry(shuffled(4)).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 24);
        for (perm, c) in counts {
            assert!(plausible(c, trials, 1.0 / 24.0), "{perm:?} came {c} times");
        }
    }

    /// With 13 cases (13! > 2³², so a second draw is taken) every case lands
    /// in every position equally often.
    #[test]
    fn shuffle_of_thirteen_is_uniform_per_position() {
        let trials = 130_000;
        let mut counts = [[0u32; 13]; 13];
        for _ in 0..trials {
            for (pos, v) in shuffled(13).into_iter().enumerate() {
                counts[pos][v as usize] += 1;
            }
        }
        for (pos, row) in counts.iter().enumerate() {
            for (v, &c) in row.iter().enumerate() {
                assert!(plausible(c, trials, 1.0 / 13.0), "case {v} at {pos}: {c}");
            }
        }
    }
}
