//! The scheduler's shared state: what every thread may touch to hand a
//! goroutine to a runtime, and where each kind of goroutine goes.
//!
//! # Placement (the soundness rule decides it)
//!
//! By default a started goroutine never changes OS thread (see `g.rs`), so
//! run queues are split by what may move:
//!
//! ```text
//!                    per worker (Remote, shared)        per worker (Core, owner only)
//!  unstarted:        deque (LIFO for the owner,         runnext slot
//!                    FIFO-end stealable by others)
//!  started:          inbox (readied by other threads)   ready queue (FIFO), runnext
//!  runtime-wide:     injector (spawns from outside a worker, overflow)
//! ```
//!
//! * `go` on a worker puts the child in that worker's `runnext` (it runs
//!   next, inheriting the time slice, so a producer/consumer pair stays
//!   together); the previous `runnext` moves to the deque, where idle workers
//!   may steal it. While sysmon has the worker *spilling* (it stayed
//!   saturated while another idled, `spill.rs`), the child goes to that
//!   other worker's inbox instead and starts there.
//! * `go` from a plain thread or another runtime pushes to the injector.
//! * Waking a started goroutine from its home worker puts it in `runnext`;
//!   from any other thread it goes to the home worker's inbox, and the home
//!   worker is unparked if it sleeps.
//!
//! # Placement with migration (`Shared::migrate`)
//!
//! A runtime built with the `unsafe` `allow_migration` opt-in treats a
//! started goroutine that is not pinned ([`G::movable`](super::g::G::movable))
//! like Go does, at four decision points; everything else is unchanged:
//!
//! 1. **Wake** (`ready_started`): on a worker of its runtime the goroutine
//!    goes to *that* worker's `runnext`, wherever it ran before; from any
//!    other thread to the injector (any worker may take it).
//! 2. **Displaced from `runnext`** (`Core::put_runnext`): to the deque, where
//!    thieves can take it, instead of the private `ready` queue.
//! 3. **Yield and preemption** (`Core::run`): to the injector (Go's
//!    `Gosched` and preemption use its global queue), behind every runnable
//!    goroutine of the worker, and visible to idle workers.
//! 4. **Adoption** (`Core::run`): a worker about to resume a started
//!    goroutine last run elsewhere makes itself its `home`.
//!
//! So started goroutines sit in the same stealable queues as unstarted ones
//! and the stealing rules (`worker/find.rs`) apply to both. Pinned goroutines
//! (suspended while unwinding a panic) keep the default placement. What
//! depends on a home worker copes with a moving one: stacks return to the
//! pool of the worker where the goroutine finishes (`Remote::stacks_in_use`
//! counts per worker and sums exactly), a goroutine stays in the registry it
//! entered (`G::reg` names it), a park deadline fires from the heap where it
//! was armed and wakes the goroutine wherever it is, and shutdown unwinds
//! each goroutine on the worker it last ran on once every worker has stopped
//! running goroutines (`Core::shutdown`).
//!
//! The worker's pick order and the stealing rules are in `worker/find.rs`; the
//! sleep/wake protocol in `idle.rs`.

use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;

use super::g::{GRef, NO_HOME};
use super::idle::Idle;
use super::worker;
use crate::stack::pool::StackPool;

/// Runtimes alive in the process (the deadlock detector only reports when it
/// is alone: another runtime's goroutines could wake ours).
pub(crate) static LIVE_RUNTIMES: AtomicUsize = AtomicUsize::new(0);

/// Goroutine ids: handed out in batches to workers, one at a time to threads.
static NEXT_GOID: AtomicU64 = AtomicU64::new(1);

/// Ids a worker takes from [`NEXT_GOID`] at once.
pub(crate) const GOID_BATCH: u64 = 64;

/// Takes `n` consecutive goroutine ids; returns the first.
pub(crate) fn take_goids(n: u64) -> u64 {
    NEXT_GOID.fetch_add(n, Ordering::Relaxed)
}

/// What other threads may touch of one worker.
pub(crate) struct Remote {
    /// Steals unstarted goroutines from the worker's deque.
    pub(crate) stealer: Stealer<GRef>,
    /// Started goroutines homed here and readied by other threads.
    pub(crate) inbox: Mutex<Vec<GRef>>,
    /// `inbox.len()`, readable without the lock.
    pub(crate) inbox_len: AtomicUsize,
    /// The worker's thread, for unparking; set when it starts.
    pub(crate) thread: OnceLock<Thread>,
    /// Bumped by the worker each time it starts a new time slice (not for
    /// `runnext` hand-offs, which inherit the slice). Read by sysmon and by
    /// thieves deciding whether the owner is making progress.
    pub(crate) schedtick: AtomicU64,
    /// True while the worker runs a goroutine (read by sysmon).
    pub(crate) busy: AtomicBool,
    /// Resumes so far (written by the owner only); thieves read it to see
    /// whether the owner is switching between goroutines.
    pub(crate) switches: AtomicU64,
    /// Set by sysmon when the running goroutine used up its slice; consumed
    /// at the goroutine's next runtime call.
    pub(crate) preempt: AtomicBool,
    /// Goroutines spawned here minus goroutines finished here (may be
    /// negative; the sum over workers and `Shared::live_outside` is exact).
    pub(crate) live: AtomicIsize,
    /// Timers pending in the worker's heap (read by the deadlock detector).
    pub(crate) timers: AtomicUsize,
    /// Timers armed by plain threads for this worker, not yet in its heap.
    pub(crate) incoming: Mutex<Vec<super::timer::Entry>>,
    /// `incoming.len()`, readable without the lock.
    pub(crate) incoming_len: AtomicUsize,
    /// Unstarted goroutines waiting here for a stack.
    pub(crate) starved: AtomicUsize,
    /// Started goroutines that first switched out on this worker (for
    /// shutdown and reports). By default they all live here; with migration
    /// they may have moved since (`G::home` says where each is).
    pub(crate) registry: Mutex<Registry>,
    /// Stacks this worker gave to goroutines it started, minus stacks of
    /// goroutines that finished here (written by the owner only). By default
    /// both happen on the goroutine's one worker, so this is the number of
    /// stacks its goroutines hold. With migration a goroutine may finish
    /// elsewhere, so one worker's count may be off, even negative; the sum
    /// over workers is exact (like `live`).
    pub(crate) stacks_in_use: AtomicIsize,
    /// Where goroutines spawned on this worker start instead of here
    /// (`NO_SPILL`: here). Set and cleared by sysmon (`spill.rs`).
    pub(crate) spill_to: AtomicUsize,
}

/// `Remote::spill_to` when spawns start on their spawner's worker.
pub(crate) const NO_SPILL: usize = usize::MAX;

/// The started goroutines of one worker, in slots a goroutine remembers.
#[derive(Default)]
pub(crate) struct Registry {
    /// Slot `i` holds a started, unfinished goroutine or is free.
    slots: Vec<Option<GRef>>,
    /// Free slot indices.
    free: Vec<usize>,
}

impl Registry {
    /// Adds a goroutine; returns its slot.
    pub(crate) fn insert(&mut self, g: GRef) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(g);
                i
            }
            None => {
                self.slots.push(Some(g));
                self.slots.len() - 1
            }
        }
    }

    /// Removes the goroutine in `slot`.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<GRef> {
        let g = self.slots.get_mut(slot)?.take();
        if g.is_some() {
            self.free.push(slot);
        }
        g
    }

    /// All registered goroutines.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &GRef> {
        self.slots.iter().flatten()
    }

    /// Takes every goroutine out (shutdown).
    pub(crate) fn drain(&mut self) -> Vec<GRef> {
        self.free.clear();
        self.slots.drain(..).flatten().collect()
    }

    /// Takes out the goroutines for which `pick` is true (shutdown with
    /// migration: each worker takes those that last ran on it).
    pub(crate) fn take_where(&mut self, mut pick: impl FnMut(&GRef) -> bool) -> Vec<GRef> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(&mut pick) {
                out.extend(slot.take());
                self.free.push(i);
            }
        }
        out
    }
}

/// State shared by the workers of one runtime and everyone who hands it work.
pub(crate) struct Shared {
    /// Per-worker shared parts, indexed by worker.
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    /// Started goroutines may change worker (the `unsafe`
    /// `RuntimeBuilder::allow_migration` opt-in). Fixed at build time; read
    /// at the decision points listed in the module comment.
    pub(crate) migrate: bool,
    /// Unstarted goroutines spawned from outside the workers, and overflow.
    pub(crate) injector: Injector<GRef>,
    /// Sleeping/spinning bookkeeping.
    pub(crate) idle: Idle,
    /// Goroutine stacks.
    pub(crate) stacks: StackPool,
    /// Goroutines spawned from outside this runtime's workers (never decremented:
    /// they finish on some worker, whose `Remote::live` goes down instead).
    pub(crate) live_outside: AtomicIsize,
    /// Calls to `run` in progress: a deadlock is reported only while a main
    /// goroutine exists.
    pub(crate) mains: AtomicUsize,
    /// Set when the runtime shuts down.
    pub(crate) shutdown: AtomicBool,
    /// The monitor thread, for unparking at shutdown.
    pub(crate) sysmon: OnceLock<Thread>,
    /// Shutdown barrier with migration (`Core::shutdown`): each worker adds 1
    /// when it has stopped running goroutines and waits for `nworkers()`,
    /// then unwinds its goroutines, adds 1 again and waits for twice that
    /// before its thread exits. `build` adds 2 per worker that never started.
    pub(crate) stopped: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(stealers: Vec<Stealer<GRef>>, stacks: StackPool, migrate: bool) -> Shared {
        let n = stealers.len();
        Shared {
            remotes: stealers
                .into_iter()
                .map(|stealer| {
                    CachePadded::new(Remote {
                        stealer,
                        inbox: Mutex::new(Vec::new()),
                        inbox_len: AtomicUsize::new(0),
                        thread: OnceLock::new(),
                        schedtick: AtomicU64::new(0),
                        busy: AtomicBool::new(false),
                        switches: AtomicU64::new(0),
                        preempt: AtomicBool::new(false),
                        live: AtomicIsize::new(0),
                        timers: AtomicUsize::new(0),
                        incoming: Mutex::new(Vec::new()),
                        incoming_len: AtomicUsize::new(0),
                        starved: AtomicUsize::new(0),
                        registry: Mutex::new(Registry::default()),
                        stacks_in_use: AtomicIsize::new(0),
                        spill_to: AtomicUsize::new(NO_SPILL),
                    })
                })
                .collect(),
            migrate,
            injector: Injector::new(),
            idle: Idle::new(n),
            stacks,
            live_outside: AtomicIsize::new(0),
            mains: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            sysmon: OnceLock::new(),
            stopped: AtomicUsize::new(0),
        }
    }

    /// Number of workers.
    pub(crate) fn nworkers(&self) -> usize {
        self.remotes.len()
    }

    /// Goroutines spawned and not yet finished.
    pub(crate) fn live(&self) -> usize {
        let sum: isize = self.live_outside.load(Ordering::Relaxed)
            + self
                .remotes
                .iter()
                .map(|r| r.live.load(Ordering::Relaxed))
                .sum::<isize>();
        sum.max(0) as usize
    }

    /// Unparks worker `i`'s thread.
    pub(crate) fn unpark(&self, i: usize) {
        if let Some(t) = self.remotes[i].thread.get() {
            t.unpark();
        }
    }

    /// New stealable or injected work exists: wake an idle worker if nobody spins.
    pub(crate) fn notify_work(&self) {
        if let Some(i) = self.idle.notify_one() {
            self.unpark(i);
        }
    }

    /// Queues a new goroutine from outside this runtime's workers.
    pub(crate) fn inject(&self, g: GRef) {
        self.live_outside.fetch_add(1, Ordering::Relaxed);
        self.injector.push(g);
        self.notify_work();
    }

    /// Queues runnable started goroutine `g` where any worker may take it
    /// (migration only: a movable goroutine readied off its runtime's
    /// workers, or one that yielded or was preempted).
    pub(crate) fn push_global(&self, g: GRef) {
        debug_assert!(self.migrate && g.is_started());
        self.injector.push(g);
        self.notify_work();
    }

    /// Queues goroutine `g` on worker `home` from another thread: a started
    /// goroutine homed there, or an unstarted one spilled there (`spill.rs`).
    pub(crate) fn push_inbox(&self, home: usize, g: GRef) {
        let r = &self.remotes[home];
        {
            let mut inbox = r.inbox.lock().unwrap_or_else(|e| e.into_inner());
            inbox.push(g);
            r.inbox_len.store(inbox.len(), Ordering::Release);
        }
        if self.idle.notify_worker(home) {
            self.unpark(home);
        }
    }

    /// True if any queue shared by the workers holds work a worker could take.
    pub(crate) fn has_shared_work(&self) -> bool {
        !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || r.inbox_len.load(Ordering::Acquire) > 0)
    }
}

/// Queues a started goroutine that a waker just moved from `PARKED` to
/// `RUNNING`: to `runnext` when the caller is its home worker, else to the
/// home worker's inbox. A movable goroutine (migration) goes to the
/// caller's `runnext` on any worker of its runtime, else to the injector.
/// (The home check comes first so a wake on the home worker, the common
/// case, costs nothing more than before migration existed.)
pub(crate) fn ready_started(g: GRef) {
    let home = g.home();
    debug_assert_ne!(home, NO_HOME, "a parked goroutine has started");
    if let Err(g) = worker::try_ready_local(g, home) {
        if g.movable() {
            // Decision point 1.
            if let Err(g) = worker::try_ready_here(g) {
                let shared = g.shared;
                shared.push_global(g);
            }
            return;
        }
        let shared = g.shared;
        shared.push_inbox(home, g);
    }
}
