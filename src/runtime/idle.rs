//! The idle-worker protocol: which workers sleep, which spin, and how a
//! producer of work wakes one without ever losing a wake-up.
//!
//! Modelled on Go's `proc.go` (`wakep`, `resetspinning`, the spinning-M
//! invariant) and tokio's `idle.rs`.
//!
//! # States
//!
//! A worker is *running* (has work), *spinning* (out of work, looking in
//! other workers' queues; at most half the workers spin at once, at least
//! one), or *sleeping* (in `sleepers`, parked on its thread's futex).
//!
//! # No lost wake-ups
//!
//! A producer makes work visible (pushes to a run queue), then executes a
//! `SeqCst` fence, then reads `nspinning` and `nidle`. A worker about to
//! sleep first registers (`nidle += 1`, `SeqCst`), then re-checks every queue,
//! and only then parks. By the total order of `SeqCst` operations either the
//! producer's read sees the registration — and it wakes a sleeper — or the
//! worker's re-check comes after the push and sees the work. The same
//! argument covers a spinner that gives up: it decrements `nspinning`
//! (`SeqCst`) and then re-checks the queues, because a producer that saw it
//! spinning relied on it and woke nobody.
//!
//! Work aimed at one worker (a started goroutine readied from elsewhere must
//! run on its home worker) uses the per-worker `sleeping` flag in the same
//! Dekker pattern: push to the worker's inbox, fence, read its flag; the
//! worker sets its flag, fences, re-checks its inbox.
//!
//! A woken worker starts out spinning (the waker counted it in `nspinning`
//! on its behalf), so concurrent producers do not wake a second worker for
//! the same piece of work; when a spinner finds work and it was the last
//! spinner, it wakes another worker in turn (the "spinning chain" of Go).
//!
//! The protocol is model-checked under loom (`tests` below).

use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::loom::{Mutex, lock};

/// Idle bookkeeping of one runtime.
pub(crate) struct Idle {
    /// Number of workers.
    nworkers: usize,
    /// Workers spinning (looking for work while out of it).
    nspinning: AtomicUsize,
    /// Workers registered as sleeping.
    nidle: AtomicUsize,
    /// Indices of sleeping workers, most recent last. The lock orders
    /// registration against wakers taking a sleeper.
    sleepers: Mutex<Vec<usize>>,
    /// Per worker: registered as sleeping (read by targeted wakers).
    sleeping: Box<[AtomicBool]>,
}

impl Idle {
    pub(crate) fn new(nworkers: usize) -> Idle {
        Idle {
            nworkers,
            nspinning: AtomicUsize::new(0),
            nidle: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(nworkers)),
            sleeping: (0..nworkers).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// A worker out of work asks to spin; false when half the workers already spin.
    pub(crate) fn try_start_spinning(&self) -> bool {
        let n = self.nspinning.load(Ordering::SeqCst);
        if 2 * n >= self.nworkers.max(2) {
            return false;
        }
        self.nspinning.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// A spinner stops spinning (found work or gives up). Returns true if it
    /// was the last spinner. A spinner that gives up must re-check the
    /// queues afterwards (see the module comment).
    pub(crate) fn stop_spinning(&self) -> bool {
        let before = self.nspinning.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(before > 0, "ferrogo: nspinning underflow");
        before == 1
    }

    /// Producer side: new work is visible; if nobody is spinning and someone
    /// sleeps, take one sleeper and return its index for the caller to
    /// unpark. The woken worker counts as spinning.
    #[must_use = "the returned worker must be unparked"]
    pub(crate) fn notify_one(&self) -> Option<usize> {
        fence(Ordering::SeqCst);
        if self.nspinning.load(Ordering::SeqCst) != 0 || self.nidle.load(Ordering::SeqCst) == 0 {
            return None;
        }
        // Become the one waker: others see nspinning != 0 and back off.
        if self
            .nspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        match sleepers.pop() {
            Some(i) => {
                self.nidle.fetch_sub(1, Ordering::SeqCst);
                self.sleeping[i].store(false, Ordering::SeqCst);
                Some(i)
            }
            None => {
                drop(sleepers);
                self.nspinning.fetch_sub(1, Ordering::SeqCst);
                None
            }
        }
    }

    /// Targeted producer side: work for worker `i` is visible in its inbox.
    /// Returns true if `i` was sleeping and must be unparked by the caller.
    #[must_use = "the worker must be unparked when this returns true"]
    pub(crate) fn notify_worker(&self, i: usize) -> bool {
        fence(Ordering::SeqCst);
        if !self.sleeping[i].load(Ordering::SeqCst) {
            return false;
        }
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == i) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                // The woken worker counts as spinning, like one woken by
                // `notify_one`: its `end_sleep` returns true and it will
                // `stop_spinning` when it finds work.
                self.nspinning.fetch_add(1, Ordering::SeqCst);
                self.nidle.fetch_sub(1, Ordering::SeqCst);
                self.sleeping[i].store(false, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Worker `i` registers as sleeping. It must re-check every queue after
    /// this and call `cancel_sleep` if it finds work, else park.
    pub(crate) fn prepare_sleep(&self, i: usize) {
        let mut sleepers = lock(&self.sleepers);
        sleepers.push(i);
        self.sleeping[i].store(true, Ordering::SeqCst);
        self.nidle.fetch_add(1, Ordering::SeqCst);
        drop(sleepers);
        fence(Ordering::SeqCst);
    }

    /// Worker `i` stops sleeping (found work on its re-check, or returned from
    /// its park). Returns true if a notifier took it out of the sleepers first,
    /// in which case the worker now counts as spinning.
    pub(crate) fn end_sleep(&self, i: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == i) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.nidle.fetch_sub(1, Ordering::SeqCst);
                self.sleeping[i].store(false, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }

    /// True when every worker sleeps and none spins.
    pub(crate) fn all_asleep(&self) -> bool {
        self.nidle.load(Ordering::SeqCst) == self.nworkers
            && self.nspinning.load(Ordering::SeqCst) == 0
    }

    /// Takes every sleeping worker out of `sleepers` (each then counts as
    /// spinning); the caller unparks them (shutdown, tests).
    pub(crate) fn take_all(&self) -> Vec<usize> {
        let mut sleepers = lock(&self.sleepers);
        let all: Vec<usize> = std::mem::take(&mut *sleepers);
        for &i in &all {
            // Counted as spinning, like every worker taken out of `sleepers`.
            self.nspinning.fetch_add(1, Ordering::SeqCst);
            self.sleeping[i].store(false, Ordering::SeqCst);
            self.nidle.fetch_sub(1, Ordering::SeqCst);
        }
        all
    }
}

#[cfg(all(test, loom))]
mod tests {
    //! Model: workers run the real protocol against a counter standing in for
    //! the run queues; a producer publishes one unit of work and notifies.
    //! A lost wake-up shows up as a loom deadlock (every thread parked with
    //! the work still queued). Conservation: the work is taken exactly once.
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    struct World {
        idle: Idle,
        queued: AtomicUsize,
        taken: AtomicUsize,
        handles: Mutex<Vec<Option<thread::Thread>>>,
    }

    impl World {
        fn take(&self) -> bool {
            self.queued
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }
        fn done(&self) -> bool {
            self.taken.load(Ordering::SeqCst) == 1
        }
        fn unpark(&self, i: usize) {
            if let Some(t) = &lock(&self.handles)[i] {
                t.unpark();
            }
        }
    }

    fn worker(w: &World, i: usize) {
        loop {
            if w.take() {
                w.taken.fetch_add(1, Ordering::SeqCst);
                // Finished: wake everyone so the model terminates.
                for j in w.idle.take_all() {
                    w.unpark(j);
                }
                return;
            }
            if w.done() {
                return;
            }
            if w.idle.try_start_spinning() {
                let found = w.take();
                w.idle.stop_spinning();
                if found {
                    w.taken.fetch_add(1, Ordering::SeqCst);
                    for j in w.idle.take_all() {
                        w.unpark(j);
                    }
                    return;
                }
                // Re-check after giving up spinning: the loop does it.
                if w.queued.load(Ordering::SeqCst) > 0 {
                    continue;
                }
            }
            w.idle.prepare_sleep(i);
            if w.queued.load(Ordering::SeqCst) > 0 || w.done() {
                if w.idle.end_sleep(i) {
                    w.idle.stop_spinning();
                }
                continue;
            }
            thread::park();
            if w.idle.end_sleep(i) {
                w.idle.stop_spinning();
            }
        }
    }

    #[test]
    fn loom_no_lost_wakeup_two_workers() {
        // A preemption bound of 3 unless LOOM_MAX_PREEMPTIONS says otherwise.
        // Unbounded, the run takes ~6 minutes and then trips loom's own
        // assertion "expected to be able to acquire lock": loom lets
        // `Thread::unpark` resume a thread blocked on a `Mutex` (here: a
        // worker registering its handle while another wakes it),
        // tokio-rs/loom#249 — a bug of the checker, not of this protocol.
        let mut b = loom::model::Builder::new();
        if b.preemption_bound.is_none() {
            b.preemption_bound = Some(3);
        }
        b.check(|| {
            let w = Arc::new(World {
                idle: Idle::new(2),
                queued: AtomicUsize::new(0),
                taken: AtomicUsize::new(0),
                handles: Mutex::new(vec![None, None]),
            });
            let mut joins = Vec::new();
            for i in 0..2 {
                let w2 = w.clone();
                let h = thread::spawn(move || {
                    lock(&w2.handles)[i] = Some(thread::current());
                    worker(&w2, i)
                });
                joins.push(h);
            }
            // Producer (the main model thread).
            w.queued.fetch_add(1, Ordering::SeqCst);
            if let Some(i) = w.idle.notify_one() {
                w.unpark(i);
            }
            for h in joins {
                h.join().unwrap();
            }
            assert_eq!(w.taken.load(Ordering::SeqCst), 1);
        });
    }
}
