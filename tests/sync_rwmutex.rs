//! `ferrogo::sync::RwMutex`: behaviours of Go's `src/sync/rwmutex_test.go`,
//! re-implemented (our own code).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use ferrogo::sync::RwMutex;
use support::{for_procs, settle};

// Go: rwmutex_test.go, TestParallelReaders: n readers hold the read lock at
// the same time (each waits, holding it, until all have it).
#[test]
fn parallel_readers() {
    for_procs(|| {
        for n in [1, 3, 10] {
            let l = Arc::new(RwMutex::new(()));
            let (locked_tx, locked_rx) = ferrogo::chan::<()>(0);
            let (release_tx, release_rx) = ferrogo::chan::<()>(0);
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let (l, locked_tx, release_rx) =
                        (l.clone(), locked_tx.clone(), release_rx.clone());
                    ferrogo::go(move || {
                        let g = l.read();
                        locked_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        drop(g);
                    })
                })
                .collect();
            for _ in 0..n {
                locked_rx
                    .recv_timeout(Duration::from_secs(5))
                    .expect("readers must hold the lock together");
            }
            for _ in 0..n {
                release_tx.send(()).unwrap();
            }
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

// Go: rwmutex_test.go, TestRLockWithPendingWriter-style: once a writer
// waits, a new reader blocks until the writer has run (writer preference).
#[test]
fn writer_preference() {
    for_procs(|| {
        let l = Arc::new(RwMutex::new(Vec::<&str>::new()));
        let first = l.read();
        let lw = l.clone();
        let writer = ferrogo::go(move || lw.write().push("writer"));
        // The writer is pending as soon as try_read fails.
        while l.try_read().is_some() {
            ferrogo::yield_now();
        }
        let lr = l.clone();
        let entered = Arc::new(AtomicBool::new(false));
        let e2 = entered.clone();
        let reader = ferrogo::go(move || {
            let guard = lr.read();
            e2.store(true, Ordering::SeqCst);
            guard.clone()
        });
        settle();
        assert!(
            !entered.load(Ordering::SeqCst),
            "new reader overtook a waiting writer"
        );
        drop(first);
        writer.join().unwrap();
        let seen = reader.join().unwrap();
        assert_eq!(seen, ["writer"], "the reader ran after the writer");
    });
}

// Go: rwmutex_test.go, TestRWMutex / HammerRWMutex: readers and writers never
// overlap (activity counter: a writer adds 10000, a reader 1).
#[test]
fn hammer() {
    for_procs(|| {
        let l = Arc::new(RwMutex::new(()));
        let activity = Arc::new(AtomicI32::new(0));
        let mut hs = Vec::new();
        for i in 0..20 {
            let (l, activity) = (l.clone(), activity.clone());
            hs.push(ferrogo::go(move || {
                for k in 0..500 {
                    if i % 5 == 0 {
                        let _g = l.write();
                        let n = activity.fetch_add(10000, Ordering::SeqCst);
                        assert_eq!(n, 0, "writer saw activity");
                        if k % 16 == 0 {
                            ferrogo::yield_now();
                        }
                        activity.fetch_sub(10000, Ordering::SeqCst);
                    } else {
                        let _g = l.read();
                        let n = activity.fetch_add(1, Ordering::SeqCst);
                        assert!(n < 10000, "reader saw a writer");
                        if k % 16 == 0 {
                            ferrogo::yield_now();
                        }
                        activity.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        // A plain thread joins in as a writer.
        let (l2, a2) = (l.clone(), activity.clone());
        let t = std::thread::spawn(move || {
            for _ in 0..500 {
                let _g = l2.write();
                assert_eq!(a2.fetch_add(10000, Ordering::SeqCst), 0);
                a2.fetch_sub(10000, Ordering::SeqCst);
            }
        });
        for h in hs {
            h.join().unwrap();
        }
        let (tx, rx) = ferrogo::chan::<()>(1);
        std::thread::spawn(move || {
            t.join().unwrap();
            tx.send(()).unwrap();
        });
        rx.recv().unwrap();
    });
}

// Go: rwmutex_test.go, TryLock/TryRLock checks.
#[test]
fn try_read_try_write() {
    let l = RwMutex::new(5);
    {
        let _r = l.read();
        assert!(l.try_read().is_some());
        assert!(l.try_write().is_none());
    }
    {
        let _w = l.write();
        assert!(l.try_read().is_none());
        assert!(l.try_write().is_none());
    }
    *l.try_write().unwrap() += 1;
    assert_eq!(*l.try_read().unwrap(), 6);
    assert_eq!(l.into_inner(), 6);
}
