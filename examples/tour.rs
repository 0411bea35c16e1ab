//! A short tour of ferrogo: run it with `cargo run --release --example tour`.
//!
//! Each stop prints what it did and how long it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    // `run` makes this closure the main goroutine, like Go's `func main`.
    ferrogo::run(|| {
        let procs = ferrogo::debug::metrics().workers;
        println!("ferrogo tour — {procs} worker thread(s) (set FERROGO_MAXPROCS to change)\n");
        one_million_goroutines();
        skynet_stop();
        blocking_stop();
        panic_stop();
        dump_stop();
    });
}

/// 1,000,000 goroutines, each adding its number to a shared counter.
fn one_million_goroutines() {
    const N: u64 = 1_000_000;
    let sum = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let sum = sum.clone();
            ferrogo::go! { sum.fetch_add(i, Ordering::Relaxed); }
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let el = t.elapsed();
    let m = ferrogo::debug::metrics();
    println!(
        "1. spawned and joined {N} goroutines in {el:.2?} ({:.0} ns each)",
        per(el, N)
    );
    println!(
        "   sum = {} (expected {}); stacks mapped: {} (pooled and reused)\n",
        sum.load(Ordering::Relaxed),
        N * (N - 1) / 2,
        m.stacks_mapped
    );
}

/// Skynet: a tree of 1,111,111 goroutines, each spawning 10 children.
fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let sub = size / 10;
    let children: Vec<_> = (0..10)
        .map(|i| ferrogo::go(move || skynet(num + i * sub, sub)))
        .collect();
    children.into_iter().map(|h| h.join().unwrap()).sum()
}

fn skynet_stop() {
    let t = Instant::now();
    let sum = skynet(0, 1_000_000);
    let el = t.elapsed();
    println!(
        "2. skynet: 1,111,111 goroutines, 1,000,000 leaves, sum = {sum} (expected 499999500000)"
    );
    println!(
        "   in {el:.2?} ({:.0} ns per leaf) — within the default vm.max_map_count\n",
        per(el, 1_000_000)
    );
}

/// A call that blocks its OS thread runs on the blocking pool; the worker keeps
/// running other goroutines meanwhile.
fn blocking_stop() {
    let ticks = Arc::new(AtomicU64::new(0));
    let t2 = ticks.clone();
    let t = Instant::now();
    let sleeper =
        ferrogo::go(|| ferrogo::blocking(|| std::thread::sleep(Duration::from_millis(100))));
    let counter = ferrogo::go(move || {
        while t2.load(Ordering::Relaxed) < 1_000 {
            t2.fetch_add(1, Ordering::Relaxed);
            ferrogo::yield_now();
        }
    });
    sleeper.join().unwrap();
    counter.join().unwrap();
    println!(
        "3. blocking(): a 100 ms blocking sleep took {:.0?}, while another goroutine ticked {} times\n",
        t.elapsed(),
        ticks.load(Ordering::Relaxed)
    );
}

/// A panic stays inside its goroutine and comes back through `join`.
fn panic_stop() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // keep the tour's output tidy
    let h = ferrogo::Builder::new()
        .name("doomed")
        .spawn(|| -> u32 { panic!("something went wrong") })
        .unwrap();
    let err = h.join().unwrap_err();
    std::panic::set_hook(prev);
    let after = ferrogo::go(|| 42).join().unwrap();
    println!(
        "4. goroutine \"doomed\" panicked with {:?}; join returned it as Err, and the runtime lives on ({after})\n",
        err.downcast_ref::<&str>().unwrap()
    );
}

/// Introspection: who is alive and why they wait.
fn dump_stop() {
    let gate = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let gate = gate.clone();
            ferrogo::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    while gate.load(Ordering::Acquire) == 0 {
                        ferrogo::yield_now();
                    }
                })
                .unwrap()
        })
        .collect();
    let waiter = ferrogo::Builder::new()
        .name("waiter")
        .spawn(|| {
            ferrogo::go(|| std::thread::sleep(Duration::from_millis(20)))
                .join()
                .unwrap()
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    ferrogo::yield_now();
    let dump = ferrogo::debug::goroutines();
    println!(
        "5. goroutine dump ({} started goroutines, num_goroutine() = {}):",
        dump.len(),
        ferrogo::num_goroutine()
    );
    for g in &dump {
        println!(
            "   goroutine {} {:<10} [{}]",
            g.id,
            g.name.as_deref().unwrap_or("-"),
            g.wait_reason
        );
    }
    gate.store(1, Ordering::Release);
    for w in workers {
        w.join().unwrap();
    }
    waiter.join().unwrap();
}

fn per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}
