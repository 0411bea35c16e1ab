//! `ferrogo::sync::WaitGroup`: behaviours of Go's
//! `src/sync/waitgroup_test.go`, re-implemented (our own code).

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrogo::sync::WaitGroup;
use support::for_procs;

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<&'static str>() {
        Ok(s) => s.to_string(),
        Err(p) => *p.downcast::<String>().expect("string payload"),
    }
}

// Go: waitgroup_test.go, TestWaitGroup / testWaitGroup: two groups used as
// barriers, reused for several rounds.
#[test]
fn barrier_reuse() {
    for_procs(|| {
        let wg1 = Arc::new(WaitGroup::new());
        let wg2 = Arc::new(WaitGroup::new());
        let n = 16;
        for round in 0..8 {
            let passed = Arc::new(AtomicUsize::new(0));
            wg1.add(n);
            wg2.add(n);
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (wg1, wg2, passed) = (wg1.clone(), wg2.clone(), passed.clone());
                    ferrogo::go(move || {
                        wg1.done();
                        wg2.wait();
                        passed.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            wg1.wait();
            for _ in 0..n {
                assert_eq!(
                    passed.load(Ordering::SeqCst),
                    0,
                    "round {round}: a goroutine passed the barrier early"
                );
                wg2.done();
            }
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(passed.load(Ordering::SeqCst), n as usize);
        }
    });
}

// Go: waitgroup_test.go, TestWaitGroupMisuse: "sync: negative WaitGroup counter".
#[test]
fn negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    let p = catch_unwind(AssertUnwindSafe(|| wg.done())).unwrap_err();
    assert_eq!(panic_text(p), "sync: negative WaitGroup counter");

    let wg = WaitGroup::new();
    let p = catch_unwind(AssertUnwindSafe(|| wg.add(-3))).unwrap_err();
    assert_eq!(panic_text(p), "sync: negative WaitGroup counter");
}

// The same misuse inside a goroutine reaches `join`.
#[test]
fn negative_counter_in_goroutine() {
    for_procs(|| {
        let h = ferrogo::go(|| WaitGroup::new().done());
        let p = h.join().unwrap_err();
        assert_eq!(panic_text(p), "sync: negative WaitGroup counter");
    });
}

// Go: waitgroup_test.go, TestWaitGroupRace-style: many waiters (goroutines
// and OS threads) released together.
#[test]
fn many_waiters_goroutines_and_threads() {
    for_procs(|| {
        for _ in 0..20 {
            let wg = Arc::new(WaitGroup::new());
            let gate = Arc::new(WaitGroup::new());
            let released = Arc::new(AtomicUsize::new(0));
            gate.add(1);
            let n = 8;
            wg.add(n);
            let mut gs = Vec::new();
            for _ in 0..n {
                let (wg, gate) = (wg.clone(), gate.clone());
                gs.push(ferrogo::go(move || {
                    gate.wait();
                    wg.done();
                }));
            }
            let mut waiters = Vec::new();
            for _ in 0..4 {
                let (wg, released) = (wg.clone(), released.clone());
                waiters.push(ferrogo::go(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                }));
            }
            let (wg_t, rel_t) = (wg.clone(), released.clone());
            let t = std::thread::spawn(move || {
                wg_t.wait();
                rel_t.fetch_add(1, Ordering::SeqCst);
            });
            gate.done();
            for h in gs.into_iter().chain(waiters) {
                h.join().unwrap();
            }
            // Join the thread without blocking the worker.
            let (tx, rx) = ferrogo::chan::<()>(1);
            std::thread::spawn(move || {
                t.join().unwrap();
                tx.send(()).unwrap();
            });
            rx.recv().unwrap();
            assert_eq!(released.load(Ordering::SeqCst), 5);
            assert_eq!(wg.count(), 0);
        }
    });
}

// Waiting from a plain thread for goroutines.
#[test]
fn wait_from_os_thread() {
    let wg = Arc::new(WaitGroup::new());
    let hits = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        wg.add(1);
        let (wg, hits) = (wg.clone(), hits.clone());
        ferrogo::go(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}
