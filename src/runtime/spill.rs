//! Spilling: new goroutines start on an idle worker while their spawner's
//! worker is saturated.
//!
//! # Why
//!
//! A started goroutine never changes OS thread (the soundness rule, `g.rs`),
//! so where a goroutine *starts* is where it runs for good. `go` puts the
//! child in its spawner's `runnext`, which keeps communicating pairs on one
//! worker and cheap, and an idle worker only gets goroutines by stealing
//! unstarted ones from a deque. A spawner that starts each child at once and
//! then blocks on it (Go's prime sieve: the main goroutine spawns a filter,
//! then waits for the next prime from it) never leaves anything to steal:
//! the whole pipeline grows on one worker while the others sleep. Go's
//! scheduler moves running goroutines between Ps freely and so spreads such
//! a pipeline; we can only choose where the next ones start.
//!
//! # The rule
//!
//! Sysmon samples each worker's `busy` flag (a goroutine is running) every
//! tick (2 ms while any worker is busy) into a shift register of the last
//! `WINDOW` samples. When worker A was busy at every sample of the window,
//! has nothing stealable, and worker B was busy at none (and is not spilling
//! itself), sysmon sets `A.spill_to = B`: from then on goroutines spawned on
//! A go to B's inbox, unstarted, and start there (`worker::try_spawn_local`;
//! B is woken if it sleeps). Spilling stops once B is busy at half the
//! samples of a window or more, or A at half or fewer.
//!
//! The window is what keeps placement contiguous. Spilling at every spawn
//! that finds some worker idle alternated the sieve's filters
//! between the workers (session 4: 2,436 segments over 5,000 filters, every value
//! crossing workers at each boundary) and made it slower (3.9 s against
//! 2.4). With a 16 ms window the sieve's chain splits into a few long
//! segments and a value crosses workers a few times over its whole trip.
//!
//! # What it costs and buys
//!
//! A spilled spawn takes the target's inbox lock (and wakes it if it
//! sleeps) instead of writing `runnext`; a spawn on an unsaturated worker
//! reads one more relaxed atomic. Sieve of 5,000 primes, 2 workers,
//! interleaved with the previous build: 2,022 and 2,005 ms → 1,368 and
//! 1,364 ms; spawn, skynet, yield, channel, select, ring, mutex and sleep
//! workloads moved within noise (none keeps a worker saturated while
//! another idles for a whole window and spawns meanwhile). With migration
//! (`allow_migration`) started goroutines move as in Go, and this is off.

use std::sync::atomic::Ordering;

use super::scheduler::{NO_SPILL, Shared};

/// Samples per decision (at sysmon's busy period of 2 ms: 16 ms).
const WINDOW: u32 = 8;

/// The bits of a full window.
const MASK: u32 = (1 << WINDOW) - 1;

/// Sysmon's state for spilling: the recent `busy` samples of each worker.
pub(crate) struct Spill {
    /// Per worker, its last `WINDOW` samples, newest in bit 0.
    history: Vec<u32>,
}

impl Spill {
    /// State for a runtime of `workers` workers.
    pub(crate) fn new(workers: usize) -> Spill {
        Spill {
            history: vec![0; workers],
        }
    }

    /// Takes one sample of every worker and sets or clears their spill
    /// targets (module comment). Called on every sysmon tick.
    pub(crate) fn tick(&mut self, shared: &Shared) {
        let n = self.history.len();
        if n < 2 || shared.migrate {
            return;
        }
        for (h, r) in self.history.iter_mut().zip(shared.remotes.iter()) {
            *h = ((*h << 1) | u32::from(r.busy.load(Ordering::Relaxed))) & MASK;
        }
        let busy = |i: usize| self.history[i].count_ones();
        for (a, r) in shared.remotes.iter().enumerate() {
            let to = r.spill_to.load(Ordering::Relaxed);
            if to != NO_SPILL {
                if busy(to) >= WINDOW / 2 || busy(a) <= WINDOW / 2 {
                    r.spill_to.store(NO_SPILL, Ordering::Relaxed);
                }
                continue;
            }
            if busy(a) < WINDOW || !r.stealer.is_empty() {
                continue;
            }
            let idle = (0..n).find(|&b| {
                b != a
                    && busy(b) == 0
                    && shared.remotes[b].spill_to.load(Ordering::Relaxed) == NO_SPILL
            });
            if let Some(b) = idle {
                r.spill_to.store(b, Ordering::Relaxed);
            }
        }
    }
}
