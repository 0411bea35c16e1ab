//! The goroutine: its record (`G`), its lifecycle states, and the public
//! [`Goroutine`] identity returned by [`current`](crate::current).
//!
//! # Lifecycle
//!
//! ```text
//!   spawn ──► Unstarted ──(a worker takes a stack)──► Started ──► Finished
//!             (in a run queue;       │                 (lives on its home
//!              stealable; holds      │                  worker; see below)
//!              its entry closure)    │
//!                                    └─ a stack could not be had: waits in
//!                                       the worker's `starved` queue
//! ```
//!
//! Ownership per state:
//! * **Unstarted**: whoever holds the `GRef` in a run queue (one queue at a
//!   time) owns the body in its tail. Any worker may take it (stealing moves only these).
//! * **Started**: `coro`, `guard`, `yielder`, `seq`, `reg`, `unwinding`
//!   belong to the worker thread that holds the goroutine — the one running
//!   it, or the one whose run queue it sits in — and that worker records
//!   itself in `home`. By default that is always the same worker, the one
//!   that started it: a started goroutine never changes OS thread, so its
//!   thread-locals and thread-keyed state stay valid (the soundness rule of
//!   the crate). On a runtime built with the `unsafe`
//!   [`allow_migration`](crate::RuntimeBuilder::allow_migration) opt-in, a
//!   goroutine that is not [pinned](G::movable) may be taken from a shared
//!   queue by another worker, which then *adopts* it (sets `home` to
//!   itself). Ownership passes with the `GRef` through the queue (a
//!   release/acquire hand-off), so at any moment exactly one thread touches
//!   these fields.
//! * Any thread may read `id`, `name`, `wait_reason`, `home`, `pinned` and
//!   `park_gen`, and call [`park::wake`](super::park) which goes through
//!   `state`.
//!
//! # The park state (`state`)
//!
//! `RUNNING` (not parked: running, or queued to run), `NOTIFIED` (a wake
//! arrived while not parked: the next park returns at once), `PARKED`
//! (switched out and in no queue: only a wake brings it back; the state
//! itself owns one reference, the one the parking worker held, and the
//! waker that wins `PARKED→RUNNING` adopts it). The protocol is in
//! `park.rs`.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};

use corosensei::{Coroutine, Yielder};

use super::park::WaitReason;
use super::scheduler::Shared;
use crate::stack::GStack;

/// Counted references to goroutine records live in `record.rs`.
pub(crate) use super::record::GRef;

/// Why a goroutine hands control back to its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Still runnable: requeue it behind the others (`yield_now`).
    Yield,
    /// Used up its time slice (`checkpoint` saw sysmon's request): requeue
    /// it behind the others and let work from outside the worker in first.
    Preempt,
    /// Wants to park: the worker commits the park (or requeues it at once if
    /// a wake already arrived).
    Park,
}

/// The coroutine of a started goroutine.
pub(crate) type Coro = Coroutine<(), Switch, (), GStack>;

/// Park state: running or queued to run.
pub(crate) const RUNNING: u8 = 0;
/// Park state: a wake arrived while not parked.
pub(crate) const NOTIFIED: u8 = 1;
/// Park state: switched out, waiting for a wake.
pub(crate) const PARKED: u8 = 2;

/// `home` before the goroutine has started.
pub(crate) const NO_HOME: usize = u32::MAX as usize;

/// `G::reg` before the goroutine is entered in a registry.
const UNREGISTERED: (u32, u32) = (u32::MAX, u32::MAX);

/// A goroutine record. See the module comment for who may touch what.
pub(crate) struct G {
    /// Its id (unique, never reused; 1, 2, ... in spawn order per worker
    /// batch) and optional name (`Builder::name`); immutable. Kept whole so
    /// a `JoinHandle` can lend it out without a copy of its own.
    identity: Goroutine,
    /// The runtime this goroutine belongs to (runtimes' shared state is never freed).
    pub(crate) shared: &'static Shared,
    /// Park state: `RUNNING`, `NOTIFIED` or `PARKED` (protocol in `park.rs`).
    pub(crate) state: AtomicU8,
    /// Index of the worker whose thread runs it; `NO_HOME` until it starts.
    /// Written by the worker that starts it and, with migration, by a
    /// worker adopting it, always before that worker resumes it; read by
    /// wakers and by reports. A `u32` (worker counts are small), paired with
    /// `park_gen` in one word, keeps the record in the 192-byte class.
    home: AtomicU32,
    /// Incremented (wrapping) each time a park returns, so a timer armed for
    /// an earlier park cannot wake a later one. Written only by the goroutine
    /// itself; read by the worker whose timer heap holds its park deadline,
    /// which with migration may be another thread than the one running it
    /// (hence atomic; relaxed: a stale read only causes a spurious wake,
    /// which park allows, and so does a timer entry 2^32 parks old).
    pub(crate) park_gen: AtomicU32,
    /// With migration: the goroutine switched out while its thread was
    /// unwinding a panic, so it must stay on `home` until its next
    /// switch-out (see [`G::movable`]). Written by the worker holding it
    /// before it queues or parks it; read by wakers. Always false by default.
    pub(crate) pinned: AtomicBool,
    /// Why it is parked (a `WaitReason` as u8); written by the goroutine
    /// before it parks, read by reports.
    wait_reason: AtomicU8,
    /// Requested usable stack size in bytes (at most `MAX_STACK_SIZE`, 1 GiB:
    /// a `u32` keeps the record in its 192-byte allocator size class).
    stack_size: u32,
    /// The coroutine once started. Holder thread only.
    coro: UnsafeCell<Option<Coro>>,
    /// The running coroutine's yielder (lives on its stack; set once, when
    /// the coroutine starts). Holder thread only.
    yielder: Cell<*const Yielder<(), Switch>>,
    /// Lowest address of its stack's guard page (one page long), 0 before it
    /// starts. Written by the starting worker before first resume; read by
    /// the overflow handler of the thread running it.
    guard_lo: Cell<usize>,
    /// Scheduling stamp for fairness between the worker's queues. Written by
    /// the worker that queues it; read by the worker that takes it.
    pub(crate) seq: Cell<u64>,
    /// Where it is entered in a registry: `(worker, slot)` (`u32`s, so the
    /// record stays the size it had with a slot alone), or `UNREGISTERED`
    /// before its first switch-out. The worker is the one that ran it then
    /// (its home at the time; with migration the goroutine may since have
    /// moved). Holder thread only.
    reg: Cell<(u32, u32)>,
    /// Set while the runtime force-unwinds this goroutine at shutdown, so the
    /// root's panic catcher lets the unwind through. Holder thread only.
    pub(crate) unwinding: Cell<bool>,
    /// Its stack pointer when it last switched out, or 0 before that.
    /// Written by the goroutine itself; read by the worker that readies it
    /// next, only to prefetch ([`G::prefetch_resume`]): a stale value
    /// misdirects a prefetch and nothing else (hence relaxed).
    park_sp: AtomicUsize,
}

// SAFETY: the cells and unsafe cells of `G` are touched only under the
// ownership rules of the module comment: `coro`, `yielder`, `guard`, `seq`,
// `reg`, `unwinding` by the one worker thread holding the goroutine (the
// home worker; before start, the single worker taking it; with migration,
// ownership passes through a run queue's release/acquire hand-off).
// Everything other threads touch is atomic or immutable.
unsafe impl Send for G {}
// SAFETY: as for Send.
unsafe impl Sync for G {}

impl G {
    /// A new unstarted goroutine record.
    pub(crate) fn new(
        id: u64,
        name: Option<Arc<String>>,
        stack_size: usize,
        shared: &'static Shared,
    ) -> G {
        G {
            identity: Goroutine::new(id, name),
            shared,
            state: AtomicU8::new(RUNNING),
            home: AtomicU32::new(NO_HOME as u32),
            park_gen: AtomicU32::new(0),
            pinned: AtomicBool::new(false),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            stack_size: u32::try_from(stack_size).expect("ferrogo: stack size checked ≤ 1 GiB"),
            coro: UnsafeCell::new(None),
            yielder: Cell::new(std::ptr::null()),
            guard_lo: Cell::new(0),
            seq: Cell::new(0),
            reg: Cell::new(UNREGISTERED),
            unwinding: Cell::new(false),
            park_sp: AtomicUsize::new(0),
        }
    }

    /// The goroutine id.
    pub(crate) fn id(&self) -> u64 {
        self.identity.id
    }

    /// The goroutine name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.identity.name()
    }

    /// The requested usable stack size.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size as usize
    }

    /// The guard page `[lo, hi)` of its stack (`(0, 0)` before start).
    pub(crate) fn guard(&self) -> (usize, usize) {
        match self.guard_lo.get() {
            0 => (0, 0),
            lo => (lo, lo + crate::stack::PAGE),
        }
    }

    /// Index of the worker whose thread runs it; `NO_HOME` before it starts.
    #[inline]
    pub(crate) fn home(&self) -> usize {
        self.home.load(Ordering::Relaxed) as usize
    }

    /// Records the worker that runs it from now on (see the field).
    pub(crate) fn set_home(&self, worker: usize) {
        debug_assert!(worker < NO_HOME, "worker index fits in u32");
        self.home.store(worker as u32, Ordering::Relaxed);
    }

    /// The public identity handle.
    pub(crate) fn identity(&self) -> Goroutine {
        self.identity.clone()
    }

    /// The public identity, borrowed (what `JoinHandle::goroutine` lends).
    pub(crate) fn identity_ref(&self) -> &Goroutine {
        &self.identity
    }

    /// Records why it is about to park.
    pub(crate) fn set_wait_reason(&self, reason: WaitReason) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
    }

    /// Why it is parked (meaningful while `state == PARKED`).
    pub(crate) fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// True once a worker has started it.
    pub(crate) fn is_started(&self) -> bool {
        self.home() != NO_HOME
    }

    /// True if another worker may take this goroutine and run it: its
    /// runtime allows migration and it is not pinned. A goroutine is pinned
    /// while it is suspended in the middle of unwinding a panic: std keeps
    /// the panic count in a thread-local, raised on the thread where the
    /// panic began and lowered where `catch_unwind` ends it, so the unwind
    /// must finish on the thread where it started.
    #[inline]
    pub(crate) fn movable(&self) -> bool {
        self.shared.migrate && !self.pinned.load(Ordering::Relaxed)
    }

    /// The coroutine slot.
    ///
    /// # Safety
    ///
    /// Only the worker thread holding the goroutine (see the module comment)
    /// may call this, and not while the coroutine is running (no other
    /// reference to the slot may be live).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn coro(&self) -> &mut Option<Coro> {
        // SAFETY: exclusive access by the fn contract.
        unsafe { &mut *self.coro.get() }
    }

    /// Its registry entry `(worker, slot)`, if it has one. Holder thread only.
    pub(crate) fn registry_entry(&self) -> Option<(usize, usize)> {
        let (w, slot) = self.reg.get();
        (w != u32::MAX).then_some((w as usize, slot as usize))
    }

    /// Records its registry entry. Holder thread only.
    pub(crate) fn set_registry_entry(&self, worker: usize, slot: usize) {
        let entry = (
            u32::try_from(worker).expect("ferrogo: worker index fits in u32"),
            u32::try_from(slot).expect("ferrogo: registry slot fits in u32"),
        );
        debug_assert_ne!(entry, UNREGISTERED);
        self.reg.set(entry);
    }

    /// Records the stack facts of the goroutine's first run: the guard page
    /// `[lo, lo + PAGE)`. Holder thread only.
    pub(crate) fn set_guard(&self, (lo, hi): (usize, usize)) {
        debug_assert_eq!(hi - lo, crate::stack::PAGE);
        self.guard_lo.set(lo);
    }

    /// Records the yielder of the coroutine (called on its own stack).
    pub(crate) fn set_yielder(&self, y: *const Yielder<(), Switch>) {
        self.yielder.set(y);
    }

    /// Starts loading the stack lines this parked goroutine's resume will
    /// touch, for a caller that is about to make it run next (a local wake
    /// into `runnext`): the lines around its saved stack pointer (the
    /// registers the switch pops, the frames it returns through up to the
    /// blocked operation and its wait context) and the line at its stack's
    /// top that every resume writes (the coroutine's parent link, beside
    /// its yielder).
    ///
    /// In a long pipeline each of those is a cache miss: the prime sieve's
    /// 5,000 goroutines touch a stack a whole pass after they last did
    /// (cachegrind with a 2 MiB last-level cache, `sieve 3000`: four misses
    /// per hand-off, three of them on the woken goroutine's stack). The
    /// waker still has the rest of its operation to run and then its own
    /// switch before the woken one resumes, which hides the loads. Six
    /// lines, from the one below the saved pointer's to four above it, did
    /// as well as eight and better than four (BENCHMARKS.md, "Prefetching
    /// the woken stack"). Prefetches never fault, so a stale pointer costs
    /// nothing but the wasted loads.
    #[inline]
    pub(crate) fn prefetch_resume(&self) {
        let sp = self.park_sp.load(Ordering::Relaxed);
        if sp == 0 {
            return;
        }
        let first = (sp & !(CACHE_LINE - 1)).wrapping_sub(CACHE_LINE);
        for i in 0..PREFETCH_LINES {
            prefetch(first.wrapping_add(i * CACHE_LINE));
        }
        prefetch(self.yielder.get() as usize);
    }

    /// Switches from this (running) goroutine back to its worker.
    ///
    /// # Safety
    ///
    /// Must be called by the goroutine itself, on its own stack (so the
    /// yielder it recorded is the live one).
    #[inline(always)]
    pub(crate) unsafe fn switch_out(&self, why: Switch) {
        let y = self.yielder.get();
        debug_assert!(!y.is_null());
        self.park_sp.store(stack_pointer(), Ordering::Relaxed);
        // SAFETY: the yielder lives at the root of this goroutine's stack,
        // which we are running on, so it outlives this call.
        unsafe { (*y).suspend(why) };
    }
}

/// Cache line size assumed by [`G::prefetch_resume`].
const CACHE_LINE: usize = 64;

/// Stack lines [`G::prefetch_resume`] loads around a saved stack pointer.
const PREFETCH_LINES: usize = 6;

/// The current stack pointer (an approximation elsewhere than x86_64: the
/// address of a local).
#[inline(always)]
fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads the stack pointer register; touches no memory.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let marker = 0u8;
        std::hint::black_box(&marker) as *const u8 as usize
    }
}

/// Hints the CPU to load the cache line holding `addr` (a no-op where no
/// prefetch instruction is wired up).
#[inline(always)]
fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the
    // address (unmapped, a guard page), and changes no memory.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Identity of a goroutine, as returned by [`current`](crate::current).
///
/// Outside any goroutine (on a plain OS thread) the id is `0` and the name is
/// the thread's name.
///
/// ```
/// let me = ferrogo::go(|| ferrogo::current()).join().unwrap();
/// assert!(me.id() > 0);
/// assert_eq!(ferrogo::current().id(), 0); // the test thread is not a goroutine
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Goroutine {
    /// The goroutine id, or 0 for a plain thread.
    id: u64,
    /// The name given at spawn time, if any (an `Arc<String>`, one word,
    /// rather than a two-word `Arc<str>`: names are rare, records many).
    name: Option<Arc<String>>,
}

impl Goroutine {
    /// Identity of goroutine `id`.
    pub(crate) fn new(id: u64, name: Option<Arc<String>>) -> Goroutine {
        Goroutine { id, name }
    }

    /// Identity of a plain OS thread (id 0, the thread's name).
    pub(crate) fn of_thread() -> Goroutine {
        Goroutine {
            id: 0,
            name: std::thread::current()
                .name()
                .map(|n| Arc::new(n.to_owned())),
        }
    }

    /// The goroutine id: unique in the process, never reused; 0 for a plain thread.
    ///
    /// ```
    /// let a = ferrogo::go(|| ferrogo::current().id()).join().unwrap();
    /// let b = ferrogo::go(|| ferrogo::current().id()).join().unwrap();
    /// assert_ne!(a, b);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given with [`Builder::name`](crate::Builder::name), if any.
    ///
    /// ```
    /// let h = ferrogo::Builder::new().name("worker-1").spawn(|| {
    ///     ferrogo::current().name().map(str::to_owned)
    /// }).unwrap();
    /// assert_eq!(h.join().unwrap().as_deref(), Some("worker-1"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref().map(String::as_str)
    }
}

impl fmt::Debug for Goroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Goroutine")
            .field("id", &self.id)
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn record_size() {
        let sz = std::mem::size_of::<super::G>();

        assert!(
            sz <= 256,
            "G grew to {sz} bytes: keep the per-goroutine allocation small"
        );
    }
}
