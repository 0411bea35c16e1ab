//! Finding work: a worker's pick order, stealing, spinning and sleeping.
//!
//! # Pick order (`Core::find_runnable`)
//!
//! 0. once the runtime shuts down, nothing (see `find_runnable`);
//! 1. due timers are fired (they ready goroutines);
//! 2. `runnext` — the goroutine just spawned or readied by the running one;
//!    it inherits the time slice (`schedtick` is not bumped), which is what
//!    keeps a communicating pair on one worker and cheap;
//! 3. every 61st pick, the injector first (fairness for work from outside);
//! 4. the inbox is drained into the `ready` FIFO (started goroutines, and
//!    unstarted ones another worker spilled here, `spill.rs`: in `ready`,
//!    unlike the deque, no thief takes them back; the deque instead made
//!    the sieve 1.29–1.58 → 1.56–2.11 s);
//! 5. `ready` vs the deque (unstarted goroutines; with migration also
//!    movable started ones displaced from `runnext`): whichever was queued
//!    earlier (`G::seq`), so a goroutine spinning on `yield_now` lets a
//!    not-yet-run one go (golang/go#13546); under stack pressure started
//!    goroutines go first, since they need no new stack;
//! 6. unstarted goroutines that waited for a stack, if one is available;
//! 7. a batch from the injector;
//! 8. spinning: steal from other workers (at most half the workers spin);
//!    then, if goroutines of this worker are parked, poll the inbox briefly
//!    (they can only run here; a futex wake per cross-worker hand-off would
//!    cost ~100× a poll);
//! 9. sleep until woken or the next timer is due.
//!
//! The deque is LIFO for its owner (depth-first: a goroutine that spawned
//! children and waits for them has its newest child run next, so a spawn
//! tree holds stacks only along its current paths — this is what lets
//! skynet's 1.1M goroutines run within ~32k stacks) and FIFO for thieves
//! (who take the oldest, largest subtrees).
//!
//! # Stealing rules
//!
//! Only unstarted goroutines are stolen (with migration: whatever is in the
//! deque, started or not; see `scheduler.rs`). From a deque of 4 or more a thief
//! takes half at once. A shorter queue is taken from (half, rounded up) only
//! if its owner keeps running one goroutine, without any switch, for a grace
//! period (~3 µs, as Go gives `runnext`): otherwise the owner is about to run
//! them, and moving one would split goroutines that talk — a pipeline's
//! stages, a ping-pong pair — for good (a started goroutine never moves
//! again by default; Go can reunite them by readying on the waker's P, which
//! only migration allows us). `runnext` itself is never stolen.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_deque::Steal;

use super::super::g::GRef;
use super::super::timer::{Action, Entry};
use super::{Core, STEAL_FREELY_FROM};

/// How long a spinning worker looks for work before going to sleep.
const SPIN_FOR: Duration = Duration::from_micros(50);

/// How long a worker with parked goroutines of its own polls its inbox
/// before sleeping (see `Core::await_inbox`).
const INBOX_POLL_FOR: Duration = Duration::from_micros(50);

/// How long the owner of a short queue gets to run it before a thief may take from it.
const RUNNEXT_GRACE: Duration = Duration::from_micros(3);

/// Every this many picks, the injector is checked first.
const GLOBAL_CHECK_EVERY: u64 = 61;

/// Under stack pressure started goroutines go before fresh ones, except on
/// every this many picks: a started goroutine that yields in a loop waiting
/// for fresh ones to run would otherwise starve them for ever (golang/go#13546
/// under pressure).
const FRESH_UNDER_PRESSURE_EVERY: u64 = 31;

impl Core {
    /// Work this worker can run without stealing (steps 1–7 of the pick order).
    fn local_work(&self) -> Option<GRef> {
        let r = self.remote();
        if r.timers.load(Ordering::Relaxed) > 0 || r.incoming_len.load(Ordering::Relaxed) > 0 {
            self.fire_timers();
        }
        if let Some(g) = self.runnext.take() {
            return Some(g);
        }
        let tick = self.tick.get() + 1;
        self.tick.set(tick);
        if tick % GLOBAL_CHECK_EVERY == 0 {
            if let Steal::Success(g) = self.shared.injector.steal() {
                return Some(g);
            }
        }
        let r = self.remote();
        if r.inbox_len.load(Ordering::Acquire) > 0 {
            let mut taken = self.inbox_spare.borrow_mut();
            swap_all(&r.inbox, &r.inbox_len, &mut taken);
            let mut ready = self.ready.borrow_mut();
            for g in taken.drain(..) {
                self.stamp(&g);
                ready.push_back(g);
            }
        }
        let fresh = self.fresh_peek.take().or_else(|| self.deque.pop());
        {
            let mut ready = self.ready.borrow_mut();
            match (ready.front(), fresh) {
                (Some(started), Some(fresh)) => {
                    let pressure = tick % FRESH_UNDER_PRESSURE_EVERY != 0
                        && self.shared.stacks.under_pressure(&self.stacks.borrow());
                    if pressure || started.seq.get() < fresh.seq.get() {
                        self.fresh_peek.set(Some(fresh));
                        return ready.pop_front();
                    }
                    return Some(fresh);
                }
                (Some(_), None) => return ready.pop_front(),
                (None, Some(fresh)) => return Some(fresh),
                (None, None) => {}
            }
        }
        if !self.starved.borrow().is_empty() && self.shared.stacks.available(&self.stacks.borrow())
        {
            let g = self.starved.borrow_mut().pop_front();
            if g.is_some() {
                r.starved.fetch_sub(1, Ordering::Relaxed);
            }
            return g;
        }
        if let Steal::Success(g) = self.shared.injector.steal_batch_and_pop(&self.deque) {
            return Some(g);
        }
        None
    }

    /// Moves timers armed by other threads into the heap, then runs every
    /// due timer (no heap borrow is held while they run: firing may arm more).
    fn fire_timers(&self) {
        let r = self.remote();
        if r.incoming_len.load(Ordering::Acquire) > 0 {
            let incoming = take_all(&r.incoming, &r.incoming_len);
            let mut timers = self.timers.borrow_mut();
            for e in incoming {
                timers.push(e);
            }
            r.timers.store(timers.len(), Ordering::Relaxed);
        }
        let now = Instant::now();
        let mut due = self.due.take();
        {
            let mut timers = self.timers.borrow_mut();
            if timers.next_deadline().is_none_or(|d| d > now) {
                self.due.set(due);
                return;
            }
            timers.take_due(now, &mut due);
        }
        for action in due.drain(..) {
            match action {
                Action::Wake { g, generation } => {
                    if g.park_gen.load(Ordering::Relaxed) == generation {
                        super::super::park::wake_g(g);
                    }
                }
                Action::Fire { t, generation } => {
                    if let Some(next) = t.fire(now, generation) {
                        let e = Entry::new(next, Action::Fire { t, generation });
                        self.timers.borrow_mut().push(e);
                    }
                }
            }
        }
        if due.capacity() <= 4096 {
            self.due.set(due);
        }
        r.timers
            .store(self.timers.borrow().len(), Ordering::Relaxed);
    }

    /// Steps 1–9: the next goroutine to run, or `None` at shutdown.
    ///
    /// Once the runtime is shutting down nothing is resumed or started any
    /// more, not even queued work: a goroutine that yields in a loop (always
    /// runnable) would otherwise keep its worker, and the `Runtime`'s drop,
    /// from ever finishing. `shutdown` unwinds whatever is suspended.
    pub(super) fn find_runnable(&self) -> Option<GRef> {
        loop {
            if self.shared.shutdown.load(Ordering::Acquire) {
                self.stop_spinning_found();
                return None;
            }
            if let Some(g) = self.local_work() {
                self.stop_spinning_found();
                return Some(g);
            }
            if !self.spinning.get() {
                self.spinning.set(self.shared.idle.try_start_spinning());
            }
            if self.spinning.get() {
                let until = Instant::now() + SPIN_FOR;
                loop {
                    if let Some(g) = self.steal_round().or_else(|| self.local_work()) {
                        self.stop_spinning_found();
                        return Some(g);
                    }
                    if Instant::now() >= until || self.shared.shutdown.load(Ordering::Acquire) {
                        break;
                    }
                    for _ in 0..32 {
                        std::hint::spin_loop();
                    }
                }
                self.spinning.set(false);
                self.shared.idle.stop_spinning();
            }
            if self.await_inbox() {
                continue;
            }
            self.sleep();
        }
    }

    /// Before sleeping, a worker whose own goroutines are parked polls its
    /// inbox for a short while (step 8½ of the pick order). Those goroutines
    /// can only ever run here, and when another worker readies one while we
    /// sleep, the hand-off costs a futex wake (~5–30 µs on a VM) instead of a
    /// few hundred nanoseconds: a pipeline whose stages started on different
    /// workers would pay it on every item. This poll is not counted as
    /// spinning (it never steals, so it does not compete with spinners).
    /// Returns true if work showed up.
    ///
    /// With migration only pinned goroutines are sent to the inbox (rare);
    /// the others go wherever any worker can take them, so there is nothing
    /// to wait for here (and `stacks_in_use` no longer says what is parked
    /// here).
    fn await_inbox(&self) -> bool {
        let r = self.remote();
        if self.migrate || r.stacks_in_use.load(Ordering::Relaxed) <= 0 {
            return false;
        }
        let until = Instant::now() + INBOX_POLL_FOR;
        let next_timer = self.timers.borrow().next_deadline();
        loop {
            for _ in 0..64 {
                if r.inbox_len.load(Ordering::Acquire) > 0 {
                    return true;
                }
                std::hint::spin_loop();
            }
            let now = Instant::now();
            if self.shared.shutdown.load(Ordering::Acquire)
                || !self.shared.injector.is_empty()
                || r.incoming_len.load(Ordering::Relaxed) > 0
                || next_timer.is_some_and(|d| d <= now)
            {
                return true;
            }
            if now >= until {
                return false;
            }
        }
    }

    /// Stops spinning after finding work; the last spinner wakes another
    /// worker so parallelism can grow (Go's `resetspinning`).
    fn stop_spinning_found(&self) {
        if self.spinning.replace(false) && self.shared.idle.stop_spinning() {
            self.shared.notify_work();
        }
    }

    /// One pass over the other workers in random order, trying to steal.
    fn steal_round(&self) -> Option<GRef> {
        let n = self.shared.nworkers();
        if n < 2 {
            return None;
        }
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        let start = (x % n as u64) as usize;
        for k in 0..n {
            let v = (start + k) % n;
            if v == self.index {
                continue;
            }
            if let Some(g) = self.steal_from(v) {
                return Some(g);
            }
        }
        None
    }

    /// Steals from worker `v` per the stealing rules (module comment).
    fn steal_from(&self, v: usize) -> Option<GRef> {
        let victim = &self.shared.remotes[v];
        let len = victim.stealer.len();
        if len == 0 {
            return None;
        }
        if len >= STEAL_FREELY_FROM {
            return victim
                .stealer
                .steal_batch_with_limit_and_pop(&self.deque, len / 2)
                .success();
        }
        // A short queue: its owner will likely run these itself, and moving
        // one would split goroutines that talk, for good. Take them only if
        // the owner is stuck in one goroutine for the grace period.
        if !victim.busy.load(Ordering::Relaxed) {
            return None; // the owner is between goroutines: it will take them
        }
        let switches = victim.switches.load(Ordering::Relaxed);
        let until = Instant::now() + RUNNEXT_GRACE;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        if victim.switches.load(Ordering::Relaxed) != switches
            || !victim.busy.load(Ordering::Relaxed)
        {
            return None;
        }
        victim
            .stealer
            .steal_batch_with_limit_and_pop(&self.deque, len.div_ceil(2))
            .success()
    }

    /// True if any queue this worker could take from holds work, or a timer is due.
    fn work_visible(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
            || !self.shared.injector.is_empty()
            || self.remote().inbox_len.load(Ordering::Acquire) > 0
            || self.remote().incoming_len.load(Ordering::SeqCst) > 0
            || !self.deque.is_empty()
            || self
                .timers
                .borrow()
                .next_deadline()
                .is_some_and(|d| d <= Instant::now())
            || (!self.starved.borrow().is_empty()
                && self.shared.stacks.available(&self.stacks.borrow()))
            || self
                .shared
                .remotes
                .iter()
                .enumerate()
                .any(|(i, r)| i != self.index && r.stealer.len() >= STEAL_FREELY_FROM)
    }

    /// Registers as sleeping, re-checks, and parks until woken or the next timer.
    fn sleep(&self) {
        let idle = &self.shared.idle;
        if self.shared.stacks.owned() > 0 && self.anyone_starving() {
            // Someone waits for stacks: give ours back to the shared pool,
            // and wake the starving workers (they may be asleep already).
            self.hand_stacks_to_starved();
        }
        idle.prepare_sleep(self.index);
        if self.work_visible() {
            self.spinning.set(idle.end_sleep(self.index));
            return;
        }
        match self.timers.borrow().next_deadline() {
            Some(d) => {
                let now = Instant::now();
                if d > now {
                    std::thread::park_timeout(d - now);
                }
            }
            None => std::thread::park(),
        }
        self.spinning.set(idle.end_sleep(self.index));
    }
}

/// Empties one of a worker's locked hand-over lists (`inbox`, `incoming`)
/// and zeroes its length hint, under the list's lock.
pub(super) fn take_all<T>(list: &Mutex<Vec<T>>, len: &AtomicUsize) -> Vec<T> {
    let mut taken = Vec::new();
    swap_all(list, len, &mut taken);
    taken
}

/// Like [`take_all`], into `spare` (which must be empty): the list gets
/// `spare`'s buffer in exchange, so neither side allocates again once both
/// have grown. With `take_all` every cross-thread wake after a drain
/// allocated a new inbox buffer (seen as one allocation per plain-thread
/// wake in `tests/runtime_park_refs.rs`).
pub(super) fn swap_all<T>(list: &Mutex<Vec<T>>, len: &AtomicUsize, spare: &mut Vec<T>) {
    debug_assert!(spare.is_empty());
    let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
    len.store(0, Ordering::Relaxed);
    std::mem::swap(&mut *list, spare);
}
