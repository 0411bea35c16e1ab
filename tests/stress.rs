//! Long stress runs with checksums, enabled by `FERROGO_STRESS=1` (see
//! `scripts/models.sh`); a quick version runs in the normal suite.
//!
//! Mixed traffic: goroutines and OS threads sending over buffered and
//! unbuffered channels, selects with timeouts, a mutex-protected total and
//! spawns from every side, at 1 and 2 workers. Every value sent must be
//! received exactly once (sum and count checksums).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrogo::{chan, go, select};

fn rounds() -> u64 {
    if std::env::var_os("FERROGO_STRESS").is_some() {
        200
    } else {
        3
    }
}

#[test]
fn mixed_traffic_conserves_values() {
    // Not `for_each_runtime`: its watchdog would cut the long stress runs short.
    for procs in support::PROCS {
        let rt = support::runtime(procs);
        for round in 0..rounds() {
            let (sum, count) = rt.run(move || one_round(round));
            let n = 8 * 2_000u64;
            assert_eq!(
                count, n,
                "round {round} at {procs} workers: lost or duplicated values"
            );
            assert_eq!(
                sum,
                n * (n - 1) / 2,
                "round {round} at {procs} workers: checksum"
            );
        }
        drop(rt);
    }
}

fn one_round(round: u64) -> (u64, u64) {
    let cap = [0usize, 1, 16, 1024][(round % 4) as usize];
    let (tx, rx) = chan::<u64>(cap);
    let (tx2, rx2) = chan::<u64>(cap / 2);
    let total = Arc::new(ferrogo::sync::Mutex::new((0u64, 0u64)));
    let per = 2_000u64;
    let mut producers = Vec::new();
    // 6 goroutine producers and 2 thread producers, alternating channels.
    for p in 0..8u64 {
        let (tx, tx2) = (tx.clone(), tx2.clone());
        let body = move || {
            for k in 0..per {
                let v = p * per + k;
                if v % 3 == 0 {
                    tx2.send(v).unwrap();
                } else {
                    tx.send(v).unwrap();
                }
            }
        };
        if p < 6 {
            producers.push(Ok(go(body)));
        } else {
            producers.push(Err(std::thread::spawn(body)));
        }
    }
    drop((tx, tx2));
    // 3 goroutine consumers selecting over both channels, plus a timeout arm.
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (rx, rx2, total) = (rx.clone(), rx2.clone(), total.clone());
            go(move || {
                let (mut rx, mut rx2) = (rx, rx2);
                let (mut open1, mut open2) = (true, true);
                while open1 || open2 {
                    select! {
                        recv(rx) -> v => match v {
                            Some(v) => { let mut t = total.lock(); t.0 += v; t.1 += 1; }
                            None => { open1 = false; rx = ferrogo::never(); }
                        },
                        recv(rx2) -> v => match v {
                            Some(v) => { let mut t = total.lock(); t.0 += v; t.1 += 1; }
                            None => { open2 = false; rx2 = ferrogo::never(); }
                        },
                        after(Duration::from_millis(1)) => ferrogo::yield_now(),
                    }
                }
            })
        })
        .collect();
    drop((rx, rx2));
    for p in producers {
        match p {
            Ok(h) => h.join().unwrap(),
            // Joining an OS thread blocks: do it on the blocking pool, never on a worker.
            Err(t) => ferrogo::blocking(move || t.join()).unwrap(),
        }
    }
    for c in consumers {
        c.join().unwrap();
    }
    let spawned = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let s = spawned.clone();
            go(move || s.fetch_add(1, Ordering::Relaxed))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(spawned.load(Ordering::Relaxed), 100);
    *total.lock()
}
