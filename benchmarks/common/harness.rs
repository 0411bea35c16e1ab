//! Shared by every Rust peer: argument parsing, median-of-N timing, /proc/self/status
//! reading and the one-line output format `name<TAB>peer<TAB>value<TAB>extra`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// `<bin> <workload> <size>`
pub fn args() -> (String, u64) {
    let mut a = std::env::args().skip(1);
    let w = a.next().unwrap_or_else(|| usage());
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| usage());
    (w, n)
}

fn usage() -> ! {
    eprintln!("usage: <bin> <workload> <size>");
    std::process::exit(2)
}

pub fn reps() -> usize {
    std::env::var("BENCH_REPS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(5)
}

/// Median of `reps()` runs; `f` returns the measured duration of one run.
pub fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..reps()).map(|_| f()).collect();
    v.sort();
    v[v.len() / 2]
}

/// Time a closure.
pub fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1.
pub fn proc_kib(field: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in s.lines() {
        if let Some(rest) = l.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            return rest.split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(-1);
        }
    }
    -1
}

pub fn hwm() -> String {
    format!("hwm={}MiB", proc_kib("VmHWM") / 1024)
}

/// The sleep workloads' extra field: wall, peak RSS above the baseline, the peak number of
/// goroutines/tasks asleep at once (sampled during the run), and RSS per sleeping one
/// (run.sh turns these into the table's `sleep-*-rss` and `sleep-*-rss/asleep` rows).
pub fn sleep_extra(n: u64, wall_ms: u128, rss_kib: i64, peak_asleep: u64) -> String {
    let per = if peak_asleep > 0 { rss_kib as f64 / peak_asleep as f64 } else { 0.0 };
    format!("n={n} wall_ms={wall_ms} peak_rss_delta={}MiB peak_asleep={peak_asleep} kib_per_asleep={per:.2}", rss_kib / 1024)
}

pub fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

pub fn emit(name: &str, peer: &str, value: f64, extra: &str) {
    use std::io::Write;
    println!("{name}\t{peer}\t{value:.2}\t{extra}");
    let _ = std::io::stdout().flush();
}

pub fn unknown(w: &str) -> ! {
    eprintln!("unknown or unsupported workload for this peer: {w}");
    std::process::exit(3)
}

/// Make any panic (in any thread, coroutine or worker) end the process at once with status
/// 101, so a run that dies in a worker (e.g. may's "failed to alloc sys stack") is reported
/// as a failure instead of leaving the main thread waiting until the timeout.
/// (may's generator wraps this hook and filters its own Cancel/Done unwinds first.)
pub fn exit_on_panic() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        prev(info);
        std::process::exit(101);
    }));
}
