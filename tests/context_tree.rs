//! Behaviours of Go's context tests (src/context/context_test.go),
//! re-implemented for `ferrogo::context`, at 1 and 2 workers and from plain
//! threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrogo::context::{self, Error};
use ferrogo::{chan, go, select};

const SLACK: Duration = Duration::from_secs(3);

mod support;
use support::for_procs;

// Go: TestCancelRemoves / XTestChildFinishesFirst — cancelling a parent
// cancels every descendant; cancelling a child never touches the parent.
#[test]
fn cancel_propagates_down_never_up() {
    for_procs(|| {
        let root = context::background();
        let (parent, cancel_parent) = context::with_cancel(&root);
        let (child, cancel_child) = context::with_cancel(&parent);
        let valued = context::with_value(&child, "k", 1u8);
        let (grandchild, _c) = context::with_timeout(&valued, Duration::from_secs(3600));

        cancel_child.cancel();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(grandchild.err(), Some(Error::Canceled));
        assert_eq!(parent.err(), None, "a child cancelled its parent");

        let (sibling, _cs) = context::with_cancel(&parent);
        cancel_parent.cancel();
        cancel_parent.cancel(); // idempotent
        assert_eq!(parent.err(), Some(Error::Canceled));
        assert_eq!(sibling.err(), Some(Error::Canceled));
        assert_eq!(root.err(), None);

        // A child of an already cancelled parent is born cancelled.
        let (late, _cl) = context::with_cancel(&parent);
        assert_eq!(late.err(), Some(Error::Canceled));
        assert!(
            late.done().recv().is_none(),
            "done of a cancelled context is closed"
        );
    });
}

// Go: TestDeadline / TestTimeout — the deadline fires with DeadlineExceeded;
// children inherit the earlier of their own and their parent's deadline.
#[test]
fn deadlines_fire_and_propagate() {
    for_procs(|| {
        let start = Instant::now();
        let (parent, _cp) =
            context::with_timeout(&context::background(), Duration::from_millis(20));
        let (child, _cc) = context::with_timeout(&parent, Duration::from_secs(3600));
        assert_eq!(
            child.deadline(),
            parent.deadline(),
            "child keeps the earlier deadline"
        );
        child.done().recv();
        let el = start.elapsed();
        assert!(el >= Duration::from_millis(20), "fired early: {el:?}");
        assert!(el < SLACK, "fired late: {el:?}");
        assert_eq!(child.err(), Some(Error::DeadlineExceeded));
        assert_eq!(parent.err(), Some(Error::DeadlineExceeded));
        assert_eq!(
            child.err().unwrap().to_string(),
            "context deadline exceeded"
        );

        // A deadline already past: done at once.
        let (past, _c) = context::with_deadline(
            &context::background(),
            Instant::now() - Duration::from_secs(1),
        );
        assert_eq!(past.err(), Some(Error::DeadlineExceeded));

        // Cancelling before the deadline reports Canceled, and the timer does not change it.
        let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
        cancel.cancel();
        ferrogo::time::sleep(Duration::from_millis(20));
        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert_eq!(Error::Canceled.to_string(), "context canceled");

        // Duration::MAX: no deadline, no overflow.
        let (forever, _cf) = context::with_timeout(&context::background(), Duration::MAX);
        assert_eq!(forever.deadline(), None);
        assert_eq!(forever.err(), None);
    });
}

// Closing `done` wakes every listener, goroutines and threads alike.
#[test]
fn done_wakes_every_listener() {
    for_procs(|| {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let woke = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..100 {
            let (ctx, woke) = (ctx.clone(), woke.clone());
            hs.push(go(move || {
                let (_tx, work) = chan::<u8>(0);
                select! {
                    recv(work) -> _ => unreachable!("no work is ever sent"),
                    recv(ctx.done()) -> _ => { woke.fetch_add(1, Ordering::SeqCst); }
                }
            }));
        }
        let (ctx2, woke2) = (ctx.clone(), woke.clone());
        let thread = std::thread::spawn(move || {
            ctx2.done().recv();
            woke2.fetch_add(1, Ordering::SeqCst);
        });
        ferrogo::time::sleep(Duration::from_millis(10));
        cancel.cancel();
        for h in hs {
            h.join().unwrap();
        }
        thread.join().unwrap();
        assert_eq!(woke.load(Ordering::SeqCst), 101);
    });
}

// Go: TestValues — lookups walk up through cancel and value nodes; the
// nearest binding wins; keys compare by type and value.
#[test]
fn values_are_found_through_the_tree() {
    #[derive(PartialEq)]
    struct User;
    #[derive(PartialEq)]
    struct Trace(u8);
    let root = context::background();
    let a = context::with_value(&root, User, String::from("ada"));
    let (b, _c) = context::with_cancel(&a);
    let c = context::with_value(&b, Trace(1), 10u32);
    let d = context::with_value(&c, User, String::from("grace"));
    assert_eq!(
        c.value::<User, String>(&User).map(String::as_str),
        Some("ada")
    );
    assert_eq!(
        d.value::<User, String>(&User).map(String::as_str),
        Some("grace")
    );
    assert_eq!(d.value::<Trace, u32>(&Trace(1)), Some(&10));
    assert_eq!(
        d.value::<Trace, u32>(&Trace(2)),
        None,
        "different key value"
    );
    assert_eq!(d.value::<User, u32>(&User), None, "different value type");
    assert_eq!(root.value::<User, String>(&User), None);
}

// Context-aware blocking operations return the context's error, hand values back.
#[test]
fn context_aware_operations() {
    for_procs(|| {
        let (tx, rx) = chan::<u32>(0);
        let (ctx, cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(10));
        let t = Instant::now();
        assert_eq!(rx.recv_ctx(&ctx), Err(Error::DeadlineExceeded));
        assert!(t.elapsed() >= Duration::from_millis(10));
        cancel.cancel();

        // A value arrives before the deadline.
        let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_secs(5));
        let tx2 = tx.clone();
        let h = go(move || tx2.send(7).unwrap());
        assert_eq!(rx.recv_ctx(&ctx), Ok(Some(7)));
        h.join().unwrap();

        // send_ctx hands the value back when the context ends first.
        let (ctx, cancel) = context::with_cancel(&context::background());
        let c2 = cancel.clone();
        let canceller = go(move || {
            ferrogo::time::sleep(Duration::from_millis(5));
            c2.cancel();
        });
        match tx.send_ctx(99, &ctx) {
            Err(context::SendCtxError::Done(v, Error::Canceled)) => assert_eq!(v, 99),
            other => panic!("unexpected {other:?}"),
        }
        canceller.join().unwrap();
        drop(cancel);

        // sleep: completes, or stops at cancellation.
        let (ctx, cancel) = context::with_cancel(&context::background());
        assert_eq!(ctx.sleep(Duration::from_millis(2)), Ok(()));
        cancel.cancel();
        let t = Instant::now();
        assert_eq!(ctx.sleep(Duration::from_secs(3600)), Err(Error::Canceled));
        assert!(t.elapsed() < SLACK);

        // Closed channel: Ok(None).
        drop(tx);
        let (ctx, _c) = context::with_cancel(&context::background());
        assert_eq!(rx.recv_ctx(&ctx), Ok(None));
    });
}

// A long-lived parent does not accumulate cancelled children: cancelling a
// child unregisters it (memory stays flat over many short-lived children).
#[test]
fn many_short_lived_children() {
    for_procs(|| {
        let (parent, cancel_parent) = context::with_cancel(&context::background());
        for _ in 0..20_000 {
            let (child, cancel) = context::with_timeout(&parent, Duration::from_secs(3600));
            cancel.cancel();
            assert!(child.err().is_some());
        }
        cancel_parent.cancel();
        assert_eq!(parent.err(), Some(Error::Canceled));
    });
}
