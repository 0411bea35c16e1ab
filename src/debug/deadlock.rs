//! The deadlock and stack-exhaustion detector, run by sysmon.
//!
//! A runtime is *quiet* when every worker sleeps, no queue holds work, no
//! timer is armed, no `blocking` call is in flight, it is the only runtime in
//! the process, and every thread of the process is either ferrogo's own or
//! parked inside a ferrogo primitive. A quiet runtime can never wake up by
//! itself: only a thread outside it could, and there is none running.
//!
//! A false report is worse than a missed one, so the detector acts only when
//! it sees the same quiet state (same scheduling ticks, same thread-wake
//! epoch) on two consecutive sysmon ticks. Then:
//! * if unstarted goroutines wait for stacks, no goroutine can progress
//!   without a new stack: report stack exhaustion (the limit and the sysctl);
//! * else, if a main goroutine exists (`run`), report Go's deadlock:
//!   `fatal error: all goroutines are asleep - deadlock!` and every
//!   goroutine's wait reason.
//!
//! Both exit with status 2.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::runtime::scheduler::{LIVE_RUNTIMES, Shared};
use crate::runtime::{blocking, threads};
use crate::stack::budget;

/// What identifies one quiet state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Quiet {
    /// Sum of the workers' schedticks.
    ticks: u64,
    /// Outside activity.
    outside: threads::Outside,
    /// Goroutines alive.
    live: usize,
    /// Goroutines waiting for a stack.
    starved: usize,
}

/// Remembers the previous tick's quiet state.
#[derive(Default)]
pub(crate) struct Detector {
    last: Option<Quiet>,
}

impl Detector {
    /// One sysmon tick.
    pub(crate) fn tick(&mut self, shared: &Shared) {
        let now = quiet(shared);
        if let Some(q) = now.filter(|q| Some(*q) == self.last) {
            if q.starved > 0 {
                crate::debug::report::fatal_exit(&stack_report(shared));
            }
            if shared.mains.load(Ordering::SeqCst) > 0 && q.live > 0 {
                crate::debug::report::fatal_exit(&deadlock_report(shared));
            }
        }
        self.last = now;
    }
}

fn quiet(shared: &Shared) -> Option<Quiet> {
    if shared.shutdown.load(Ordering::SeqCst)
        || !shared.idle.all_asleep()
        || LIVE_RUNTIMES.load(Ordering::SeqCst) != 1
        || blocking::in_flight() > 0
        || shared.has_shared_work()
        || shared.remotes.iter().any(|r| {
            r.timers.load(Ordering::SeqCst) > 0 || r.incoming_len.load(Ordering::SeqCst) > 0
        })
    {
        return None;
    }
    let outside = threads::outside();
    if !outside.all_accounted {
        return None;
    }
    Some(Quiet {
        ticks: shared
            .remotes
            .iter()
            .map(|r| r.schedtick.load(Ordering::SeqCst))
            .sum(),
        outside,
        live: shared.live(),
        starved: shared
            .remotes
            .iter()
            .map(|r| r.starved.load(Ordering::SeqCst))
            .sum(),
    })
}

/// Go's deadlock report.
fn deadlock_report(shared: &Shared) -> String {
    let mut s = String::from("fatal error: all goroutines are asleep - deadlock!\n");
    for (_, g) in crate::debug::snapshot(shared) {
        let _ = write!(
            s,
            "\n{} [{}]:\n",
            crate::debug::report::describe(g.id(), g.name()),
            g.wait_reason()
        );
    }
    s
}

/// The stack-exhaustion report.
fn stack_report(shared: &Shared) -> String {
    let starved: usize = shared
        .remotes
        .iter()
        .map(|r| r.starved.load(Ordering::SeqCst))
        .sum();
    let limit = shared.stacks.limit();
    let mut s = format!(
        "fatal error: out of goroutine stacks: {starved} goroutine(s) cannot start and every \
         started goroutine is parked; this runtime may map {limit} stacks\n"
    );
    let _ = writeln!(s, "{}", budget::exhausted_message(budget::mapped()));
    if let Some(cap) = shared.stacks.own_cap() {
        let _ = writeln!(s, "(the runtime was built with max_stacks({cap}))");
    }
    for (_, g) in crate::debug::snapshot(shared) {
        let _ = write!(
            s,
            "\n{} [{}]:\n",
            crate::debug::report::describe(g.id(), g.name()),
            g.wait_reason()
        );
    }
    s
}
