//! `Once`, `Cond`, `Pool`: behaviours of Go's `src/sync/once_test.go`,
//! `src/sync/cond_test.go` and `src/sync/pool_test.go`, re-implemented
//! (our own code).

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrogo::sync::{Cond, Mutex, Once, Pool};
use support::{for_procs, settle};

// Go: once_test.go, TestOnce: every caller returns only after the single
// initialiser ran (concurrent callers park meanwhile).
#[test]
fn once_concurrent_callers() {
    for_procs(|| {
        let once = Arc::new(Once::new());
        let value = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let (once, value) = (once.clone(), value.clone());
                ferrogo::go(move || {
                    once.call_once(|| {
                        // Park inside the initialiser so others pile up.
                        let _ = ferrogo::never::<()>().recv_timeout(Duration::from_millis(5));
                        value.fetch_add(1, Ordering::SeqCst);
                    });
                    assert_eq!(value.load(Ordering::SeqCst), 1, "returned before init");
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(value.load(Ordering::SeqCst), 1);
        assert!(once.is_completed());
    });
}

// Go: once_test.go, TestOncePanic — with our documented difference: a
// panicking initialiser propagates and leaves the Once not done, so the
// next call runs its initialiser.
#[test]
fn once_panicking_initialiser() {
    let once = Once::new();
    let p = catch_unwind(AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"))
    }));
    assert!(p.is_err());
    assert!(!once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(ran, "the Once retried after the panic");
    assert!(once.is_completed());
}

// A panicking initialiser while others wait: one waiter then initialises.
#[test]
fn once_panic_with_waiters() {
    for_procs(|| {
        let once = Arc::new(Once::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let o1 = once.clone();
        let (tx, rx) = ferrogo::chan::<()>(0);
        let first = ferrogo::go(move || {
            o1.call_once(|| {
                rx.recv();
                panic!("first initialiser fails");
            })
        });
        settle();
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let (once, inits) = (once.clone(), inits.clone());
                ferrogo::go(move || {
                    once.call_once(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        settle();
        assert_eq!(
            inits.load(Ordering::SeqCst),
            0,
            "waiters ran during the first init"
        );
        tx.send(()).unwrap();
        assert!(first.join().is_err());
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(inits.load(Ordering::SeqCst), 1);
    });
}

// Go: cond_test.go, TestCondSignal: each signal wakes exactly one waiter.
#[test]
fn cond_signal_wakes_one() {
    for_procs(|| {
        let s = Arc::new((Mutex::new(0usize), Cond::new()));
        let woke = Arc::new(AtomicUsize::new(0));
        let n = 4;
        let (running_tx, running_rx) = ferrogo::chan::<()>(n);
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (s, woke, running_tx) = (s.clone(), woke.clone(), running_tx.clone());
                ferrogo::go(move || {
                    let g = s.0.lock();
                    running_tx.send(()).unwrap();
                    let _g = s.1.wait(g);
                    woke.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for _ in 0..n {
            running_rx.recv().unwrap();
        }
        for i in 1..=n {
            // Every waiter is queued: it sent while holding the mutex, and
            // queues before unlocking.
            drop(s.0.lock());
            s.1.signal();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while woke.load(Ordering::SeqCst) < i {
                assert!(std::time::Instant::now() < deadline, "signal lost");
                ferrogo::yield_now();
            }
            settle();
            assert_eq!(woke.load(Ordering::SeqCst), i, "signal woke more than one");
        }
        for h in hs {
            h.join().unwrap();
        }
    });
}

// Go: cond_test.go, TestCondBroadcast: broadcast wakes every waiter.
#[test]
fn cond_broadcast_wakes_all() {
    for_procs(|| {
        let s = Arc::new((Mutex::new(0u32), Cond::new()));
        let n = 10;
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let s = s.clone();
                ferrogo::go(move || {
                    let mut g = s.0.lock();
                    while *g == 0 {
                        g = s.1.wait(g);
                    }
                })
            })
            .collect();
        settle();
        *s.0.lock() = 1;
        s.1.broadcast();
        for h in hs {
            h.join().unwrap();
        }
    });
}

// Go: cond_test.go, TestRace/TestCondSignalGenerations-style ping-pong: two
// goroutines (and a thread) alternate through one Cond many times. A signal
// lost between unlocking and parking would hang; a deadline catches it.
#[test]
fn cond_no_lost_signal_ping_pong() {
    for_procs(|| {
        let s = Arc::new((Mutex::new(0u64), Cond::new()));
        let rounds = 5_000u64;
        let players: u64 = 3;
        let mut hs = Vec::new();
        let (done_tx, done_rx) = ferrogo::chan::<()>(players as usize);
        for me in 0..players {
            let (s, done_tx) = (s.clone(), done_tx.clone());
            let body = move || {
                for r in 0..rounds {
                    let mut g = s.0.lock();
                    while *g != r * players + me {
                        g = s.1.wait(g);
                    }
                    *g += 1;
                    drop(g);
                    s.1.broadcast();
                }
                done_tx.send(()).unwrap();
            };
            if me == 2 {
                std::thread::spawn(body);
            } else {
                hs.push(ferrogo::go(body));
            }
        }
        for _ in 0..players {
            done_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("a cond signal was lost");
        }
        assert_eq!(*s.0.lock(), rounds * players);
    });
}

// Go: pool_test.go, TestPool: a value put is got back (same thread), an
// empty pool calls the constructor.
#[test]
fn pool_reuse() {
    let made = Arc::new(AtomicUsize::new(0));
    let m2 = made.clone();
    let pool = Pool::new(move || {
        m2.fetch_add(1, Ordering::SeqCst);
        Vec::<u8>::with_capacity(64)
    });
    let mut a = pool.get();
    assert_eq!(made.load(Ordering::SeqCst), 1);
    a.push(1);
    let ptr = a.as_ptr();
    pool.put(a);
    let b = pool.get();
    assert_eq!(b.as_ptr(), ptr, "the same buffer came back");
    assert_eq!(made.load(Ordering::SeqCst), 1);
    drop(b);
    {
        let _g = pool.get_guard();
    }
    assert_eq!(made.load(Ordering::SeqCst), 2);
    let _again = pool.get();
    assert_eq!(
        made.load(Ordering::SeqCst),
        2,
        "the guard returned its value"
    );
}

// Go: pool_test.go, TestPoolStress-style: many goroutines get/put; the pool
// creates far fewer values than it hands out.
#[test]
fn pool_under_goroutines() {
    for_procs(|| {
        let made = Arc::new(AtomicUsize::new(0));
        let m2 = made.clone();
        let pool = Arc::new(Pool::new(move || {
            m2.fetch_add(1, Ordering::SeqCst);
            0u64
        }));
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let pool = pool.clone();
                ferrogo::go(move || {
                    for _ in 0..1000 {
                        let v = pool.get();
                        if v % 7 == 0 {
                            ferrogo::yield_now();
                        }
                        pool.put(v + 1);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let made = made.load(Ordering::SeqCst);
        assert!(made <= 50, "made {made} values for 50 concurrent users");
    });
}
