//! Criterion benchmarks of the runtime core: the raw context switch the
//! runtime is built on, goroutine spawn+join, and yield ping-pong.
//!
//! `cargo bench --bench runtime`. Figures go to BENCHMARKS.md as ratios.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use criterion::{Criterion, criterion_group, criterion_main};

/// One resume + one suspend of a corosensei coroutine (a round trip: two switches).
fn raw_switch(c: &mut Criterion) {
    let mut coro: Coroutine<(), (), (), DefaultStack> = Coroutine::new(|y, ()| {
        loop {
            y.suspend(());
        }
    });
    c.bench_function("corosensei round trip (2 switches)", |b| {
        b.iter(|| {
            let r = coro.resume(());
            debug_assert!(matches!(r, CoroutineResult::Yield(())));
            black_box(r);
        })
    });
}

/// Benchmarks `body` as the main goroutine of a fresh runtime with `procs`
/// workers; `body` gets the iteration count and returns the time to charge.
fn on_runtime<F>(c: &mut Criterion, name: &str, procs: usize, body: F)
where
    F: Fn(u64) -> Duration + Copy + Send + 'static,
{
    let rt = ferrogo::Runtime::builder()
        .max_procs(procs)
        .build()
        .unwrap();
    c.bench_function(name, |b| b.iter_custom(|iters| rt.run(move || body(iters))));
}

/// Spawn a goroutine and join it, one at a time. At 2 workers the spawner's
/// worker stays saturated while the other idles: spilling's worst case
/// (`runtime/spill.rs`, its back-off).
fn spawn_join(c: &mut Criterion) {
    for procs in [1, 2] {
        let name = format!("spawn+join ({procs} worker(s), sequential)");
        on_runtime(c, &name, procs, |iters| {
            let t = Instant::now();
            for i in 0..iters {
                black_box(ferrogo::go(move || i).join().unwrap());
            }
            t.elapsed()
        });
    }
}

/// Two goroutines yielding to each other; time per yield.
fn yield_pingpong(c: &mut Criterion) {
    for procs in [1, 2] {
        let name = format!("yield ping-pong ({procs} workers), per yield");
        on_runtime(c, &name, procs, |iters| {
            let t = Instant::now();
            let a = ferrogo::go(move || (0..iters).for_each(|_| ferrogo::yield_now()));
            let b = ferrogo::go(move || (0..iters).for_each(|_| ferrogo::yield_now()));
            a.join().unwrap();
            b.join().unwrap();
            t.elapsed() / 2
        });
    }
}

/// Ping-pong through two channels of capacity `cap`: 0 is a rendezvous;
/// 1 is a buffered channel whose blocked side must not spin while its
/// counterpart can only run on its own worker (`chan::channel::spin_again`).
fn chan_pingpong(c: &mut Criterion) {
    for cap in [0, 1] {
        let name = format!("channel ping-pong (capacity {cap}, 1 worker), per round trip");
        on_runtime(c, &name, 1, move |iters| {
            let (ptx, prx) = ferrogo::chan::<u64>(cap);
            let (qtx, qrx) = ferrogo::chan::<u64>(cap);
            let echo = ferrogo::go(move || {
                while let Some(v) = prx.recv() {
                    qtx.send(v).unwrap();
                }
            });
            let t = Instant::now();
            for i in 0..iters {
                ptx.send(i).unwrap();
                qrx.recv().unwrap();
            }
            let d = t.elapsed();
            ptx.close();
            echo.join().unwrap();
            d
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = raw_switch, spawn_join, yield_pingpong, chan_pingpong
}
criterion_main!(benches);
