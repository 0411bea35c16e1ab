//! The worker: one OS thread running goroutines, its private run state
//! (`Core`), and starting, resuming and finishing goroutines.
//!
//! How a worker finds its next goroutine — the pick order, stealing,
//! spinning and sleeping — is in `worker/find.rs`, and how it unwinds and
//! drops what is left when its runtime shuts down in `worker/shutdown.rs`
//! (child modules, so they share `Core`'s private state).
//!
//! # Ownership
//!
//! `Core` is created by the worker thread, lives on its stack frame, and is
//! reachable from goroutines of that thread through the `CORE` thread-local.
//! Every field is touched only on that thread; a goroutine runs only while
//! the worker loop is suspended inside `resume`, and no `RefCell` borrow is
//! held across a resume.
//!
//! # Reading `CORE` from a goroutine that may migrate
//!
//! Goroutine code finds its worker through the `CORE` thread-local. The
//! compiler assumes a function runs on one thread from start to end, so once
//! `CORE.with` is inlined into a function that also switches (a loop around
//! `recv`, say) it may compute the thread-local's address — and even the
//! value read — once, and reuse them after the switch. By default that is
//! right: the goroutine resumes on the same thread. A goroutine that migrated
//! would find the *previous* worker's `Core`. So a worker of a runtime that
//! allows migration stores, for its whole life, a sentinel in `CORE`
//! (`MIGRATING_WORKER`, never a valid pointer) and its real `Core` in
//! `MIGRATING_CORE`. Whatever stale address or value the inlined read of
//! `CORE` uses, on such a worker it yields the sentinel, which sends
//! `core()` to `migrating_core`: a function never inlined, whose every call
//! computes `MIGRATING_CORE`'s address afresh and reads it with a volatile
//! load (neither can be merged with an earlier call across a switch). The
//! default path adds one comparison (with the sentinel) to the load and null
//! test it had; no process-wide flag is read. For the stale
//! address to stay valid, workers of a migrating runtime exit only after
//! every one of them has finished unwinding goroutines (`shutdown`).
//!
//! The crate's other thread-locals that goroutine code reads (`select`'s
//! random state, `sync::Pool`'s shard id) are read only inside
//! `#[inline(never)]` functions that do not switch.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult};
use crossbeam_deque::Worker;

use super::g::{G, GRef, PARKED, RUNNING, Switch};
use super::record::{self, Header};
use super::scheduler::{GOID_BATCH, Shared, take_goids};
use super::threads;
use super::timer::{Action, Entry, Timers};
use crate::stack::overflow;
use crate::stack::pool::LocalPool;

mod find;
mod shutdown;

/// A victim's deque at least this long is stolen from at once (half of it);
/// a shorter one only after the grace period.
const STEAL_FREELY_FROM: usize = 4;

thread_local! {
    /// The `Core` of the worker running on this thread; `MIGRATING_WORKER`
    /// on a worker of a runtime that allows migration (module comment);
    /// null on other threads.
    static CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
    /// On a worker of a runtime that allows migration, its `Core` (null
    /// elsewhere). Read only by `migrating_core`.
    static MIGRATING_CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

/// `CORE` on a worker of a runtime that allows migration: not a pointer to
/// anything. (`core()` tests for null first, then for this: written as one
/// `> 1` comparison, the fast path measured 14% slower on the yield
/// ping-pong, through a worse block layout.)
const MIGRATING_WORKER: *const Core = std::ptr::without_provenance(1);

/// A worker's private state. See the module comment for the ownership rule.
pub(crate) struct Core {
    /// This worker's index in `Shared::remotes`.
    index: usize,
    /// The runtime.
    pub(crate) shared: &'static Shared,
    /// `shared.migrate`, kept here where the switch path reads it.
    migrate: bool,
    /// Unstarted goroutines: LIFO for us, stealable from the other end.
    deque: Worker<GRef>,
    /// The goroutine to run next, inheriting the time slice.
    runnext: Cell<Option<GRef>>,
    /// Started goroutines ready to run again, oldest first.
    ready: RefCell<VecDeque<GRef>>,
    /// An empty buffer traded for the inbox's when draining it (`find::swap_all`).
    inbox_spare: RefCell<Vec<GRef>>,
    /// An unstarted goroutine taken from the deque but not yet run (lost the
    /// fairness comparison to `ready`); runs before the deque's others.
    fresh_peek: Cell<Option<GRef>>,
    /// Unstarted goroutines that could not get a stack yet.
    starved: RefCell<VecDeque<GRef>>,
    /// Cached stacks.
    stacks: RefCell<LocalPool>,
    /// Armed timers of goroutines homed here.
    timers: RefCell<Timers>,
    /// Spare buffer for the actions of due timers (kept to avoid an
    /// allocation per firing; taken out while they run, since firing may
    /// arm more).
    due: Cell<Vec<Action>>,
    /// The goroutine being resumed (points at `run`'s local `GRef`, alive
    /// for the whole resume), or null.
    current: Cell<*const GRef>,
    /// Picks so far (drives the every-61st injector check).
    tick: Cell<u64>,
    /// Stamp source for `G::seq`.
    seq: Cell<u64>,
    /// Goroutine ids reserved for spawns on this worker: `[next, end)`.
    goids: Cell<(u64, u64)>,
    /// xorshift state for victim selection.
    rng: Cell<u64>,
    /// Counted in `Idle::nspinning`.
    spinning: Cell<bool>,
}

/// Runs the worker loop on the calling (new) thread until shutdown.
pub(crate) fn run_worker(shared: &'static Shared, index: usize, deque: Worker<GRef>) {
    let _internal = threads::internal();
    overflow::install_on_worker_thread();
    let _ = shared.remotes[index].thread.set(std::thread::current());
    let core = Core {
        index,
        shared,
        migrate: shared.migrate,
        deque,
        runnext: Cell::new(None),
        ready: RefCell::new(VecDeque::new()),
        inbox_spare: RefCell::new(Vec::new()),
        fresh_peek: Cell::new(None),
        starved: RefCell::new(VecDeque::new()),
        stacks: RefCell::new(LocalPool::default()),
        timers: RefCell::new(Timers::default()),
        due: Cell::new(Vec::new()),
        current: Cell::new(std::ptr::null()),
        tick: Cell::new(0),
        seq: Cell::new(0),
        goids: Cell::new((0, 0)),
        rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17)),
        spinning: Cell::new(false),
    };
    if shared.migrate {
        MIGRATING_CORE.with(|c| c.set(&core));
        CORE.with(|c| c.set(MIGRATING_WORKER));
    } else {
        CORE.with(|c| c.set(&core));
    }
    while let Some(g) = core.find_runnable() {
        core.run(g);
    }
    core.shutdown();
    CORE.with(|c| c.set(std::ptr::null()));
    MIGRATING_CORE.with(|c| c.set(std::ptr::null()));
}

/// The calling thread's worker core, if it is a worker thread.
///
/// Callers must not keep the reference across a switch: a goroutine that
/// migrates resumes on another thread (module comment).
#[inline(always)]
fn core<'a>() -> Option<&'a Core> {
    let p = CORE.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    if p == MIGRATING_WORKER {
        return migrating_core();
    }
    // SAFETY: CORE holds a real pointer only on a worker of a runtime
    // whose goroutines never migrate: the reading code runs on the thread
    // that set it, to a `Core` on that thread's `run_worker` frame, cleared
    // before the frame ends. References handed out are used within the
    // current call on this thread.
    Some(unsafe { &*p })
}

/// The `Core` of the calling thread on a worker of a runtime that allows
/// migration, read in a frame of its own (module comment). Cold: the default
/// path's callers stay small enough to be inlined.
#[cold]
#[inline(never)]
fn migrating_core<'a>() -> Option<&'a Core> {
    // SAFETY: the cell belongs to the calling thread (its address is computed
    // in this call) and a volatile read of a `Cell`'s contents from its own
    // thread is a plain read; volatile so that no call is merged with another.
    let p = MIGRATING_CORE.with(|c| unsafe { std::ptr::read_volatile(c.as_ptr()) });
    // SAFETY: `run_worker` sets it to the `Core` on its frame and clears it
    // before that frame ends; we are on that thread.
    unsafe { p.as_ref() }
}

/// The goroutine running on this thread, if any.
#[inline(always)]
pub(crate) fn current_g<'a>() -> Option<&'a G> {
    let cur = core()?.current.get();
    // SAFETY: `current` points at the worker's `GRef` of the running
    // goroutine, alive for as long as the goroutine runs, and callers use
    // the reference only from that goroutine's own code.
    unsafe { cur.as_ref() }.map(|g| &**g)
}

/// An owning reference to the goroutine running on this thread.
pub(crate) fn current_gref() -> Option<GRef> {
    let cur = core()?.current.get();
    // SAFETY: as in `current_g`.
    unsafe { cur.as_ref() }.cloned()
}

/// The record of the goroutine running on this thread (no reference taken).
pub(crate) fn current_gref_ptr() -> Option<NonNull<Header>> {
    let cur = core()?.current.get();
    // SAFETY: as in `current_g`.
    unsafe { cur.as_ref() }.map(GRef::as_raw)
}

/// The id of the goroutine running on this thread.
#[inline]
pub(crate) fn current_g_id() -> Option<u64> {
    current_g().map(G::id)
}

/// The runtime of the worker this thread is, if any.
pub(crate) fn current_shared() -> Option<&'static Shared> {
    core().map(|c| c.shared)
}

/// Arms a timer for goroutine `g` (running on this worker) at `deadline`.
pub(crate) fn arm_timer(deadline: Instant, g: &G) {
    let core = core().expect("ferrogo: a goroutine runs on a worker");
    let gref = current_gref().expect("ferrogo: arm_timer from the running goroutine");
    debug_assert!(std::ptr::eq(GRef::as_ptr(&gref), g));
    let mut timers = core.timers.borrow_mut();
    timers.arm_wake(deadline, gref);
    core.shared.remotes[core.index]
        .timers
        .store(timers.len(), Ordering::Relaxed);
}

/// Arms a `time` timer entry: on this worker's heap when called on a worker,
/// else on a worker of the global runtime through its locked `incoming` list.
pub(crate) fn arm_entry(entry: Entry) {
    if let Some(core) = core() {
        let mut timers = core.timers.borrow_mut();
        timers.push(entry);
        core.shared.remotes[core.index]
            .timers
            .store(timers.len(), Ordering::Relaxed);
        return;
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let shared = super::builder::global_shared();
    let i = NEXT.fetch_add(1, Ordering::Relaxed) % shared.nworkers();
    let r = &shared.remotes[i];
    {
        let mut incoming = r.incoming.lock().unwrap_or_else(|e| e.into_inner());
        incoming.push(entry);
        r.incoming_len.store(incoming.len(), Ordering::SeqCst);
    }
    if shared.idle.notify_worker(i) {
        shared.unpark(i);
    }
}

/// Readies movable started goroutine `g` (migration) in `runnext` if this
/// thread is any worker of its runtime; otherwise hands it back.
pub(crate) fn try_ready_here(g: GRef) -> Result<(), GRef> {
    match core() {
        Some(core) if std::ptr::eq(core.shared, g.shared) => {
            debug_assert!(core.migrate);
            core.put_runnext(g);
            Ok(())
        }
        _ => Err(g),
    }
}

/// True unless this thread is a worker of a runtime whose other workers are
/// all idle (none running a goroutine): then nothing of that runtime can
/// make progress until this thread switches (see `chan::channel::spin_again`).
#[inline]
pub(crate) fn others_running() -> bool {
    match core() {
        Some(core) => core
            .shared
            .remotes
            .iter()
            .enumerate()
            .any(|(i, r)| i != core.index && r.busy.load(Ordering::Relaxed)),
        None => true,
    }
}

/// True if this thread is `g`'s home worker, in a runtime without
/// migration: then `g` does not run while this thread runs other code (see
/// `Waiter::Local`).
#[inline]
pub(crate) fn is_home_without_migration(g: &G) -> bool {
    match core() {
        Some(core) => {
            !core.migrate && core.index == g.home() && std::ptr::eq(core.shared, g.shared)
        }
        None => false,
    }
}

/// Readies started goroutine `g` locally if this thread is its home worker
/// (it goes to `runnext`); otherwise hands it back.
pub(crate) fn try_ready_local(g: GRef, home: usize) -> Result<(), GRef> {
    match core() {
        Some(core) if core.index == home && std::ptr::eq(core.shared, g.shared) => {
            g.prefetch_resume();
            core.put_runnext(g);
            Ok(())
        }
        _ => Err(g),
    }
}

/// Queues a new goroutine on this worker if this thread is a worker of the
/// goroutine's runtime; otherwise hands it back.
pub(crate) fn try_spawn_local(g: GRef) -> Result<(), GRef> {
    match core() {
        Some(core) if std::ptr::eq(core.shared, g.shared) => {
            let r = &core.shared.remotes[core.index];
            r.live
                .store(r.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            let to = r.spill_to.load(Ordering::Relaxed);
            // Not once the runtime shuts down: a goroutine spawned by a
            // destructor during this worker's unwinding must stay here, to
            // be dropped by this worker, not land in the inbox of one that
            // has finished already.
            if to != super::scheduler::NO_SPILL && !core.shared.shutdown.load(Ordering::Relaxed) {
                core.shared.push_inbox(to, g);
                return Ok(());
            }
            core.put_runnext(g);
            Ok(())
        }
        _ => Err(g),
    }
}

/// A fresh goroutine id for a spawn on this thread.
pub(crate) fn next_goid() -> u64 {
    match core() {
        Some(core) => {
            let (next, end) = core.goids.get();
            if next < end {
                core.goids.set((next + 1, end));
                next
            } else {
                let first = take_goids(GOID_BATCH);
                core.goids.set((first + 1, first + GOID_BATCH));
                first
            }
        }
        None => take_goids(1),
    }
}

/// Yields the running goroutine if sysmon asked it to (its slice is used up).
/// The fast path is a thread-local read and one relaxed load, small enough to
/// inline into every channel and lock operation.
#[inline]
pub(crate) fn checkpoint() {
    if let Some(core) = core() {
        if core.remote().preempt.load(Ordering::Relaxed) {
            preempt_current(core);
        }
    }
}

/// `checkpoint`'s slow path: the slice is used up. Switches out the running
/// goroutine, if the caller is one (not the worker loop itself).
#[cold]
#[inline(never)]
fn preempt_current(core: &Core) {
    let cur = core.current.get();
    if cur.is_null() {
        return;
    }
    core.remote().preempt.store(false, Ordering::Relaxed);
    // SAFETY: `cur` points at the worker's `GRef` of the running goroutine,
    // alive while it runs, and that goroutine is the caller, on its own stack
    // (so its recorded yielder is the live one). `core` is not used after the
    // switch, which may resume on another thread with migration.
    unsafe { (*cur).switch_out(Switch::Preempt) };
}

/// Puts the running goroutine at the back of the ready queue and runs others.
/// Returns false when not called from a goroutine.
#[inline(always)]
pub(crate) fn yield_current() -> bool {
    match current_g() {
        Some(g) => {
            // SAFETY: `g` is the goroutine running this code, on its own stack.
            unsafe { g.switch_out(Switch::Yield) };
            true
        }
        None => false,
    }
}

impl Core {
    fn remote(&self) -> &super::scheduler::Remote {
        &self.shared.remotes[self.index]
    }

    fn stamp(&self, g: &G) {
        let s = self.seq.get() + 1;
        self.seq.set(s);
        g.seq.set(s);
    }

    /// Makes `g` the next to run; a displaced `runnext` goes to the back of
    /// its queue (and, if unstarted or movable, becomes stealable).
    fn put_runnext(&self, g: GRef) {
        let old = self.runnext.replace(Some(g));
        if let Some(old) = old {
            self.stamp(&old);
            // Decision point 2 (scheduler.rs): with migration a movable
            // started goroutine joins the deque, where thieves can take it.
            if old.is_started() && !(self.migrate && old.movable()) {
                self.ready.borrow_mut().push_back(old);
            } else {
                self.deque.push(old);
                // Wake a thief only when the deque becomes worth stealing
                // from: its first item (stealable after the grace period) or
                // the length where stealing is free. In between, a woken
                // worker would find nothing new to take (the stealing rules),
                // and the Dekker fence of `notify_work` would be paid on
                // every spawn. Sysmon covers an owner stuck on a short queue.
                let len = self.deque.len();
                if len == 1 || len == STEAL_FREELY_FROM {
                    self.shared.notify_work();
                }
            }
        }
    }

    /// Runs `g` until it yields, parks or finishes.
    fn run(&self, g: GRef) {
        let r = self.remote();
        // One comparison on the common path (a started goroutine resumed
        // on its home); the rare cases sort themselves out inside.
        let home = g.home();
        if home != self.index {
            if home == super::g::NO_HOME {
                if !self.start(&g) {
                    self.starved.borrow_mut().push_back(g);
                    // SeqCst: pairs with the fence in `start` after a slab's
                    // spares are published (either that worker sees us
                    // starving, or our re-check before sleeping sees them).
                    if r.starved.fetch_add(1, Ordering::SeqCst) == 0 {
                        self.ask_for_stacks();
                    }
                    return;
                }
            } else {
                self.adopt(&g);
            }
        }
        loop {
            r.busy.store(true, Ordering::Relaxed);
            r.switches
                .store(r.switches.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            overflow::set_running(GRef::as_ptr(&g));
            self.current.set(&g);
            // SAFETY: this worker holds g (it started it here, or with
            // migration took it from a queue and adopted it above) and the
            // coroutine is not running (we are the only code touching it).
            let coro = unsafe { g.coro() }
                .as_mut()
                .expect("started goroutine has a coroutine");
            let result = coro.resume(());
            self.current.set(std::ptr::null());
            overflow::set_running(std::ptr::null());
            r.busy.store(false, Ordering::Relaxed);
            if matches!(result, CoroutineResult::Yield(_)) {
                self.register_once(&g);
            }
            // With migration each switch-out updates the pin (`pin_if_unwinding`)
            // before `g` is queued or parked; one flag test per switch by default.
            match result {
                CoroutineResult::Yield(why @ (Switch::Yield | Switch::Preempt)) => {
                    // Requeued behind the others. Go puts a preempted
                    // goroutine on the global queue, behind work from
                    // outside; we requeue it locally and pull a batch of
                    // outside work in (injected goroutines carry the oldest
                    // stamps, so they run before it). Decision point 3
                    // (scheduler.rs): with migration a movable goroutine goes
                    // to the injector itself, as in Go, where an idle worker
                    // may take it.
                    self.new_slice();
                    if self.migrate {
                        self.pin_if_unwinding(&g);
                        if g.movable() {
                            self.shared.push_global(g);
                            return;
                        }
                    }
                    self.stamp(&g);
                    self.ready.borrow_mut().push_back(g);
                    if matches!(why, Switch::Preempt) && !self.shared.injector.is_empty() {
                        let _ = self.shared.injector.steal_batch(&self.deque);
                    }
                    return;
                }
                CoroutineResult::Yield(Switch::Park) => {
                    if self.migrate {
                        // Before the parking CAS, which publishes it to wakers.
                        self.pin_if_unwinding(&g);
                    }
                    match g.state.compare_exchange(
                        RUNNING,
                        PARKED,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.new_slice();
                            // The PARKED state owns our reference now; the
                            // waker that wins PARKED→RUNNING adopts it
                            // (park.rs, "Who owns a parked goroutine's reference").
                            std::mem::forget(g);
                            return;
                        }
                        Err(_) => {
                            // NOTIFIED: a wake raced with the switch. Run it again.
                            g.state.store(RUNNING, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                CoroutineResult::Return(()) => {
                    self.new_slice();
                    self.finish(g);
                    return;
                }
            }
        }
    }

    /// The running goroutine gave up the processor for something other than a
    /// `runnext` hand-off: the next one starts a fresh time slice.
    fn new_slice(&self) {
        let next = self.runnext.take();
        let inherit = next.is_some();
        self.runnext.set(next);
        if !inherit {
            let r = self.remote();
            r.schedtick
                .store(r.schedtick.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            r.preempt.store(false, Ordering::Relaxed);
        }
    }

    /// Gives `g` a stack and a coroutine. False when no stack can be had now.
    fn start(&self, g: &GRef) -> bool {
        let mut published = false;
        let stack = self.shared.stacks.get(
            &mut self.stacks.borrow_mut(),
            g.stack_size(),
            &mut published,
        );
        if published {
            // A new slab's spares are in the shared pool. A worker that
            // found the pool empty while we mapped it may be starving
            // (asleep or about to be): pairs with its `starved` increment
            // before `sleep`'s re-check (`work_visible`).
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.anyone_starving() {
                self.hand_stacks_to_starved();
            }
        }
        let Some(stack) = stack else {
            return false;
        };
        g.set_home(self.index);
        g.set_guard(stack.guard());
        let rec = GRef::as_raw(g);
        let coro = Coroutine::with_stack(stack, move |y, ()| {
            // SAFETY: the coroutine's entry runs once, on its own stack, and
            // while the coroutine exists a reference to the record is held
            // by the worker running it, or by a run queue, or (once it has
            // switched out) by the registry.
            unsafe { record::run(rec, y) };
        });
        // SAFETY: the starting worker holds g; the coroutine is not running.
        unsafe { *g.coro() = Some(coro) };
        let r = self.remote();
        r.stacks_in_use.store(
            r.stacks_in_use.load(Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        true
    }

    /// Decision point 4 (scheduler.rs), migration only: `g` last ran on
    /// another worker and this one is about to resume it, so this worker
    /// becomes its home (where a pin would keep it, where shutdown unwinds
    /// it, what reports show). Its stack, registry entry and any park
    /// deadline stay where they are; see the module comment of `scheduler.rs`.
    #[cold]
    fn adopt(&self, g: &GRef) {
        debug_assert!(
            self.migrate && g.movable(),
            "only movable goroutines change worker"
        );
        g.set_home(self.index);
    }

    /// With migration: pins `g` to this worker if it switched out in the
    /// middle of unwinding a panic (std's panic count of this thread is then
    /// raised; see `G::movable`), unpins it otherwise. Runs right after the
    /// switch-out, before `g` is queued or parked, so wakers see the flag.
    /// Conservative: another goroutine of this thread suspended mid-unwind
    /// pins `g` too, until its next switch-out.
    fn pin_if_unwinding(&self, g: &GRef) {
        let unwinding = std::thread::panicking();
        if g.pinned.load(Ordering::Relaxed) != unwinding {
            g.pinned.store(unwinding, Ordering::Relaxed);
        }
    }

    /// Enters `g` in the registry at its first switch-out: from then on it
    /// may be suspended with no run queue holding it (parked), and shutdown
    /// and reports must find it. A goroutine that runs to completion in one go
    /// never pays the registry's lock.
    fn register_once(&self, g: &GRef) {
        if g.registry_entry().is_none() {
            let slot = self
                .remote()
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(g.clone());
            g.set_registry_entry(self.index, slot);
        }
    }

    /// Recycles a finished goroutine's stack (into this worker's pool, even
    /// if another worker took it) and forgets it.
    fn finish(&self, g: GRef) {
        // SAFETY: this worker holds `g` (it just ran it); the coroutine has returned.
        let coro = unsafe { g.coro() }
            .take()
            .expect("finished goroutine had a coroutine");
        let stack = coro.into_stack();
        self.shared.stacks.put(&mut self.stacks.borrow_mut(), stack);
        let r = self.remote();
        r.stacks_in_use.store(
            r.stacks_in_use.load(Ordering::Relaxed) - 1,
            Ordering::Relaxed,
        );
        if let Some((reg_worker, slot)) = g.registry_entry() {
            // By default `reg_worker` is this worker; with migration it may be another.
            self.shared.remotes[reg_worker]
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(slot);
        }
        r.live
            .store(r.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        if self.anyone_starving() {
            self.hand_stacks_to_starved();
        }
    }

    /// True if some worker has goroutines waiting for a stack.
    fn anyone_starving(&self) -> bool {
        self.shared
            .remotes
            .iter()
            .any(|o| o.starved.load(Ordering::Relaxed) > 0)
    }

    /// This worker's first goroutine is waiting for a stack: wake the
    /// sleeping workers, whose caches may hold stacks nobody else can take
    /// (a worker gives its cache back when it finishes a goroutine or goes to
    /// sleep while someone starves, but one already asleep would do neither).
    /// Each woken worker goes back to sleep through `sleep`, which hands its
    /// cache over and wakes us.
    #[cold]
    fn ask_for_stacks(&self) {
        for i in (0..self.shared.nworkers()).filter(|&i| i != self.index) {
            if self.shared.idle.notify_worker(i) {
                self.shared.unpark(i);
            }
        }
    }

    /// Other workers wait for stacks: share ours and wake them.
    #[cold]
    fn hand_stacks_to_starved(&self) {
        self.shared.stacks.flush(&mut self.stacks.borrow_mut());
        for (i, o) in self.shared.remotes.iter().enumerate() {
            if i != self.index
                && o.starved.load(Ordering::Relaxed) > 0
                && self.shared.idle.notify_worker(i)
            {
                self.shared.unpark(i);
            }
        }
    }
}
