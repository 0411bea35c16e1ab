//! Go's memory model for channels (https://go.dev/ref/mem, "Channel
//! communication"), checked with relaxed atomics standing in for plain
//! memory: whatever a goroutine wrote before an operation must be visible to
//! the goroutine on the other side after it completes. At 1 and 2 workers,
//! with an OS thread on one side too.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use ferrogo::{chan, go};
use support::for_procs;

const N: u64 = 20_000;

// "A send on a channel is synchronized before the completion of the
// corresponding receive from that channel."
#[test]
fn send_happens_before_receive_completes() {
    for_procs(|| {
        for cap in [0, 1, 64] {
            let cell = Arc::new(AtomicU64::new(0));
            let (tx, rx) = chan::<u64>(cap);
            let c2 = cell.clone();
            let p = go(move || {
                for i in 1..=N {
                    c2.store(i, Relaxed);
                    tx.send(i).unwrap();
                }
            });
            for v in &rx {
                assert!(cell.load(Relaxed) >= v, "write before send {v} not visible");
            }
            p.join().unwrap();
        }
    });
}

// "The closing of a channel is synchronized before a receive that returns
// because the channel is closed."
#[test]
fn close_happens_before_receive_of_closed() {
    for_procs(|| {
        for _ in 0..200 {
            let cell = Arc::new(AtomicU64::new(0));
            let (tx, rx) = chan::<()>(0);
            let c2 = cell.clone();
            let t = std::thread::spawn(move || {
                c2.store(42, Relaxed);
                tx.close();
            });
            assert_eq!(rx.recv(), None);
            assert_eq!(cell.load(Relaxed), 42);
            ferrogo::blocking(move || t.join()).unwrap();
        }
    });
}

// "The k-th receive on a channel with capacity C is synchronized before the
// completion of the k+C-th send from that channel completes."
#[test]
fn kth_receive_happens_before_k_plus_cap_send_completes() {
    for_procs(|| {
        const C: u64 = 4;
        let received = Arc::new(AtomicU64::new(0));
        let (tx, rx) = chan::<u64>(C as usize);
        let r2 = received.clone();
        let consumer = go(move || {
            for v in &rx {
                r2.store(v, Relaxed); // "k-th receive done" marker, after receiving k
            }
        });
        for k in 1..=N {
            tx.send(k).unwrap();
            // Send k completed: receive k - C (and every earlier one) happened before it.
            if k > C + 1 {
                assert!(
                    received.load(Relaxed) >= k - C - 1,
                    "send {k} completed before receive {} ",
                    k - C - 1
                );
            }
        }
        drop(tx);
        consumer.join().unwrap();
    });
}
