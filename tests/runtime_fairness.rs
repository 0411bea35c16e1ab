//! Fairness: no runnable goroutine waits forever, at 1 and 2 workers.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrogo::{go, yield_now};
use support::{for_each_runtime, wait_until};

/// golang/go#13546: a goroutine that spins on `runtime.Gosched()` waiting for
/// a flag set by a goroutine it just spawned must let that goroutine run —
/// even on one P, and even though the new goroutine sits in `runnext`.
#[test]
fn yield_spinner_lets_spawned_goroutine_run() {
    for_each_runtime(|rt| {
        for _ in 0..100 {
            let start = Instant::now();
            let yields = rt.run(|| {
                let flag = Arc::new(AtomicBool::new(false));
                let f2 = flag.clone();
                let h = go(move || f2.store(true, Ordering::SeqCst));
                let mut yields = 0u64;
                while !flag.load(Ordering::SeqCst) {
                    yield_now();
                    yields += 1;
                    assert!(yields < 10_000_000, "spawned goroutine never ran");
                }
                h.join().unwrap();
                yields
            });
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "took {:?} ({yields} yields)",
                start.elapsed()
            );
        }
    });
}

/// Same from a goroutine that is not `main` and from a spawned grandchild.
#[test]
fn yield_spinner_nested() {
    for_each_runtime(|rt| {
        let ok = rt
            .spawn(|| {
                let flag = Arc::new(AtomicBool::new(false));
                let f2 = flag.clone();
                let h = go(move || {
                    let f3 = f2.clone();
                    go(move || f3.store(true, Ordering::SeqCst)).join().unwrap();
                });
                while !flag.load(Ordering::SeqCst) {
                    yield_now();
                }
                h.join().unwrap();
                true
            })
            .join()
            .unwrap();
        assert!(ok);
    });
}

/// Many goroutines all spinning on `yield_now` each make progress: every one
/// reaches N increments of its own counter (a round-robin, not a stack).
#[test]
fn yield_spinners_all_progress() {
    const G: usize = 64;
    const N: u64 = 2_000;
    for_each_runtime(|rt| {
        let counters: Arc<Vec<AtomicU64>> = Arc::new((0..G).map(|_| AtomicU64::new(0)).collect());
        let c = counters.clone();
        rt.run(move || {
            let hs: Vec<_> = (0..G)
                .map(|i| {
                    let c = c.clone();
                    go(move || {
                        for _ in 0..N {
                            c[i].fetch_add(1, Ordering::Relaxed);
                            yield_now();
                        }
                    })
                })
                .collect();
            // While they run, every spinner must be seen moving: no goroutine
            // sits at 0 while another has finished.
            for h in hs {
                h.join().unwrap();
            }
        });
        for (i, c) in counters.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), N, "goroutine {i}");
        }
    });
}

/// Round-robin among yielders: with 8 goroutines spinning on yield_now on a
/// single worker, when the first finishes its 1,000 yields no other is still
/// far behind (each yield puts the caller behind every waiting goroutine).
#[test]
fn yield_is_round_robin_on_one_worker() {
    const G: usize = 8;
    let rt = support::runtime(1);
    let counters: Arc<Vec<AtomicU64>> = Arc::new((0..G).map(|_| AtomicU64::new(0)).collect());
    let first_done = Arc::new(AtomicBool::new(false));
    let snapshot = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, fd, snap) = (counters.clone(), first_done.clone(), snapshot.clone());
    rt.run(move || {
        let hs: Vec<_> = (0..G)
            .map(|i| {
                let (c, fd, snap) = (c.clone(), fd.clone(), snap.clone());
                go(move || {
                    for _ in 0..1_000 {
                        c[i].fetch_add(1, Ordering::Relaxed);
                        yield_now();
                    }
                    if !fd.swap(true, Ordering::SeqCst) {
                        *snap.lock().unwrap() =
                            c.iter().map(|x| x.load(Ordering::Relaxed)).collect();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let snap = snapshot.lock().unwrap().clone();
    assert_eq!(snap.len(), G);
    for (i, v) in snap.iter().enumerate() {
        assert!(
            *v >= 990,
            "goroutine {i} was at {v}/1000 when the first finished: {snap:?}"
        );
    }
}

/// A CPU hog that calls only `checkpoint()` (no blocking call) cannot keep a
/// goroutine spawned after it from running on a single worker: sysmon asks it
/// to yield once its 10 ms slice is used up (Go: sysmon's `retake` +
/// `preemptone`; since Go 1.14 even without the checkpoint).
#[test]
fn checkpoint_hog_is_preempted() {
    for_each_runtime(|rt| {
        let flag = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (f1, s1) = (flag.clone(), started.clone());
        // Started first, from this plain thread (which keeps it off runnext
        // of a goroutine): it occupies a worker.
        let hogs: Vec<_> = (0..rt.max_procs())
            .map(|_| {
                let (f1, s1) = (f1.clone(), s1.clone());
                rt.spawn(move || {
                    s1.store(true, Ordering::SeqCst);
                    let mut n = 0u64;
                    let t = Instant::now();
                    while !f1.load(Ordering::SeqCst) {
                        n = n.wrapping_add(1);
                        std::hint::black_box(n);
                        ferrogo::checkpoint();
                        assert!(t.elapsed() < Duration::from_secs(30), "hog never released");
                    }
                })
            })
            .collect();
        assert!(wait_until(Duration::from_secs(5), || started.load(Ordering::SeqCst)));
        std::thread::sleep(Duration::from_millis(5));
        let start = Instant::now();
        let f2 = flag.clone();
        let setter = rt.spawn(move || f2.store(true, Ordering::SeqCst));
        let ok = wait_until(Duration::from_secs(2), || flag.load(Ordering::SeqCst));
        let took = start.elapsed();
        flag.store(true, Ordering::SeqCst); // release the hogs in any case
        setter.join().unwrap();
        for h in hogs {
            h.join().unwrap();
        }
        assert!(
            ok,
            "a goroutine spawned behind a checkpoint()ing hog did not run within 2 s at {} workers",
            rt.max_procs()
        );
        eprintln!("{} workers: setter ran after {took:?}", rt.max_procs());
    });
}

/// Same hog, but the waiting goroutine is spawned from a goroutine on the
/// hog's worker (it lands in the local queue, not the global one).
#[test]
fn checkpoint_hog_is_preempted_local_spawn() {
    for_each_runtime(|rt| {
        let took = rt.run(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f1 = flag.clone();
            let hog = go(move || {
                while !f1.load(Ordering::SeqCst) {
                    ferrogo::checkpoint();
                }
            });
            yield_now(); // let the hog start
            let start = Instant::now();
            let f2 = flag.clone();
            let setter = go(move || f2.store(true, Ordering::SeqCst));
            // The main goroutine itself waits by joining (parks).
            setter.join().unwrap();
            let took = start.elapsed();
            hog.join().unwrap();
            took
        });
        assert!(
            took < Duration::from_secs(2),
            "setter ran only after {took:?} at {} workers",
            rt.max_procs()
        );
    });
}

/// Two goroutines that keep yielding to each other (ping-pong on an atomic
/// turn) must not starve a third goroutine on the same single worker.
#[test]
fn ping_pong_yielders_do_not_starve_third() {
    for_each_runtime(|rt| {
        let result = rt.run(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let turn = Arc::new(AtomicUsize::new(0));
            let volleys = Arc::new(AtomicU64::new(0));
            let player = |me: usize| {
                let (stop, turn, volleys) = (stop.clone(), turn.clone(), volleys.clone());
                go(move || {
                    while !stop.load(Ordering::SeqCst) {
                        if turn.load(Ordering::SeqCst) == me {
                            turn.store(1 - me, Ordering::SeqCst);
                            volleys.fetch_add(1, Ordering::Relaxed);
                        }
                        yield_now();
                    }
                })
            };
            let a = player(0);
            let b = player(1);
            // Let the pair get going before the third goroutine exists.
            while volleys.load(Ordering::Relaxed) < 100 {
                yield_now();
            }
            let start = Instant::now();
            let third_ran = Arc::new(AtomicBool::new(false));
            let t2 = third_ran.clone();
            let third = go(move || {
                let mut acc = 0u64;
                for i in 0..1_000u64 {
                    acc = acc.wrapping_add(i);
                    yield_now();
                }
                t2.store(true, Ordering::SeqCst);
                acc
            });
            let acc = third.join().unwrap();
            let took = start.elapsed();
            stop.store(true, Ordering::SeqCst);
            a.join().unwrap();
            b.join().unwrap();
            (
                acc,
                took,
                volleys.load(Ordering::Relaxed),
                third_ran.load(Ordering::SeqCst),
            )
        });
        let (acc, took, volleys, ran) = result;
        assert!(ran);
        assert_eq!(acc, 499_500);
        assert!(volleys > 100);
        assert!(
            took < Duration::from_secs(2),
            "third goroutine needed {took:?} at {} workers",
            rt.max_procs()
        );
    });
}

/// golang/go#13546 under stack pressure: with most of the runtime's stacks
/// held by parked goroutines, the scheduler prefers started goroutines over
/// fresh ones — but a started goroutine yielding in a loop until a fresh one
/// has run must not starve it (it did: the spinner was picked for ever).
#[test]
fn yield_spinner_under_stack_pressure_lets_fresh_goroutine_run() {
    for procs in [1, 2] {
        let rt = ferrogo::Runtime::builder()
            .max_procs(procs)
            .max_stacks(64)
            .build()
            .expect("build runtime");
        let yields = rt.run(|| {
            // 60 parked goroutines + main hold 61 of 64 stacks: past the
            // pressure threshold (7/8 of the cap), with stacks still free.
            let (release, parked) = ferrogo::chan::<()>(0);
            let holders: Vec<_> = (0..60)
                .map(|_| {
                    let parked = parked.clone();
                    go(move || {
                        let _ = parked.recv();
                    })
                })
                .collect();
            let mut spins = 0u64;
            while ferrogo::debug::metrics().stacks_in_use < 61 {
                yield_now();
                spins += 1;
                assert!(spins < 10_000_000, "the parked goroutines never started");
            }
            let flag = Arc::new(AtomicBool::new(false));
            let f2 = flag.clone();
            let fresh = go(move || f2.store(true, Ordering::SeqCst));
            let mut yields = 0u64;
            while !flag.load(Ordering::SeqCst) {
                yield_now();
                yields += 1;
                assert!(yields < 10_000_000, "the fresh goroutine never ran");
            }
            fresh.join().unwrap();
            drop(release);
            for h in holders {
                h.join().unwrap();
            }
            yields
        });
        assert!(yields < 10_000_000);
    }
}
