//! Loom models of the channel core: send, recv, close and select registration
//! on plain (loom) threads, which block through `runtime::park`'s thread path.
//!
//! Run: `RUSTFLAGS="--cfg loom -C debug-assertions" CARGO_TARGET_DIR=target/loom
//! LOOM_MAX_PREEMPTIONS=3 cargo test --release --lib loom` (`scripts/models.sh`).
//!
//! What every model asserts:
//! * Conservation: each value sent is received exactly once or handed back to
//!   its sender (`SendError`, or still in an uncommitted select send case),
//!   never both, never lost. Values are [`Val`]s that count their drops, so a
//!   duplicated (bitwise-copied) value shows up as a second drop and a value
//!   stranded in the channel as a missing one once every handle is gone.
//! * Exactly one select case commits, and its outcome matches its channel.
//! * No thread hangs: loom reports a deadlock if a blocked operation is never
//!   woken (a lost wake-up).
//!
//! Selects are biased: the uniform order draws from a per-OS-thread random
//! generator, which loom cannot replay (its threads share one OS thread).
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

use loom::thread;

use crate::chan::{Select, SendError, chan};

/// A value with an identity that counts its drops (outside the model: the
/// counter is read only after every model thread has been joined).
#[derive(Debug)]
struct Val {
    /// The value's identity.
    id: u32,
    /// Drops of all values made by this model run.
    drops: Arc<StdAtomicUsize>,
}

impl Drop for Val {
    fn drop(&mut self) {
        self.drops.fetch_add(1, StdOrdering::Relaxed);
    }
}

/// Makes values and checks their accounting at the end of a model run.
struct Ledger {
    /// Shared with every `Val` made.
    drops: Arc<StdAtomicUsize>,
    /// Values made so far.
    made: usize,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            drops: Arc::new(StdAtomicUsize::new(0)),
            made: 0,
        }
    }

    fn val(&mut self, id: u32) -> Val {
        self.made += 1;
        Val {
            id,
            drops: self.drops.clone(),
        }
    }

    /// Every value made was dropped exactly once (call once every channel
    /// handle and every value is gone).
    fn check_all_dropped(&self) {
        assert_eq!(
            self.drops.load(StdOrdering::Relaxed),
            self.made,
            "a value was lost in a channel or duplicated"
        );
    }
}

/// Runs `f` under loom with a preemption bound of 3 unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise (unbounded runs do not finish).
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Sorted ids, for comparing outcomes as multisets.
fn sorted(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids
}

/// Unbuffered rendezvous: the value is received exactly once and the send
/// reports success (the receiver keeps waiting until it comes).
#[test]
fn loom_unbuffered_rendezvous() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx, rx) = chan::<Val>(0);
        let v = ledger.val(7);
        let t = thread::spawn(move || tx.send(v).map_err(|e| e.0.id));
        let got = rx.recv().map(|v| v.id);
        let sent = t.join().unwrap();
        assert_eq!(got, Some(7));
        assert_eq!(sent, Ok(()));
        // The sender dropped: the channel is closed and drained.
        assert!(rx.recv().is_none());
        drop(rx);
        ledger.check_all_dropped();
    });
}

/// Capacity 1, two senders, one receiver that takes one value then closes and
/// drains: every value is either received once or returned in `SendError`.
#[test]
fn loom_buffered_two_senders_close() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx1, rx) = chan::<Val>(1);
        let tx2 = tx1.clone();
        let (v1, v2) = (ledger.val(1), ledger.val(2));
        let send = |tx: crate::chan::Sender<Val>, v: Val| {
            thread::spawn(move || match tx.send(v) {
                Ok(()) => None,
                Err(SendError(v)) => Some(v.id),
            })
        };
        let t1 = send(tx1, v1);
        let t2 = send(tx2, v2);
        let mut received = vec![rx.recv().expect("a sender always gets in").id];
        rx.close();
        while let Some(v) = rx.recv() {
            received.push(v.id);
        }
        let returned: Vec<u32> = [t1.join().unwrap(), t2.join().unwrap()]
            .into_iter()
            .flatten()
            .collect();
        let mut all = received.clone();
        all.extend(&returned);
        assert_eq!(
            sorted(all),
            [1, 2],
            "received {received:?}, returned {returned:?}"
        );
        drop(rx);
        ledger.check_all_dropped();
    });
}

/// Capacity 1, a sender streaming three values to a receiver: both sides
/// block (full, empty) and only the counterpart's notification wakes them —
/// no close to rescue a lost wake-up.
#[test]
fn loom_buffered_stream_blocks_both_sides() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx, rx) = chan::<Val>(1);
        let vals: Vec<Val> = (1..=3).map(|i| ledger.val(i)).collect();
        let t = thread::spawn(move || {
            for v in vals {
                tx.send(v).expect("the receiver outlives the sends");
            }
        });
        let got: Vec<u32> = (0..3)
            .map(|_| rx.recv().expect("three values").id)
            .collect();
        t.join().unwrap();
        assert_eq!(got, [1, 2, 3], "FIFO");
        assert!(rx.recv().is_none(), "closed by the sender's drop");
        drop(rx);
        ledger.check_all_dropped();
    });
}

/// Close racing a receiver blocked on an empty channel (unbuffered and
/// buffered): the receiver wakes with `None`, never hangs.
#[test]
fn loom_close_wakes_blocked_receiver() {
    for cap in [0, 1] {
        model(move || {
            let (tx, rx) = chan::<u32>(cap);
            let t = thread::spawn(move || rx.recv());
            tx.close();
            assert_eq!(t.join().unwrap(), None);
        });
    }
}

/// Close racing a sender blocked on a full channel: the sender gets its value
/// back, the buffered value stays receivable.
#[test]
fn loom_close_wakes_blocked_sender() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx, rx) = chan::<Val>(1);
        tx.send(ledger.val(1)).unwrap();
        let v2 = ledger.val(2);
        let t = thread::spawn(move || tx.send(v2).map_err(|e| e.0.id));
        rx.close();
        let sent = t.join().unwrap();
        assert_eq!(sent, Err(2));
        assert_eq!(rx.recv().map(|v| v.id), Some(1));
        assert!(rx.recv().is_none());
        drop(rx);
        ledger.check_all_dropped();
    });
}

/// A select over two unbuffered receivers races two senders. Exactly one
/// case commits, with its own channel's value; the other channel is then
/// closed, so its sender must get its value back (had the select also
/// committed to it, the send would have succeeded and the value be lost).
#[test]
fn loom_select_two_receivers_two_senders() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx1, rx1) = chan::<Val>(0);
        let (tx2, rx2) = chan::<Val>(0);
        let (v1, v2) = (ledger.val(1), ledger.val(2));
        let t1 = thread::spawn(move || tx1.send(v1).map_err(|e| e.0.id));
        let t2 = thread::spawn(move || tx2.send(v2).map_err(|e| e.0.id));

        let mut sel = Select::new_biased();
        let a = sel.recv(&rx1);
        let b = sel.recv(&rx2);
        let op = sel.select();
        let index = op.index();
        let (got, other) = if index == a {
            (op.recv(&rx1), &rx2)
        } else {
            assert_eq!(index, b);
            (op.recv(&rx2), &rx1)
        };
        drop(sel);
        let got = got.expect("no channel was closed").id;
        assert_eq!(got as usize, index + 1, "case {index} got value {got}");
        other.close();
        let (r1, r2) = (t1.join().unwrap(), t2.join().unwrap());
        if index == a {
            assert_eq!((r1, r2), (Ok(()), Err(2)));
        } else {
            assert_eq!((r1, r2), (Err(1), Ok(())));
        }
        drop((rx1, rx2));
        ledger.check_all_dropped();
    });
}

/// A select with a send case (plus a receive case that never becomes ready)
/// races a receiver and a close of the send channel. The value is sent
/// exactly once (the receiver got it, the case reports `Ok`) or kept (the
/// case reports the closed channel and hands it back; the receiver sees
/// `None`).
#[test]
fn loom_select_send_vs_receiver_and_close() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx, rx) = chan::<Val>(0);
        let (idle_tx, idle_rx) = chan::<Val>(0);
        let closer = tx.clone();
        let r = thread::spawn(move || rx.recv().map(|v| v.id));
        let c = thread::spawn(move || closer.close());

        let v = ledger.val(5);
        let mut sel = Select::new_biased();
        let s = sel.send(&tx, v);
        sel.recv(&idle_rx);
        let op = sel.select();
        assert_eq!(op.index(), s, "the idle receive case committed");
        let res = op.send(&tx).map_err(|e| e.0.id);
        drop(sel);
        let got = r.join().unwrap();
        c.join().unwrap();
        match res {
            Ok(()) => assert_eq!(got, Some(5)),
            Err(id) => {
                assert_eq!(id, 5);
                assert_eq!(got, None);
            }
        }
        drop((tx, idle_tx, idle_rx));
        ledger.check_all_dropped();
    });
}

/// Two receivers queue on one rendezvous channel: a plain `recv` (a
/// single-operation context, claimed without a CAS) and a select (claimed by
/// CAS), so one sits in the queue's inline head and the other behind it. One
/// value is sent, then the channel closes: exactly one receiver gets it, the
/// other sees the close, whichever queued first and however the pop, the
/// refill of the head and the close interleave.
#[test]
fn loom_plain_and_select_receivers_share_a_queue() {
    model(|| {
        let mut ledger = Ledger::new();
        let (tx, rx) = chan::<Val>(0);
        let v = ledger.val(5);
        let rx2 = rx.clone();
        let plain = thread::spawn(move || rx2.recv().map(|v| v.id));
        let rx3 = rx.clone();
        let select = thread::spawn(move || {
            let mut sel = Select::new_biased();
            let a = sel.recv(&rx3);
            let op = sel.select();
            assert_eq!(op.index(), a);
            op.recv(&rx3).map(|v| v.id)
        });
        let sent = tx.send(v).map_err(|e| e.0.id);
        drop(tx);
        let got = sorted(
            [plain.join().unwrap(), select.join().unwrap()]
                .into_iter()
                .flatten()
                .collect(),
        );
        assert_eq!(sent, Ok(()));
        assert_eq!(got, [5]);
        drop(rx);
        ledger.check_all_dropped();
    });
}
