//! The process-wide budget of goroutine stacks, derived from `vm.max_map_count`.
//!
//! Linux caps the number of memory mappings (VMAs) a process may hold at
//! `/proc/sys/vm/max_map_count` (65,530 by default). What a stack costs
//! depends on how its guard page is made (see the parent module):
//!
//! * with `mprotect` (kernels before 6.13): **two** mappings per stack, so at
//!   first use we read the limit and the mappings already present, keep a
//!   headroom, and allow `(limit - present - headroom) / 2` stacks;
//! * with guard regions (`MADV_GUARD_INSTALL`): at most one, and adjacent
//!   stacks merge into one VMA, so the true cost is usually far lower. Here
//!   the budget starts like the above and, whenever it is reached, is
//!   re-measured from `/proc/self/maps`: the stacks may grow by as many as
//!   there are mappings left (each new stack costs at most one).
//!
//! Running past the budget is reported as an error naming the limit and the
//! sysctl that raises it, never answered by a silent fallback to unguarded
//! stacks. The budget is process-wide because mappings are: several
//! `Runtime`s share it.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often `room` may re-read `/proc/self/maps` while nothing changed.
const REMEASURE_EVERY: Duration = Duration::from_millis(10);

/// Mappings kept free for everything that is not a goroutine stack.
const MIN_HEADROOM: usize = 1024;

/// Stacks currently mapped by this process (pooled or in use).
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// How many stacks may be mapped at once right now (0: not computed yet).
static CAPACITY: AtomicUsize = AtomicUsize::new(0);

/// `vm.max_map_count`, read once.
fn max_map_count() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(65_530)
    })
}

/// Mappings the process holds now.
fn present_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|s| s.lines().count())
        .unwrap_or(1024)
}

fn headroom() -> usize {
    MIN_HEADROOM.max(max_map_count() / 16)
}

/// The number of stacks this process may map at once (as of now: with guard
/// regions it grows when re-measured).
pub(crate) fn capacity() -> usize {
    let c = CAPACITY.load(Ordering::Relaxed);
    if c != 0 {
        return c;
    }
    let room = max_map_count().saturating_sub(present_mappings() + headroom());
    let c = (room / 2).max(1);
    match CAPACITY.compare_exchange(0, c, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => c,
        Err(other) => other,
    }
}

/// Stacks mapped right now.
pub(crate) fn mapped() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// Reserves room for one stack; false when the budget is spent.
pub(crate) fn try_take() -> bool {
    loop {
        let cap = capacity();
        if MAPPED
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok()
        {
            return true;
        }
        if !(super::guard_regions() && remeasure(cap)) {
            return false;
        }
    }
}

/// With guard regions: recomputes the capacity from the mappings actually
/// present. True if it grew.
fn remeasure(old: usize) -> bool {
    let free = max_map_count().saturating_sub(present_mappings() + headroom());
    let new = mapped() + free;
    new > old
        && CAPACITY
            .compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Stacks that may still be mapped now. With guard regions a spent budget is
/// re-measured first, as `try_take` would, so a caller that only asks for
/// room (the pool's cap, the scheduler's stack-pressure rule) sees the budget
/// grow too. A failed re-measure is repeated only once `mapped()` changed or
/// [`REMEASURE_EVERY`] passed: reading `/proc/self/maps` is not free.
pub(crate) fn room() -> usize {
    let cap = capacity();
    let m = mapped();
    if m < cap {
        return cap - m;
    }
    if !super::guard_regions() {
        return 0;
    }
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    /// `mapped()` at the last failed re-measure, plus one (0: none yet).
    static FAILED_AT_MAPPED: AtomicUsize = AtomicUsize::new(0);
    /// Milliseconds since `EPOCH` of the last failed re-measure.
    static FAILED_AT_MS: AtomicUsize = AtomicUsize::new(0);
    let now_ms = EPOCH.get_or_init(Instant::now).elapsed().as_millis() as usize;
    if FAILED_AT_MAPPED.load(Ordering::Relaxed) == m + 1
        && now_ms.saturating_sub(FAILED_AT_MS.load(Ordering::Relaxed))
            < REMEASURE_EVERY.as_millis() as usize
    {
        return 0;
    }
    if remeasure(cap) {
        return capacity().saturating_sub(mapped());
    }
    FAILED_AT_MAPPED.store(m + 1, Ordering::Relaxed);
    FAILED_AT_MS.store(now_ms, Ordering::Relaxed);
    0
}

/// Returns the room of one unmapped stack.
pub(crate) fn give_back() {
    MAPPED.fetch_sub(1, Ordering::Relaxed);
}

/// The error for a spent budget: names the limit and how to raise it.
pub(crate) fn exhausted_error() -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, exhausted_message(mapped()))
}

/// The sentence used by both the error and the fatal report.
pub(crate) fn exhausted_message(in_use: usize) -> String {
    let per_stack = if super::guard_regions() {
        "at most 1 per stack with guard regions"
    } else {
        "2 per guarded stack"
    };
    format!(
        "ferrogo: out of goroutine stacks: {in_use} stacks are mapped ({per_stack}) and the \
         budget derived from vm.max_map_count = {} allows {}; raise the limit with \
         `sysctl -w vm.max_map_count=1048576` or keep fewer goroutines alive at once",
        max_map_count(),
        capacity()
    )
}
