//! Per-operation wait context and the wait-queue entries that point at it.
//!
//! # Design
//!
//! A blocked channel operation (a plain `send`/`recv`, or a whole `select`)
//! owns one [`Context`] on its stack. Each case it blocks on puts an [`Entry`]
//! in that channel's send or receive queue (Go's `sudog`). The entry points at
//! the context and at the case's value slot, both on the blocked caller's
//! stack (stackful goroutines keep their stacks in place while parked).
//!
//! ## The select slot: exactly one case commits
//!
//! `Context::state` is claimed by compare-and-swap, so among all the channels
//! a select waits on, at most one counterpart ever commits to it:
//!
//! ```text
//!             try_claim(i)              complete(i)
//!   WAITING ─────────────────▶ CLAIMED(i) ──────────▶ COMPLETE(i)
//!      │    (a counterpart, under        (same critical section, after
//!      │     channel i's lock)            moving the value)
//!      │ try_abort (owner: timeout, or a case turned out ready while registering)
//!      ▼
//!   ABORTED
//! ```
//!
//! Invariants (the protocol every queue user follows):
//! 1. An entry is only read, popped or removed while holding the lock of the
//!    channel whose queue holds it.
//! 2. A counterpart that wins `try_claim` moves the value through `slot` and
//!    calls [`Context::complete`] before releasing that lock; `complete` clones
//!    the waiter *before* publishing `COMPLETE`, because the owner may return
//!    and free the context the moment it sees `COMPLETE`.
//! 3. The owner removes every entry it registered (under each channel's lock)
//!    before its stack frame ends, on every path including unwinding. Hence an
//!    entry found in a queue always points at live memory.
//! 4. Entries whose context is no longer `WAITING` are stale: counterparts
//!    drop them when they meet them; the owner removes the rest.
//! 5. A *single-operation* context ([`Context::new`]: a plain `send`/`recv`,
//!    not a select) sits in one queue of one channel. It is claimed only under
//!    that queue's lock, and its owner never aborts it by CAS: on timeout or
//!    unwinding it removes its entry under the same lock, after checking that
//!    it is still `WAITING`. So every transition of its state happens under
//!    that one lock, and [`Context::try_claim`] needs no CAS for it: a load
//!    (`WAITING`?) decides, and the state goes straight from `WAITING` to
//!    `COMPLETE(0)` in [`Context::complete`]. That saves a locked instruction
//!    per hand-off; in a long pipeline (the prime sieve) this first touch of
//!    the blocked partner's stack is a cache miss, which a locked RMW stalls
//!    on and a load does not. A select's context ([`Context::new_select`]) can
//!    be claimed under several channels' locks at once and aborted by its
//!    owner, so its claim stays a CAS.
//!
//! A counterpart takes one shortcut from invariant 5. An entry of a
//! *goroutine's* single operation carries the goroutine's record (see
//! [`Owner`]), and the counterpart that pops it neither loads the context's
//! state (it is `WAITING`: the entry would not be queued otherwise) nor reads
//! its waiter (the record is in the entry): its only accesses to the
//! blocked goroutine's stack are the two stores that move the value and
//! publish `COMPLETE(0)`. In a long pipeline that context is the first line
//! of the blocked partner's stack each hand-off touches, a cache miss; a
//! load stalls on it, stores do not (cachegrind, `sieve 3000` with a 2 MiB
//! last-level cache: one read miss per hand-off fewer; timed, thread-ring
//! −7%, BENCHMARKS.md).
//!
//! The `Release` store of `COMPLETE(i)` pairs with the owner's `Acquire` load
//! in [`Context::completed`]: the value written through `slot` is visible to
//! the owner once it sees the completion.
//!
//! Rejected alternatives: a heap-allocated, reference-counted context per
//! blocking operation (crossbeam's thread-local cached `Arc`) — with
//! goroutines many contexts are parked on one thread at once, so the cache
//! misses exactly when it matters; the stack location is free and lives as
//! long as the operation.
use std::ptr::NonNull;
use std::time::Instant;

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::runtime::park::{self, WaitReason, Waiter, WaiterRef};
use crate::runtime::record::Header;

/// Nobody has committed to this context yet.
const WAITING: usize = 0;
/// The owner gave up (timeout, or retry because a case became ready).
const ABORTED: usize = 1;

/// `CLAIMED(case)`: a counterpart owns the context and is moving the value.
fn claimed(case: usize) -> usize {
    2 + 2 * case
}

/// `COMPLETE(case)`: the value has moved; the owner may return.
fn complete_state(case: usize) -> usize {
    3 + 2 * case
}

/// The shared state of one blocked operation (a `sudog`'s `g` plus `selectDone`).
///
/// Public only so the sealed `Case` trait can name it; unreachable by users.
#[doc(hidden)]
pub struct Context {
    /// `WAITING`, `ABORTED`, `CLAIMED(i)` or `COMPLETE(i)`; see the module docs.
    state: AtomicUsize,
    /// Who to wake after completing (not owned: the owner stays blocked while
    /// the context is reachable). Read-only after construction.
    waiter: WaiterRef,
    /// A single operation's context (invariant 5): claimed without a CAS.
    /// Read-only after construction.
    single: bool,
}

impl Context {
    /// A fresh context for a single blocking operation (not a select) of the
    /// calling goroutine or thread; its owner never calls
    /// [`Context::try_abort`] (invariant 5).
    #[inline]
    pub(crate) fn new() -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            waiter: WaiterRef::current(),
            single: true,
        }
    }

    /// A fresh context for a select of the calling goroutine or thread.
    pub(crate) fn new_select() -> Context {
        Context {
            state: AtomicUsize::new(WAITING),
            waiter: WaiterRef::current(),
            single: false,
        }
    }

    /// True while no one has claimed or aborted the context.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Tries to commit the owner to `case`. At most one call ever succeeds
    /// (or `try_abort` does). Precondition: the caller holds the lock of the
    /// channel whose queue holds the entry for `case`.
    #[must_use]
    #[inline]
    pub(crate) fn try_claim(&self, case: usize) -> bool {
        if self.single {
            // Invariant 5: only holders of the lock we hold change this
            // state, so a load decides, and it stays WAITING until our
            // `complete`. Acquire like the CAS it replaces (free on x86).
            return self.state.load(Ordering::Acquire) == WAITING;
        }
        // AcqRel: serialises with the other claimers and with `try_abort`.
        self.state
            .compare_exchange(WAITING, claimed(case), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The owner of a select gives up waiting. `Err(())` means a counterpart
    /// claimed the context first: the owner must wait for
    /// [`Context::completed`]. Never called on a single operation's context
    /// (invariant 5).
    pub(crate) fn try_abort(&self) -> Result<(), ()> {
        debug_assert!(
            !self.single,
            "ferrogo: try_abort on a single-operation context"
        );
        self.state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| ())
    }

    /// `Some(case)` once a counterpart completed the owner's operation on `case`.
    #[inline]
    pub(crate) fn completed(&self) -> Option<usize> {
        // Acquire: pairs with the Release store in `complete`, so the value the
        // counterpart moved through the slot is visible.
        let s = self.state.load(Ordering::Acquire);
        (s >= 3 && s % 2 == 1).then(|| (s - 3) / 2)
    }

    /// Publishes that the claimed operation on `case` finished; returns the
    /// waiter to wake once the channel lock is released.
    ///
    /// # Safety
    ///
    /// `cx` points at a live context that the caller claimed for `case` with
    /// [`Context::try_claim`], and the caller still holds the lock under which
    /// it claimed. After this call `cx` may dangle: the owner can return as
    /// soon as it observes the new state.
    #[inline]
    pub(crate) unsafe fn complete(cx: *const Context, case: usize) -> Waiter {
        // SAFETY: the caller guarantees `cx` is live until the store below;
        // the owner cannot leave before seeing COMPLETE (invariant 3 and the
        // claim keeps it waiting).
        let cx = unsafe { &*cx };
        // A select never matches its own opposite case (`has_counterpart`
        // skips the own context); a plain operation has no other case.
        debug_assert_ne!(cx.waiter.id(), crate::runtime::park::current_id());
        // SAFETY: the owner is blocked waiting for this claim to complete, so
        // the goroutine or thread it names is alive.
        let waiter = unsafe { cx.waiter.to_waiter() };
        // Release: pairs with the Acquire in `completed` (publishes the slot write).
        cx.state.store(complete_state(case), Ordering::Release);
        waiter
    }
}

/// Parks the owner of the single-operation context `cx` until a counterpart
/// completes it (true), or until `deadline` passes and `remove_if_waiting`
/// takes its entry out while it is still `WAITING` (false). The flavors call
/// it with their own removal (under the lock that claims entries, so the
/// context is then `WAITING` or `COMPLETE`) and keep their own unwind guard.
/// Inlined: it is on the path to the switch (ARCHITECTURE.md, "The cost of a
/// switch is in the returns").
#[inline(always)]
pub(crate) fn wait_single(
    cx: &Context,
    reason: WaitReason,
    deadline: Option<Instant>,
    mut remove_if_waiting: impl FnMut() -> bool,
) -> bool {
    loop {
        if cx.completed().is_some() {
            return true;
        }
        match deadline {
            None => park::park(reason),
            Some(d) if Instant::now() >= d => {
                if remove_if_waiting() {
                    return false;
                }
            }
            Some(d) => park::park_until(reason, d),
        }
    }
}

/// One blocked case in a channel's send or receive queue (a `sudog`).
pub(crate) struct Entry<T> {
    /// The owner's context; live while the entry is queued (invariant 3).
    pub(crate) cx: *const Context,
    /// The owner's value slot: holds the offered value for a send, receives
    /// the value (or stays `None` on close) for a receive. Written only by
    /// the counterpart that claimed `cx`, under the channel lock.
    pub(crate) slot: *mut Option<T>,
    /// The owner's case index, or for a goroutine's single operation its
    /// record.
    pub(crate) owner: Owner,
}

impl<T> Entry<T> {
    /// The placeholder of an empty inline queue slot: no context (null `cx`).
    pub(crate) const VACANT: Entry<T> = Entry {
        cx: std::ptr::null(),
        slot: std::ptr::null_mut(),
        owner: Owner(1),
    };

    /// True for [`Entry::VACANT`].
    #[inline]
    pub(crate) fn is_vacant(&self) -> bool {
        self.cx.is_null()
    }

    /// The case index inside the owner's select (0 for a single operation).
    #[inline]
    pub(crate) fn case(&self) -> usize {
        self.owner.case()
    }

    /// [`Context::try_claim`] for this entry's case, without touching the
    /// context for a goroutine's single operation (module docs).
    /// Precondition: the caller holds the lock of the channel whose queue
    /// held the entry.
    #[must_use]
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        match self.owner.record() {
            // Invariant 5: queued, so WAITING, until our `complete`.
            Some(_) => true,
            // SAFETY: a queued entry's context is live (invariant 3).
            None => unsafe { &*self.cx }.try_claim(self.owner.case()),
        }
    }

    /// [`Context::complete`] for this entry's case: publishes the completion
    /// and returns the waiter to wake once the lock is released.
    ///
    /// # Safety
    ///
    /// As for [`Context::complete`]: the caller claimed the entry with
    /// [`Entry::try_claim`] and still holds the lock under which it did; the
    /// context may dangle after this call. And the caller wakes the returned
    /// waiter right after releasing that lock, before its thread runs
    /// anything else: it may be a [`Waiter::Local`], which holds no
    /// reference (see [`Waiter::local`]).
    #[inline]
    pub(crate) unsafe fn complete(&self) -> Waiter {
        match self.owner.record() {
            Some(g) => {
                // SAFETY: the owner is blocked until it sees the store below
                // (invariant 3 and the claim), so its record is alive; the
                // caller wakes the waiter right after unlocking, before its
                // thread switches (this fn's contract).
                let waiter = unsafe { Waiter::local(g) };
                // SAFETY: the context is live until the store (as above).
                let cx = unsafe { &*self.cx };
                debug_assert!(cx.single && cx.is_waiting());
                // Release: pairs with the Acquire in `completed`.
                cx.state.store(complete_state(0), Ordering::Release);
                waiter
            }
            // SAFETY: per the fn contract.
            None => unsafe { Context::complete(self.cx, self.owner.case()) },
        }
    }
}

/// The third word of an [`Entry`]: what a counterpart needs besides the
/// context and the slot.
///
/// ```text
///   bit 0 = 1: (case << 1) | 1   a select's case, or a thread's single operation
///   bit 0 = 0: record address    a goroutine's single operation (records are
///                                at least 16-aligned, so bit 0 is free)
/// ```
///
/// One word, so that an entry stays three and the two inline queue heads
/// stay in the channel's first cache line (`locked.rs`, "Layout").
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(usize);

impl Owner {
    /// Case `case` of a select, or a plain thread's single operation (case 0).
    pub(crate) fn case_of(case: usize) -> Owner {
        debug_assert!(case <= usize::MAX >> 1);
        Owner((case << 1) | 1)
    }

    /// The owner of single-operation context `cx`: its goroutine's record,
    /// or case 0 for a plain thread.
    pub(crate) fn single(cx: &Context) -> Owner {
        debug_assert!(cx.single);
        match cx.waiter.record() {
            Some(g) => {
                debug_assert_eq!(g.as_ptr() as usize & 1, 0);
                Owner(g.as_ptr() as usize)
            }
            None => Owner::case_of(0),
        }
    }

    /// The case index (0 for a single operation).
    #[inline]
    pub(crate) fn case(self) -> usize {
        if self.0 & 1 == 1 { self.0 >> 1 } else { 0 }
    }

    /// The record of a goroutine's single operation.
    #[inline]
    fn record(self) -> Option<NonNull<Header>> {
        if self.0 & 1 == 1 {
            None
        } else {
            NonNull::new(self.0 as *mut Header)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn owner_words_keep_cases_and_records_apart() {
        for case in [0, 1, 2, 63, 1 << 20] {
            let o = Owner::case_of(case);
            assert_eq!(o.case(), case);
            assert!(o.record().is_none());
        }
        // A record address (records are at least 16-aligned).
        let g = NonNull::<Header>::dangling();
        assert_eq!(g.as_ptr() as usize % 2, 0);
        let o = Owner(g.as_ptr() as usize);
        assert_eq!(o.record(), Some(g));
        assert_eq!(o.case(), 0, "a single operation is case 0");
        // A plain thread's single operation names no record: the
        // counterpart reads its context as before.
        let cx = Context::new();
        let o = Owner::single(&cx);
        assert!(o.record().is_none());
        assert_eq!(o.case(), 0);
        let e = Entry::<u8> {
            cx: &cx,
            slot: std::ptr::null_mut(),
            owner: o,
        };
        assert!(e.try_claim(), "a waiting context is claimable");
    }

    #[test]
    fn a_goroutines_single_operation_carries_its_record() {
        let rt = crate::Runtime::builder().max_procs(1).build().unwrap();
        rt.run(|| {
            let cx = Context::new();
            let o = Owner::single(&cx);
            assert_eq!(o.record(), cx.waiter.record());
            assert!(o.record().is_some());
        });
    }
}
