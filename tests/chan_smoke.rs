//! Smoke test: unbuffered transfer and a two-way select.
mod support;
use ferrogo::{chan, go, select};
#[test]
fn smoke() {
    support::for_procs(|| {
        let (tx, rx) = chan::<u64>(0);
        let h = go(move || {
            for i in 0..1000 {
                tx.send(i).unwrap();
            }
        });
        let mut s = 0;
        for v in &rx {
            s += v;
        }
        h.join().unwrap();
        assert_eq!(s, 999 * 1000 / 2);
        let (tx, rx) = chan::<u64>(0);
        let (tx2, rx2) = chan::<u64>(0);
        let h = go(move || {
            for i in 0..1000 {
                if i % 2 == 0 {
                    tx.send(i).unwrap()
                } else {
                    tx2.send(i).unwrap()
                }
            }
        });
        let mut s = 0;
        let mut n = 0;
        while n < 1000 {
            select! {
                recv(rx) -> v => s += v.unwrap(),
                recv(rx2) -> v => s += v.unwrap(),
            }
            n += 1;
        }
        h.join().unwrap();
        assert_eq!(s, 999 * 1000 / 2);
    });
}
