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
//! `WINDOW` samples. When worker A has been busy at every sample for a run of
//! `need` samples (`WINDOW` at first), has nothing stealable, and worker B
//! was busy at none of the window's samples (and is not spilling itself),
//! sysmon sets `A.spill_to = B`: from then on goroutines spawned on A go to
//! B's inbox, unstarted, and start there (`worker::try_spawn_local`; B is
//! woken if it sleeps). Spilling stops once B is busy at half the samples of
//! a window or more (it worked: `need` goes back to `WINDOW`), or A at half
//! or fewer while B is not (it did not: the children were short and A only
//! waited for them, as in a loop spawning a goroutine and joining it at
//! once; `need` doubles, up to about a second).
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
//! reads one more relaxed atomic. The worst case is a loop that spawns a
//! goroutine and joins it at once while the other worker idles: each spilled
//! round trip crosses workers; without the doubling of `need` such a loop ran
//! 5–10% slower (10M rounds, 150 → 156–165 ns each). Sieve of 5,000 primes, 2 workers,
//! interleaved with the previous build: 2,022 and 2,005 ms → 1,368 and
//! 1,364 ms; spawn, skynet, yield, channel, select, ring, mutex and sleep
//! workloads moved within noise (none keeps a worker saturated while
//! another idles for a whole window and spawns meanwhile). With migration
//! (`allow_migration`) started goroutines move as in Go, and this is off.

use std::sync::atomic::Ordering;

use super::scheduler::{NO_SPILL, Shared};

/// Samples in the window the rules read (at sysmon's busy period of 2 ms:
/// 16 ms), and the least run of saturated samples that starts a spill.
const WINDOW: u32 = 8;

/// The bits of a window.
const MASK: u32 = (1 << WINDOW) - 1;

/// The longest run of saturated samples a worker may be asked for before it
/// spills (at 2 ms: about 1 s).
const MAX_RUN: u32 = 512;

/// Sysmon's state for spilling, per worker.
pub(crate) struct Spill {
    /// Its last `WINDOW` `busy` samples, newest in bit 0.
    history: Vec<u32>,
    /// How many samples in a row it has been busy (0 after an idle one).
    busy_run: Vec<u32>,
    /// The run of saturated samples it needs before it spills: `WINDOW`,
    /// doubled each time a spill of its ended without the target getting
    /// busy (spilling only moved hand-offs across workers), reset when one
    /// ends with the target busy.
    need: Vec<u32>,
    /// Scratch for `tick`: this round's `busy`, "has stealable work" and
    /// `spill_to` of each worker (kept to spare sysmon three allocations a
    /// tick).
    busy: Vec<bool>,
    stealable: Vec<bool>,
    spill: Vec<usize>,
}

impl Spill {
    /// State for a runtime of `workers` workers.
    pub(crate) fn new(workers: usize) -> Spill {
        Spill {
            history: vec![0; workers],
            busy_run: vec![0; workers],
            need: vec![WINDOW; workers],
            busy: Vec::with_capacity(workers),
            stealable: Vec::with_capacity(workers),
            spill: Vec::with_capacity(workers),
        }
    }

    /// Takes one sample of every worker and sets or clears their spill
    /// targets (module comment). Called on every sysmon tick.
    pub(crate) fn tick(&mut self, shared: &Shared) {
        if self.history.len() < 2 || shared.migrate {
            return;
        }
        let (mut busy, mut stealable, mut spill) = (
            std::mem::take(&mut self.busy),
            std::mem::take(&mut self.stealable),
            std::mem::take(&mut self.spill),
        );
        for r in shared.remotes.iter() {
            busy.push(r.busy.load(Ordering::Relaxed));
            stealable.push(!r.stealer.is_empty());
            spill.push(r.spill_to.load(Ordering::Relaxed));
        }
        self.step(&busy, &stealable, &mut spill);
        for (r, &to) in shared.remotes.iter().zip(spill.iter()) {
            if r.spill_to.load(Ordering::Relaxed) != to {
                r.spill_to.store(to, Ordering::Relaxed);
            }
        }
        busy.clear();
        stealable.clear();
        spill.clear();
        (self.busy, self.stealable, self.spill) = (busy, stealable, spill);
    }

    /// The rules on one round of samples: `busy[i]` and `stealable[i]` are
    /// worker `i`'s flags now, `spill[i]` its `spill_to`, updated in place.
    fn step(&mut self, busy: &[bool], stealable: &[bool], spill: &mut [usize]) {
        let n = self.history.len();
        for (i, &b) in busy.iter().enumerate() {
            self.history[i] = ((self.history[i] << 1) | u32::from(b)) & MASK;
            self.busy_run[i] = if b {
                self.busy_run[i].saturating_add(1)
            } else {
                0
            };
        }
        let busy = |i: usize| self.history[i].count_ones();
        for a in 0..n {
            let to = spill[a];
            if to != NO_SPILL {
                if busy(to) >= WINDOW / 2 {
                    // It worked: the target has work of its own now.
                    spill[a] = NO_SPILL;
                    self.need[a] = WINDOW;
                } else if busy(a) <= WINDOW / 2 {
                    // The spawner went idle but the target did not get busy:
                    // the children were short, and spilling only made each
                    // hand-off cross workers (a spawn-and-join loop). Ask
                    // for a longer saturated run next time.
                    spill[a] = NO_SPILL;
                    self.need[a] = (self.need[a] * 2).min(MAX_RUN);
                }
                continue;
            }
            // `need` is at least `WINDOW`, so this covers the whole window.
            let saturated = self.busy_run[a] >= self.need[a];
            if !saturated || stealable[a] {
                continue;
            }
            if let Some(b) = (0..n).find(|&b| b != a && busy(b) == 0 && spill[b] == NO_SPILL) {
                spill[a] = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `rounds` rounds of the same flags; returns the spill targets.
    fn feed(s: &mut Spill, busy: &[bool], rounds: usize, spill: &mut [usize]) {
        let stealable = vec![false; busy.len()];
        for _ in 0..rounds {
            s.step(busy, &stealable, spill);
        }
    }

    #[test]
    fn a_saturated_worker_spills_to_an_idle_one_after_a_window() {
        let mut s = Spill::new(2);
        let mut spill = [NO_SPILL; 2];
        feed(&mut s, &[true, false], WINDOW as usize - 1, &mut spill);
        assert_eq!(spill, [NO_SPILL; 2], "one sample short of a window");
        feed(&mut s, &[true, false], 1, &mut spill);
        assert_eq!(spill, [1, NO_SPILL]);
    }

    #[test]
    fn no_spill_while_the_other_worker_works_or_work_is_stealable() {
        let mut s = Spill::new(2);
        let mut spill = [NO_SPILL; 2];
        // The other worker busy at one sample of the window: not idle.
        for i in 0..(4 * WINDOW) {
            s.step(&[true, i % 8 == 0], &[false, false], &mut spill);
        }
        assert_eq!(spill, [NO_SPILL; 2]);
        // Idle, but something to steal: the idle worker will take it.
        let mut s = Spill::new(2);
        for _ in 0..(4 * WINDOW) {
            s.step(&[true, false], &[true, false], &mut spill);
        }
        assert_eq!(spill, [NO_SPILL; 2]);
    }

    #[test]
    fn spilling_stops_when_the_target_gets_busy_and_may_start_again() {
        let mut s = Spill::new(2);
        let mut spill = [NO_SPILL; 2];
        feed(&mut s, &[true, false], WINDOW as usize, &mut spill);
        assert_eq!(spill[0], 1);
        feed(&mut s, &[true, true], WINDOW as usize / 2, &mut spill);
        assert_eq!(spill[0], NO_SPILL, "the target is busy half the time");
        assert_eq!(s.need[0], WINDOW);
        // The target idles again for a window: spill again at once.
        feed(&mut s, &[true, false], WINDOW as usize, &mut spill);
        assert_eq!(spill[0], 1);
    }

    #[test]
    fn a_spill_that_only_moved_hand_offs_backs_off() {
        let mut s = Spill::new(2);
        let mut spill = [NO_SPILL; 2];
        let mut need = WINDOW;
        for _ in 0..8 {
            feed(&mut s, &[true, false], need as usize, &mut spill);
            assert_eq!(spill[0], 1, "spills after a saturated run of {need}");
            // Spilled: the spawner idles, the target barely works.
            feed(&mut s, &[false, false], WINDOW as usize / 2, &mut spill);
            assert_eq!(spill[0], NO_SPILL);
            need = (need * 2).min(MAX_RUN);
            assert_eq!(s.need[0], need);
            // A saturated run one sample short of the new need: no spill.
            feed(&mut s, &[true, false], need as usize - 1, &mut spill);
            assert_eq!(spill[0], NO_SPILL);
            feed(&mut s, &[false, false], 1, &mut spill);
        }
        assert_eq!(s.need[0], MAX_RUN);
    }
}
