//! Rough timing probes (ignored by default): `cargo test --release --test
//! chan_perf -- --ignored --nocapture`. Real benchmarks live in `benches/`.
mod support;

use std::time::Instant;

use ferrogo::{chan, go, select};

#[test]
#[ignore]
fn unbuffered_ping_pong() {
    support::for_procs(|| {
        const N: u32 = 100_000;
        let (ping_tx, ping_rx) = chan::<u32>(0);
        let (pong_tx, pong_rx) = chan::<u32>(0);
        let h = go(move || {
            for v in &ping_rx {
                pong_tx.send(v).unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..N {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        println!("unbuffered ping-pong: {:?}/round trip", t.elapsed() / N);
        drop(ping_tx);
        h.join().unwrap();
    });
}

#[test]
#[ignore]
fn buffered_spsc() {
    support::for_procs(|| {
        const N: u32 = 2_000_000;
        let (tx, rx) = chan::<u32>(1024);
        let t = Instant::now();
        let h = go(move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        });
        let mut n = 0;
        for _ in &rx {
            n += 1;
        }
        h.join().unwrap();
        assert_eq!(n, N);
        println!("buffered SPSC: {:?}/msg", t.elapsed() / N);
    });
}

#[test]
#[ignore]
fn uncontended_buffered_send_recv() {
    const N: u32 = 5_000_000;
    let (tx, rx) = chan::<u32>(1);
    let t = Instant::now();
    for i in 0..N {
        tx.send(i).unwrap();
        rx.recv().unwrap();
    }
    println!("uncontended send+recv: {:?}", t.elapsed() / N);
    let (tx2, rx2) = chan::<u32>(1);
    let t = Instant::now();
    for i in 0..N {
        tx2.send(i).unwrap();
        select! { recv(rx) -> _ => {}, recv(rx2) -> _ => {} }
    }
    println!("uncontended send + 2-way select: {:?}", t.elapsed() / N);
}
