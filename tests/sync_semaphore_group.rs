//! `Semaphore` and `Group`: behaviours of golang.org/x/sync's
//! `semaphore/semaphore_test.go` and `errgroup/errgroup_test.go`,
//! re-implemented (our own code).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ferrogo::sync::{Group, Mutex, Semaphore};
use support::{for_procs, settle};

fn nap(d: Duration) {
    let _ = ferrogo::never::<()>().recv_timeout(d);
}

// x/sync semaphore_test.go, TestWeighted / HammerWeighted: holders never
// exceed the size.
#[test]
fn weighted_hammer() {
    for_procs(|| {
        let size = 10u64;
        let sem = Arc::new(Semaphore::new(size));
        let held = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..20u64)
            .map(|i| {
                let (sem, held) = (sem.clone(), held.clone());
                ferrogo::go(move || {
                    for k in 0..300u64 {
                        let n = (i + k) % size + 1;
                        sem.acquire(n);
                        let now = held.fetch_add(n, Ordering::SeqCst) + n;
                        assert!(now <= size, "{now} permits held of {size}");
                        if k % 8 == 0 {
                            ferrogo::yield_now();
                        }
                        held.fetch_sub(n, Ordering::SeqCst);
                        sem.release(n);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(sem.available(), size);
    });
}

// x/sync semaphore_test.go, TestLargeAcquireDoesntStarve / TestWeightedAcquireFIFO:
// a large request at the head is not overtaken by small ones.
#[test]
fn weighted_fifo_large_request_not_starved() {
    for_procs(|| {
        let sem = Arc::new(Semaphore::new(10));
        let order = Arc::new(Mutex::new(Vec::new()));
        sem.acquire(5); // 5 free
        let (s1, o1) = (sem.clone(), order.clone());
        let big = ferrogo::go(move || {
            s1.acquire(10);
            o1.lock().push("big");
            s1.release(10);
        });
        settle();
        let (s2, o2) = (sem.clone(), order.clone());
        let small = ferrogo::go(move || {
            s2.acquire(1);
            o2.lock().push("small");
            s2.release(1);
        });
        settle();
        assert!(
            order.lock().is_empty(),
            "small overtook the queued large request"
        );
        assert!(
            !sem.try_acquire(1),
            "try_acquire must not overtake the queue"
        );
        sem.release(5);
        big.join().unwrap();
        small.join().unwrap();
        assert_eq!(*order.lock(), ["big", "small"]);
    });
}

#[test]
fn acquire_more_than_size_panics() {
    let sem = Semaphore::new(2);
    assert!(std::panic::catch_unwind(|| sem.acquire(3)).is_err());
}

// x/sync errgroup_test.go, TestZeroGroup / TestWithContext: wait returns the
// first error; cancelled() flips with it.
#[test]
fn group_first_error() {
    for_procs(|| {
        let g: Group<String> = Group::new();
        let (tx, rx) = ferrogo::chan::<()>(0);
        g.spawn(move || {
            rx.recv(); // fails only after the first one failed
            Err("second".to_string())
        });
        let g2 = g.clone();
        g.spawn(move || {
            let r = Err("first".to_string());
            // Record, then let the other fail.
            ferrogo::go(move || {
                while !g2.cancelled() {
                    ferrogo::yield_now();
                }
                tx.send(()).unwrap();
            });
            r
        });
        for _ in 0..10 {
            g.spawn(|| Ok(()));
        }
        assert_eq!(g.wait(), Err("first".to_string()));
        assert!(g.cancelled());
        // The error was taken; nothing new failed.
        assert_eq!(g.wait(), Ok(()));
    });
}

#[test]
fn group_all_ok_and_cancel_flag_observed_by_tasks() {
    for_procs(|| {
        let g: Group<&'static str> = Group::new();
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let (g2, stopped) = (g.clone(), stopped.clone());
            g.spawn(move || {
                while !g2.cancelled() {
                    nap(Duration::from_micros(200));
                }
                stopped.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        g.spawn(|| Err("boom"));
        assert_eq!(g.wait(), Err("boom"));
        assert_eq!(stopped.load(Ordering::SeqCst), 5);
    });
}

// x/sync errgroup_test.go, TestGoLimit: never more than the limit running.
#[test]
fn group_limit_respected() {
    for_procs(|| {
        for limit in [1usize, 3] {
            let g: Group<()> = Group::new();
            g.set_limit(Some(limit));
            let running = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            for _ in 0..20 {
                let (running, max) = (running.clone(), max.clone());
                g.spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    nap(Duration::from_millis(1));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                });
            }
            g.wait().unwrap();
            let max = max.load(Ordering::SeqCst);
            assert!(max <= limit, "{max} tasks ran at once with limit {limit}");
            assert!(max >= 1);
        }
    });
}

// x/sync errgroup_test.go, TestTryGo.
#[test]
fn group_try_spawn() {
    for_procs(|| {
        let g: Group<()> = Group::new();
        g.set_limit(Some(1));
        let (tx, rx) = ferrogo::chan::<()>(0);
        assert!(g.try_spawn(move || {
            rx.recv();
            Ok(())
        }));
        assert!(!g.try_spawn(|| Ok(())), "limit 1 is taken");
        tx.send(()).unwrap();
        g.wait().unwrap();
        assert!(g.try_spawn(|| Ok(())));
        g.wait().unwrap();
    });
}

// x/sync errgroup_test.go, TestPanic: a task's panic is re-raised by wait.
#[test]
fn group_panic_propagates_to_wait() {
    for_procs(|| {
        let g: Group<()> = Group::new();
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        g.spawn(|| panic!("task panicked"));
        g.spawn(move || {
            r2.store(true, Ordering::SeqCst);
            Ok(())
        });
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.wait())).unwrap_err();
        assert_eq!(p.downcast_ref::<&str>(), Some(&"task panicked"));
        assert!(ran.load(Ordering::SeqCst));
        assert!(g.cancelled());
    });
}
