//! The shared-counter race, made correct three ways: with `sync::Mutex`, with
//! a `WaitGroup` and per-goroutine counts, and with a channel that owns the
//! counter ("share memory by communicating").
//!
//! Run it with `cargo run --release --example mutex_counter`.
//!
//! (The racy version — a plain `u64` incremented from many goroutines — does
//! not compile in Rust: the closure would need `&mut` access from many places,
//! and `Send` forbids sharing it. That is the race excluded at compile time.)

use std::sync::Arc;
use std::time::Instant;

use ferrogo::chan;
use ferrogo::sync::{Mutex, WaitGroup};

const GOROUTINES: u64 = 1_000;
const INCREMENTS: u64 = 1_000;

/// 1. A mutex guards the counter; every goroutine increments it directly.
fn with_mutex() -> u64 {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..GOROUTINES)
        .map(|_| {
            let counter = counter.clone();
            ferrogo::go(move || {
                for _ in 0..INCREMENTS {
                    *counter.lock() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    *counter.lock()
}

/// 2. Each goroutine counts privately and adds its total once; a WaitGroup
///    tells the main goroutine when all are done.
fn with_waitgroup() -> u64 {
    let total = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..GOROUTINES {
        wg.add(1);
        let (total, wg) = (total.clone(), wg.clone());
        ferrogo::go(move || {
            let mut mine = 0;
            for _ in 0..INCREMENTS {
                mine += 1;
            }
            *total.lock() += mine;
            wg.done();
        });
    }
    wg.wait();
    *total.lock()
}

/// 3. One goroutine owns the counter; the others send it increments.
fn with_channel() -> u64 {
    let (tx, rx) = chan::<u64>(1024);
    let owner = ferrogo::go(move || rx.iter().sum::<u64>());
    for _ in 0..GOROUTINES {
        let tx = tx.clone();
        ferrogo::go(move || {
            for _ in 0..INCREMENTS {
                tx.send(1).unwrap();
            }
        });
    }
    drop(tx); // the channel closes when the last sender is done
    owner.join().unwrap()
}

fn main() {
    ferrogo::run(|| {
        let want = GOROUTINES * INCREMENTS;
        for (name, f) in [
            ("sync::Mutex", with_mutex as fn() -> u64),
            ("WaitGroup + private counts", with_waitgroup),
            ("channel owning the counter", with_channel),
        ] {
            let t = Instant::now();
            let got = f();
            assert_eq!(got, want, "{name} lost increments");
            println!(
                "{name:<28} {got} increments from {GOROUTINES} goroutines in {:.1?}",
                t.elapsed()
            );
        }
    });
}
