//! Goroutine stacks: legal deep use, overflow detection, the mapping limit.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrogo::{Builder, Runtime, go};
use support::{for_each_runtime, run_child};

child_scenarios!(
    "out_of_stacks" => out_of_stacks_scenario,
    "burst_memory" => burst_memory_scenario,
);

/// Recurses `depth` times with a 1 KiB local array per frame; returns a
/// checksum that depends on every frame (so nothing is optimised away).
#[inline(never)]
fn deep(depth: usize) -> u64 {
    let mut buf = [0u8; 1024];
    buf[depth % 1024] = depth as u8;
    std::hint::black_box(&mut buf);
    if depth == 0 {
        return buf[0] as u64;
    }
    let below = deep(depth - 1);
    std::hint::black_box(below + buf[depth % 1024] as u64 + buf[(depth * 7) % 1024] as u64)
}

fn expected(depth: usize) -> u64 {
    (1..=depth).map(|d| (d as u8) as u64).sum()
}

/// ~75% of the default 256 KiB stack (190 frames of a bit over 1 KiB) is
/// legal and completes, at 1 and 2 workers, many goroutines at once.
#[test]
fn deep_recursion_within_default_stack() {
    assert_eq!(ferrogo::DEFAULT_STACK_SIZE, 256 * 1024);
    for_each_runtime(|rt| {
        let sums = rt.run(|| {
            let hs: Vec<_> = (0..64).map(|_| go(|| deep(190))).collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert!(sums.iter().all(|&s| s == expected(190)), "{sums:?}");
    });
}

/// A 1 MiB stack holds ~750 such frames: via `Builder::stack_size` and via
/// the runtime-wide `RuntimeBuilder::stack_size`.
#[test]
fn deep_recursion_with_bigger_stacks() {
    for_each_runtime(|rt| {
        let h = Builder::new()
            .stack_size(1 << 20)
            .spawn_on(rt, || deep(760))
            .unwrap();
        assert_eq!(h.join().unwrap(), expected(760));
    });
    for n in support::PROCS {
        let rt = Runtime::builder()
            .max_procs(n)
            .stack_size(1 << 20)
            .build()
            .unwrap();
        let v = rt.run(|| {
            let a = go(|| deep(760));
            let b = go(|| deep(500));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(v, (expected(760), expected(500)));
    }
}

/// Overflow is always caught by the guard page and reported naming the
/// goroutine; the process aborts (never silent corruption). Go: "runtime:
/// goroutine stack exceeds 1000000000-byte limit" + "fatal error: stack
/// overflow".
#[test]
fn stack_overflow_is_reported_and_aborts() {
    if support::child().as_deref() == Some("overflow") {
        #[inline(never)]
        #[allow(unconditional_recursion)]
        fn forever(n: u64) -> u64 {
            let mut buf = [n as u8; 512];
            std::hint::black_box(&mut buf);
            std::hint::black_box(forever(n + 1) + buf[7] as u64)
        }
        let rt = support::runtime(1);
        let h = Builder::new()
            .name("deep-diver")
            .spawn_on(&rt, || forever(0))
            .unwrap();
        let _ = h.join();
        println!("UNREACHABLE: the overflowing goroutine returned");
        return;
    }
    let out = run_child(
        "stack_overflow_is_reported_and_aborts",
        "overflow",
        &[],
        Duration::from_secs(20),
    );
    assert!(!out.status.success(), "{out}");
    assert!(!out.stdout.contains("UNREACHABLE"), "{out}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("overflowed its"))
        .unwrap_or_else(|| panic!("no overflow line: {out}"));
    assert!(line.starts_with("ferrogo: goroutine "), "{line}");
    assert!(line.contains("\"deep-diver\""), "{line}");
    assert!(line.contains("262144-byte stack"), "{line}");
    assert!(line.contains("Builder::stack_size"), "{line}");
    assert_eq!(out.signal(), Some(libc::SIGABRT), "expected SIGABRT: {out}");
}

/// Out of stacks: a runtime limited to 8 stacks, and a chain of 20
/// goroutines each joining the next one it spawned. The first 8 start and
/// park in `join`; the 9th can never get a stack. With nothing able to
/// progress the runtime reports it like Go's fatal errors and exits 2.
/// (A chain of parked goroutines, not yield-spinners: spinners keep the
/// worker busy, so the runtime is never quiet — a livelock, which neither Go
/// nor ferrogo reports.)
fn out_of_stacks_scenario() {
    fn chain(left: usize, started: Arc<AtomicUsize>) -> usize {
        started.fetch_add(1, Ordering::SeqCst);
        if left == 0 {
            return 0;
        }
        let s = started.clone();
        let h = Builder::new()
            .name(format!("link-{left}"))
            .spawn(move || chain(left - 1, s))
            .unwrap();
        h.join().unwrap() + 1
    }
    let rt = Runtime::builder()
        .max_procs(1)
        .max_stacks(8)
        .build()
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let h = Builder::new()
        .name("link-head")
        .spawn_on(&rt, move || chain(19, s))
        .unwrap();
    let n = h.join().unwrap();
    println!(
        "UNREACHABLE: chain finished with {n} links, {} started",
        started.load(Ordering::SeqCst)
    );
}

#[test]
fn out_of_stacks_is_reported() {
    let out = run_child(
        "out_of_stacks_is_reported",
        "out_of_stacks",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .starts_with("fatal error: out of goroutine stacks"),
        "{out}"
    );
    assert!(out.stderr.contains("vm.max_map_count"), "{out}");
    assert!(out.stderr.contains("sysctl"), "{out}");
    assert!(out.stderr.contains("max_stacks(8)"), "{out}");
    assert!(out.stderr.contains("\"link-head\" [join]"), "{out}");
    assert_eq!(
        out.stderr.matches("[join]").count(),
        8,
        "8 goroutines hold stacks, all joining: {out}"
    );
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
}

/// The same limit of 8 stacks does not stop 10,000 goroutines that finish
/// quickly: they take stacks when they first run and give them back.
#[test]
fn few_stacks_many_short_goroutines() {
    for n in support::PROCS {
        let rt = Runtime::builder()
            .max_procs(n)
            .max_stacks(8)
            .build()
            .unwrap();
        let counter = Arc::new(AtomicUsize::new(0));
        let c = counter.clone();
        let sum = rt.run(move || {
            let hs: Vec<_> = (0..10_000u64)
                .map(|i| {
                    let c = c.clone();
                    go(move || {
                        c.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(sum, 10_000 * 9_999 / 2);
        assert_eq!(counter.load(Ordering::Relaxed), 10_000);
        let m = rt.metrics();
        assert_eq!(m.stack_limit, 8, "{m:?}");
        assert!(m.stacks_mapped <= 8, "{m:?}");
    }
}

/// True on kernels with guard regions (`MADV_GUARD_INSTALL`, Linux 6.13+),
/// where a stack costs at most one mapping and the budget can be re-measured.
fn kernel_has_guard_regions() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 13)
}

/// More goroutines parked at once than the initial stack budget allows
/// (about 30,700 at `vm.max_map_count` 65,530): with guard regions the budget
/// is re-measured when reached, also when the scheduler only asks whether a
/// stack is available (it used to stay stuck at the first estimate at 1
/// worker: every fresh goroutine waited for a stack for ever).
#[test]
fn parked_goroutines_beyond_the_initial_budget() {
    if !kernel_has_guard_regions() {
        eprintln!("skipped: needs guard regions (Linux 6.13+) to go past ~30k stacks");
        return;
    }
    const N: usize = 40_000;
    for procs in [1, 2] {
        let rt = Runtime::builder().max_procs(procs).build().unwrap();
        let (started, ()) = rt.run(|| {
            with_parked(N, || {
                assert!(ferrogo::debug::metrics().stacks_in_use > N);
            })
        });
        assert_eq!(started, N);
    }
}

/// On a goroutine: starts `n` goroutines that each park on a channel, waits
/// until every one has started (so each holds a stack), calls `at_peak`, then
/// releases and joins them. Returns how many started, and `at_peak`'s value.
fn with_parked<R>(n: usize, at_peak: impl FnOnce() -> R) -> (usize, R) {
    let started = Arc::new(AtomicUsize::new(0));
    let (release, parked) = ferrogo::chan::<()>(0);
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (parked, started) = (parked.clone(), started.clone());
            go(move || {
                started.fetch_add(1, Ordering::Relaxed);
                let _ = parked.recv();
            })
        })
        .collect();
    let mut spins = 0u64;
    while started.load(Ordering::Relaxed) < n {
        ferrogo::yield_now();
        spins += 1;
        assert!(
            spins < 100_000_000,
            "only {} of {n} started",
            started.load(Ordering::Relaxed)
        );
    }
    let r = at_peak();
    release.close();
    for h in hs {
        h.join().unwrap();
    }
    (started.load(Ordering::Relaxed), r)
}

/// This process's resident memory in KiB (`VmRSS`).
fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// In a child process (RSS is process-wide): 30,000 goroutines park at once,
/// then finish; their stacks stay pooled, and sysmon's scavenger gives their
/// memory back within seconds (Go's scavenger does the same for its heap).
fn burst_memory_scenario() {
    const N: usize = 30_000;
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let before = rss_kib();
    let (_, peak) = rt.run(|| with_parked(N, rss_kib));
    let grown = peak.saturating_sub(before);
    // Each parked goroutine commits at least its stack's top page.
    assert!(
        grown >= N * 4 * 3 / 4,
        "only {grown} KiB for {N} parked goroutines"
    );
    // Half of what sat unused goes each second; allow for a loaded machine.
    let released = support::wait_until(Duration::from_secs(20), || rss_kib() < before + grown / 4);
    let now = rss_kib();
    println!("rss before {before} KiB, peak {peak} KiB, after {now} KiB");
    assert!(
        released,
        "RSS stayed at {now} KiB (peak {peak}, before {before})"
    );
    drop(rt);
}

/// After a burst of goroutines the pooled stacks' memory goes back to the OS.
#[test]
fn pooled_stack_memory_returns_after_a_burst() {
    if support::child().is_some() {
        return;
    }
    let out = run_child(
        "pooled_stack_memory_returns_after_a_burst",
        "burst_memory",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(0), "{out}");
}
