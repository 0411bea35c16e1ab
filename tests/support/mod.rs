//! Shared helpers for the runtime integration tests (`tests/runtime_*.rs`).
//!
//! * [`for_procs`] runs a scheduling test on a fresh runtime with 1 and then
//!   2 workers.
//! * [`child`] / [`run_child`] implement the child-process pattern for
//!   scenarios that end the process (deadlock report, stack exhaustion, stack
//!   overflow, unjoined panics): the test re-executes its own binary, running
//!   only itself, with `FERROGO_CHILD` set to the scenario's name.
//! * [`wait_until`] polls a condition with a bound, never sleeping unbounded.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ferrogo::Runtime;

/// The env var that tells a re-executed test binary which scenario to run.
pub const CHILD_ENV: &str = "FERROGO_CHILD";

/// Worker counts every scheduling test runs at.
pub const PROCS: [usize; 2] = [1, 2];

/// A runtime with `n` workers.
pub fn runtime(n: usize) -> Runtime {
    Runtime::builder()
        .max_procs(n)
        .build()
        .expect("build runtime")
}

/// Runs `f` on a fresh runtime with 1 worker, then with 2 workers. Each
/// runtime is dropped (its workers joined) before the next is built.
pub fn for_procs(mut f: impl FnMut(&Runtime)) {
    let _w = watchdog(HANG_LIMIT);
    for n in PROCS {
        let rt = runtime(n);
        assert_eq!(rt.max_procs(), n);
        f(&rt);
    }
}

/// How long one test may take before [`watchdog`] ends the process.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);

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
