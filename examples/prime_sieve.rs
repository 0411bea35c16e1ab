//! Go's classic concurrent prime sieve, goroutine for goroutine.
//!
//! A generator goroutine sends 2, 3, 4, … down an unbuffered channel. Each
//! time a prime `p` reaches the end of the chain, a new filter goroutine is
//! appended that drops the multiples of `p` and passes everything else on:
//!
//! ```text
//! generate ─► filter(2) ─► filter(3) ─► filter(5) ─► … ─► main
//! ```
//!
//! Finding the `n`-th prime takes `n` filter goroutines, all blocked on
//! channels at once, and millions of channel hand-offs between them. It is a
//! stress test of unbuffered channels and goroutine switches rather than a
//! good way to find primes; the result is checked against a plain sieve.
//!
//! ```sh
//! cargo run --release --example prime_sieve            # the first 100 primes
//! cargo run --release --example prime_sieve -- 1000    # the first 1000
//! cargo run --release --example prime_sieve -- --bench # count, last prime and time for 5000
//! ```
//!
//! When `main` has its primes it drops its receiver: the last filter's next
//! send fails, so it returns and drops *its* receiver, and the chain unwinds
//! back to the generator — no goroutine is left behind.

use std::time::{Duration, Instant};

use ferrogo::{Receiver, Sender, chan, go};

/// Sends 2, 3, 4, … until the receiver goes away.
fn generate(out: Sender<u64>) {
    for i in 2.. {
        if out.send(i).is_err() {
            return;
        }
    }
}

/// Passes on the values from `input` that `prime` does not divide.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

/// The first `n` primes, found by a chain of `n` filter goroutines.
fn sieve(n: usize) -> Vec<u64> {
    let (tx, mut rx) = chan(0);
    go(move || generate(tx));
    let mut primes = Vec::with_capacity(n);
    for _ in 0..n {
        let prime = rx.recv().expect("the generator never stops");
        primes.push(prime);
        let (tx, next) = chan(0);
        go(move || filter(rx, tx, prime));
        rx = next;
    }
    primes
}

/// The first `n` primes by the sieve of Eratosthenes, to check the result.
fn sequential_primes(n: usize) -> Vec<u64> {
    let mut limit = 64;
    loop {
        let mut composite = vec![false; limit];
        let mut primes = Vec::new();
        for i in 2..limit {
            if !composite[i] {
                primes.push(i as u64);
                for multiple in (i * i..limit).step_by(i) {
                    composite[multiple] = true;
                }
            }
        }
        if primes.len() >= n {
            primes.truncate(n);
            return primes;
        }
        limit *= 2;
    }
}

/// How many channel sends the sieve makes to find `primes`: every number
/// up to the last prime is sent by the generator, then once more by each
/// filter it passes, i.e. by one filter per prime below its smallest factor.
fn channel_sends(primes: &[u64]) -> u64 {
    let last = primes[primes.len() - 1] as usize;
    let mut filters_passed = vec![None; last + 1];
    for (k, &p) in primes.iter().enumerate() {
        for m in (p as usize..=last).step_by(p as usize) {
            filters_passed[m].get_or_insert(k as u64);
        }
    }
    filters_passed[2..].iter().map(|k| 1 + k.unwrap()).sum()
}

fn main() {
    let mut bench = false;
    let mut n = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench = true,
            _ => match arg.parse::<usize>() {
                Ok(count) if count > 0 => n = Some(count),
                _ => {
                    eprintln!("usage: prime_sieve [COUNT] [--bench]");
                    std::process::exit(2);
                }
            },
        }
    }
    let n = n.unwrap_or(if bench { 5000 } else { 100 });

    let (primes, elapsed) = ferrogo::run(move || {
        let start = Instant::now();
        let primes = sieve(n);
        (primes, start.elapsed())
    });
    assert_eq!(primes, sequential_primes(n), "the sieve disagrees");
    let last = primes[n - 1];
    let sends = channel_sends(&primes);
    let timing = format!(
        "{elapsed:.2?} for {sends} channel sends ({:.0} ns each)",
        per(elapsed, sends)
    );

    if bench {
        println!("{n} primes, last {last}, in {timing}");
        return;
    }
    for row in primes.chunks(10) {
        let row: Vec<String> = row.iter().map(|p| format!("{p:>6}")).collect();
        println!("{}", row.join(""));
    }
    println!(
        "\nthe first {n} primes, checked against a sequential sieve; \
         {n} filter goroutines, {timing}"
    );
}

fn per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}
