//! The public channel contract: constructors, errors that hand values back,
//! close semantics, drop accounting, ZSTs, iterators, `never()`, `select!`
//! syntax and semantics, and the dynamic `Select` builder.
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrogo::{
    RecvTimeoutError, Select, SendError, SendTimeoutError, TryRecvError, TrySendError, chan, go,
    never, select,
};
use support::{DropCounter, for_procs, settle};

/// A type without `Debug`, to prove the errors do not need it.
struct Opaque(#[allow(dead_code)] u32);

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn auto_traits() {
    assert_send_sync::<ferrogo::Sender<u8>>();
    assert_send_sync::<ferrogo::Receiver<u8>>();
    assert_send_sync::<SendError<u8>>();
    assert_send_sync::<TrySendError<u8>>();
    assert_send_sync::<SendTimeoutError<u8>>();
    assert_send_sync::<TryRecvError>();
    assert_send_sync::<RecvTimeoutError>();
}

#[test]
fn errors_hand_values_back() {
    for_procs(|| {
        let (tx, rx) = chan::<String>(1);
        tx.send("a".into()).unwrap();
        assert_eq!(tx.try_send("b".into()).unwrap_err().into_inner(), "b");
        let e = tx
            .send_timeout("c".into(), Duration::from_millis(1))
            .unwrap_err();
        assert!(e.is_timeout());
        assert_eq!(e.into_inner(), "c");
        tx.close();
        assert_eq!(tx.send("d".into()).unwrap_err().0, "d");
        assert!(matches!(tx.try_send("e".into()), Err(TrySendError::Closed(s)) if s == "e"));
        assert!(matches!(
            tx.send_timeout("f".into(), Duration::MAX),
            Err(SendTimeoutError::Closed(s)) if s == "f"
        ));
        assert_eq!(rx.recv().as_deref(), Some("a"));
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(
            rx.recv_timeout(Duration::MAX),
            Err(RecvTimeoutError::Closed)
        );
    });
}

#[test]
fn errors_debug_display_error() {
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(SendError(Opaque(1)));
    assert_eq!(e.to_string(), "send on closed channel");
    assert_eq!(format!("{:?}", SendError(Opaque(1))), "SendError(..)");
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque(1))), "Full(..)");
    assert_eq!(
        format!("{:?}", SendTimeoutError::Timeout(Opaque(1))),
        "Timeout(..)"
    );
    assert_eq!(TrySendError::Full(()).to_string(), "send on full channel");
    assert_eq!(TryRecvError::Empty.to_string(), "receive on empty channel");
    assert_eq!(
        RecvTimeoutError::Timeout.to_string(),
        "timed out receiving on channel"
    );
    let (tx, _rx) = chan::<Opaque>(0);
    let _ = format!("{tx:?}");
    // `unwrap` compiles for a non-Debug T.
    let (tx, rx) = chan::<Opaque>(1);
    tx.send(Opaque(2)).unwrap();
    drop(rx);
}

#[test]
fn sends_fail_once_receivers_are_gone() {
    for_procs(|| {
        let (tx, rx) = chan::<u32>(0);
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed());
        let blocked = go({
            let tx = tx.clone();
            move || tx.send(5)
        });
        settle();
        drop(rx2);
        assert_eq!(blocked.join().unwrap().unwrap_err().0, 5);
        assert!(tx.is_closed());
        assert_eq!(tx.send(6), Err(SendError(6)));
    });
}

#[test]
fn close_is_idempotent_and_is_closed_while_buffered() {
    let (tx, rx) = chan::<u8>(3);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(!rx.is_closed());
    tx.close();
    tx.close();
    rx.close();
    assert!(rx.is_closed());
    assert_eq!((rx.len(), rx.cap()), (2, 3));
    assert_eq!(rx.recv(), Some(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv(), None);
    assert!(rx.is_empty());
}

#[test]
fn last_sender_drop_closes() {
    for_procs(|| {
        let (tx, rx) = chan::<u8>(0);
        let tx2 = tx.clone();
        drop(tx);
        assert!(!rx.is_closed());
        let h = go(move || rx.recv());
        settle();
        drop(tx2);
        assert_eq!(h.join().unwrap(), None);
    });
}

#[test]
fn close_hands_blocked_senders_their_values() {
    for_procs(|| {
        let (tx, rx) = chan::<u32>(0);
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let tx = tx.clone();
                go(move || tx.send(i))
            })
            .collect();
        settle();
        rx.close();
        let mut back: Vec<u32> = hs
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_err().into_inner())
            .collect();
        back.sort();
        assert_eq!(back, [0, 1, 2, 3]);
    });
}

#[test]
fn buffered_values_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mk = |id| DropCounter {
        id,
        drops: drops.clone(),
    };
    {
        let (tx, rx) = chan(8);
        for i in 0..5 {
            tx.send(mk(i)).unwrap();
        }
        let got = rx.recv().unwrap();
        assert_eq!(got.id, 0);
        drop(got);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(rx);
        // The sender still holds the channel: values stay until the last handle.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // A failed send hands the value back: dropping it counts once.
        let back = tx.send(mk(9)).unwrap_err().into_inner();
        assert_eq!(back.id, 9);
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn unselected_send_case_is_dropped_not_sent() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = chan(1);
    tx.send(DropCounter {
        id: 0,
        drops: drops.clone(),
    })
    .unwrap();
    let took_default = select! {
        send(tx, DropCounter { id: 1, drops: drops.clone() }) -> _ => false,
        default => true,
    };
    assert!(took_default);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the unsent value is dropped once"
    );
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.recv().unwrap().id, 0);
    assert_eq!(rx.try_recv().map(|d| d.id), Err(TryRecvError::Empty));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn zero_sized_types() {
    // A ZST channel never allocates a buffer, whatever its capacity.
    let (tx, rx) = chan::<()>(usize::MAX);
    for _ in 0..100_000 {
        tx.send(()).unwrap();
    }
    assert_eq!(rx.len(), 100_000);
    assert_eq!(rx.try_iter().count(), 100_000);
    let (tx, rx) = chan::<[u64; 0]>(0);
    let h = go(move || tx.send([]).unwrap());
    assert_eq!(rx.recv(), Some([]));
    h.join().unwrap();
}

#[test]
fn iterators() {
    for_procs(|| {
        let (tx, rx) = chan(2);
        let h = go(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
            }
        });
        let mut v = vec![];
        for x in &rx {
            v.push(x);
        }
        h.join().unwrap();
        assert_eq!(v, (0..10).collect::<Vec<_>>());
        let (tx, rx) = chan(3);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
        tx.send(3).unwrap();
        drop(tx);
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), [3]);
    });
}

#[test]
fn never_is_never_ready() {
    let rx = never::<u8>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let t = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert!(!rx.is_closed());
    assert_eq!((rx.len(), rx.cap()), (0, 0));
    rx.close(); // no-op
    let rx2 = rx.clone();
    let (tx, ready) = chan::<u8>(1);
    tx.send(3).unwrap();
    for _ in 0..100 {
        let v = select! {
            recv(rx) -> _ => unreachable!(),
            recv(ready) -> v => v,
            default => None,
        };
        assert!(v == Some(3) || v.is_none());
    }
    let t = Instant::now();
    let timed_out = select! {
        recv(rx) -> _ => false,
        recv(rx2) -> _ => false,
        after(Duration::from_millis(20)) => true,
    };
    assert!(timed_out && t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn timeouts_wait_and_duration_max_does_not_overflow() {
    for_procs(|| {
        let (tx, rx) = chan::<u8>(0);
        let t = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(30)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        let t = Instant::now();
        assert!(
            tx.send_timeout(1, Duration::from_millis(30))
                .unwrap_err()
                .is_timeout()
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        // Nothing was left queued by the timed-out operations.
        assert!(tx.try_send(1).is_err());
        let h = go(move || rx.recv_timeout(Duration::MAX));
        tx.send_timeout(7, Duration::MAX).unwrap();
        assert_eq!(h.join().unwrap(), Ok(7));
        let (_tx2, rx2) = chan::<u8>(0);
        let mut sel = Select::new();
        sel.recv(&rx2);
        assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
        // `after(Duration::MAX)` means "no timeout".
        let (tx3, rx3) = chan::<u8>(1);
        tx3.send(1).unwrap();
        let v = select! {
            recv(rx3) -> v => v,
            after(Duration::MAX) => None,
        };
        assert_eq!(v, Some(1));
    });
}

#[test]
fn select_is_an_expression_with_loop_control() {
    let (tx, rx) = chan::<u32>(16);
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    tx.close();
    let mut evens = 0;
    let mut seen = 0;
    let total = loop {
        let v = select! {
            recv(rx) -> v => match v {
                Some(v) => v,
                None => break seen,
            },
        };
        seen += 1;
        if v % 2 == 1 {
            continue;
        }
        evens += 1;
    };
    assert_eq!((total, evens), (10, 5));

    // `after(ZERO)` acts like `default`; trailing commas and blocks both parse.
    let (_tx, rx) = chan::<u8>(0);
    let x = select! {
        recv(rx) -> _ => { 1 }
        after(Duration::ZERO) => { 2 }
    };
    assert_eq!(x, 2);
    // No cases and a default.
    let y: i32 = select! { default => 3 };
    assert_eq!(y, 3);
    // `?` in an arm acts on the enclosing function.
    fn first(rx: &ferrogo::Receiver<u8>) -> Option<u8> {
        let v = select! { recv(rx) -> v => v? };
        Some(v + 1)
    }
    let (tx, rx) = chan(1);
    tx.send(1).unwrap();
    assert_eq!(first(&rx), Some(2));
    drop(tx);
    assert_eq!(first(&rx), None);
}

#[test]
fn select_send_and_recv_cases() {
    for_procs(|| {
        let (tx, rx) = chan::<u32>(0);
        let h = go(move || rx.recv());
        let r = select! {
            send(tx, 5) -> res => res,
            after(Duration::from_secs(10)) => panic!("timed out"),
        };
        assert_eq!(r, Ok(()));
        assert_eq!(h.join().unwrap(), Some(5));
        // Receiver gone: the send case is ready and hands the value back.
        let r = select! { send(tx, 6) -> res => res };
        assert_eq!(r, Err(SendError(6)));
        // Temporaries in channel expressions live for the whole select.
        fn make() -> ferrogo::Receiver<u8> {
            let (tx, rx) = chan(1);
            tx.send(4).unwrap();
            rx
        }
        let v = select! { recv(make()) -> v => v };
        assert_eq!(v, Some(4));
        // `&rx` and `rx` both work; the closed channel is always ready.
        let (tx2, rx2) = chan::<u8>(0);
        drop(tx2);
        let r = &rx2;
        let v = select! { recv(r) -> v => v, after(Duration::from_secs(10)) => Some(9) };
        assert_eq!(v, None);
    });
}

#[test]
fn select_biased_prefers_first() {
    let (tx1, rx1) = chan(100);
    let (tx2, rx2) = chan(100);
    for i in 0..100 {
        tx1.send(i).unwrap();
        tx2.send(i).unwrap();
    }
    for _ in 0..100 {
        let first = select! {
            biased;
            recv(rx1) -> _ => true,
            recv(rx2) -> _ => false,
        };
        assert!(first);
    }
    let mut sel = Select::new_biased();
    let b = sel.recv(&rx2);
    sel.recv(&rx1);
    for _ in 0..100 {
        let op = sel.select();
        assert_eq!(op.index(), b);
        assert!(op.recv(&rx2).is_some());
    }
}

#[test]
fn dynamic_select_builder() {
    for_procs(|| {
        let n = 8;
        let chans: Vec<_> = (0..n).map(|_| chan::<usize>(0)).collect();
        let rxs: Vec<_> = chans.iter().map(|(_, rx)| rx.clone()).collect();
        let hs: Vec<_> = chans
            .into_iter()
            .enumerate()
            .map(|(i, (tx, _))| {
                go(move || {
                    for k in 0..10 {
                        tx.send(i * 100 + k).unwrap();
                    }
                })
            })
            .collect();
        let mut sel = Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        let mut sum = 0;
        let mut closed = 0;
        // One Select reused for every round; closed channels stay ready (None).
        let mut got = 0;
        while got < n * 10 {
            let op = sel.select();
            let i = op.index();
            match op.recv(&rxs[i]) {
                Some(v) => {
                    assert_eq!(v / 100, i);
                    sum += v;
                    got += 1;
                }
                None => closed += 1,
            }
        }
        for h in hs {
            h.join().unwrap();
        }
        let _ = closed;
        assert_eq!(sum, (0..n).map(|i| i * 1000 + 45).sum::<usize>());

        // Send cases: a committed send case is spent, the other keeps its value.
        let (tx1, rx1) = chan::<&str>(1);
        let (tx2, rx2) = chan::<&str>(1);
        let mut sel = Select::new_biased();
        let a = sel.send(&tx1, "one");
        let b = sel.send(&tx2, "two");
        let op = sel.try_select().unwrap();
        assert_eq!(op.index(), a);
        op.send(&tx1).unwrap();
        let op = sel.try_select().unwrap();
        assert_eq!(op.index(), b);
        op.send(&tx2).unwrap();
        assert!(sel.try_select().is_err(), "both send cases are spent");
        assert_eq!((rx1.recv(), rx2.recv()), (Some("one"), Some("two")));
    });
}

#[test]
#[should_panic(expected = "not selected")]
fn selected_operation_checks_the_handle() {
    let (tx, rx) = chan::<u8>(1);
    let (_tx2, rx2) = chan::<u8>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.recv(&rx2);
    let op = sel.select();
    let _ = op.recv(&rx2);
}

#[test]
fn empty_select_with_timeout() {
    let t = Instant::now();
    let mut sel = Select::new();
    assert!(sel.select_timeout(Duration::from_millis(10)).is_err());
    assert!(t.elapsed() >= Duration::from_millis(10));
    assert!(sel.try_select().is_err());
    let v = select! { after(Duration::from_millis(5)) => 1 };
    assert_eq!(v, 1);
}
