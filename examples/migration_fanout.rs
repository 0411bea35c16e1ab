//! What the `unsafe` `RuntimeBuilder::allow_migration` opt-in buys: a
//! fan-out whose consumers all started on one worker.
//!
//! One producer (the main goroutine) spawns `CONSUMERS` goroutines, waiting
//! for each to start, so every one starts on the producer's worker (a new
//! goroutine runs next on its spawner's worker). Then, round after round, it
//! hands each consumer a job of `WORK` spin iterations and collects the
//! answers. By default a started goroutine never leaves its first worker, so
//! the whole fan-out runs on one of the two workers; with migration, the
//! consumers the producer wakes are taken by the idle worker.
//!
//! Both modes run in one process, alternately, and the medians are printed
//! with their ratio (the machine is shared: compare within one run). Two job
//! sizes by default, as the gain depends on the job: every round hands work
//! and answers across workers. On a quiet 2-vCPU VM the migrating runtime
//! ran the fan-out 1.4x faster with ~6 µs jobs and 1.85x with ~55 µs jobs;
//! while another process kept one CPU busy it was *slower* (0.6x-0.8x): a
//! consumer woken onto a worker whose thread is descheduled waits for it.
//!
//! ```text
//! cargo run --release --example migration_fanout [spins-per-job] [reps]
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrogo::{Runtime, chan, go};

/// Consumers the producer fans out to.
const CONSUMERS: usize = 8;
/// Spin iterations per job in the default runs (~1.5 ns each here).
const WORK: [u64; 2] = [4_000, 40_000];
/// Jobs per run: `rounds = JOBS_TIMES_WORK / (work * CONSUMERS)`.
const JOBS_TIMES_WORK: u64 = 100_000_000;

/// The calling thread's name, read out of line (the `allow_migration`
/// contract: no thread-local touched both before and after a blocking call
/// in one function).
#[inline(never)]
fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

/// `n` iterations of work that is not optimised away.
fn spin(seed: u64, n: u64) -> u64 {
    let mut x = seed;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

/// One timed run; returns the elapsed time, the checksum, how many consumers
/// started on the producer's worker, and how many threads ran consumers.
fn fanout(rt: &Runtime, work: u64, rounds: u64) -> (Duration, u64, usize, usize) {
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let t = threads.clone();
    let (elapsed, sum, same_start) = rt.run(move || {
        let producer = thread_name();
        let (res_tx, res_rx) = chan::<u64>(CONSUMERS);
        let (started_tx, started_rx) = chan::<String>(0);
        let mut jobs = Vec::new();
        let mut same_start = 0;
        for _ in 0..CONSUMERS {
            let (job_tx, job_rx) = chan::<u64>(1);
            let (res_tx, started_tx, t) = (res_tx.clone(), started_tx.clone(), t.clone());
            go(move || {
                started_tx.send(thread_name()).unwrap();
                let mut mine = HashSet::new();
                for job in &job_rx {
                    mine.insert(thread_name());
                    res_tx.send(spin(job, work)).unwrap();
                }
                t.lock().unwrap().extend(mine);
            });
            // Wait until it has started (on this worker: it ran next).
            if started_rx.recv().unwrap() == producer {
                same_start += 1;
            }
            jobs.push(job_tx);
        }
        let start = Instant::now();
        let mut sum = 0u64;
        for r in 0..rounds {
            for (i, job) in jobs.iter().enumerate() {
                job.send(r * CONSUMERS as u64 + i as u64).unwrap();
            }
            for _ in 0..CONSUMERS {
                sum = sum.wrapping_add(res_rx.recv().unwrap());
            }
        }
        let elapsed = start.elapsed();
        drop(jobs);
        drop(res_tx);
        // Wait for the consumers to record their threads.
        while res_rx.recv().is_some() {}
        (elapsed, sum, same_start)
    });
    let n = threads.lock().unwrap().len();
    (elapsed, sum, same_start, n)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let works: Vec<u64> = match args.next().and_then(|s| s.parse().ok()) {
        Some(w) => vec![w],
        None => WORK.to_vec(),
    };
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);

    let pinned = Runtime::builder().max_procs(2).build().unwrap();
    // SAFETY: the goroutines of this program keep only `Send` values
    // (channels, integers, `Arc`s, owned `String`s) across blocking calls and
    // read thread identity only through `thread_name`, out of line.
    let migrating = unsafe { Runtime::builder().max_procs(2).allow_migration() }
        .build()
        .unwrap();

    for work in works {
        let rounds = (JOBS_TIMES_WORK / (work * CONSUMERS as u64)).max(1);
        let mut times = [Vec::new(), Vec::new()];
        let mut detail = [(0, 0), (0, 0)];
        let mut sums = [0, 0];
        for _ in 0..reps {
            for (k, rt) in [&pinned, &migrating].into_iter().enumerate() {
                let (d, sum, same_start, threads) = fanout(rt, work, rounds);
                times[k].push(d);
                detail[k] = (same_start, threads);
                sums[k] = sum;
            }
        }
        assert_eq!(sums[0], sums[1], "both modes compute the same answers");
        let jobs = rounds * CONSUMERS as u64;
        let [a, b] = [median(times[0].clone()), median(times[1].clone())];
        for (name, d, (same, threads)) in
            [("default", a, detail[0]), ("allow_migration", b, detail[1])]
        {
            println!(
                "fanout {work:>6} spins/job  {name:<16} {:>8.0} ns/job   {same}/{CONSUMERS} consumers started on the producer's worker, ran on {threads} thread(s)",
                d.as_nanos() as f64 / jobs as f64
            );
        }
        println!(
            "fanout {work:>6} spins/job  default / allow_migration = {:.2}x  ({CONSUMERS} consumers x {rounds} rounds, median of {reps}, 2 workers)",
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}
