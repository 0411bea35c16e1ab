//! Migration of started goroutines: off by default (a started goroutine
//! stays on its first worker's thread), on with the `unsafe`
//! `RuntimeBuilder::allow_migration` opt-in.
//!
//! Every goroutine here keeps only `Send` values across blocking calls and
//! reads thread identity only through [`thread_name`], a function that is
//! never inlined and never blocks: that is the contract of `allow_migration`
//! (its `# Safety` section), which each `unsafe` block below relies on.
//!
//! No test asserts a timing upper bound: loops that wait for a migration to
//! be observed are bounded by iteration counts.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrogo::sync::WaitGroup;
use ferrogo::{Runtime, WaitReason, chan, go, yield_now};
use support::{run_child, wait_until, watchdog};

child_scenarios!(
    "migrated_deadlock" => migrated_deadlock,
);

/// A runtime with `n` workers that lets started goroutines migrate.
fn migrating(n: usize) -> Runtime {
    // SAFETY: the goroutines of this file keep only `Send` values across
    // blocking calls and touch thread identity only through `thread_name`
    // (out of line, non-blocking): see the module comment.
    unsafe { Runtime::builder().max_procs(n).allow_migration() }
        .build()
        .expect("build migrating runtime")
}

/// The calling thread's name (`ferrogo-worker-<i>` on a worker). Never
/// inlined, so every call reads the thread-local of the thread it runs on.
#[inline(never)]
fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

/// `std::thread::panicking()` of the calling thread, out of line.
#[inline(never)]
fn thread_panicking() -> bool {
    std::thread::panicking()
}

/// Some work that is not optimised away.
fn spin(n: u64) -> u64 {
    let mut x = n;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

/// What one goroutine of [`mixed_load`] saw.
#[derive(Debug, Default, Clone)]
struct Moves {
    /// Blocking calls made (yields and channel receives).
    switches: u64,
    /// Of those, how many returned on another thread than they started on.
    moved: u64,
    /// Distinct threads the goroutine ran on.
    threads: usize,
}

/// Under load at 2 workers: `g` goroutines each alternate between yielding
/// and receiving tokens that a feeder goroutine (value 2) and a plain OS
/// thread (value 1) send, recording the thread before and after every
/// blocking call. Each stops after `max_switches` calls, or earlier once it
/// has seen `stop_after` moves. Checks that every token sent is received
/// exactly once (count and checksum) and that `current()` keeps the
/// goroutine's identity.
fn mixed_load(rt: &Runtime, g: usize, max_switches: u64, stop_after: u64) -> Vec<Moves> {
    let (tx, rx) = chan::<u64>(16);
    let done = Arc::new(AtomicBool::new(false));
    // A plain thread sends too: wakes from outside the workers.
    let outside = {
        let (tx, done) = (tx.clone(), done.clone());
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !done.load(Ordering::SeqCst) {
                if tx.send_timeout(1, Duration::from_millis(5)).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    let (moves, sent, received, sum) = rt.run(move || {
        let received = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let feeder = {
            let (tx, done) = (tx.clone(), done.clone());
            go(move || {
                let mut sent = 0u64;
                while !done.load(Ordering::SeqCst) {
                    if tx.send_timeout(2, Duration::from_millis(5)).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        };
        drop(tx);
        let hs: Vec<_> = (0..g)
            .map(|i| {
                let (rx, received, sum) = (rx.clone(), received.clone(), sum.clone());
                go(move || {
                    let me = ferrogo::current().id();
                    let mut m = Moves::default();
                    let mut seen = std::collections::HashSet::new();
                    let mut k = i as u64;
                    while m.switches < max_switches && m.moved < stop_after {
                        let before = thread_name();
                        seen.insert(before.clone());
                        k = spin(200 + k % 300);
                        if m.switches % 2 == 0 {
                            yield_now();
                        } else if let Ok(v) = rx.recv_timeout(Duration::from_millis(20)) {
                            received.fetch_add(1, Ordering::Relaxed);
                            sum.fetch_add(v, Ordering::Relaxed);
                        }
                        m.switches += 1;
                        let after = thread_name();
                        assert_eq!(ferrogo::current().id(), me, "identity changed");
                        if after != before {
                            m.moved += 1;
                            seen.insert(after);
                        }
                    }
                    m.threads = seen.len();
                    std::hint::black_box(k);
                    m
                })
            })
            .collect();
        let moves: Vec<Moves> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        let fed = feeder.join().unwrap();
        let from_thread = ferrogo::blocking(move || outside.join().unwrap());
        // Every sender is gone: drain what is still buffered.
        for v in &rx {
            received.fetch_add(1, Ordering::Relaxed);
            sum.fetch_add(v, Ordering::Relaxed);
        }
        let sent = (fed, from_thread);
        (
            moves,
            sent,
            received.load(Ordering::Relaxed),
            sum.load(Ordering::Relaxed),
        )
    });
    let (fed, from_thread) = sent;
    assert_eq!(received, fed + from_thread, "tokens lost or duplicated");
    assert_eq!(sum, 2 * fed + from_thread, "checksum");
    moves
}

/// With the opt-in, goroutines that started on one worker run on the other
/// after blocking calls (yields, channel receives woken by goroutines and by
/// a plain thread) at 2 workers under load.
#[test]
fn started_goroutines_migrate_when_allowed() {
    let _w = watchdog(support::hang_limit());
    let rt = migrating(2);
    let mut total_moved = 0;
    let mut max_threads = 0;
    // Bounded: each round stops after 20,000 blocking calls per goroutine.
    for _round in 0..5 {
        let moves = mixed_load(&rt, 8, 20_000, 5);
        total_moved += moves.iter().map(|m| m.moved).sum::<u64>();
        max_threads = max_threads.max(moves.iter().map(|m| m.threads).max().unwrap());
        if total_moved > 0 {
            break;
        }
    }
    assert!(total_moved > 0, "no goroutine ever changed thread");
    assert_eq!(max_threads, 2, "a migrated goroutine ran on both workers");
}

/// Without the opt-in (the soundness rule): the same load at 2 workers, and
/// no goroutine ever returns from a blocking call on another thread.
#[test]
fn started_goroutines_never_migrate_by_default() {
    let _w = watchdog(support::hang_limit());
    // Not `support::runtime`: that one migrates with FERROGO_TEST_MIGRATE=1.
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    for _round in 0..3 {
        let moves = mixed_load(&rt, 8, 3_000, u64::MAX);
        for m in &moves {
            assert_eq!(m.moved, 0, "a goroutine changed thread: {m:?}");
            assert_eq!(m.threads, 1, "{m:?}");
            assert_eq!(m.switches, 3_000);
        }
    }
}

/// Counts and checksums stay exact with migration at 1 and 2 workers: a
/// fan-out/fan-in over unbuffered and buffered channels, a `sync::Mutex`
/// counter, a `WaitGroup`, `select!` and sleeps.
#[test]
fn migration_keeps_counts_exact() {
    const WORKERS: u64 = 16;
    const ITEMS: u64 = 20_000;
    let _w = watchdog(support::hang_limit());
    for n in support::PROCS {
        let rt = migrating(n);
        let (sum, count, locked) = rt.run(|| {
            let (work_tx, work_rx) = chan::<u64>(0);
            let (res_tx, res_rx) = chan::<u64>(64);
            let counter = Arc::new(ferrogo::sync::Mutex::new(0u64));
            let wg = Arc::new(WaitGroup::new());
            for _ in 0..WORKERS {
                let (work_rx, res_tx, counter, wg) =
                    (work_rx.clone(), res_tx.clone(), counter.clone(), wg.clone());
                wg.add(1);
                go(move || {
                    let (tick_tx, tick_rx) = chan::<()>(1);
                    for v in &work_rx {
                        *counter.lock() += 1;
                        if v % 97 == 0 {
                            ferrogo::time::sleep(Duration::from_micros(50));
                        }
                        if v % 5 == 0 {
                            yield_now();
                        }
                        let _ = tick_tx.try_send(());
                        ferrogo::select! {
                            recv(tick_rx) -> _ => {}
                            default => {}
                        }
                        res_tx.send(v * 3).unwrap();
                    }
                    wg.done();
                });
            }
            drop(work_rx);
            let collector = go(move || {
                let (mut s, mut c) = (0u64, 0u64);
                for v in &res_rx {
                    s += v;
                    c += 1;
                }
                (s, c)
            });
            for v in 1..=ITEMS {
                work_tx.send(v).unwrap();
            }
            drop(work_tx);
            wg.wait();
            drop(res_tx);
            let (s, c) = collector.join().unwrap();
            let locked = *counter.lock();
            (s, c, locked)
        });
        assert_eq!(count, ITEMS, "at {n} workers");
        assert_eq!(sum, 3 * ITEMS * (ITEMS + 1) / 2, "at {n} workers");
        assert_eq!(locked, ITEMS, "at {n} workers");
    }
}

/// Park deadlines armed on one worker wake the goroutine wherever it runs
/// next: receives that time out, sleeps, and `Timer`s, interleaved with
/// yields and wakes that move the goroutines; every timeout is counted.
#[test]
fn park_deadlines_fire_after_migration() {
    let _w = watchdog(support::hang_limit());
    for n in support::PROCS {
        let rt = migrating(n);
        let timeouts = rt.run(|| {
            let timeouts = Arc::new(AtomicU64::new(0));
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let timeouts = timeouts.clone();
                    go(move || {
                        let (_keep, rx) = chan::<()>(0);
                        for round in 0..60u64 {
                            spin(500);
                            yield_now();
                            match (round + i) % 3 {
                                0 => {
                                    let r = rx.recv_timeout(Duration::from_micros(300));
                                    assert_eq!(r, Err(ferrogo::RecvTimeoutError::Timeout));
                                }
                                1 => ferrogo::time::sleep(Duration::from_micros(200)),
                                _ => {
                                    let t = ferrogo::time::Timer::new(Duration::from_micros(250));
                                    t.c().recv().unwrap();
                                }
                            }
                            timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            timeouts.load(Ordering::Relaxed)
        });
        assert_eq!(timeouts, 8 * 60, "at {n} workers");
    }
}

/// Hogs that only call `checkpoint()` (one per worker, so every worker is
/// taken) are preempted, and the goroutine they would starve still runs, at
/// 1 worker (where a preempted hog goes to the injector and comes back) and
/// at 2.
#[test]
fn preemption_with_migration() {
    let _w = watchdog(support::hang_limit());
    for n in support::PROCS {
        let rt = migrating(n);
        rt.run(move || {
            let stop = Arc::new(AtomicBool::new(false));
            let started = Arc::new(AtomicUsize::new(0));
            let hogs: Vec<_> = (0..n)
                .map(|_| {
                    let (stop, started) = (stop.clone(), started.clone());
                    go(move || {
                        started.fetch_add(1, Ordering::SeqCst);
                        while !stop.load(Ordering::SeqCst) {
                            spin(100);
                            ferrogo::checkpoint();
                        }
                    })
                })
                .collect();
            // Only once every hog runs: the setter must get a turn by preemption.
            while started.load(Ordering::SeqCst) < n {
                yield_now();
            }
            let setter = {
                let stop = stop.clone();
                go(move || stop.store(true, Ordering::SeqCst))
            };
            setter.join().unwrap();
            hogs.into_iter().for_each(|h| h.join().unwrap());
        });
    }
}

/// A goroutine that blocks while unwinding a panic (a destructor receives
/// from a channel) stays on its thread until the unwind is over, even though
/// it is woken from elsewhere: std counts panics per thread. Afterwards no
/// worker thread believes it is still panicking (a std `Mutex` locked and
/// released on every worker is not poisoned).
#[test]
fn goroutine_blocking_during_unwind_stays_on_its_thread() {
    struct BlocksOnDrop {
        rx: ferrogo::Receiver<()>,
        /// (thread before the receive, thread after, panicking during it)
        seen: Arc<Mutex<Vec<(String, String, bool)>>>,
    }
    impl Drop for BlocksOnDrop {
        fn drop(&mut self) {
            let before = thread_name();
            let _ = self.rx.recv();
            let after = thread_name();
            // (Locked while panicking: the guard poisons the mutex on drop.)
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).push((
                before,
                after,
                thread_panicking(),
            ));
        }
    }
    const ROUNDS: usize = 100;
    let _w = watchdog(support::hang_limit());
    let rt = migrating(2);
    let seen = Arc::new(Mutex::new(Vec::new()));
    for _round in 0..ROUNDS {
        let (tx, rx) = chan::<()>(0);
        let s = seen.clone();
        let stop = Arc::new(AtomicBool::new(false));
        // Load on both workers, so the woken goroutine would likely be taken
        // by the other one if it were movable.
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        spin(300);
                        yield_now();
                    }
                })
            })
            .collect();
        let h = rt.spawn(move || {
            let _guard = BlocksOnDrop { rx, seen: s };
            yield_now();
            panic!("unwinding through a blocking destructor");
        });
        // Once it is parked in the destructor, wake it from a plain thread:
        // the wake goes wherever the runtime puts it.
        let id = h.goroutine().id();
        let parked = wait_until(Duration::from_secs(10), || {
            rt.spawn(ferrogo::debug::goroutines)
                .join()
                .unwrap()
                .iter()
                .any(|g| g.id == id && g.wait_reason == WaitReason::ChanRecv)
        });
        assert!(parked, "the destructor never blocked");
        tx.send(()).unwrap();
        let err = h.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<&str>(),
            Some(&"unwinding through a blocking destructor")
        );
        stop.store(true, Ordering::SeqCst);
        busy.into_iter().for_each(|h| h.join().unwrap());
    }
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    for (before, after, panicking) in seen.iter() {
        assert_eq!(before, after, "moved while unwinding");
        assert!(*panicking, "the destructor ran during the unwind");
    }
    assert_eq!(seen.len(), ROUNDS);
    // No worker thread is left with a raised panic count.
    let lock = Arc::new(Mutex::new(0u64));
    let l = lock.clone();
    let stuck = rt.run(move || {
        let hs: Vec<_> = (0..64)
            .map(|_| {
                let l = l.clone();
                go(move || {
                    let mut stuck = 0;
                    for _ in 0..50 {
                        stuck += u64::from(thread_panicking());
                        *l.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        yield_now();
                    }
                    stuck
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(stuck, 0, "a worker thread still counts a panic");
    assert!(!lock.is_poisoned(), "a worker thread still counts a panic");
    assert_eq!(*lock.lock().unwrap(), 64 * 50);
}

/// Stacks come back: with a cap of 8 stacks, 3,000 goroutines that migrate
/// (yield, block, get woken from the other worker) all run, 7 at a time, so
/// no stack is lost between a worker that takes it and one that returns it;
/// `stacks_in_use` sums exactly while goroutines are parked, and is back to
/// zero at the end.
///
/// The same batches run without migration too: pairs that need each other
/// to finish, when stacks sit in the cache of a worker that went to sleep
/// while the other starved, used to hang both modes (no worker gave its
/// cache back: it only does so when finishing a goroutine or going to sleep
/// while someone already starves).
#[test]
fn stacks_return_to_the_pool_with_migration() {
    let _w = watchdog(support::hang_limit());
    for (n, migrate) in [(1, true), (2, true), (2, false)] {
        let b = Runtime::builder().max_procs(n).max_stacks(8);
        let b = if migrate {
            // SAFETY: as in `migrating`.
            unsafe { b.allow_migration() }
        } else {
            b
        };
        let rt = b.build().unwrap();
        let done = rt.run(|| {
            let mut done = 0u64;
            for _batch in 0..500 {
                let (tx, rx) = chan::<u64>(0);
                let hs: Vec<_> = (0..6u64)
                    .map(|i| {
                        let (tx, rx) = (tx.clone(), rx.clone());
                        go(move || {
                            yield_now();
                            if i % 2 == 0 {
                                tx.send(i).unwrap();
                                0
                            } else {
                                spin(100);
                                rx.recv().unwrap()
                            }
                        })
                    })
                    .collect();
                done += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
            }
            done
        });
        // The odd ones received the even ones' values: 0 + 2 + 4 per batch.
        assert_eq!(done, 500 * 6, "at {n} workers, migration {migrate}");
        assert!(
            wait_until(Duration::from_secs(10), || rt.metrics().stacks_in_use == 0),
            "stacks still in use after every goroutine finished: {:?}",
            rt.metrics()
        );
        assert!(rt.metrics().stacks_mapped <= 8, "{:?}", rt.metrics());
    }

    // `stacks_in_use` counts parked goroutines exactly although each worker
    // only counts what it took and returned.
    const PARKED: usize = 40;
    let rt = migrating(2);
    let (release_tx, release_rx) = chan::<()>(0);
    let parked = Arc::new(WaitGroup::new());
    let hs: Vec<_> = (0..PARKED)
        .map(|_| {
            let (rx, parked) = (release_rx.clone(), parked.clone());
            parked.add(1);
            rt.spawn(move || {
                for _ in 0..200 {
                    spin(200);
                    yield_now();
                }
                parked.done();
                rx.recv().unwrap();
            })
        })
        .collect();
    parked.wait();
    assert!(
        wait_until(Duration::from_secs(10), || rt.metrics().stacks_in_use
            == PARKED),
        "{:?}",
        rt.metrics()
    );
    for _ in 0..PARKED {
        release_tx.send(()).unwrap();
    }
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert!(
        wait_until(Duration::from_secs(10), || rt.metrics().stacks_in_use == 0),
        "{:?}",
        rt.metrics()
    );
}

/// Unwinds counted by their destructors: which thread ran each, and how many.
#[derive(Default)]
struct Unwinds {
    /// goroutine id → the thread its destructor ran on.
    threads: Mutex<HashMap<u64, String>>,
    count: AtomicUsize,
}

struct RecordsUnwind {
    id: u64,
    unwinds: Arc<Unwinds>,
}

impl Drop for RecordsUnwind {
    fn drop(&mut self) {
        self.unwinds
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.id, thread_name());
        self.unwinds.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// Dropping a migrating runtime whose goroutines are parked after moving
/// around (on a channel, or sleeping with a deadline in some worker's timer
/// heap) unwinds each exactly once, on the worker that last ran it (as the
/// goroutine dump reports it); the process's stack budget is whole again
/// afterwards.
#[test]
fn shutdown_unwinds_parked_migrated_goroutines() {
    const N: usize = 24;
    let _w = watchdog(support::hang_limit());
    for _round in 0..3 {
        let rt = migrating(2);
        let unwinds = Arc::new(Unwinds::default());
        let moved = Arc::new(AtomicU64::new(0));
        let parked = Arc::new(WaitGroup::new());
        let (_keep_open, never_rx) = chan::<()>(0);
        for i in 0..N {
            let (unwinds, moved, parked, rx) = (
                unwinds.clone(),
                moved.clone(),
                parked.clone(),
                never_rx.clone(),
            );
            parked.add(1);
            rt.spawn(move || {
                let _guard = RecordsUnwind {
                    id: ferrogo::current().id(),
                    unwinds,
                };
                let first = thread_name();
                for k in 0..2_000u64 {
                    spin(100 + (i as u64 + k) % 200);
                    yield_now();
                    if thread_name() != first {
                        moved.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                parked.done();
                if i % 3 == 0 {
                    ferrogo::time::sleep(Duration::from_secs(3600));
                } else {
                    let _ = rx.recv(); // never returns: the sender stays open
                }
            });
        }
        parked.wait();
        // Every parked goroutine is listed with the worker it last ran on.
        let homes: HashMap<u64, usize> = {
            let dump = rt
                .spawn(|| {
                    loop {
                        let d = ferrogo::debug::goroutines();
                        let parked = d.iter().filter(|g| parked_reason(g)).count();
                        if parked == N {
                            return d;
                        }
                        yield_now();
                    }
                })
                .join()
                .unwrap();
            dump.iter()
                .filter(|g| parked_reason(g))
                .map(|g| (g.id, g.worker))
                .collect()
        };
        assert_eq!(homes.len(), N);
        drop(rt);
        assert_eq!(unwinds.count.load(Ordering::SeqCst), N, "each unwound once");
        let threads = unwinds.threads.lock().unwrap();
        for (id, worker) in &homes {
            assert_eq!(
                threads.get(id).map(String::as_str),
                Some(format!("ferrogo-worker-{worker}").as_str()),
                "goroutine {id} not unwound on the worker that last ran it"
            );
        }
    }

    // The stack budget is whole again (in a child process, where no other
    // test maps stacks meanwhile).
    let out = run_child(
        "shutdown_returns_every_stack",
        "budget",
        &[],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("BUDGET OK"), "{out}");
    // A worker thread that panics at shutdown is joined silently by `Drop`:
    // only its message on stderr tells.
    assert!(!out.stderr.contains("panicked"), "{out}");
}

/// Parked for good in [`shutdown_unwinds_parked_migrated_goroutines`].
fn parked_reason(g: &ferrogo::debug::GoroutineInfo) -> bool {
    matches!(g.wait_reason, WaitReason::ChanRecv | WaitReason::Sleep)
}

/// Child scenario of [`shutdown_unwinds_parked_migrated_goroutines`]: the
/// stacks of goroutines unwound at shutdown are unmapped. The global runtime
/// maps nothing here, so its stack limit (its own stacks plus the process's
/// unused budget) moves only with the stacks other runtimes hold.
#[test]
fn shutdown_returns_every_stack() {
    if support::child().as_deref() != Some("budget") {
        return;
    }
    let before = ferrogo::debug::metrics().stack_limit;
    let rt = migrating(2);
    let parked = Arc::new(WaitGroup::new());
    let (_keep_open, never_rx) = chan::<()>(0);
    for _ in 0..100 {
        let (parked, rx) = (parked.clone(), never_rx.clone());
        parked.add(1);
        rt.spawn(move || {
            for _ in 0..100 {
                yield_now();
            }
            parked.done();
            let _ = rx.recv();
        });
    }
    parked.wait();
    assert!(ferrogo::debug::metrics().stack_limit < before);
    drop(rt);
    assert_eq!(ferrogo::debug::metrics().stack_limit, before);
    println!("BUDGET OK");
}

/// Go's deadlock report works on a migrating runtime: goroutines that moved
/// around and then all parked, main included.
fn migrated_deadlock() {
    let rt = migrating(2);
    rt.run(|| {
        let (_tx, rx) = chan::<()>(0);
        let parked = Arc::new(WaitGroup::new());
        for _ in 0..6 {
            let (rx, parked) = (rx.clone(), parked.clone());
            parked.add(1);
            go(move || {
                for _ in 0..500 {
                    spin(100);
                    yield_now();
                }
                parked.done();
                let _ = rx.recv();
            });
        }
        parked.wait();
        let _ = rx.recv(); // everyone is asleep now
        println!("UNREACHABLE");
    });
}

#[test]
fn deadlock_is_reported_with_migration() {
    let out = run_child(
        "deadlock_is_reported_with_migration",
        "migrated_deadlock",
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .starts_with("fatal error: all goroutines are asleep - deadlock!"),
        "{out}"
    );
    assert_eq!(out.stderr.matches("[chan receive]").count(), 7, "{out}");
    assert!(!out.stdout.contains("UNREACHABLE"), "{out}");
}
