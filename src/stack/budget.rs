//! The process-wide budget of goroutine stacks, derived from `vm.max_map_count`.
//!
//! Linux caps the number of memory mappings (VMAs) a process may hold at
//! `/proc/sys/vm/max_map_count` (65,530 by default). Every guarded stack costs
//! two (see the parent module), and the rest of the process needs some too
//! (heap arenas, thread stacks, libraries). At first use we read the limit and
//! the mappings already present, keep a headroom, and allow
//! `(limit - present - headroom) / 2` stacks. Running past the budget is
//! reported as an error naming the limit and the sysctl that raises it, never
//! answered by a silent fallback to unguarded stacks.
//!
//! The budget is process-wide because mappings are: several `Runtime`s share it.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Mappings kept free for everything that is not a goroutine stack.
const MIN_HEADROOM: usize = 1024;

/// Stacks currently mapped by this process (pooled or in use).
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// What the budget was computed from, read once.
struct Limits {
    /// `vm.max_map_count` at first use.
    max_map_count: usize,
    /// How many stacks may be mapped at once.
    stacks: usize,
}

fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(65_530);
        let present = std::fs::read_to_string("/proc/self/maps")
            .map(|s| s.lines().count())
            .unwrap_or(1024);
        let headroom = MIN_HEADROOM.max(max_map_count / 16);
        let stacks = max_map_count.saturating_sub(present + headroom) / 2;
        Limits {
            max_map_count,
            stacks,
        }
    })
}

/// The number of stacks this process may map at once.
pub(crate) fn capacity() -> usize {
    limits().stacks
}

/// Stacks mapped right now.
pub(crate) fn mapped() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// Reserves room for one stack; false when the budget is spent.
pub(crate) fn try_take() -> bool {
    let cap = capacity();
    MAPPED
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
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
    let l = limits();
    format!(
        "ferrogo: out of goroutine stacks: {in_use} stacks are mapped ({} memory mappings, 2 per \
         guarded stack) and the budget derived from vm.max_map_count = {} allows {}; raise the \
         limit with `sysctl -w vm.max_map_count=1048576` or keep fewer goroutines alive at once",
        in_use * 2,
        l.max_map_count,
        l.stacks
    )
}
