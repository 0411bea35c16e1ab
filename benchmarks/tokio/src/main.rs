//! Peer: tokio multi-thread runtime with 2 workers. The measured body runs as a spawned
//! task (not on the block_on thread) so every task runs on the 2 workers.
#[path = "../../common/harness.rs"]
mod harness;
use harness::*;

use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::{self, JoinHandle};

const PEER: &str = "tokio";

fn main() {
    let (w, n) = args();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        tokio::spawn(async move {
            match w.as_str() {
                "spawn" => spawn(n).await,
                "skynet" => skynet(n).await,
                "yield" => yield_(n).await,
                "parked" => parked(n).await,
                "unbuf" => unbuf(n).await,
                "spsc" => mpmc("spsc", n, 1).await,
                "mpmc4" => mpmc("mpmc4", n, 4).await,
                "mpmc100" => mpmc("mpmc100", n, 100).await,
                "select" => select_(n).await,
                "ring" => ring(n).await,
                "sieve" => sieve(n).await,
                                "mutex" => mutex(n).await,
                "sleep" => sleep_(n, false).await,
                "sleepall" => sleep_(n, true).await,
                _ => unknown(&w),
            }
        })
        .await
        .unwrap()
    });
}

/// Async median: like harness::median but the body is a future.
async fn amedian<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut v = Vec::new();
    for _ in 0..reps() {
        v.push(f().await);
    }
    v.sort();
    v[v.len() / 2]
}

async fn spawn(n: u64) {
    let d = amedian(|| async {
        let cnt = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let c = cnt.clone();
                tokio::spawn(async move {
                    c.fetch_add(1, Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        let d = t.elapsed();
        assert_eq!(cnt.load(Relaxed), n);
        d
    })
    .await;
    emit("spawn", PEER, ns_per(d, n), &format!("n={n} {}", hwm()));
}

fn skynet_node(num: u64, size: u64) -> JoinHandle<u64> {
    tokio::spawn(async move {
        if size == 1 {
            return num;
        }
        let hs: Vec<_> = (0..10).map(|i| skynet_node(num + i * (size / 10), size / 10)).collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    })
}

async fn skynet(n: u64) {
    let want = n * (n - 1) / 2;
    let d = amedian(|| async {
        let t = Instant::now();
        let s = skynet_node(0, n).await.unwrap();
        let d = t.elapsed();
        assert_eq!(s, want, "skynet sum");
        d
    })
    .await;
    emit("skynet", PEER, ns_per(d, n), &format!("leaves={n} sum={want} JoinHandle {}", hwm()));
}

async fn yield_(n: u64) {
    let d = amedian(|| async {
        let t = Instant::now();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn(async move {
                    for _ in 0..n {
                        task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        t.elapsed()
    })
    .await;
    emit("yield", PEER, ns_per(d, 2 * n), &format!("yields={}", 2 * n));
}

/// n tasks each sleeping 1 s at once; wall time and peak RSS. `together` (workload
/// `sleepall`): each task first waits at a barrier that opens once all have reached it.
async fn sleep_(n: u64, together: bool) {
    let base = proc_kib("VmRSS");
    // Peak tasks asleep at once: each counts itself in and out, a task samples every 5 ms.
    let asleep = Arc::new(AtomicU64::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let a = asleep.clone();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(a.load(SeqCst));
            tokio::select! {
                _ = &mut stop_rx => return peak,
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
    });
    let start = Arc::new(tokio::sync::Barrier::new(if together { n as usize + 1 } else { 1 }));
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let a = asleep.clone();
            let start = together.then(|| start.clone());
            tokio::spawn(async move {
                if let Some(start) = start {
                    start.wait().await;
                }
                a.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                a.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    if together {
        start.wait().await;
    }
    for h in hs {
        h.await.unwrap();
    }
    let el = t.elapsed();
    let peak = proc_kib("VmHWM");
    let _ = stop_tx.send(());
    let live = sampler.await.unwrap();
    emit(if together { "sleepall" } else { "sleep" }, PEER, el.as_millis() as f64, &sleep_extra(n, el.as_millis(), peak - base, live));
}

async fn parked(n: u64) {
    // Each task parks on a semaphore with no permits (tokio has no MPMC channel receive).
    let before = proc_kib("VmRSS");
    let sem = Arc::new(tokio::sync::Semaphore::new(0));
    let ready = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let (sem, ready) = (sem.clone(), ready.clone());
            tokio::spawn(async move {
                ready.fetch_add(1, SeqCst);
                let _p = sem.acquire().await.unwrap();
            })
        })
        .collect();
    while ready.load(SeqCst) < n {
        task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let spawn_ns = ns_per(t.elapsed(), n);
    let after = proc_kib("VmRSS");
    sem.add_permits(n as usize);
    for h in hs {
        h.await.unwrap();
    }
    let delta = after - before;
    emit(
        "parked",
        PEER,
        delta as f64 / n as f64,
        &format!("n={n} rss_delta={}MiB spawn+park={spawn_ns:.0}ns Semaphore", delta / 1024),
    );
}

async fn unbuf(n: u64) {
    // tokio has no rendezvous channel: mpsc with capacity 1.
    let d = amedian(|| async {
        let (ptx, mut prx) = mpsc::channel::<u64>(1);
        let (qtx, mut qrx) = mpsc::channel::<u64>(1);
        let h = tokio::spawn(async move {
            while let Some(v) = prx.recv().await {
                qtx.send(v + 1).await.unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..n {
            ptx.send(i).await.unwrap();
            assert_eq!(qrx.recv().await.unwrap(), i + 1);
        }
        let d = t.elapsed();
        drop(ptx);
        h.await.unwrap();
        d
    })
    .await;
    emit("unbuf", PEER, ns_per(d, n), &format!("round_trips={n} mpsc(1)"));
}

async fn mpmc(name: &str, n: u64, p: u64) {
    // spsc: tokio::sync::mpsc; mpmc: async-channel (tokio's mpsc has a single receiver).
    let per = n / p;
    let total = per * p;
    let d = amedian(|| async {
        let got = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        if p == 1 {
            let (tx, mut rx) = mpsc::channel::<u64>(1024);
            let c = tokio::spawn(async move {
                let mut k = 0;
                while rx.recv().await.is_some() {
                    k += 1;
                }
                k
            });
            let pr = tokio::spawn(async move {
                for i in 0..per {
                    tx.send(i).await.unwrap();
                }
            });
            pr.await.unwrap();
            got.fetch_add(c.await.unwrap(), Relaxed);
        } else {
            let (tx, rx) = async_channel::bounded::<u64>(1024);
            let cs: Vec<_> = (0..p)
                .map(|_| {
                    let (rx, got) = (rx.clone(), got.clone());
                    tokio::spawn(async move {
                        let mut k = 0;
                        while rx.recv().await.is_ok() {
                            k += 1;
                        }
                        got.fetch_add(k, Relaxed);
                    })
                })
                .collect();
            let ps: Vec<_> = (0..p)
                .map(|_| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in 0..per {
                            tx.send(i).await.unwrap();
                        }
                    })
                })
                .collect();
            for h in ps {
                h.await.unwrap();
            }
            tx.close();
            for h in cs {
                h.await.unwrap();
            }
        }
        let d = t.elapsed();
        assert_eq!(got.load(Relaxed), total);
        d
    })
    .await;
    let how = if p == 1 { "tokio::mpsc" } else { "async-channel" };
    emit(name, PEER, ns_per(d, total), &format!("msgs={total} p={p} c={p} cap=1024 {how}"));
}

async fn select_(n: u64) {
    let per = n / 4;
    let total = per * 4;
    let d = amedian(|| async {
        let mut rxs = Vec::new();
        let t = Instant::now();
        for _ in 0..4 {
            let (tx, rx) = mpsc::channel::<u64>(1024);
            rxs.push(rx);
            tokio::spawn(async move {
                for k in 0..per {
                    tx.send(k).await.unwrap();
                }
            });
        }
        let mut it = rxs.into_iter();
        let (mut r0, mut r1, mut r2, mut r3) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let mut sum = 0;
        let mut got = 0;
        while got < total {
            tokio::select! {
                Some(v) = r0.recv() => sum += v,
                Some(v) = r1.recv() => sum += v,
                Some(v) = r2.recv() => sum += v,
                Some(v) = r3.recv() => sum += v,
            }
            got += 1;
        }
        let d = t.elapsed();
        assert_eq!(sum, 4 * per * (per - 1) / 2);
        d
    })
    .await;
    emit("select", PEER, ns_per(d, total), &format!("msgs={total} producers=4 cap=1024 tokio::select!"));
}

async fn ring(n: u64) {
    const N: usize = 503;
    let d = amedian(|| async {
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..N {
            let (tx, rx) = mpsc::channel::<i64>(1);
            txs.push(tx);
            rxs.push(Some(rx));
        }
        let (dtx, mut drx) = mpsc::channel::<usize>(1);
        let mut hs = Vec::new();
        for i in 0..N {
            let mut rx = rxs[i].take().unwrap();
            let tx = txs[(i + 1) % N].clone();
            let dtx = dtx.clone();
            hs.push(tokio::spawn(async move {
                while let Some(t) = rx.recv().await {
                    if t <= 0 {
                        if t == 0 {
                            dtx.send(i).await.unwrap();
                        }
                        let _ = tx.send(-1).await; // poison: every task exits
                        break;
                    }
                    tx.send(t - 1).await.unwrap();
                }
            }));
        }
        let first = txs[0].clone();
        drop(txs);
        let t = Instant::now();
        first.send(n as i64).await.unwrap();
        drx.recv().await.unwrap();
        let d = t.elapsed();
        drop(first);
        for h in hs {
            h.await.unwrap();
        }
        d
    })
    .await;
    emit("ring", PEER, ns_per(d, n), &format!("hops={n} ring=503 mpsc(1)"));
}

async fn sieve(n: u64) {
    let last = Arc::new(AtomicU64::new(0));
    let d = amedian(|| async {
        let t = Instant::now();
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        tokio::spawn(async move {
            let mut i = 2;
            while tx.send(i).await.is_ok() {
                i += 1;
            }
        });
        for _ in 0..n {
            let prime = rx.recv().await.unwrap();
            last.store(prime, Relaxed);
            let (tx1, rx1) = mpsc::channel::<u64>(1);
            let mut inp = std::mem::replace(&mut rx, rx1);
            tokio::spawn(async move {
                while let Some(i) = inp.recv().await {
                    if i % prime != 0 && tx1.send(i).await.is_err() {
                        break;
                    }
                }
            });
        }
        t.elapsed()
        // rx dropped here: the filter chain unwinds by failed sends
    })
    .await;
    emit("sieve", PEER, d.as_nanos() as f64 / 1e6, &format!("primes={n} last={} (ms total) mpsc(1)", last.load(Relaxed)));
}

async fn mutex(total: u64) {
    const G: u64 = 1000;
    let iters = total / G;
    let d = amedian(|| async {
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        let t = Instant::now();
        let hs: Vec<_> = (0..G)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..iters {
                        *m.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        let d = t.elapsed();
        assert_eq!(*m.lock().await, G * iters);
        d
    })
    .await;
    emit("mutex", PEER, ns_per(d, G * iters), &format!("tasks={G} iters={iters} tokio::sync::Mutex"));
}
