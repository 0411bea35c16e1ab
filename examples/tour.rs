//! A short tour of ferrogo: run it with `cargo run --release --example tour`.
//!
//! Each stop prints what it did and how long it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrogo::context::{self, Context};
use ferrogo::{JoinHandle, Receiver, select};

fn main() {
    // `run` makes this closure the main goroutine, like Go's `func main`.
    ferrogo::run(|| {
        let procs = ferrogo::debug::metrics().workers;
        println!("ferrogo tour — {procs} worker thread(s) (set FERROGO_MAXPROCS to change)\n");
        one_million_goroutines();
        skynet_stop();
        pipeline_stop();
        select_stop();
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

/// A pipeline: each stage is a goroutine that reads one channel and writes
/// the next, and the main goroutine sums what comes out of the last one.
/// Closing a channel (dropping its last sender) ends the stage after it.
fn pipeline_stop() {
    const N: u64 = 1_000_000;
    let t = Instant::now();
    let squares = square(generate(N));
    let (mut count, mut sum) = (0, 0);
    for x in squares {
        count += 1;
        sum += x;
    }
    let el = t.elapsed();
    println!("3. pipeline generate ─► square ─► sum, a goroutine per stage, channels of {BUFFER}:");
    println!(
        "   {count} numbers in {el:.2?} ({:.0} ns each), sum of squares = {sum} (expected {})\n",
        per(el, count),
        N * (N + 1) * (2 * N + 1) / 6
    );
}

/// The pipeline's channel buffers: each stage runs ahead in bursts instead of
/// handing over one number at a time (`chan(0)` works too, at more switches).
const BUFFER: usize = 256;

/// Sends 1..=n, then closes the channel (by dropping the sender on return).
fn generate(n: u64) -> Receiver<u64> {
    let (tx, rx) = ferrogo::chan(BUFFER);
    ferrogo::go(move || {
        for i in 1..=n {
            if tx.send(i).is_err() {
                return; // nobody is listening any more
            }
        }
    });
    rx
}

/// Squares what comes in until the input is closed, then closes its output.
fn square(input: Receiver<u64>) -> Receiver<u64> {
    let (tx, rx) = ferrogo::chan(BUFFER);
    ferrogo::go(move || {
        for x in input {
            if tx.send(x * x).is_err() {
                return;
            }
        }
    });
    rx
}

/// `select!` waits on several channels and a timer at once; a context's
/// deadline stops work that takes too long.
fn select_stop() {
    let t = Instant::now();
    // Both producers work under a context that expires after 200 ms.
    let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(200));
    let (fast, fast_job) = producer(&ctx, "fast", Duration::from_millis(10));
    let (slow, slow_job) = producer(&ctx, "slow", Duration::from_secs(1));
    let winner = select! {
        recv(fast) -> msg => msg.unwrap(),
        recv(slow) -> msg => msg.unwrap(),
        after(Duration::from_millis(100)) => "after(100 ms)",
    };
    println!(
        "4. select! fast (10 ms) vs slow (1 s) producer vs after(100 ms): {winner} won at {:.0?}",
        t.elapsed()
    );
    let winner = select! {
        recv(slow) -> msg => msg.unwrap(),
        after(Duration::from_millis(100)) => "after(100 ms)",
    };
    println!(
        "   select! slow producer vs after(100 ms): {winner} won at {:.0?}",
        t.elapsed()
    );
    fast_job.join().unwrap().unwrap();
    let err = slow_job.join().unwrap().unwrap_err();
    println!(
        "   context::with_timeout(200 ms) stopped the slow producer at {:.0?}: {err}\n",
        t.elapsed()
    );
    cancel.cancel(); // Go's `defer cancel()`: a context should always be cancelled when done
}

/// A producer's goroutine: `Err` with why if its context stopped it.
type Job = JoinHandle<Result<(), context::Error>>;

/// A goroutine that works for `cost`, then sends `name` — unless `ctx` is
/// done first, in which case it returns why.
fn producer(ctx: &Context, name: &'static str, cost: Duration) -> (Receiver<&'static str>, Job) {
    let ctx = ctx.clone();
    // Room for one message: the send never blocks, even if nobody listens.
    let (tx, rx) = ferrogo::chan(1);
    let job = ferrogo::go(move || {
        ctx.sleep(cost)?;
        let _ = tx.send(name);
        Ok(())
    });
    (rx, job)
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
        "5. blocking(): a 100 ms blocking sleep took {:.0?}, while another goroutine ticked {} times\n",
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
        "6. goroutine \"doomed\" panicked with {:?}; join returned it as Err, and the runtime lives on ({after})\n",
        err.downcast_ref::<&str>().unwrap()
    );
}

/// Introspection: who is alive and why they wait.
fn dump_stop() {
    // Four goroutines, each parked on a different primitive.
    let (tx, rx) = ferrogo::chan::<u32>(0);
    let lock = Arc::new(ferrogo::sync::Mutex::new(0u32));
    let held = lock.lock(); // main holds it, so "locker" must wait
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        ferrogo::Builder::new().name(name).spawn(f).unwrap()
    };
    let sleeper = spawn(
        "sleeper",
        Box::new(|| ferrogo::time::sleep(Duration::from_millis(50))),
    );
    let receiver = spawn("receiver", Box::new(move || assert_eq!(rx.recv(), Some(1))));
    let l2 = lock.clone();
    let locker = spawn("locker", Box::new(move || *l2.lock() += 1));
    let waiter = spawn("waiter", Box::new(move || sleeper.join().unwrap()));
    ferrogo::time::sleep(Duration::from_millis(10)); // let them all park

    let dump = ferrogo::debug::goroutines();
    println!(
        "7. goroutine dump: {} goroutines (num_goroutine() = {}), each with its wait reason:",
        dump.len(),
        ferrogo::num_goroutine()
    );
    for g in &dump {
        println!(
            "   goroutine {:>7} {:<9} [{}]",
            g.id,
            g.name.as_deref().unwrap_or("-"),
            g.wait_reason
        );
    }
    drop(held);
    tx.send(1).unwrap();
    for h in [receiver, locker, waiter] {
        h.join().unwrap();
    }
}

fn per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}
