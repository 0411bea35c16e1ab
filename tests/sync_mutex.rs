//! `ferrogo::sync::Mutex`: behaviours of Go's `src/sync/mutex_test.go`,
//! re-implemented (our own code).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrogo::sync::Mutex;
use support::for_procs;

/// Sleeps the calling goroutine (parks it on a timer, not the worker).
fn nap(d: Duration) {
    let _ = ferrogo::never::<()>().recv_timeout(d);
}

/// One increment that is only correct under mutual exclusion: read, let
/// others run in between if they can, write back.
fn bump(m: &Mutex<u64>, i: u64) {
    let mut g = m.lock();
    let v = *g;
    if i % 64 == 0 {
        std::hint::black_box(&v);
        ferrogo::yield_now(); // holds the lock across a yield sometimes
    }
    *g = v + 1;
}

// Go: mutex_test.go, TestMutex / HammerMutex (1000 goroutines x 1000 locks).
#[test]
fn mutual_exclusion_1000_goroutines() {
    for_procs(|| {
        let m = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let m = m.clone();
                ferrogo::go(move || {
                    for i in 0..1000 {
                        bump(&m, i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 1_000_000);
    });
}

// Go: mutex_test.go, TestMutex — mixed with plain OS threads.
#[test]
fn mutual_exclusion_goroutines_and_threads() {
    for_procs(|| {
        let m = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        bump(&m, i);
                    }
                })
            })
            .collect();
        let gs: Vec<_> = (0..100)
            .map(|_| {
                let m = m.clone();
                ferrogo::go(move || {
                    for i in 0..1000 {
                        bump(&m, i);
                    }
                })
            })
            .collect();
        for h in gs {
            h.join().unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.lock(), 160_000);
    });
}

// Go: mutex_test.go, TestMutex's TryLock checks.
#[test]
fn try_lock() {
    for_procs(|| {
        let m = Arc::new(Mutex::new(1));
        assert!(m.try_lock().is_some());
        let g = m.lock();
        assert!(m.try_lock().is_none());
        let m2 = m.clone();
        let other = ferrogo::go(move || m2.try_lock().is_none());
        assert!(other.join().unwrap());
        drop(g);
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

// A goroutine parked on the mutex leaves its worker free: at one worker the
// holder can still be made to release it by a third goroutine.
#[test]
fn waiting_parks_the_goroutine_not_the_worker() {
    let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let m = Arc::new(Mutex::new(0));
        let (tx, rx) = ferrogo::chan::<()>(0);
        let m1 = m.clone();
        let holder = ferrogo::go(move || {
            let mut g = m1.lock();
            rx.recv(); // parks holding the lock
            *g += 1;
        });
        support::settle();
        let m2 = m.clone();
        let waiter = ferrogo::go(move || *m2.lock() += 10);
        support::settle();
        tx.send(()).unwrap();
        holder.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(*m.lock(), 11);
    });
}

// Go: mutex_test.go, TestMutexFairness. One goroutine locks and unlocks in a
// loop with a short hold; another must still get the lock, each time within
// a generous bound (starvation mode hands it over after 1 ms of waiting).
#[test]
fn fairness_starvation_mode() {
    for_procs(|| {
        let m = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m1, stop1) = (m.clone(), stop.clone());
        let hog = ferrogo::go(move || {
            while !stop1.load(Ordering::Relaxed) {
                let g = m1.lock();
                nap(Duration::from_micros(100));
                drop(g);
            }
        });
        let m2 = m.clone();
        let victim = ferrogo::go(move || {
            let mut worst = Duration::ZERO;
            for _ in 0..10 {
                nap(Duration::from_micros(100));
                let t = Instant::now();
                drop(m2.lock());
                worst = worst.max(t.elapsed());
            }
            worst
        });
        let worst = victim.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        assert!(
            worst < Duration::from_secs(1),
            "waited {worst:?} for the mutex"
        );
    });
}

// TestMutexFairness with a busy (non-parking) hold and a plain thread as the
// victim: the thread must get the lock too.
#[test]
fn fairness_busy_holder_thread_victim() {
    for_procs(|| {
        let m = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let spins = Arc::new(AtomicU64::new(0));
        let (m1, stop1, spins1) = (m.clone(), stop.clone(), spins.clone());
        let hog = ferrogo::go(move || {
            while !stop1.load(Ordering::Relaxed) {
                let g = m1.lock();
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(50) {
                    std::hint::spin_loop();
                }
                spins1.fetch_add(1, Ordering::Relaxed);
                drop(g);
            }
        });
        while spins.load(Ordering::Relaxed) == 0 {
            ferrogo::yield_now();
        }
        let m2 = m.clone();
        let victim = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            for _ in 0..10 {
                std::thread::sleep(Duration::from_micros(100));
                let t = Instant::now();
                drop(m2.lock());
                worst = worst.max(t.elapsed());
            }
            worst
        });
        // Park this goroutine (not the worker) until the thread is done.
        let (tx, rx) = ferrogo::chan::<Duration>(1);
        std::thread::spawn(move || tx.send(victim.join().unwrap()).unwrap());
        let worst = rx.recv().unwrap();
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        assert!(
            worst < Duration::from_secs(1),
            "waited {worst:?} for the mutex"
        );
    });
}

#[test]
fn into_inner_get_mut_debug() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2], .. }");
    let g = m.lock();
    assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
    drop(g);
    assert_eq!(m.into_inner(), [1, 2]);
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Mutex<u32>>();
    send_sync::<Mutex<std::cell::Cell<u32>>>();
    send::<ferrogo::sync::MutexGuard<'static, u32>>();
    send_sync::<ferrogo::sync::MutexGuard<'static, u32>>();
}
