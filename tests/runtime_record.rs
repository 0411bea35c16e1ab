//! The goroutine record (`runtime/record.rs`, memory from `runtime/gcache.rs`):
//! every closure and every result is dropped exactly once — joined, detached
//! before or after finishing, never run — whatever the record's size class
//! (small, large, over-aligned); a panicking `Drop` of a result never takes a
//! worker down; records freed by one runtime's workers or by plain threads
//! serve later spawns.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrogo::{Runtime, chan, go};
use support::{DropCounter, for_each_runtime, wait_until};

child_scenarios!();

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn drops_reach(c: &AtomicUsize, want: usize) -> bool {
    wait_until(Duration::from_secs(10), || c.load(Ordering::SeqCst) == want)
}

/// Closures (captured `DropCounter`) and results (returned `DropCounter`)
/// are each dropped once, whether the handle joins, is dropped before the
/// goroutine finishes, or is dropped after.
#[test]
fn closures_and_results_drop_exactly_once() {
    for_each_runtime(|rt| {
        let (body_drops, result_drops) = (counter(), counter());
        let (b, r) = (body_drops.clone(), result_drops.clone());
        let n = 3_000;
        rt.run(move || {
            let (gate_tx, gate_rx) = chan::<()>(0);
            let mut joined = Vec::new();
            let mut finished = Vec::new();
            for i in 0..n {
                let captured = DropCounter {
                    id: i,
                    drops: b.clone(),
                };
                let r = r.clone();
                let gate = gate_rx.clone();
                let h = go(move || {
                    let id = captured.id;
                    if id % 3 == 1 {
                        // Detached before it finishes: wait for the gate.
                        let _ = gate.recv();
                    }
                    DropCounter { id, drops: r }
                });
                match i % 3 {
                    0 => joined.push(h),
                    1 => drop(h),
                    _ => finished.push(h),
                }
            }
            drop(gate_tx); // closing releases the detached ones
            for h in finished {
                while !h.is_finished() {
                    ferrogo::yield_now();
                }
                drop(h);
            }
            for (k, h) in joined.into_iter().enumerate() {
                assert_eq!(h.join().unwrap().id, 3 * k);
            }
        });
        assert!(
            drops_reach(&body_drops, n),
            "bodies dropped: {body_drops:?}"
        );
        assert!(
            drops_reach(&result_drops, n),
            "results dropped: {result_drops:?}"
        );
        assert!(wait_until(Duration::from_secs(5), || rt.num_goroutine() == 0));
        // Nothing is dropped twice later on.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(body_drops.load(Ordering::SeqCst), n);
        assert_eq!(result_drops.load(Ordering::SeqCst), n);
    });
}

/// Goroutines that never run (still queued when the runtime is dropped)
/// drop their closures once; those that ran drop them once too.
#[test]
fn unstarted_bodies_drop_once_at_shutdown() {
    let drops = counter();
    let ran = counter();
    let n = 200;
    {
        let rt = support::runtime(1);
        let (d, r) = (drops.clone(), ran.clone());
        rt.run(move || {
            for i in 0..n {
                let c = DropCounter {
                    id: i,
                    drops: d.clone(),
                };
                let r = r.clone();
                // Detached; on one worker none runs before `run` returns.
                drop(go(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    drop(c);
                }));
            }
        });
    }
    assert_eq!(drops.load(Ordering::SeqCst), n, "ran: {ran:?}");
}

/// A record too large or too aligned for the cache's classes goes through
/// the global allocator; bodies and results of every size arrive intact.
#[test]
fn large_and_overaligned_records() {
    #[repr(align(128))]
    #[derive(Clone, Copy, PartialEq, Debug)]
    struct Aligned(u64);
    for_each_runtime(|rt| {
        rt.run(|| {
            for i in 0..500u64 {
                let big = [i as u8; 3000];
                let a = Aligned(i);
                let small = go(move || i + 1);
                let large = go(move || big.iter().map(|&b| b as u64).sum::<u64>());
                let aligned = go(move || {
                    assert_eq!(&a as *const Aligned as usize % 128, 0);
                    [a; 3]
                });
                assert_eq!(small.join().unwrap(), i + 1);
                assert_eq!(large.join().unwrap(), 3000 * (i as u8) as u64);
                assert_eq!(aligned.join().unwrap(), [Aligned(i); 3]);
            }
        });
    });
}

/// A value whose `Drop` panics.
struct PanicOnDrop(Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("PanicOnDrop dropped");
    }
}

/// A detached goroutine's result whose `Drop` panics: the panic is caught on
/// the goroutine (and reported), the worker keeps running. A handle dropped
/// after the goroutine finished drops the result on the dropping thread,
/// where the panic propagates like any other drop's.
#[test]
fn panicking_result_drop() {
    for_each_runtime(|rt| {
        let drops = counter();
        // Detached before finishing: dropped by the goroutine itself.
        let (tx, rx) = chan::<()>(0);
        let d = drops.clone();
        let h = rt.spawn(move || {
            let _ = rx.recv();
            PanicOnDrop(d)
        });
        drop(h);
        drop(tx);
        assert!(drops_reach(&drops, 1));
        // The workers survived.
        assert_eq!(rt.spawn(|| 5).join().unwrap(), 5);
        assert_eq!(rt.run(|| go(|| 6).join().unwrap()), 6);

        // Dropped after finishing: the drop panics here.
        let d = drops.clone();
        let h = rt.spawn(move || PanicOnDrop(d));
        while !h.is_finished() {
            std::thread::yield_now();
        }
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(h))).unwrap_err();
        assert_eq!(e.downcast_ref::<&str>(), Some(&"PanicOnDrop dropped"));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(rt.spawn(|| 7).join().unwrap(), 7);
    });
}

/// Plain threads spawn and join on a runtime at once: their records are
/// allocated on those threads and freed on workers or on them, then the
/// threads exit (their caches go to the shared pool).
#[test]
fn spawn_from_plain_threads() {
    let _w = support::watchdog(support::hang_limit());
    let rt = Arc::new(support::runtime(2));
    let drops = counter();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let rt = rt.clone();
            let drops = drops.clone();
            std::thread::spawn(move || {
                for round in 0..5 {
                    let hs: Vec<_> = (0..2_000)
                        .map(|i| {
                            let c = DropCounter {
                                id: i,
                                drops: drops.clone(),
                            };
                            rt.spawn(move || c.id + t + round)
                        })
                        .collect();
                    for (i, h) in hs.into_iter().enumerate() {
                        assert_eq!(h.join().unwrap(), i + t + round);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(drops_reach(&drops, 4 * 5 * 2_000));
    // `go` from a plain thread goes to the global runtime.
    let hs: Vec<_> = (0..1_000u64).map(|i| go(move || i * 2)).collect();
    assert_eq!(
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>(),
        999_000
    );
}

/// Several runtimes one after the other and at once: records freed by one
/// runtime's workers (flushed to the pool when those threads exit) serve the
/// next.
#[test]
fn records_across_runtimes() {
    let _w = support::watchdog(support::hang_limit());
    let spawn_join = |rt: &Runtime, n: u64| {
        rt.run(move || {
            let hs: Vec<_> = (0..n).map(|i| go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    };
    for _ in 0..3 {
        let rt = support::runtime(2);
        assert_eq!(spawn_join(&rt, 20_000), 20_000 * 19_999 / 2);
    }
    let (a, b) = (support::runtime(1), support::runtime(2));
    // A goroutine of `a` spawns on `b` and the other way round.
    let (a2, b2) = (Arc::new(a), Arc::new(b));
    let bb = b2.clone();
    let n = a2.run(move || {
        let hs: Vec<_> = (0..1_000u64).map(|i| bb.spawn(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(n, 999 * 1_000 / 2);
    assert_eq!(spawn_join(&b2, 1_000), 999 * 1_000 / 2);
}
