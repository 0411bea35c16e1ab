//! Small protocol exercises that drive every raw-pointer path of the channel
//! core — a counterpart writing a parked receiver's slot, taking a parked
//! sender's value, a select committed through one case and unregistered from
//! the others, timeouts that remove their own entry, and close failing
//! waiters. They need the runtime (mmap'd stacks, `sigaltstack`), which Miri
//! cannot run; the pure pieces (ring buffer, spin lock, timer heap) are the
//! Miri targets in `scripts/models.sh`.
use std::time::Duration;

use ferrogo::{Select, chan, go, select};

#[test]
fn parked_slots_are_written_and_taken() {
    let (tx, rx) = chan::<Box<u32>>(0);
    let h = go(move || rx.recv().map(|b| *b));
    tx.send(Box::new(7)).unwrap();
    assert_eq!(h.join().unwrap(), Some(7));

    let (tx, rx) = chan::<Box<u32>>(0);
    let h = go(move || tx.send(Box::new(8)).unwrap());
    assert_eq!(rx.recv().map(|b| *b), Some(8));
    h.join().unwrap();

    // A full buffer refilled from a parked sender.
    let (tx, rx) = chan::<Box<u32>>(1);
    tx.send(Box::new(1)).unwrap();
    let h = go(move || tx.send(Box::new(2)).unwrap());
    assert_eq!(rx.recv().map(|b| *b), Some(1));
    assert_eq!(rx.recv().map(|b| *b), Some(2));
    h.join().unwrap();
}

#[test]
fn select_commits_one_case_and_unregisters_the_rest() {
    for _ in 0..3 {
        let (t1, r1) = chan::<String>(0);
        let (t2, r2) = chan::<String>(0);
        let (t3, r3) = chan::<String>(0);
        let h = go(move || {
            select! {
                recv(r1) -> v => v,
                recv(r2) -> v => v,
                send(t3, "offer".to_string()) -> r => r.ok().map(|_| "sent".to_string()),
            }
        });
        let got = select! {
            send(t1, "a".to_string()) -> r => r.map(|_| "a".to_string()).ok(),
            send(t2, "b".to_string()) -> r => r.map(|_| "b".to_string()).ok(),
            recv(r3) -> v => v,
        };
        let theirs = h.join().unwrap();
        match got.as_deref() {
            Some("a") | Some("b") => assert_eq!(theirs, got),
            Some("offer") => assert_eq!(theirs.as_deref(), Some("sent")),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn timeouts_and_close_clean_up() {
    let (tx, rx) = chan::<Box<u8>>(0);
    assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
    assert!(
        tx.send_timeout(Box::new(1), Duration::from_millis(1))
            .is_err()
    );
    let mut sel = Select::new();
    sel.recv(&rx);
    sel.send(&tx, Box::new(2));
    assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
    drop(sel);
    let h = go(move || rx.recv());
    let h2 = {
        let tx = tx.clone();
        go(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.close();
        })
    };
    // Either the receiver got our value, or close failed our send.
    let res = tx.send(Box::new(3));
    h2.join().unwrap();
    match h.join().unwrap() {
        Some(b) => assert_eq!((*b, res.is_ok()), (3, true)),
        None => assert!(res.is_err()),
    }
}
