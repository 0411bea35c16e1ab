//! Skynet (https://github.com/atemerev/skynet): a goroutine tree with
//! 1,000,000 leaves, each returning its ordinal, summed up the tree with
//! `join` — 1,111,111 goroutines in all.
//!
//! Go's version keeps up to ~1M goroutines alive at once; ferrogo must finish
//! it under Linux's default `vm.max_map_count` (65,530, i.e. ~30k guarded
//! stacks) because goroutines take a stack only when they first run and the
//! scheduler runs the tree depth-first, so only a few hundred hold a stack at
//! once.

mod support;

use std::time::Instant;

use ferrogo::{Runtime, go};

fn skynet(num: u64, size: u64, div: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / div;
    let hs: Vec<_> = (0..div)
        .map(|i| go(move || skynet(num + i * sub, sub, div)))
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

fn check(rt: &Runtime) {
    let start = Instant::now();
    let (sum, inside) = rt.run(|| {
        let sum = skynet(0, 1_000_000, 10);
        (sum, ferrogo::debug::metrics())
    });
    assert_eq!(sum, 499_999_500_000, "at {} workers", rt.max_procs());
    let m = rt.metrics();
    eprintln!(
        "skynet at {} workers: {:?}; {m:?}",
        rt.max_procs(),
        start.elapsed()
    );
    assert_eq!(inside.workers, rt.max_procs());
    // Far below the process budget (which is derived from vm.max_map_count)
    // and far below the number of goroutines.
    assert!(
        m.stacks_mapped * 10 <= m.stack_budget,
        "mapped {} of budget {}",
        m.stacks_mapped,
        m.stack_budget
    );
    assert!(
        m.stacks_mapped <= 10_000,
        "skynet mapped {} stacks at once",
        m.stacks_mapped
    );
    assert!(support::wait_until(
        std::time::Duration::from_secs(5),
        || rt.num_goroutine() == 0
    ));
}

#[test]
fn skynet_1m_one_worker() {
    check(&support::runtime(1));
}

#[test]
fn skynet_1m_two_workers() {
    check(&support::runtime(2));
}
