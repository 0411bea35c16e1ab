//! Peer: std threads + crossbeam-channel. One OS thread per goroutine (where feasible);
//! run.sh passes smaller sizes where a thread per goroutine is too slow/heavy.
#[path = "../../common/harness.rs"]
mod harness;
use harness::*;

use crossbeam_channel::{bounded, select};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::thread;

const PEER: &str = "threads";

fn main() {
    let (w, n) = args();
    match w.as_str() {
        "spawn" => spawn(n),
        "yield" => yield_(n),
        "parked" => parked(n),
        "unbuf" => unbuf(n),
        "spsc" => mpmc("spsc", n, 1),
        "mpmc4" => mpmc("mpmc4", n, 4),
        "mpmc100" => mpmc("mpmc100", n, 100),
        "select" => select_(n),
        "ring" => ring(n),
        "sieve" => sieve(n),
        "mutex" => mutex(n),
        _ => unknown(&w), // skynet: 1M OS threads is not feasible
    }
}

fn spawn(n: u64) {
    let d = median(|| {
        let cnt = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let c = cnt.clone();
                    thread::spawn(move || {
                        c.fetch_add(1, Relaxed);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        assert_eq!(cnt.load(Relaxed), n);
        d
    });
    emit("spawn", PEER, ns_per(d, n), &format!("n={n} threads {}", hwm()));
}

fn yield_(n: u64) {
    let d = median(|| {
        timed(|| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    thread::spawn(move || {
                        for _ in 0..n {
                            thread::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    emit("yield", PEER, ns_per(d, 2 * n), &format!("yields={} (sched_yield)", 2 * n));
}

fn parked(n: u64) {
    let before = proc_kib("VmRSS");
    let (tx, rx) = bounded::<()>(0);
    let ready = Arc::new(AtomicU64::new(0));
    let t = std::time::Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (rx, ready) = (rx.clone(), ready.clone());
            thread::spawn(move || {
                ready.fetch_add(1, SeqCst);
                let _ = rx.recv();
            })
        })
        .collect();
    while ready.load(SeqCst) < n {
        thread::yield_now();
    }
    thread::sleep(std::time::Duration::from_millis(20));
    let spawn_ns = ns_per(t.elapsed(), n);
    let after = proc_kib("VmRSS");
    drop(tx); // disconnect: every recv returns Err
    for h in hs {
        h.join().unwrap();
    }
    let delta = after - before;
    emit(
        "parked",
        PEER,
        delta as f64 / n as f64,
        &format!("n={n} rss_delta={}MiB spawn+park={spawn_ns:.0}ns", delta / 1024),
    );
}

fn unbuf(n: u64) {
    let d = median(|| {
        let (ptx, prx) = bounded::<u64>(0);
        let (qtx, qrx) = bounded::<u64>(0);
        let h = thread::spawn(move || {
            for v in prx {
                qtx.send(v + 1).unwrap();
            }
        });
        let d = timed(|| {
            for i in 0..n {
                ptx.send(i).unwrap();
                assert_eq!(qrx.recv().unwrap(), i + 1);
            }
        });
        drop(ptx);
        h.join().unwrap();
        d
    });
    emit("unbuf", PEER, ns_per(d, n), &format!("round_trips={n}"));
}

fn mpmc(name: &str, n: u64, p: u64) {
    let per = n / p;
    let total = per * p;
    let d = median(|| {
        let (tx, rx) = bounded::<u64>(1024);
        let got = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let cs: Vec<_> = (0..p)
                .map(|_| {
                    let (rx, got) = (rx.clone(), got.clone());
                    thread::spawn(move || {
                        let mut k = 0;
                        for _ in rx {
                            k += 1;
                        }
                        got.fetch_add(k, Relaxed);
                    })
                })
                .collect();
            let ps: Vec<_> = (0..p)
                .map(|_| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            for h in ps {
                h.join().unwrap();
            }
            drop(tx);
            for h in cs {
                h.join().unwrap();
            }
        });
        assert_eq!(got.load(Relaxed), total);
        d
    });
    emit(name, PEER, ns_per(d, total), &format!("msgs={total} p={p} c={p} cap=1024"));
}

fn select_(n: u64) {
    let per = n / 4;
    let total = per * 4;
    let d = median(|| {
        let chans: Vec<_> = (0..4).map(|_| bounded::<u64>(1024)).collect();
        let t = std::time::Instant::now();
        for (tx, _) in &chans {
            let tx = tx.clone();
            thread::spawn(move || {
                for k in 0..per {
                    tx.send(k).unwrap();
                }
            });
        }
        let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
        let mut sum = 0;
        for _ in 0..total {
            select! {
                recv(r0) -> v => sum += v.unwrap(),
                recv(r1) -> v => sum += v.unwrap(),
                recv(r2) -> v => sum += v.unwrap(),
                recv(r3) -> v => sum += v.unwrap(),
            }
        }
        let d = t.elapsed();
        assert_eq!(sum, 4 * per * (per - 1) / 2);
        d
    });
    emit("select", PEER, ns_per(d, total), &format!("msgs={total} producers=4 cap=1024"));
}

fn ring(n: u64) {
    const N: usize = 503;
    let d = median(|| {
        let chans: Vec<_> = (0..N).map(|_| bounded::<i64>(0)).collect();
        let (dtx, drx) = bounded::<usize>(1);
        let mut hs = Vec::new();
        for i in 0..N {
            let rx = chans[i].1.clone();
            let tx = chans[(i + 1) % N].0.clone();
            let dtx = dtx.clone();
            hs.push(thread::spawn(move || {
                for t in rx {
                    if t <= 0 {
                        if t == 0 {
                            dtx.send(i).unwrap();
                        }
                        let _ = tx.send(-1); // poison the ring so every thread exits
                        break;
                    }
                    tx.send(t - 1).unwrap();
                }
            }));
        }
        let first = chans[0].0.clone();
        drop(chans);
        let t = std::time::Instant::now();
        first.send(n as i64).unwrap();
        drx.recv().unwrap();
        let d = t.elapsed();
        drop(first);
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("ring", PEER, ns_per(d, n), &format!("hops={n} ring=503"));
}

fn sieve(n: u64) {
    let mut last = 0;
    let d = median(|| {
        let mut hs = Vec::new();
        let t = std::time::Instant::now();
        let (tx, mut rx) = bounded::<u64>(0);
        hs.push(thread::spawn(move || {
            let mut i = 2;
            while tx.send(i).is_ok() {
                i += 1;
            }
        }));
        for _ in 0..n {
            let prime = rx.recv().unwrap();
            last = prime;
            let (tx1, rx1) = bounded::<u64>(0);
            let inp = std::mem::replace(&mut rx, rx1);
            hs.push(thread::spawn(move || {
                for i in inp {
                    if i % prime != 0 && tx1.send(i).is_err() {
                        break;
                    }
                }
            }));
        }
        let d = t.elapsed();
        drop(rx); // cascade: each filter's send fails, it exits and drops its input
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("sieve", PEER, d.as_nanos() as f64 / 1e6, &format!("primes={n} last={last} (ms total)"));
}

fn mutex(total: u64) {
    const T: u64 = 8;
    let iters = total / T;
    let d = median(|| {
        let m = Arc::new(Mutex::new(0u64));
        let d = timed(|| {
            let hs: Vec<_> = (0..T)
                .map(|_| {
                    let m = m.clone();
                    thread::spawn(move || {
                        for _ in 0..iters {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        assert_eq!(*m.lock().unwrap(), T * iters);
        d
    });
    emit("mutex", PEER, ns_per(d, T * iters), &format!("threads={T} iters={iters} std::sync::Mutex"));
}
