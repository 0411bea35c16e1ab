//! The canonical Go scenario: a request handler calls two services in
//! parallel, feeds both answers to a third, and must answer within 50 ms or
//! fail with a deadline error.
//!
//! Run it with `cargo run --release --example fanout_deadline`. It handles one
//! request with fast services (answers in ~25 ms) and one with a slow service
//! (fails at 50 ms with "context deadline exceeded", and the slow call is
//! abandoned, not waited for).

use std::time::{Duration, Instant};

use ferrogo::context::{self, Context};
use ferrogo::{chan, select};

/// A pretend remote service: answers `f(input)` after `latency`, unless the
/// context ends first.
fn call_service<T: Send + 'static>(
    ctx: &Context,
    name: &'static str,
    latency: Duration,
    answer: T,
) -> Result<T, context::Error> {
    ctx.sleep(latency).map(|()| answer).inspect_err(|e| {
        println!("    {name}: gave up after {latency:?} was cut short ({e})");
    })
}

/// Service latencies for one run.
#[derive(Clone, Copy)]
struct Latencies {
    users: Duration,
    prices: Duration,
    quote: Duration,
}

/// The handler: users ∥ prices, then quote(users, prices), all under a 50 ms deadline.
fn handle(parent: &Context, lat: Latencies) -> Result<String, context::Error> {
    let (ctx, cancel) = context::with_timeout(parent, Duration::from_millis(50));

    // Fan out: both calls run at once, each in its own goroutine.
    let (users_tx, users_rx) = chan::<Result<u32, context::Error>>(1);
    let (prices_tx, prices_rx) = chan::<Result<f64, context::Error>>(1);
    let c1 = ctx.clone();
    ferrogo::go(move || {
        let _ = users_tx.send(call_service(&c1, "users", lat.users, 1200));
    });
    let c2 = ctx.clone();
    ferrogo::go(move || {
        let _ = prices_tx.send(call_service(&c2, "prices", lat.prices, 9.5));
    });

    // Fan in, racing the deadline: whichever comes first. A channel whose
    // answer arrived is swapped for `never()` (Go: set it to nil), since its
    // closed channel would otherwise stay ready.
    let (mut users, mut prices) = (None, None);
    let (mut users_rx, mut prices_rx) = (users_rx, prices_rx);
    while users.is_none() || prices.is_none() {
        select! {
            recv(users_rx) -> r => {
                users = Some(r.expect("users replies")?);
                users_rx = ferrogo::never();
            }
            recv(prices_rx) -> r => {
                prices = Some(r.expect("prices replies")?);
                prices_rx = ferrogo::never();
            }
            recv(ctx.done()) -> _ => {
                cancel.cancel();
                return Err(ctx.err().unwrap_or(context::Error::DeadlineExceeded));
            }
        }
    }
    let (users, prices) = (users.unwrap(), prices.unwrap());

    // The third service needs both answers, and gets what is left of the budget.
    let total = call_service(&ctx, "quote", lat.quote, users as f64 * prices);
    cancel.cancel();
    total.map(|t| format!("quote for {users} users at {prices}: {t:.2}"))
}

fn main() {
    ferrogo::run(|| {
        let root = context::background();
        let fast = Latencies {
            users: Duration::from_millis(15),
            prices: Duration::from_millis(10),
            quote: Duration::from_millis(10),
        };
        let slow = Latencies {
            prices: Duration::from_millis(80),
            ..fast
        };

        for (label, lat) in [("fast services", fast), ("slow prices service", slow)] {
            println!("request with {label}:");
            let t = Instant::now();
            let outcome = handle(&root, lat);
            let el = t.elapsed();
            match outcome {
                Ok(answer) => println!("  ok after {el:.1?}: {answer}"),
                Err(e) => println!("  failed after {el:.1?}: {e}"),
            }
            // Give abandoned calls a moment to notice, so their lines print here.
            ferrogo::time::sleep(Duration::from_millis(5));
        }
    });
}
