//! Go's channel behaviour as the spec: the programs of Go's `test/chan/` and
//! behaviours of `src/runtime/chan_test.go`, re-implemented in Rust (own code;
//! each module names its source). Sizes are scaled down so the whole file runs
//! in a few seconds on 2 cores; every test runs at 1 and 2 workers.
mod support;

use std::time::Duration;

use ferrogo::{Receiver, Sender, chan, go, never, select};

/// Parks the calling goroutine for `d` (a nil-channel receive with a timeout).
fn sleep(d: Duration) {
    let _ = never::<()>().recv_timeout(d);
}

// Behaviour from Go's test/chan/fifo.go
mod fifo {
    use super::*;

    const N: i32 = 10;

    #[test]
    fn asynch_fifo() {
        support::for_procs(|| {
            let (tx, rx) = chan(N as usize);
            for i in 0..N {
                tx.send(i).unwrap();
            }
            for i in 0..N {
                assert_eq!(rx.recv(), Some(i));
            }
        });
    }

    fn chain(ch: Receiver<i32>, val: i32, input: Receiver<i32>, out: Sender<i32>) {
        input.recv().unwrap();
        assert_eq!(ch.recv(), Some(val), "synch fifo out of order");
        out.send(1).unwrap();
    }

    #[test]
    fn synch_fifo() {
        support::for_procs(|| {
            let (tx, rx) = chan(0);
            let (start_tx, mut input) = chan::<i32>(0);
            let mut hs = vec![];
            for i in 0..N {
                let (out_tx, out_rx) = chan(0);
                let (rx, inp) = (rx.clone(), input);
                hs.push(go(move || chain(rx, i, inp, out_tx)));
                input = out_rx;
            }
            start_tx.send(0).unwrap();
            for i in 0..N {
                tx.send(i).unwrap();
            }
            input.recv().unwrap();
            for h in hs {
                h.join().unwrap();
            }
        });
    }
}

// Behaviour from Go's test/chan/nonblock.go
mod nonblock {
    use super::*;

    const MAX_TRIES: usize = 10_000;

    #[test]
    fn nonblocking_ops_every_buffer() {
        support::for_procs(|| {
            for buffer in 0..2 {
                let (tx, rx) = chan::<i32>(buffer);
                let (sync_tx, sync_rx) = chan::<bool>(0);
                // A receive with nothing sent never blocks and never succeeds.
                select! { recv(rx) -> _ => panic!("blocked sender"), default => {} }

                let (rx2, s2) = (rx.clone(), sync_tx.clone());
                go(move || {
                    assert_eq!(rx2.recv(), Some(123));
                    s2.send(true).unwrap();
                });
                let mut tries = 0;
                loop {
                    let sent = select! {
                        send(tx, 123) -> r => { r.unwrap(); true }
                        default => false,
                    };
                    if sent {
                        break;
                    }
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "receiver never ready, buffer={buffer}");
                    sleep(Duration::from_micros(20));
                }
                sync_rx.recv().unwrap();

                let (tx2, s2) = (tx.clone(), sync_tx.clone());
                go(move || {
                    tx2.send(234).unwrap();
                    s2.send(true).unwrap();
                });
                if buffer > 0 {
                    sync_rx.recv().unwrap();
                }
                let mut tries = 0;
                let v = loop {
                    let got = select! {
                        recv(rx) -> v => v,
                        default => None,
                    };
                    if let Some(v) = got {
                        break v;
                    }
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "sender never ready, buffer={buffer}");
                    sleep(Duration::from_micros(20));
                };
                assert_eq!(v, 234);
                if buffer == 0 {
                    sync_rx.recv().unwrap();
                }
            }
        });
    }
}

// Behaviour from Go's test/chan/select.go
mod select_eval {
    use super::*;
    use std::cell::Cell;

    /// Every send value is evaluated once per select, even for cases not chosen
    /// and for nil channels (Go's `GetValue` counter).
    #[test]
    fn send_values_evaluated_each_round() {
        let counter = Cell::new(0u32);
        let shift = Cell::new(0u32);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        let send = |a: Option<&Sender<u32>>, b: Option<&Sender<u32>>| {
            // A sender whose receiver lives but never receives: never ready (Go's nil
            // channel for sends; `never()` only covers receives).
            let (nil, _nil_rx) = chan::<u32>(0);
            let (mut a_live, mut b_live) = (a.is_some(), b.is_some());
            let mut i = 0;
            loop {
                let (ta, tb) = (
                    if a_live { a.unwrap() } else { &nil },
                    if b_live { b.unwrap() } else { &nil },
                );
                let done = select! {
                    send(ta, get_value()) -> r => { r.unwrap(); i += 1; a_live = false; false }
                    send(tb, get_value()) -> r => { r.unwrap(); i += 1; b_live = false; false }
                    default => true,
                };
                if done {
                    break;
                }
                shift.set(shift.get() + 1);
            }
            i
        };
        let (a, ar) = chan(1);
        let (b, br) = chan(1);
        assert_eq!(send(Some(&a), Some(&b)), 2);
        assert_eq!(ar.recv().unwrap() | br.recv().unwrap(), 3);
        assert_eq!(send(Some(&a), None), 1);
        assert_eq!(counter.get(), 10);
    }
}

// Behaviour from Go's test/chan/select3.go
mod select3 {
    use super::*;

    /// Runs `f` in a goroutine; reports whether it was still blocked after
    /// `wait` (true) or finished (false).
    fn blocks(wait: Duration, f: impl FnOnce() + Send + 'static) -> bool {
        let (tx, rx) = chan::<bool>(2);
        let tx2 = tx.clone();
        go(move || {
            f();
            let _ = tx2.send(false);
        });
        go(move || {
            sleep(wait);
            let _ = tx.send(true);
        });
        rx.recv().unwrap()
    }

    const SHORT: Duration = Duration::from_millis(10);
    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn blocking_rules() {
        support::for_procs(|| {
            // nil channel receive blocks; in a select it is never chosen.
            assert!(blocks(SHORT, || {
                never::<i32>().recv();
            }));
            let v = select! { recv(never::<i32>()) -> _ => 1, default => 2 };
            assert_eq!(v, 2);
            // send with free buffer space never blocks.
            assert!(!blocks(LONG, || {
                let (tx, _rx) = chan(1);
                tx.send(7).unwrap();
            }));
            // receiving from a closed channel never blocks.
            let (ctx, closed) = chan::<i32>(0);
            ctx.close();
            assert!(!blocks(LONG, move || {
                for _ in 0..10 {
                    assert_eq!(closed.recv(), None);
                    assert_eq!(closed.try_recv(), Err(ferrogo::TryRecvError::Closed));
                }
            }));
            // sending to a closed channel fails (Go panics).
            let (tx, _rx) = chan::<i32>(0);
            tx.close();
            assert!(tx.send(7).is_err());
            // receiving from a non-ready channel blocks.
            assert!(blocks(SHORT, || {
                let (_tx, rx) = chan::<i32>(0);
                rx.recv();
            }));
            // empty selects block; selects with only nil channels block.
            assert!(blocks(SHORT, || select! {}));
            assert!(blocks(
                SHORT,
                || select! { recv(never::<i32>()) -> _ => unreachable!() }
            ));
            // selects with non-ready non-nil channels block.
            assert!(blocks(SHORT, || {
                let (_tx, rx) = chan::<i32>(0);
                select! { recv(rx) -> _ => unreachable!() }
            }));
            // selects with a ready channel or default never block.
            assert!(!blocks(LONG, || select! { default => {} }));
            assert!(!blocks(LONG, || {
                let (tx, rx) = chan::<i32>(1);
                tx.send(7).unwrap();
                select! { recv(rx) -> v => assert_eq!(v, Some(7)), recv(never::<i32>()) -> _ => unreachable!() }
            }));
            assert!(!blocks(LONG, || {
                let (tx, _rx) = chan::<i32>(1);
                select! { send(tx, 7) -> r => r.unwrap(), recv(never::<i32>()) -> _ => unreachable!() }
            }));
            // a closed channel's receive case is always ready.
            assert!(!blocks(LONG, || {
                let (tx, rx) = chan::<i32>(0);
                drop(tx);
                select! { recv(rx) -> v => assert_eq!(v, None) }
            }));
        });
    }
}

// Behaviour from Go's test/chan/select4.go: a receive case on a ready channel
// is chosen over one that is not, and its value lands in the arm.
mod select4 {
    use super::*;

    #[test]
    fn ready_case_chosen() {
        let (tx, c) = chan(1);
        let (_tx1, c1) = chan::<i32>(0);
        tx.send(42).unwrap();
        let x;
        select! {
            recv(c1) -> _ => panic!("BUG: chose the empty channel"),
            recv(c) -> v => x = v.unwrap(),
        }
        assert_eq!(x, 42);
    }
}

// Behaviour from Go's test/chan/select6.go (issue 2075: a select that loses on
// one channel must not leave a stale entry that steals a later value).
mod select6 {
    use super::*;

    #[test]
    fn losing_case_leaves_no_stale_waiter() {
        support::for_procs(|| {
            for _ in 0..20 {
                let (c1_tx, c1) = chan::<bool>(0);
                let (c2_tx, c2) = chan::<bool>(0);
                let (c3_tx, c3) = chan::<bool>(0);
                let r1 = c1.clone();
                let a = go(move || r1.recv());
                let r1 = c1.clone();
                let b = go(move || {
                    select! {
                        recv(r1) -> _ => panic!("dummy"),
                        recv(c2) -> _ => c3_tx.send(true).unwrap(),
                    }
                    r1.recv()
                });
                go(move || c2_tx.send(true).unwrap());
                c3.recv().unwrap();
                c1_tx.send(true).unwrap();
                c1_tx.send(true).unwrap();
                assert_eq!(a.join().unwrap(), Some(true));
                assert_eq!(b.join().unwrap(), Some(true));
            }
        });
    }
}

// Behaviour from Go's test/chan/select7.go: plain, one-case and two-case
// selects on both sides of an unbuffered channel pair up.
mod select7 {
    use super::*;

    fn recv(kind: u8, c: Receiver<i32>) {
        match kind {
            1 => assert_eq!(c.recv(), Some(1)),
            2 => select! { recv(c) -> v => assert_eq!(v, Some(1)) },
            _ => {
                let (_t2, c2) = chan::<i32>(0);
                select! { recv(c) -> v => assert_eq!(v, Some(1)), recv(c2) -> _ => unreachable!() }
            }
        }
    }

    fn send(kind: u8, recv_kind: u8) {
        let (c, r) = chan::<i32>(0);
        let h = go(move || recv(recv_kind, r));
        ferrogo::yield_now();
        match kind {
            1 => c.send(1).unwrap(),
            2 => select! { send(c, 1) -> r => r.unwrap() },
            _ => {
                let (c2, _r2) = chan::<i32>(0);
                select! { send(c, 1) -> r => r.unwrap(), send(c2, 1) -> _ => unreachable!() }
            }
        }
        h.join().unwrap();
    }

    #[test]
    fn all_pairs() {
        support::for_procs(|| {
            for r in 1..=3 {
                for s in 1..=3 {
                    send(s, r);
                }
            }
        });
    }
}

// Behaviour from Go's test/chan/select8.go: `break` inside a select arm.
mod select8 {
    use super::*;

    #[test]
    fn break_in_arms() {
        let (tx, ch) = chan::<i32>(0);
        let _h = go(move || while tx.send(5).is_ok() {});
        #[allow(clippy::never_loop)]
        loop {
            select! { recv(ch) -> v => { assert_eq!(v, Some(5)); break } }
        }
        #[allow(clippy::never_loop)]
        loop {
            select! {
                recv(ch) -> _ => break,
                send(chan::<i32>(0).0, 10) -> _ => panic!("unreachable"),
                after(Duration::from_secs(10)) => panic!("sender stuck"),
            }
        }
        drop(ch);
    }
}

// Behaviour from Go's test/chan/doubleselect.go: a select over four sends,
// muxed back together; every value exactly once.
mod doubleselect {
    use super::*;

    #[test]
    fn no_duplicates() {
        support::for_procs(|| {
            const N: usize = 5_000;
            let chans: Vec<_> = (0..4).map(|_| chan::<usize>(0)).collect();
            let (cmux_tx, cmux) = chan::<usize>(0);
            let (done_tx, done) = chan::<bool>(0);
            let senders: Vec<Sender<usize>> = chans.iter().map(|c| c.0.clone()).collect();
            for (_, rx) in &chans {
                let (rx, out, done) = (rx.clone(), cmux_tx.clone(), done_tx.clone());
                go(move || {
                    for v in &rx {
                        out.send(v).unwrap();
                    }
                    done.send(true).unwrap();
                });
            }
            drop(chans);
            drop(cmux_tx);
            go(move || {
                let [c1, c2, c3, c4] = &senders[..] else {
                    unreachable!()
                };
                for i in 0..N {
                    select! {
                        send(c1, i) -> r => r.unwrap(),
                        send(c2, i) -> r => r.unwrap(),
                        send(c3, i) -> r => r.unwrap(),
                        send(c4, i) -> r => r.unwrap(),
                    }
                }
            });
            go(move || {
                for _ in 0..4 {
                    done.recv().unwrap();
                }
            });
            let mut seen = vec![false; N];
            for v in &cmux {
                assert!(!seen[v], "duplicate value {v}");
                seen[v] = true;
            }
            assert!(seen.iter().all(|&s| s), "a value was lost");
        });
    }
}

// Behaviour from Go's test/chan/sieve1.go: the concurrent prime sieve.
mod sieve1 {
    use super::*;

    fn generate(ch: Sender<u32>) {
        let mut i = 2;
        while ch.send(i).is_ok() {
            i += 1;
        }
    }

    fn filter(input: Receiver<u32>, out: Sender<u32>, prime: u32) {
        for i in &input {
            if i % prime != 0 && out.send(i).is_err() {
                return;
            }
        }
    }

    #[test]
    fn first_primes() {
        support::for_procs(|| {
            let (tx, mut rx) = chan(0);
            go(move || generate(tx));
            let mut primes = vec![];
            for _ in 0..25 {
                let prime = rx.recv().unwrap();
                primes.push(prime);
                let (tx1, rx1) = chan(0);
                let input = std::mem::replace(&mut rx, rx1);
                go(move || filter(input, tx1, prime));
            }
            // Dropping the last receiver unwinds the pipeline: every send fails.
            drop(rx);
            assert_eq!(
                primes,
                [
                    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                    79, 83, 89, 97
                ]
            );
        });
    }
}

// Behaviour from Go's test/chan/goroutines.go: a long chain of goroutines
// passing one value along.
mod goroutines {
    use super::*;

    #[test]
    fn chain() {
        support::for_procs(|| {
            let n = 200;
            let (first_tx, mut rx) = chan::<u32>(0);
            for _ in 0..n {
                let (tx, next) = chan(0);
                let left = std::mem::replace(&mut rx, next);
                go(move || tx.send(left.recv().unwrap() + 1).unwrap());
            }
            first_tx.send(0).unwrap();
            assert_eq!(rx.recv(), Some(n));
        });
    }
}

// Behaviour from Go's test/chan/zerosize.go: zero-sized element types.
mod zerosize {
    use super::*;

    #[test]
    fn zero_sized_elements() {
        support::for_procs(|| {
            let (tx, rx) = chan::<()>(0);
            let h = go(move || tx.send(()).unwrap());
            assert_eq!(rx.recv(), Some(()));
            h.join().unwrap();
            let (tx, rx) = chan::<[u64; 0]>(1000);
            for _ in 0..1000 {
                tx.send([]).unwrap();
            }
            assert_eq!(rx.len(), 1000);
        });
    }
}

// Behaviour from Go's test/chan/sendstmt.go: a channel of channels, sending on
// the received channel inside a select.
mod sendstmt {
    use super::*;

    #[test]
    fn chanchan() {
        let (cc_tx, cc) = chan::<Sender<i32>>(1);
        let (c, c_rx) = chan::<i32>(1);
        cc_tx.send(c).unwrap();
        let inner = cc.recv().unwrap();
        select! {
            send(inner, 2) -> r => r.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c_rx.recv(), Some(2));
        let (b, b_rx) = chan::<bool>(1);
        #[allow(clippy::nonminimal_bool)]
        b.send(false || true).unwrap();
        assert_eq!(b_rx.recv(), Some(true));
    }
}

// Behaviour from Go's src/runtime/chan_test.go.
mod runtime_chan_test {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// TestChan: every capacity blocks and unblocks at the right moments.
    #[test]
    fn every_capacity() {
        support::for_procs(|| {
            const N: usize = 20;
            for cap in 0..N {
                // Receive from an empty channel blocks until a send.
                let (tx, rx) = chan::<usize>(cap);
                let (flag_tx, flag) = chan::<()>(1);
                let r2 = rx.clone();
                let h = go(move || {
                    let v = r2.recv();
                    flag_tx.send(()).unwrap();
                    v
                });
                sleep(Duration::from_millis(2));
                assert!(
                    flag.try_recv().is_err(),
                    "chan[{cap}]: receive from empty did not block"
                );
                tx.send(0).unwrap();
                assert_eq!(h.join().unwrap(), Some(0));

                // Non-blocking receive from an empty channel fails.
                assert!(rx.try_recv().is_err());

                // Send to a full channel blocks until a receive.
                for i in 0..cap {
                    tx.try_send(i)
                        .unwrap_or_else(|_| panic!("chan[{cap}]: send {i} blocked"));
                }
                assert!(
                    tx.try_send(cap).is_err(),
                    "chan[{cap}]: send to full did not fail"
                );
                let t2 = tx.clone();
                let h = go(move || t2.send(cap).unwrap());
                sleep(Duration::from_millis(2));
                for i in 0..=cap {
                    assert_eq!(rx.recv(), Some(i), "chan[{cap}]: FIFO");
                }
                h.join().unwrap();

                // Close: receivers drain then see None; len/cap as expected.
                for i in 0..cap {
                    tx.send(i).unwrap();
                }
                assert_eq!((rx.len(), rx.cap()), (cap, cap));
                tx.close();
                for i in 0..cap {
                    assert_eq!(rx.recv(), Some(i));
                }
                assert_eq!(rx.recv(), None);
                assert_eq!(
                    rx.recv_timeout(Duration::from_secs(1)),
                    Err(ferrogo::RecvTimeoutError::Closed)
                );
            }
        });
    }

    /// TestNonblockRecvRace: a non-blocking select never takes default when a
    /// case is ready (here: a closed channel).
    #[test]
    fn nonblock_select_never_misses_ready() {
        support::for_procs(|| {
            for _ in 0..500 {
                let (tx, rx) = chan::<i32>(1);
                tx.send(1).unwrap();
                let h = go(move || {
                    select! {
                        recv(rx) -> _ => {},
                        default => panic!("chan is not ready"),
                    }
                });
                tx.close();
                let _ = tx.try_send(2);
                h.join().unwrap();
            }
        });
    }

    /// TestSelectFairness: two ready channels are chosen about equally often
    /// (within 10 sigma of a fair coin).
    #[test]
    fn select_fairness() {
        const TRIALS: usize = 10_000;
        let (t1, c1) = chan::<u8>(TRIALS + 1);
        let (t2, c2) = chan::<u8>(TRIALS + 1);
        for _ in 0..=TRIALS {
            t1.send(1).unwrap();
            t2.send(2).unwrap();
        }
        let (_t3, c3) = chan::<u8>(0);
        let (_t4, c4) = chan::<u8>(0);
        let mut cnt1 = 0usize;
        for _ in 0..TRIALS {
            let b = select! {
                recv(c3) -> v => v,
                recv(c4) -> v => v,
                recv(c1) -> v => v,
                recv(c2) -> v => v,
            };
            if b == Some(1) {
                cnt1 += 1;
            }
        }
        let (r, n) = (0.5f64, TRIALS as f64);
        let (mean, sigma) = (n * r, (n * r * (1.0 - r)).sqrt());
        let dev = (cnt1 as f64 - mean).abs();
        assert!(
            dev < 10.0 * sigma,
            "unfair select: {cnt1} of {TRIALS} from c1"
        );
        // Blocking selects are fair too: a uniformly random permutation.
        let mut counts = [0usize; 3];
        let chans: Vec<_> = (0..3).map(|_| chan::<usize>(TRIALS)).collect();
        for _ in 0..TRIALS {
            for (i, (tx, _)) in chans.iter().enumerate() {
                tx.send(i).unwrap();
            }
            let i = select! {
                recv(chans[0].1) -> v => v.unwrap(),
                recv(chans[1].1) -> v => v.unwrap(),
                recv(chans[2].1) -> v => v.unwrap(),
            };
            counts[i] += 1;
        }
        let (p, n) = (1.0 / 3.0, TRIALS as f64);
        let sigma = (n * p * (1.0 - p)).sqrt();
        for c in counts {
            assert!(
                (c as f64 - n * p).abs() < 10.0 * sigma,
                "unfair 3-way select: {counts:?}"
            );
        }
    }

    /// TestCloseWakeups-style: close wakes every blocked receiver, plain and
    /// in select, and every blocked sender.
    #[test]
    fn close_wakes_every_waiter() {
        support::for_procs(|| {
            let (tx, rx) = chan::<u32>(0);
            let mut hs = vec![];
            for i in 0..8 {
                let rx = rx.clone();
                hs.push(go(move || {
                    if i % 2 == 0 {
                        rx.recv()
                    } else {
                        let (_t, other) = chan::<u32>(0);
                        select! { recv(rx) -> v => v, recv(other) -> _ => Some(99) }
                    }
                }));
            }
            sleep(Duration::from_millis(10));
            tx.close();
            for h in hs {
                assert_eq!(h.join().unwrap(), None);
            }
            let (tx, rx) = chan::<u32>(0);
            let senders: Vec<_> = (0..6)
                .map(|i| {
                    let tx = tx.clone();
                    go(move || {
                        if i % 2 == 0 {
                            tx.send(i).map_err(|e| e.0)
                        } else {
                            select! { send(tx, i) -> r => r.map_err(|e| e.0) }
                        }
                    })
                })
                .collect();
            sleep(Duration::from_millis(10));
            rx.close();
            for (i, h) in senders.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), Err(i as u32));
            }
        });
    }

    /// TestSelfSelect: two goroutines each select send-or-receive on the same
    /// channel; a select never matches its own opposite case.
    #[test]
    fn self_select() {
        support::for_procs(|| {
            for cap in [0usize, 10] {
                let (tx, rx) = chan::<usize>(cap);
                let hs: Vec<_> = (0..2)
                    .map(|p| {
                        let (tx, rx) = (tx.clone(), rx.clone());
                        go(move || {
                            for i in 0..1000 {
                                if p == 0 || i % 2 == 0 {
                                    select! {
                                        send(tx, p) -> r => r.unwrap(),
                                        recv(rx) -> v => {
                                            if cap == 0 && v == Some(p) {
                                                panic!("self receive");
                                            }
                                        }
                                    }
                                } else {
                                    select! {
                                        recv(rx) -> v => {
                                            if cap == 0 && v == Some(p) {
                                                panic!("self receive");
                                            }
                                        }
                                        send(tx, p) -> r => r.unwrap(),
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        });
    }

    /// TestMultiConsumer: many producers and consumers, no value lost or
    /// duplicated (checksums).
    #[test]
    fn multi_consumer_checksums() {
        support::for_procs(|| {
            const NWORK: usize = 4;
            const NITER: usize = 5_000;
            for cap in [0usize, 1, 64] {
                let (tx, rx) = chan::<usize>(cap);
                let (rtx, rrx) = chan::<(usize, usize)>(NWORK);
                for _ in 0..NWORK {
                    let (rx, rtx) = (rx.clone(), rtx.clone());
                    go(move || {
                        let (mut n, mut s) = (0, 0);
                        for v in &rx {
                            n += 1;
                            s += v;
                        }
                        rtx.send((n, s)).unwrap();
                    });
                }
                drop(rtx);
                let producers: Vec<_> = (0..NWORK)
                    .map(|w| {
                        let tx = tx.clone();
                        go(move || {
                            for i in 0..NITER {
                                tx.send(w * NITER + i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                for p in producers {
                    p.join().unwrap();
                }
                let (n, s) = rrx.iter().fold((0, 0), |(n, s), (a, b)| (n + a, s + b));
                let total = NWORK * NITER;
                assert_eq!(n, total, "cap {cap}: count");
                assert_eq!(s, total * (total - 1) / 2, "cap {cap}: checksum");
            }
        });
    }

    /// TestSelectStress-style: selects on both sides, with timeouts mixed in;
    /// every value delivered exactly once.
    #[test]
    fn select_stress_exactly_once() {
        support::for_procs(|| {
            const N: usize = 4_000;
            let (a_tx, a_rx) = chan::<usize>(0);
            let (b_tx, b_rx) = chan::<usize>(2);
            let received = Arc::new(AtomicUsize::new(0));
            let sum = Arc::new(AtomicUsize::new(0));
            let prod = go(move || {
                for i in 0..N {
                    let mut v = Some(i);
                    while let Some(x) = v.take() {
                        select! {
                            send(a_tx, x) -> r => r.unwrap(),
                            send(b_tx, x) -> r => r.unwrap(),
                            after(Duration::from_micros(50)) => v = Some(x),
                        }
                    }
                }
            });
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let (a, b) = (a_rx.clone(), b_rx.clone());
                    let (received, sum) = (received.clone(), sum.clone());
                    go(move || {
                        let (mut a_open, mut b_open) = (true, true);
                        while a_open || b_open {
                            let na = never::<usize>();
                            let ra = if a_open { &a } else { &na };
                            let rb = if b_open { &b } else { &na };
                            select! {
                                recv(ra) -> v => match v {
                                    Some(v) => { received.fetch_add(1, Ordering::SeqCst); sum.fetch_add(v, Ordering::SeqCst); }
                                    None => a_open = false,
                                },
                                recv(rb) -> v => match v {
                                    Some(v) => { received.fetch_add(1, Ordering::SeqCst); sum.fetch_add(v, Ordering::SeqCst); }
                                    None => b_open = false,
                                },
                                after(Duration::from_micros(30)) => {}
                            }
                        }
                    })
                })
                .collect();
            drop((a_rx, b_rx));
            prod.join().unwrap();
            for c in consumers {
                c.join().unwrap();
            }
            assert_eq!(received.load(Ordering::SeqCst), N);
            assert_eq!(sum.load(Ordering::SeqCst), N * (N - 1) / 2);
        });
    }

    /// TestPseudoRandomSend: a select sending on the same channel twice picks
    /// each case about half the time.
    #[test]
    fn pseudo_random_send() {
        support::for_procs(|| {
            const N: usize = 1000;
            let (tx, rx) = chan::<bool>(0);
            let h = go(move || (0..N).map(|_| rx.recv().unwrap()).collect::<Vec<_>>());
            for _ in 0..N {
                select! {
                    send(tx, false) -> r => r.unwrap(),
                    send(tx, true) -> r => r.unwrap(),
                }
            }
            let got = h.join().unwrap();
            let t = got.iter().filter(|&&b| b).count();
            assert!(t > N / 10 && N - t > N / 10, "not random: {t} true of {N}");
        });
    }
}
