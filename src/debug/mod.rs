//! Runtime introspection and the one reporting path of the library.
//!
//! Nothing in ferrogo prints except through `report` (panics nobody will
//! join, fatal runtime errors, the deadlock report) and the stack overflow
//! handler (which must use raw `write(2)` inside a signal handler).

pub(crate) mod deadlock;
pub(crate) mod report;

use std::sync::atomic::Ordering;

use crate::WaitReason;
use crate::runtime::g::{GRef, PARKED};
use crate::runtime::scheduler::Shared;

/// One goroutine as seen by [`goroutines`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoroutineInfo {
    /// The goroutine id.
    pub id: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Why it is parked; `WaitReason::None` if it is running or runnable.
    pub wait_reason: WaitReason,
    /// The worker it lives on (with migration: the one that last ran it).
    pub worker: usize,
}

/// Lists the goroutines of the caller's runtime (the global runtime from a
/// plain thread), ordered by id: a goroutine dump. It shows every goroutine
/// that is parked, runnable after a yield or preemption, or the caller
/// itself; goroutines not yet started, and ones running right now on another
/// worker that have never switched out, are not listed.
///
/// ```
/// use ferrogo::WaitReason;
/// let h = ferrogo::go(|| ferrogo::debug::goroutines());
/// let dump = h.join().unwrap();
/// assert!(dump.iter().any(|g| g.wait_reason == WaitReason::None));
/// ```
pub fn goroutines() -> Vec<GoroutineInfo> {
    let shared = crate::runtime::worker::current_shared()
        .unwrap_or_else(crate::runtime::builder::global_shared);
    let mut out: Vec<GoroutineInfo> = snapshot(shared)
        .into_iter()
        .map(|(w, g)| info(w, &g))
        .collect();
    if let Some(me) = crate::runtime::worker::current_gref() {
        if !out.iter().any(|g| g.id == me.id()) {
            let w = me.home();
            out.push(info(w, &me));
            out.sort_by_key(|g| g.id);
        }
    }
    out
}

/// Every started goroutine of `shared` with the index of the worker it
/// lives on (its registry's worker by default; with migration it may have
/// moved since it registered).
pub(crate) fn snapshot(shared: &Shared) -> Vec<(usize, GRef)> {
    let mut out = Vec::new();
    for r in shared.remotes.iter() {
        let reg = r.registry.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(reg.iter().map(|g| (g.home(), g.clone())));
    }
    out.sort_by_key(|(_, g)| g.id());
    out
}

fn info(worker: usize, g: &GRef) -> GoroutineInfo {
    let parked = g.state.load(Ordering::Acquire) == PARKED;
    GoroutineInfo {
        id: g.id(),
        name: g.name().map(str::to_owned),
        wait_reason: if parked {
            g.wait_reason()
        } else {
            WaitReason::None
        },
        worker,
    }
}

/// Counters of a runtime, as returned by [`metrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Worker threads.
    pub workers: usize,
    /// Goroutines spawned and not yet finished.
    pub goroutines: usize,
    /// Goroutine stacks this runtime has mapped (in use or pooled).
    pub stacks_mapped: usize,
    /// Of those, stacks held by started, unfinished goroutines.
    pub stacks_in_use: usize,
    /// Stacks this runtime may map at once.
    pub stack_limit: usize,
    /// Stacks the whole process may map, from `vm.max_map_count`.
    pub stack_budget: usize,
}

/// Counters of the caller's runtime (the global one from a plain thread).
///
/// ```
/// let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
/// let m = rt.run(|| ferrogo::debug::metrics());
/// assert_eq!(m.workers, 1);
/// assert!(m.goroutines >= 1 && m.stacks_in_use >= 1);
/// ```
pub fn metrics() -> Metrics {
    let shared = crate::runtime::worker::current_shared()
        .unwrap_or_else(crate::runtime::builder::global_shared);
    metrics_of(shared)
}

pub(crate) fn metrics_of(shared: &Shared) -> Metrics {
    // Per-worker counts may be off with migration (a stack taken on one
    // worker, returned on another); their sum is exact.
    let in_use: isize = shared
        .remotes
        .iter()
        .map(|r| r.stacks_in_use.load(Ordering::Relaxed))
        .sum();
    Metrics {
        workers: shared.nworkers(),
        goroutines: shared.live(),
        stacks_mapped: shared.stacks.owned(),
        stacks_in_use: in_use.max(0) as usize,
        stack_limit: shared.stacks.limit(),
        stack_budget: crate::stack::budget::capacity(),
    }
}
