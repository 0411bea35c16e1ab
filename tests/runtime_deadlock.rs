//! Go's deadlock report, and no false reports while something outside the
//! runtime can still make progress. All scenarios run in child processes
//! before libtest's `main` (see `support::pre_main`: under libtest the
//! harness thread is always an unaccounted outside thread, so no report can
//! fire there).
//!
//! Note on join-only deadlocks: each `JoinHandle` is joined at most once, so
//! in the "who joins whom" graph every goroutine has at most one joiner; a
//! goroutine parked in `join` forever must lead into a join cycle, and a
//! cycle cannot be entered from outside it. Hence the main goroutine (or a
//! plain thread) can never be parked forever by `join` alone; the report
//! test below parks main on a channel receive next to a join cycle.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrogo::{Builder, JoinHandle, blocking, yield_now};
use support::run_child;

child_scenarios!(
    "join_cycle" => join_cycle,
    "blocking_sleep" => blocking_sleep,
    "plain_thread_flag" => plain_thread_flag,
);

type Slot = Arc<Mutex<Option<JoinHandle<()>>>>;

/// Waits (spin-yielding) for a handle to appear in `slot` and takes it.
fn take(slot: &Slot) -> JoinHandle<()> {
    loop {
        if let Some(h) = slot.lock().unwrap().take() {
            return h;
        }
        yield_now();
    }
}

/// Go:
/// ```go
/// func main() { ch := make(chan int); go a(); go b(); <-ch } // a, b wait on each other
/// ```
/// → `fatal error: all goroutines are asleep - deadlock!`, exit 2.
fn join_cycle() {
    ferrogo::run(|| {
        let (tx, rx) = ferrogo::chan::<()>(0);
        let (slot_a, slot_b): (Slot, Slot) = Default::default();
        let (sa, sb) = (slot_a.clone(), slot_b.clone());
        let alice = Builder::new()
            .name("alice")
            .spawn(move || {
                let _keep_sender = tx; // the channel stays open
                take(&sb).join().unwrap();
            })
            .unwrap();
        let bob = Builder::new()
            .name("bob")
            .spawn(move || take(&sa).join().unwrap())
            .unwrap();
        *slot_a.lock().unwrap() = Some(alice);
        *slot_b.lock().unwrap() = Some(bob);
        let _ = rx.recv();
        println!("UNREACHABLE: main received");
    });
}

#[test]
fn deadlock_is_reported() {
    let out = run_child(
        "deadlock_is_reported",
        "join_cycle",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .starts_with("fatal error: all goroutines are asleep - deadlock!"),
        "{out}"
    );
    assert!(out.stderr.contains("\"alice\" [join]:"), "{out}");
    assert!(out.stderr.contains("\"bob\" [join]:"), "{out}");
    assert!(out.stderr.contains("\"main\" [chan receive]:"), "{out}");
    assert_eq!(out.stderr.matches("\ngoroutine ").count(), 3, "{out}");
    assert!(!out.stdout.contains("UNREACHABLE"), "{out}");
    assert!(
        out.elapsed < Duration::from_secs(10),
        "report took {:?}",
        out.elapsed
    );
}

/// Main joins a goroutine parked in `blocking(sleep 300 ms)`: every
/// goroutine is parked, but the blocking pool will wake one. No report.
fn blocking_sleep() {
    let v = ferrogo::run(|| {
        ferrogo::go(|| {
            blocking(|| {
                std::thread::sleep(Duration::from_millis(300));
                7
            })
        })
        .join()
        .unwrap()
    });
    println!("DONE {v}");
}

#[test]
fn no_report_while_blocking_call_runs() {
    let out = run_child(
        "no_report_while_blocking_call_runs",
        "blocking_sleep",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(out.stdout.contains("DONE 7"), "{out}");
    assert!(!out.stderr.contains("deadlock"), "{out}");
}

/// A plain std thread sleeps 300 ms, then sets a flag the main goroutine
/// spin-yields on. No report.
fn plain_thread_flag() {
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f2.store(true, Ordering::SeqCst);
    });
    ferrogo::run(move || {
        while !flag.load(Ordering::SeqCst) {
            yield_now();
        }
    });
    t.join().unwrap();
    println!("DONE flag");
}

#[test]
fn no_report_while_plain_thread_runs() {
    let out = run_child(
        "no_report_while_plain_thread_runs",
        "plain_thread_flag",
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(out.stdout.contains("DONE flag"), "{out}");
    assert!(!out.stderr.contains("deadlock"), "{out}");
}

/// The same deadlock inside an ordinary `#[test]` (under libtest, like a
/// user's `cargo test`): Go's `go test` reports it; ferrogo hangs.
#[test]
#[ignore = "LIMITATION (by design, a false report is worse than a missed one): no deadlock report under libtest: the harness's main thread waits in an mpsc \
            receive for the test thread (even with --test-threads=1), is neither ferrogo's own nor parked in \
            ferrogo, so threads::outside() never reports all_accounted and the detector never fires; a \
            deadlocked `cargo test` hangs forever (here killed after 10 s)"]
fn deadlock_is_reported_under_libtest() {
    if support::child().as_deref() == Some("join_cycle_libtest") {
        join_cycle();
        return;
    }
    let out = run_child(
        "deadlock_is_reported_under_libtest",
        "join_cycle_libtest",
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("fatal error: all goroutines are asleep - deadlock!"),
        "{out}"
    );
}
