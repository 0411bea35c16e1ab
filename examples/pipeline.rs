//! Rob Pike's gophers from "Concurrency is not Parallelism": burning a pile
//! of obsolete manuals, first with one gopher, then as a pipeline of three,
//! then with several pipelines side by side.
//!
//! ```sh
//! cargo run --release --example pipeline
//! FERROGO_MAXPROCS=1 cargo run --release --example pipeline   # same speed-ups on one worker
//! ```
//!
//! Each book goes through three stages — **load** it onto a cart, **carry**
//! the cart to the incinerator, **unload** it into the fire — and each stage
//! takes a while:
//!
//! 1. *one gopher* does all three stages for one book after another;
//! 2. *a pipeline*: three gophers, one per stage, hand the books on over
//!    unbuffered channels, so while one book burns the next is being carried
//!    and a third loaded (`pile ─► load ─► carry ─► unload ─► fire`);
//! 3. *several pipelines* take books from the same pile (fan-out) and feed
//!    the same fire (fan-in).
//!
//! The cost of a stage is simulated with [`ferrogo::time::sleep`]: it parks
//! the gopher's goroutine like waiting on a disk or the network would, so the
//! worker runs the other stages meanwhile and they overlap even with
//! `FERROGO_MAXPROCS=1`. That is Pike's point: the pipeline is a *concurrent*
//! design, and it pays off whether or not it also runs in *parallel*. Had the
//! stages burnt CPU instead, the speed-up would be capped by the number of
//! cores, not by the number of gophers.
//!
//! The pile closes when it is empty, and each stage closes its output
//! channel (by dropping its sender) when its input closes, so the end of the
//! pile flows down every pipeline and the fire knows when it is done.

use std::time::{Duration, Instant};

use ferrogo::{Receiver, Sender, chan, go};

/// Books in the pile.
const BOOKS: u32 = 100;
/// How long each stage takes per book.
const STAGE: Duration = Duration::from_millis(2);
/// Pipelines in the last run.
const PIPELINES: u32 = 4;

/// An obsolete C++ manual, by number.
struct Book(u32);

// The three stages. Each takes `STAGE` per book; `sleep` parks only the
// calling goroutine, so the worker runs the other gophers meanwhile.

fn load(book: Book) -> Book {
    ferrogo::time::sleep(STAGE);
    book
}

fn carry(book: Book) -> Book {
    ferrogo::time::sleep(STAGE);
    book
}

fn unload(book: Book) -> Book {
    ferrogo::time::sleep(STAGE);
    book
}

/// A goroutine that sends the pile's books, then closes the pile.
fn pile() -> Receiver<Book> {
    let (tx, rx) = chan(0);
    go(move || {
        for i in 1..=BOOKS {
            if tx.send(Book(i)).is_err() {
                return;
            }
        }
    });
    rx
}

/// A goroutine that applies `work` to every book from `input` and passes it
/// on; when `input` closes it returns, which closes `output`.
fn stage(input: Receiver<Book>, output: Sender<Book>, work: fn(Book) -> Book) {
    go(move || {
        for book in input {
            if output.send(work(book)).is_err() {
                return;
            }
        }
    });
}

/// One gopher: load, carry and unload each book in turn.
fn one_gopher() -> Vec<Book> {
    pile().into_iter().map(|b| unload(carry(load(b)))).collect()
}

/// `n` three-gopher pipelines sharing one pile and one fire.
fn pipelines(n: u32) -> Vec<Book> {
    let pile = pile();
    let (fire, burnt) = chan(0);
    for _ in 0..n {
        let (to_cart, cart) = chan(0);
        let (to_unloader, unloader) = chan(0);
        stage(pile.clone(), to_cart, load);
        stage(cart, to_unloader, carry);
        stage(unloader, fire.clone(), unload);
    }
    // Only the stages hold handles now, so the fire goes out (`burnt` closes)
    // when the last unloader is done.
    drop((pile, fire));
    burnt.into_iter().collect()
}

fn main() {
    ferrogo::run(|| {
        let procs = ferrogo::debug::metrics().workers;
        println!("burning {BOOKS} books, {STAGE:?} per stage, on {procs} worker thread(s)\n");
        let one = timed("one gopher, three stages in turn", 1, None, one_gopher);
        let label = "a pipeline: load ─► carry ─► unload";
        timed(label, 3, Some(one), || pipelines(1));
        let label = format!("{PIPELINES} pipelines, one pile, one fire");
        timed(&label, 3 * PIPELINES, Some(one), || pipelines(PIPELINES));
    });
}

/// Runs `burn`, checks that every book burnt exactly once and prints how long
/// it took and the speed-up over `baseline` (ideally the number of gophers).
fn timed(
    label: &str,
    gophers: u32,
    baseline: Option<Duration>,
    burn: impl FnOnce() -> Vec<Book>,
) -> Duration {
    let start = Instant::now();
    let books = burn();
    let elapsed = start.elapsed();
    let mut numbers: Vec<u32> = books.iter().map(|b| b.0).collect();
    numbers.sort_unstable();
    assert!(
        numbers.into_iter().eq(1..=BOOKS),
        "lost or duplicated a book"
    );
    let speedup = baseline.map_or(String::new(), |base| {
        let x = base.as_secs_f64() / elapsed.as_secs_f64();
        format!("  {x:4.1}× faster (ideal {gophers}×)")
    });
    let noun = if gophers == 1 { "gopher " } else { "gophers" };
    println!("{label:<36} {gophers:>2} {noun}: {elapsed:>7.1?}{speedup}");
    elapsed
}
