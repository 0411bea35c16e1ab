//! Peer: may (stackful coroutines), 2 workers. The measured body runs in a coroutine.
//! may has no bounded or rendezvous channels: its unbounded mpsc/mpmc channels are used
//! (the sieve's generator is therefore bounded to the n-th prime instead of back-pressured).
#[path = "../../common/harness.rs"]
mod harness;
use harness::*;

use may::go;
use may::sync::{mpmc, mpsc};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PEER: &str = "may";

fn main() {
    let (w, n) = args();
    exit_on_panic();
    may::config().set_workers(2);
    go!(move || match w.as_str() {
        "spawn" => spawn(n),
        "skynet" => skynet(n),
        "yield" => yield_(n),
        "parked" => parked(n),
        "unbuf" => unbuf(n),
        "spsc" => mpmc_("spsc", n, 1),
        "mpmc4" => mpmc_("mpmc4", n, 4),
        "mpmc100" => mpmc_("mpmc100", n, 100),
        "select" => select_(n),
        "ring" => ring(n),
        "sieve" => sieve(n),
        "mutex" => mutex(n),
        _ => unknown(&w),
    })
    .join()
    .unwrap();
}

fn spawn(n: u64) {
    let d = median(|| {
        let cnt = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let c = cnt.clone();
                    go!(move || {
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
    emit("spawn", PEER, ns_per(d, n), &format!("n={n} {}", hwm()));
}

fn skynet_node(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (cn, cs) = (num + i * (size / 10), size / 10);
            go!(move || skynet_node(cn, cs))
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

fn skynet(n: u64) {
    let want = n * (n - 1) / 2;
    let d = median(|| {
        let t = Instant::now();
        let s = go!(move || skynet_node(0, n)).join().unwrap();
        let d = t.elapsed();
        assert_eq!(s, want, "skynet sum");
        d
    });
    emit("skynet", PEER, ns_per(d, n), &format!("leaves={n} sum={want} join {}", hwm()));
}

fn yield_(n: u64) {
    let d = median(|| {
        timed(|| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    go!(move || {
                        for _ in 0..n {
                            may::coroutine::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    emit("yield", PEER, ns_per(d, 2 * n), &format!("yields={}", 2 * n));
}

fn parked(n: u64) {
    let before = proc_kib("VmRSS");
    let (tx, rx) = mpmc::channel::<()>();
    let ready = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (rx, ready) = (rx.clone(), ready.clone());
            go!(move || {
                ready.fetch_add(1, SeqCst);
                let _ = rx.recv();
            })
        })
        .collect();
    while ready.load(SeqCst) < n {
        may::coroutine::yield_now();
    }
    may::coroutine::sleep(Duration::from_millis(20));
    let spawn_ns = ns_per(t.elapsed(), n);
    let after = proc_kib("VmRSS");
    for _ in 0..n {
        tx.send(()).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
    let delta = after - before;
    emit(
        "parked",
        PEER,
        delta as f64 / n as f64,
        &format!("n={n} rss_delta={}MiB spawn+park={spawn_ns:.0}ns mpmc", delta / 1024),
    );
}

fn unbuf(n: u64) {
    let d = median(|| {
        let (ptx, prx) = mpsc::channel::<u64>();
        let (qtx, qrx) = mpsc::channel::<u64>();
        let h = go!(move || {
            for v in prx.iter() {
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
    emit("unbuf", PEER, ns_per(d, n), &format!("round_trips={n} unbounded mpsc"));
}

fn mpmc_(name: &str, n: u64, p: u64) {
    let per = n / p;
    let total = per * p;
    let d = median(|| {
        let got = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let (tx, rx) = mpmc::channel::<u64>();
            let cs: Vec<_> = (0..p)
                .map(|_| {
                    let (rx, got) = (rx.clone(), got.clone());
                    go!(move || {
                        let mut k = 0;
                        while rx.recv().is_ok() {
                            k += 1;
                        }
                        got.fetch_add(k, Relaxed);
                    })
                })
                .collect();
            drop(rx);
            let ps: Vec<_> = (0..p)
                .map(|_| {
                    let tx = tx.clone();
                    go!(move || {
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
    emit(name, PEER, ns_per(d, total), &format!("msgs={total} p={p} c={p} UNBOUNDED mpmc"));
}

fn select_(n: u64) {
    // may::select! runs each arm in its own coroutine (cqueue) and cancels the losers when
    // the scope ends. Observed: a recv that already completed in a losing arm is discarded,
    // so messages are LOST. Counting to `total` would hang, so the consumer selects until all
    // four channels are disconnected and the loss is reported.
    let per = n / 4;
    let total = per * 4;
    let lost = AtomicU64::new(0);
    let d = median(|| {
        let mut rxs = Vec::new();
        let t = Instant::now();
        for _ in 0..4 {
            let (tx, rx) = mpsc::channel::<u64>();
            rxs.push(rx);
            go!(move || {
                for k in 0..per {
                    tx.send(k).unwrap();
                }
            });
        }
        let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
        let got = AtomicU64::new(0);
        let closed: [std::sync::atomic::AtomicBool; 4] = Default::default();
        let take = |i: usize, v: Result<u64, std::sync::mpsc::RecvError>| match v {
            Ok(_) => {
                got.fetch_add(1, Relaxed);
            }
            Err(_) => closed[i].store(true, Relaxed),
        };
        while !closed.iter().all(|c| c.load(Relaxed)) {
            may::select!(
                v = r0.recv() => take(0, v),
                v = r1.recv() => take(1, v),
                v = r2.recv() => take(2, v),
                v = r3.recv() => take(3, v)
            );
        }
        let d = t.elapsed();
        lost.store(total - got.load(Relaxed), Relaxed);
        d
    });
    let lost = lost.load(Relaxed);
    let tag = if lost > 0 { format!("LOSSY: lost {lost} of {total} messages") } else { "no loss".into() };
    emit("select", PEER, ns_per(d, total), &format!("msgs={total} producers=4 unbounded may::select! {tag}"));
}

fn ring(n: u64) {
    const N: usize = 503;
    let d = median(|| {
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..N {
            let (tx, rx) = mpsc::channel::<i64>();
            txs.push(tx);
            rxs.push(Some(rx));
        }
        let (dtx, drx) = mpsc::channel::<usize>();
        let mut hs = Vec::new();
        for i in 0..N {
            let rx = rxs[i].take().unwrap();
            let tx = txs[(i + 1) % N].clone();
            let dtx = dtx.clone();
            hs.push(go!(move || {
                for t in rx.iter() {
                    if t <= 0 {
                        if t == 0 {
                            dtx.send(i).unwrap();
                        }
                        let _ = tx.send(-1); // poison: every coroutine exits
                        break;
                    }
                    tx.send(t - 1).unwrap();
                }
            }));
        }
        let first = txs[0].clone();
        drop(txs);
        let t = Instant::now();
        first.send(n as i64).unwrap();
        drx.recv().unwrap();
        let d = t.elapsed();
        drop(first);
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("ring", PEER, ns_per(d, n), &format!("hops={n} ring=503 unbounded mpsc"));
}

/// The n-th prime, sequentially (to bound the generator: may's channels are unbounded).
fn nth_prime(n: u64) -> u64 {
    let mut ps: Vec<u64> = Vec::new();
    let mut i = 2;
    while (ps.len() as u64) < n {
        if ps.iter().take_while(|&&p| p * p <= i).all(|&p| i % p != 0) {
            ps.push(i);
        }
        i += 1;
    }
    *ps.last().unwrap()
}

fn sieve(n: u64) {
    let limit = nth_prime(n);
    let mut last = 0;
    let d = median(|| {
        let mut hs = Vec::new();
        let t = Instant::now();
        let (tx, mut rx) = mpsc::channel::<u64>();
        hs.push(go!(move || {
            for i in 2..=limit {
                if tx.send(i).is_err() {
                    break;
                }
            }
        }));
        for _ in 0..n {
            let prime = rx.recv().unwrap();
            last = prime;
            let (tx1, rx1) = mpsc::channel::<u64>();
            let inp = std::mem::replace(&mut rx, rx1);
            hs.push(go!(move || {
                for i in inp.iter() {
                    if i % prime != 0 && tx1.send(i).is_err() {
                        break;
                    }
                }
            }));
        }
        let d = t.elapsed();
        drop(rx);
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("sieve", PEER, d.as_nanos() as f64 / 1e6, &format!("primes={n} last={last} (ms total) unbounded, generator stops at {limit}"));
}

fn mutex(total: u64) {
    const G: u64 = 1000;
    let iters = total / G;
    let d = median(|| {
        let m = Arc::new(may::sync::Mutex::new(0u64));
        let d = timed(|| {
            let hs: Vec<_> = (0..G)
                .map(|_| {
                    let m = m.clone();
                    go!(move || {
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
        assert_eq!(*m.lock().unwrap(), G * iters);
        d
    });
    emit("mutex", PEER, ns_per(d, G * iters), &format!("coroutines={G} iters={iters} may::sync::Mutex"));
}
