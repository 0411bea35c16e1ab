//! `JoinHandle::join` from threads and goroutines, panics, and `blocking`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrogo::{Builder, blocking, go, yield_now};
use support::{for_each_runtime, run_child, wait_until};

child_scenarios!();

#[test]
fn join_from_plain_thread() {
    for_each_runtime(|rt| {
        let h = rt.spawn(|| {
            let mut x = 0u64;
            for i in 0..1_000u64 {
                x += i;
                yield_now();
            }
            x
        });
        assert_eq!(h.join().unwrap(), 499_500);
        // Joined from another plain thread than the spawner.
        let h = rt.spawn(|| String::from("moved"));
        let s = std::thread::spawn(move || h.join().unwrap())
            .join()
            .unwrap();
        assert_eq!(s, "moved");
    });
}

#[test]
fn join_from_goroutine() {
    for_each_runtime(|rt| {
        let v = rt.run(|| {
            let h = go(|| {
                for _ in 0..100 {
                    yield_now();
                }
                7u32
            });
            // The joiner parks; the joined goroutine runs even on one worker.
            h.join().unwrap() * 6
        });
        assert_eq!(v, 42);
        // A goroutine joins a goroutine spawned by a plain thread.
        let h = rt.spawn(|| 5u8);
        let v = rt.spawn(move || h.join().unwrap() + 1).join().unwrap();
        assert_eq!(v, 6);
    });
}

/// A handle whose goroutine already finished joins at once; `is_finished`
/// turns true when it has.
#[test]
fn join_finished_goroutine_and_is_finished() {
    for_each_runtime(|rt| {
        let h = rt.spawn(|| 99u64);
        assert!(wait_until(Duration::from_secs(5), || h.is_finished()));
        let t = Instant::now();
        assert_eq!(h.join().unwrap(), 99);
        assert!(t.elapsed() < Duration::from_secs(2));

        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let h = rt.spawn(move || {
            while !r.load(Ordering::SeqCst) {
                yield_now();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !h.is_finished(),
            "is_finished before the goroutine returned"
        );
        release.store(true, Ordering::SeqCst);
        assert!(wait_until(Duration::from_secs(5), || h.is_finished()));
        h.join().unwrap();

        // From inside a goroutine too.
        let ok = rt.run(|| {
            let h = go(|| ());
            while !h.is_finished() {
                yield_now();
            }
            h.join().is_ok()
        });
        assert!(ok);
    });
}

/// A panic is delivered by `join` as the payload (like
/// `std::thread::JoinHandle::join`); the worker survives it.
#[test]
fn panic_is_delivered_by_join() {
    for_each_runtime(|rt| {
        let e = rt
            .spawn(|| -> u32 { panic!("static boom") })
            .join()
            .unwrap_err();
        assert_eq!(e.downcast_ref::<&str>(), Some(&"static boom"));
        let e = rt
            .spawn(|| -> u32 { panic!("formatted {}", std::hint::black_box(42)) })
            .join()
            .unwrap_err();
        assert_eq!(
            e.downcast_ref::<String>().map(String::as_str),
            Some("formatted 42")
        );
        // A non-string payload.
        let e = rt
            .spawn(|| std::panic::panic_any(17i64))
            .join()
            .unwrap_err();
        assert_eq!(e.downcast_ref::<i64>(), Some(&17));
        // From a goroutine joiner, with a named goroutine.
        let msg = rt.run(|| {
            let h = Builder::new()
                .name("doomed")
                .spawn(|| panic!("inner"))
                .unwrap();
            let e = h.join().unwrap_err();
            e.downcast_ref::<&str>().map(|s| s.to_string())
        });
        assert_eq!(msg.as_deref(), Some("inner"));
        // The workers survived: many more goroutines still run.
        let n = rt.run(|| {
            (0..1_000u32)
                .map(|i| go(move || i))
                .map(|h| h.join().unwrap())
                .sum::<u32>()
        });
        assert_eq!(n, 499_500);
        assert!(wait_until(Duration::from_secs(5), || rt.num_goroutine() == 0));
    });
}

/// Many panics in a row on one worker, interleaved with successes.
#[test]
fn worker_survives_many_panics() {
    let rt = support::runtime(1);
    let results: Vec<bool> = (0..2_000u32)
        .map(|i| rt.spawn(move || if i % 2 == 0 { panic!("p{i}") } else { i }))
        .map(|h| h.join().is_ok())
        .collect();
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1_000);
    assert_eq!(rt.spawn(|| 3).join().unwrap(), 3);
    // run() resumes the main goroutine's panic in the caller.
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(|| panic!("main panicked"))
    }))
    .unwrap_err();
    assert_eq!(e.downcast_ref::<&str>(), Some(&"main panicked"));
    assert_eq!(rt.run(|| 4), 4);
}

/// A panic in a goroutine whose handle was dropped does not take the process
/// down; it is reported on stderr with the goroutine's id and name (like an
/// unjoined std thread's panic message). Child process: asserts on stderr.
#[test]
fn dropped_handle_panic_is_reported() {
    if support::child().as_deref() == Some("dropped_panic") {
        let rt = support::runtime(1);
        let h = Builder::new()
            .name("lost-soul")
            .spawn_on(&rt, || panic!("nobody listens"))
            .unwrap();
        let id = h.goroutine().id();
        drop(h); // detach before it runs or after: either way it is reported
        let h2 = rt.spawn(|| -> () { panic!("second, detached after finishing") });
        let id2 = h2.goroutine().id();
        while !h2.is_finished() {
            std::thread::yield_now();
        }
        drop(h2);
        // The runtime still works.
        assert_eq!(rt.spawn(|| 11).join().unwrap(), 11);
        std::thread::sleep(Duration::from_millis(50));
        println!("IDS {id} {id2}");
        return;
    }
    let out = run_child(
        "dropped_handle_panic_is_reported",
        "dropped_panic",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out}");
    let at = out.stdout.find("IDS ").unwrap_or_else(|| panic!("{out}"));
    let ids: Vec<&str> = out.stdout[at + 4..]
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .collect();
    let first = format!("goroutine {} \"lost-soul\"", ids[0]);
    let second = format!("goroutine {}", ids[1]);
    let line1 = out
        .stderr
        .lines()
        .find(|l| l.contains(&first))
        .unwrap_or_else(|| panic!("no report naming {first}: {out}"));
    assert!(
        line1.contains("panicked") && line1.contains("nobody listens"),
        "{line1}"
    );
    let line2 = out
        .stderr
        .lines()
        .find(|l| l.contains(&second) && l.contains("ferrogo:"))
        .unwrap_or_else(|| panic!("no report naming {second}: {out}"));
    assert!(
        line2.contains("panicked") && line2.contains("second, detached after finishing"),
        "{line2}"
    );
}

/// `blocking(f)` parks only the calling goroutine: on a 1-worker runtime,
/// another goroutine keeps counting while `f` sleeps on the blocking pool
/// (Go: entersyscall/handoffp lets the P run other goroutines).
#[test]
fn blocking_does_not_stall_the_worker() {
    for_each_runtime(|rt| {
        let (slept, counted) = rt.run(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU64::new(0));
            let (s2, c2) = (stop.clone(), count.clone());
            let counter = go(move || {
                while !s2.load(Ordering::SeqCst) {
                    c2.fetch_add(1, Ordering::Relaxed);
                    yield_now();
                }
            });
            let c3 = count.clone();
            let sleeper = go(move || {
                let before = c3.load(Ordering::Relaxed);
                let t = Instant::now();
                let tid = blocking(|| {
                    std::thread::sleep(Duration::from_millis(200));
                    std::thread::current().id()
                });
                let slept = t.elapsed();
                assert_ne!(
                    tid,
                    std::thread::current().id(),
                    "blocking ran on the worker thread"
                );
                (slept, c3.load(Ordering::Relaxed) - before)
            });
            let r = sleeper.join().unwrap();
            stop.store(true, Ordering::SeqCst);
            counter.join().unwrap();
            r
        });
        assert!(slept >= Duration::from_millis(200), "{slept:?}");
        assert!(
            counted > 100,
            "the other goroutine advanced only {counted} times during a 200 ms blocking call at {} workers",
            rt.max_procs()
        );
    });
}

/// Many concurrent `blocking` calls from goroutines on one worker overlap
/// (the pool grows on demand): 20 × 200 ms sleeps end well under 20 × 200 ms.
#[test]
fn blocking_calls_overlap() {
    let rt = support::runtime(1);
    let t = Instant::now();
    let n = rt.run(|| {
        let hs: Vec<_> = (0..20u64)
            .map(|i| {
                go(move || {
                    blocking(move || {
                        std::thread::sleep(Duration::from_millis(200));
                        i
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(n, 190);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "20 blocking sleeps of 200 ms took {:?}",
        t.elapsed()
    );
}

#[test]
fn blocking_from_plain_thread_runs_inline() {
    let me = std::thread::current().id();
    let (v, tid) = blocking(|| (21 * 2, std::thread::current().id()));
    assert_eq!(v, 42);
    assert_eq!(tid, me);
}

/// A panic inside `f` resumes in the caller, from a goroutine and from a
/// plain thread, and the runtime keeps working.
#[test]
fn blocking_panic_resumes_in_caller() {
    for_each_runtime(|rt| {
        // One `run` per runtime: a second spawn from this thread after the
        // blocking pool woke a goroutine trips the bug in
        // `spawn_from_thread_after_cross_thread_wake`.
        let (msg, after, owned) = rt.run(|| {
            let r = std::panic::catch_unwind(|| blocking(|| -> u8 { panic!("in the pool") }));
            let msg = r.unwrap_err().downcast_ref::<&str>().map(|s| s.to_string());
            let after = blocking(|| 5);
            // Uncaught: delivered by join.
            let e = go(|| blocking(|| -> () { panic!("{}", String::from("owned")) }))
                .join()
                .unwrap_err();
            (msg, after, e.downcast_ref::<String>().cloned())
        });
        assert_eq!(msg.as_deref(), Some("in the pool"));
        assert_eq!(after, 5);
        assert_eq!(owned.as_deref(), Some("owned"));
    });
    let r = std::panic::catch_unwind(|| blocking(|| -> () { panic!("inline") }));
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"inline"));
}

/// Regression: after a goroutine was woken from another thread (here the
/// blocking pool completing its job, which readies the goroutine through its
/// home worker's inbox), a goroutine spawned from a plain thread must still
/// run.
#[test]
fn spawn_from_thread_after_cross_thread_wake() {
    let _w = support::watchdog(support::hang_limit());
    for round in 0..20 {
        let rt = support::runtime(1);
        assert_eq!(
            support::join_within(rt.spawn(|| blocking(|| 5)), Duration::from_secs(10)).unwrap(),
            5
        );
        // Give the worker time to go to sleep again.
        std::thread::sleep(Duration::from_millis(20));
        let r = support::join_within(rt.spawn(|| 6), Duration::from_secs(5));
        assert_eq!(r.unwrap(), 6, "round {round}");
    }
}

/// Dropping a runtime does not wait for goroutines that would never park:
/// one yielding in a loop, one parked for good, and unstarted ones behind
/// them are unwound or dropped, each value exactly once.
#[test]
fn runtime_drop_unwinds_a_goroutine_that_yields_forever() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    for procs in [1, 2] {
        DROPPED.store(0, Ordering::SeqCst);
        let rt = ferrogo::Runtime::builder()
            .max_procs(procs)
            .build()
            .unwrap();
        rt.run(|| {
            let spinning = Counted;
            ferrogo::go(move || {
                let _keep = spinning;
                loop {
                    ferrogo::yield_now();
                }
            });
            let parked = Counted;
            ferrogo::go(move || {
                let _keep = parked;
                ferrogo::never::<()>().recv();
            });
            for _ in 0..100 {
                ferrogo::yield_now();
            }
            for _ in 0..10 {
                let c = Counted;
                ferrogo::go(move || drop(c));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(rt);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("Runtime::drop did not return");
        assert_eq!(DROPPED.load(Ordering::SeqCst), 12, "at {procs} workers");
    }
}

/// Goroutines spawned from a plain thread into a runtime whose only worker
/// is busy wait in the runtime's global queue; dropping the runtime drops
/// their closures (and so what they captured) instead of leaking them.
#[test]
fn runtime_drop_drops_unstarted_goroutines_from_outside() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = hogged_runtime(&STOP);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let c = Counted;
            ferrogo::Builder::new()
                .spawn_on(&rt, move || drop(c))
                .unwrap()
        })
        .collect();
    drop(handles);
    drop_hogged(rt, &STOP);
    assert_eq!(DROPPED.load(Ordering::SeqCst), 10);
}

/// A goroutine that never ran is dropped at shutdown; if its closure's
/// `Drop` panics, that is reported on stderr and the rest is still dropped:
/// neither the worker nor the process goes down. Child process.
#[test]
fn panicking_drop_of_an_unstarted_goroutine_at_shutdown_is_reported() {
    use std::sync::atomic::AtomicUsize;
    static STOP: AtomicBool = AtomicBool::new(false);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
            panic!("closure drop panicked");
        }
    }
    if support::child().as_deref() == Some("shutdown_drop_panic") {
        let rt = hogged_runtime(&STOP);
        for _ in 0..2 {
            let p = PanicOnDrop;
            drop(Builder::new().spawn_on(&rt, move || drop(p)).unwrap());
        }
        drop_hogged(rt, &STOP);
        println!("AFTER {}", DROPPED.load(Ordering::SeqCst));
        return;
    }
    let out = run_child(
        "panicking_drop_of_an_unstarted_goroutine_at_shutdown_is_reported",
        "shutdown_drop_panic",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(out.stdout.contains("AFTER 2"), "{out}");
    assert_eq!(
        out.stderr
            .matches("ferrogo: dropping a goroutine that never ran (runtime shutdown) panicked: closure drop panicked")
            .count(),
        2,
        "{out}"
    );
}

/// A one-worker runtime whose worker spins in a goroutine, making no runtime
/// call, until `stop` is set: whatever is spawned on it from outside waits,
/// unstarted, in the runtime's global queue.
fn hogged_runtime(stop: &'static AtomicBool) -> ferrogo::Runtime {
    let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let hog = Builder::new()
        .spawn_on(&rt, move || {
            started_tx.send(()).unwrap();
            while !stop.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        })
        .unwrap();
    started_rx.recv().unwrap();
    drop(hog);
    rt
}

/// Drops `rt` (the shutdown request reaches its worker first) and releases
/// its hog shortly after; fails if the drop does not return.
fn drop_hogged(rt: ferrogo::Runtime, stop: &'static AtomicBool) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        tx.send(()).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::SeqCst);
    rx.recv_timeout(Duration::from_secs(20))
        .expect("Runtime::drop did not return");
}
