//! sysmon: the runtime's monitor thread (Go's `sysmon`).
//!
//! It never runs goroutines. Every couple of milliseconds it
//! * asks a goroutine that has run for a whole time slice (10 ms, measured
//!   by the worker's `schedtick` not moving) to yield at its next runtime
//!   call, by setting the worker's `preempt` flag;
//! * wakes an idle worker when a busy one sits on stealable work (so unstarted
//!   goroutines behind a hog get taken);
//! * samples which workers are busy and, when one stays saturated while
//!   another idles, has the first start its new goroutines on the second
//!   (`spill.rs`);
//! * runs the deadlock and stack-exhaustion detector (`debug::deadlock`);
//! * once a second, gives back the memory of stacks that sat unused in the
//!   pool (`StackPool::scavenge`);
//! * gives back goroutine-record memory pooled and unused for a while
//!   (`gcache::maybe_trim`, at most once a second process-wide).
//!
//! When every worker sleeps it backs off to 20 ms periods.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::scheduler::Shared;
use super::threads;

/// A goroutine's time slice.
pub(crate) const TIME_SLICE: Duration = Duration::from_millis(10);

/// Period while some worker is busy.
const BUSY_PERIOD: Duration = Duration::from_millis(2);

/// Period while every worker sleeps.
const IDLE_PERIOD: Duration = Duration::from_millis(20);

/// How often the stack pool is scavenged.
const SCAVENGE_PERIOD: Duration = Duration::from_secs(1);

/// The monitor loop; returns at shutdown.
pub(crate) fn run_sysmon(shared: &'static Shared) {
    let _internal = threads::internal();
    let _ = shared.sysmon.set(std::thread::current());
    let n = shared.nworkers();
    let mut last_tick = vec![0u64; n];
    let mut since = vec![Instant::now(); n];
    let mut detector = crate::debug::deadlock::Detector::default();
    let mut scavenged = Instant::now();
    let mut spill = super::spill::Spill::new(n);
    while !shared.shutdown.load(Ordering::Acquire) {
        let period = if shared.idle.all_asleep() {
            IDLE_PERIOD
        } else {
            BUSY_PERIOD
        };
        std::thread::park_timeout(period);
        let now = Instant::now();
        for (i, r) in shared.remotes.iter().enumerate() {
            let tick = r.schedtick.load(Ordering::Relaxed);
            if tick != last_tick[i] || !r.busy.load(Ordering::Relaxed) {
                last_tick[i] = tick;
                since[i] = now;
                continue;
            }
            if now.duration_since(since[i]) >= TIME_SLICE {
                r.preempt.store(true, Ordering::Relaxed);
                if !r.stealer.is_empty() {
                    shared.notify_work();
                }
            }
        }
        spill.tick(shared);
        detector.tick(shared);
        if now.duration_since(scavenged) >= SCAVENGE_PERIOD {
            scavenged = now;
            shared.stacks.scavenge();
        }
        super::gcache::maybe_trim(now);
    }
}
