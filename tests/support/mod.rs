//! Shared helpers for the integration tests (`tests/*.rs`; one module, used
//! by every file that needs one).
//!
//! * [`for_procs`] runs a test as the main goroutine of a fresh runtime with
//!   1 and then 2 workers; [`for_each_runtime`] hands the test each runtime
//!   instead, for tests that drive it from a plain thread (`rt.spawn`,
//!   several `rt.run`s, `rt.num_goroutine()`). Both arm a [`watchdog`].
//! * [`child`] / [`run_child`] implement the child-process pattern for
//!   scenarios that end the process (deadlock report, stack exhaustion, stack
//!   overflow, unjoined panics): the test re-executes its own binary, running
//!   only itself, with `FERROGO_CHILD` set to the scenario's name.
//! * [`wait_until`] polls a condition with a bound, never sleeping unbounded;
//!   [`settle`] lets other goroutines run and block; [`within_slack`] bounds
//!   "should be quick" generously.
//! * [`DropCounter`] counts drops, for "no value lost or duplicated" checks.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ferrogo::Runtime;

/// The env var that tells a re-executed test binary which scenario to run.
pub const CHILD_ENV: &str = "FERROGO_CHILD";

/// Worker counts every scheduling test runs at.
pub const PROCS: [usize; 2] = [1, 2];

/// Set to `1` to build every runtime of [`runtime`] (so of [`for_procs`] and
/// [`for_each_runtime`]) with the `unsafe` `allow_migration` opt-in:
/// `FERROGO_TEST_MIGRATE=1 cargo test --release` runs the scheduling tests
/// with goroutines that move between workers.
pub const MIGRATE_ENV: &str = "FERROGO_TEST_MIGRATE";

/// True when [`runtime`] builds migrating runtimes (`FERROGO_TEST_MIGRATE=1`).
pub fn migrating() -> bool {
    std::env::var(MIGRATE_ENV).is_ok_and(|v| v == "1")
}

/// A runtime with `n` workers (migrating with `FERROGO_TEST_MIGRATE=1`).
pub fn runtime(n: usize) -> Runtime {
    let b = Runtime::builder().max_procs(n);
    let b = if migrating() {
        // SAFETY: the suite's goroutines keep only `Send` values across
        // blocking calls and reach thread-locals only through std functions
        // that are not inlined into them (checked by running it so).
        unsafe { b.allow_migration() }
    } else {
        b
    };
    b.build().expect("build runtime")
}

/// Runs `f` as the main goroutine of a fresh runtime with 1 worker, then
/// with 2 workers (Go's deadlock detector is armed while it runs).
pub fn for_procs<F>(f: F)
where
    F: Fn() + Send + Sync + Clone + 'static,
{
    for_each_runtime(|rt| rt.run(f.clone()));
}

/// Runs `f` on a fresh runtime with 1 worker, then with 2 workers, from this
/// plain thread. Each runtime is dropped (its workers joined) before the next
/// is built.
pub fn for_each_runtime(mut f: impl FnMut(&Runtime)) {
    let _w = watchdog(hang_limit());
    for n in PROCS {
        let rt = runtime(n);
        assert_eq!(rt.max_procs(), n);
        f(&rt);
    }
}

/// How long one test may take before [`watchdog`] ends the process.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);

/// [`HANG_LIMIT`], or `FERROGO_TEST_HANG_SECS` seconds if set (instrumented
/// runs such as ThreadSanitizer are many times slower).
pub fn hang_limit() -> Duration {
    std::env::var("FERROGO_TEST_HANG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(HANG_LIMIT, Duration::from_secs)
}

/// Ends the whole test process (status 3, naming the test) if the returned
/// guard is not dropped within `limit`: a hang in the runtime fails the
/// suite instead of stalling it forever.
pub fn watchdog(limit: Duration) -> Watchdog {
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!(
                "\nWATCHDOG: test `{name}` still running after {limit:?}: the runtime hangs; aborting"
            );
            std::process::exit(3);
        }
    });
    Watchdog(tx)
}

/// Disarms the watchdog when dropped.
pub struct Watchdog(std::sync::mpsc::Sender<()>);

/// Joins `h` on a helper thread, panicking (instead of hanging) if it has not
/// finished within `limit`.
pub fn join_within<T: Send + 'static>(
    h: ferrogo::JoinHandle<T>,
    limit: Duration,
) -> std::thread::Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("join did not return within {limit:?}"))
}

/// Polls `cond` every millisecond until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The scenario this process must run, if it is a re-executed child.
pub fn child() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// What a child process did.
#[derive(Debug)]
pub struct ChildOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ChildOutput {
    /// The exit code, `None` if killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the child, if any.
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal()
    }
}

impl std::fmt::Display for ChildOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?} after {:?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.status, self.elapsed, self.stderr, self.stdout
        )
    }
}

/// Re-executes this test binary running only `test` (which must be the full
/// test path as libtest names it, e.g. `deadlock_report`) with
/// `FERROGO_CHILD=<scenario>` plus `extra_env`. Kills the child and panics if
/// it has not exited within `limit`.
pub fn run_child(
    test: &str,
    scenario: &str,
    extra_env: &[(&str, &str)],
    limit: Duration,
) -> ChildOutput {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ])
    .env(CHILD_ENV, scenario)
    .env_remove("RUST_BACKTRACE")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut proc = cmd.spawn().expect("spawn child test process");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = proc.stdout.take().expect("stdout");
    let mut err = proc.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        match proc.try_wait().expect("try_wait") {
            Some(st) => break st,
            None if start.elapsed() > limit => {
                let _ = proc.kill();
                let _ = proc.wait();
                let stderr = t_err.join().unwrap_or_default();
                let stdout = t_out.join().unwrap_or_default();
                panic!(
                    "child scenario {scenario:?} of {test} did not exit within {limit:?}; killed\n\
                     --- stderr ---\n{stderr}\n--- stdout ---\n{stdout}"
                );
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = start.elapsed();
    ChildOutput {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        elapsed,
    }
}

/// Runs a child scenario *before* libtest's `main`, if this process was
/// started for one of `scenarios` (by name, in `FERROGO_CHILD`), then exits:
/// status 0 if the scenario returned, 101 if it panicked. Returns at once in
/// a normal test run.
///
/// Why before `main`: the deadlock and stack-exhaustion detectors act only
/// when every thread of the process is ferrogo's own or parked in ferrogo.
/// Under libtest the harness's main thread sits in an `mpsc` receive waiting
/// for the test thread (even with `--test-threads=1`), which ferrogo cannot
/// account for, so no report can ever fire there. A function in
/// `.init_array` (the `ctor` technique) runs on the process's main thread
/// before libtest starts, with std fully usable on Linux/glibc.
///
/// Register with [`child_scenarios!`].
pub fn pre_main(scenarios: &[(&str, fn())]) {
    let Ok(name) = std::env::var(CHILD_ENV) else {
        return;
    };
    let Some((_, f)) = scenarios.iter().find(|(n, _)| *n == name) else {
        return;
    };
    let r = std::panic::catch_unwind(*f);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(if r.is_ok() { 0 } else { 101 });
}

/// Declares the scenarios a test file runs before libtest's `main` (see
/// [`pre_main`]): `child_scenarios!("name" => function, ...);`
#[macro_export]
macro_rules! child_scenarios {
    ($($name:literal => $f:path),* $(,)?) => {
        #[used]
        #[unsafe(link_section = ".init_array")]
        static FERROGO_CHILD_INIT: extern "C" fn() = {
            extern "C" fn init() {
                $crate::support::pre_main(&[$(($name, $f as fn())),*]);
            }
            init
        };
    };
}

/// Generous bound for "this should be quick" assertions on a loaded 2-core VM.
pub const SLACK: Duration = Duration::from_secs(10);

/// Panics if `f` takes longer than `SLACK`.
pub fn within_slack<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    assert!(start.elapsed() < SLACK, "{what} took {:?}", start.elapsed());
    v
}

/// Gives other goroutines a chance to run and block (a few yields and a short sleep).
pub fn settle() {
    for _ in 0..10 {
        ferrogo::yield_now();
    }
    // Parks the goroutine (not the worker) for a moment: a nil-channel timeout.
    let _ = ferrogo::never::<()>().recv_timeout(Duration::from_millis(5));
}

/// A value that counts its drops in a shared counter.
#[derive(Debug)]
pub struct DropCounter {
    pub id: usize,
    pub drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
