//! Peer: ferrogo, max_procs(2). The measured body runs as the main goroutine (rt.run).
//! Written against the public surface in BRIEF.md; mirrors the Go program workload by
//! workload (unbuffered = chan(0), buffered = chan(1024)).
//!
//! `FERROGO_BENCH_MIGRATE=1` builds the runtime with the `unsafe` `allow_migration`
//! opt-in and reports the peer as `ferrogo-migrate` (not part of `run.sh`).
#[path = "../../common/harness.rs"]
mod harness;
use harness::*;

use ferrogo::{chan, go, Receiver, Sender};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Instant;

/// The peer name: `ferrogo`, or `ferrogo-migrate` with `FERROGO_BENCH_MIGRATE=1`.
fn peer() -> &'static str {
    if migrate() {
        "ferrogo-migrate"
    } else {
        "ferrogo"
    }
}

fn migrate() -> bool {
    std::env::var("FERROGO_BENCH_MIGRATE").is_ok_and(|v| v == "1")
}

fn main() {
    let (w, n) = args();
    let b = ferrogo::Runtime::builder().max_procs(2);
    // SAFETY: the workloads keep only `Send` values (channels, integers, `Arc`s) across
    // blocking calls and use no thread-locals or thread identity.
    let b = if migrate() { unsafe { b.allow_migration() } } else { b };
    let rt = b.build().unwrap();
    rt.run(move || match w.as_str() {
        "spawn" => spawn(n),
        "skynet" => skynet(n),
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
        "sleep" => sleep_(n, false),
        "sleepall" => sleep_(n, true),
        _ => unknown(&w),
    });
}

fn spawn(n: u64) {
    let d = median(|| {
        let cnt = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let c = cnt.clone();
                    go(move || {
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
    emit("spawn", peer(), ns_per(d, n), &format!("n={n} {}", hwm()));
}

fn skynet_node(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let hs: Vec<_> = (0..10)
        .map(|i| {
            let (cn, cs) = (num + i * (size / 10), size / 10);
            go(move || skynet_node(cn, cs))
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

fn skynet(n: u64) {
    let want = n * (n - 1) / 2;
    let d = median(|| {
        let t = Instant::now();
        let s = go(move || skynet_node(0, n)).join().unwrap();
        let d = t.elapsed();
        assert_eq!(s, want, "skynet sum");
        d
    });
    emit("skynet", peer(), ns_per(d, n), &format!("leaves={n} sum={want} join {}", hwm()));
}

fn yield_(n: u64) {
    let d = median(|| {
        timed(|| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    go(move || {
                        for _ in 0..n {
                            ferrogo::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    emit("yield", peer(), ns_per(d, 2 * n), &format!("yields={}", 2 * n));
}

fn parked(n: u64) {
    let before = proc_kib("VmRSS");
    let (tx, rx) = chan::<()>(0);
    let ready = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (rx, ready) = (rx.clone(), ready.clone());
            go(move || {
                ready.fetch_add(1, SeqCst);
                let _ = rx.recv();
            })
        })
        .collect();
    while ready.load(SeqCst) < n {
        ferrogo::yield_now();
    }
    // let the last few reach their park
    for _ in 0..1000 {
        ferrogo::yield_now();
    }
    let spawn_ns = ns_per(t.elapsed(), n);
    let after = proc_kib("VmRSS");
    tx.close(); // every recv returns None
    for h in hs {
        h.join().unwrap();
    }
    let delta = after - before;
    emit(
        "parked",
        peer(),
        delta as f64 / n as f64,
        &format!("n={n} rss_delta={}MiB spawn+park={spawn_ns:.0}ns chan(0)", delta / 1024),
    );
}

fn unbuf(n: u64) {
    let d = median(|| {
        let (ptx, prx) = chan::<u64>(0);
        let (qtx, qrx) = chan::<u64>(0);
        let h = go(move || {
            while let Some(v) = prx.recv() {
                qtx.send(v + 1).unwrap();
            }
        });
        let d = timed(|| {
            for i in 0..n {
                ptx.send(i).unwrap();
                assert_eq!(qrx.recv().unwrap(), i + 1);
            }
        });
        ptx.close();
        h.join().unwrap();
        d
    });
    emit("unbuf", peer(), ns_per(d, n), &format!("round_trips={n} chan(0)"));
}

fn mpmc(name: &str, n: u64, p: u64) {
    let per = n / p;
    let total = per * p;
    let d = median(|| {
        let got = Arc::new(AtomicU64::new(0));
        let d = timed(|| {
            let (tx, rx) = chan::<u64>(1024);
            let cs: Vec<_> = (0..p)
                .map(|_| {
                    let (rx, got) = (rx.clone(), got.clone());
                    go(move || {
                        let mut k = 0;
                        while rx.recv().is_some() {
                            k += 1;
                        }
                        got.fetch_add(k, Relaxed);
                    })
                })
                .collect();
            let ps: Vec<_> = (0..p)
                .map(|_| {
                    let tx = tx.clone();
                    go(move || {
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            for h in ps {
                h.join().unwrap();
            }
            tx.close();
            for h in cs {
                h.join().unwrap();
            }
        });
        assert_eq!(got.load(Relaxed), total);
        d
    });
    emit(name, peer(), ns_per(d, total), &format!("msgs={total} p={p} c={p} cap=1024"));
}

fn select_(n: u64) {
    let per = n / 4;
    let total = per * 4;
    let d = median(|| {
        let mut rxs: Vec<Receiver<u64>> = Vec::new();
        // Keep a Sender of each channel alive until the end: as in the Go
        // program, the channels never close (a drained closed channel would
        // always be ready in select).
        let mut keep: Vec<Sender<u64>> = Vec::new();
        let t = Instant::now();
        for _ in 0..4 {
            let (tx, rx) = chan::<u64>(1024);
            rxs.push(rx);
            keep.push(tx.clone());
            go(move || {
                for k in 0..per {
                    tx.send(k).unwrap();
                }
            });
        }
        let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
        let mut sum = 0;
        for _ in 0..total {
            ferrogo::select! {
                recv(r0) -> v => { sum += v.unwrap() },
                recv(r1) -> v => { sum += v.unwrap() },
                recv(r2) -> v => { sum += v.unwrap() },
                recv(r3) -> v => { sum += v.unwrap() },
            }
        }
        let d = t.elapsed();
        drop(keep);
        assert_eq!(sum, 4 * per * (per - 1) / 2);
        d
    });
    emit("select", peer(), ns_per(d, total), &format!("msgs={total} producers=4 cap=1024"));
}

/// n goroutines each sleeping 1 s at once; wall time, peak RSS, and the peak number of
/// goroutines asleep at once (each counts itself in and out; a goroutine samples the count
/// every 5 ms, as in every peer), so that RSS per sleeping goroutine compares whatever the
/// start rate. `together` (workload `sleepall`): each goroutine first checks in and waits
/// for a start signal given once all have checked in (they have all started), so all n
/// sleep at once whatever the start rate.
fn sleep_(n: u64, together: bool) {
    let base = proc_kib("VmRSS");
    let asleep = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = chan::<()>(0);
    let a = asleep.clone();
    let sampler = go(move || {
        let mut peak = 0;
        loop {
            peak = peak.max(a.load(Relaxed));
            ferrogo::select! {
                recv(stop_rx) -> _ => return peak,
                recv(ferrogo::time::after(std::time::Duration::from_millis(5))) -> _ => {},
            }
        }
    });
    let (start_tx, start_rx) = chan::<()>(0);
    let arrived = Arc::new(ferrogo::sync::WaitGroup::new());
    arrived.add(if together { n as i64 } else { 0 });
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let a = asleep.clone();
            let start = together.then(|| (start_rx.clone(), arrived.clone()));
            go(move || {
                if let Some((start, arrived)) = start {
                    arrived.done();
                    let _ = start.recv(); // None once the start channel closes
                }
                a.fetch_add(1, Relaxed);
                ferrogo::time::sleep(std::time::Duration::from_secs(1));
                a.fetch_sub(1, Relaxed);
            })
        })
        .collect();
    arrived.wait();
    start_tx.close();
    drop(start_rx);
    for h in hs {
        h.join().unwrap();
    }
    let el = t.elapsed();
    let peak = proc_kib("VmHWM");
    drop(stop_tx);
    let live = sampler.join().unwrap();
    let name = if together { "sleepall" } else { "sleep" };
    emit(name, peer(), el.as_millis() as f64, &sleep_extra(n, el.as_millis(), peak - base, live));
}

fn ring(n: u64) {
    const N: usize = 503;
    let d = median(|| {
        let chans: Vec<(Sender<i64>, Receiver<i64>)> = (0..N).map(|_| chan::<i64>(0)).collect();
        let (dtx, drx) = chan::<usize>(0);
        let mut hs = Vec::new();
        for i in 0..N {
            let rx = chans[i].1.clone();
            let tx = chans[(i + 1) % N].0.clone();
            let dtx = dtx.clone();
            hs.push(go(move || {
                while let Some(t) = rx.recv() {
                    if t == 0 {
                        dtx.send(i).unwrap();
                        continue;
                    }
                    if tx.send(t - 1).is_err() {
                        break;
                    }
                }
            }));
        }
        let t = Instant::now();
        chans[0].0.send(n as i64).unwrap();
        drx.recv().unwrap();
        let d = t.elapsed();
        for (tx, _) in &chans {
            tx.close(); // as in Go: close every channel, every goroutine's recv returns None
        }
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("ring", peer(), ns_per(d, n), &format!("hops={n} ring=503 chan(0)"));
}

fn sieve(n: u64) {
    let mut last = 0;
    let d = median(|| {
        let mut hs = Vec::new();
        let mut senders: Vec<Sender<u64>> = Vec::new();
        let t = Instant::now();
        let (tx, mut rx) = chan::<u64>(0);
        senders.push(tx.clone());
        hs.push(go(move || {
            let mut i = 2;
            while tx.send(i).is_ok() {
                i += 1;
            }
        }));
        for _ in 0..n {
            let prime = rx.recv().unwrap();
            last = prime;
            let (tx1, rx1) = chan::<u64>(0);
            senders.push(tx1.clone());
            let inp = std::mem::replace(&mut rx, rx1);
            hs.push(go(move || {
                while let Some(i) = inp.recv() {
                    if i % prime != 0 && tx1.send(i).is_err() {
                        break;
                    }
                }
            }));
        }
        let d = t.elapsed();
        // Tear down the chain: close every channel; blocked sends fail, recvs return None.
        for s in &senders {
            s.close();
        }
        for h in hs {
            h.join().unwrap();
        }
        d
    });
    emit("sieve", peer(), d.as_nanos() as f64 / 1e6, &format!("primes={n} last={last} (ms total) chan(0)"));
}

fn mutex(total: u64) {
    const G: u64 = 1000;
    let iters = total / G;
    let d = median(|| {
        let m = Arc::new(ferrogo::sync::Mutex::new(0u64));
        let wg = Arc::new(ferrogo::sync::WaitGroup::new());
        let d = timed(|| {
            wg.add(G as _);
            for _ in 0..G {
                let (m, wg) = (m.clone(), wg.clone());
                go(move || {
                    for _ in 0..iters {
                        *m.lock() += 1;
                    }
                    wg.done();
                });
            }
            wg.wait();
        });
        assert_eq!(*m.lock(), G * iters);
        d
    });
    emit("mutex", peer(), ns_per(d, G * iters), &format!("goroutines={G} iters={iters} ferrogo::sync::Mutex+WaitGroup"));
}
