//! temp
use ferrogo::{Runtime, chan, go, yield_now};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
fn spin(n: u64) -> u64 {
    let mut x = n;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}
fn main() {
    let migrate = std::env::var_os("NOMIG").is_none();
    for round in 0..200 {
        for n in [1usize, 2] {
            let b = Runtime::builder().max_procs(n).max_stacks(8);
            let b = if migrate {
                unsafe { b.allow_migration() }
            } else {
                b
            };
            let rt = b.build().unwrap();
            let progress = Arc::new(AtomicU64::new(0));
            let p = progress.clone();
            let rt2: &'static Runtime = Box::leak(Box::new(rt));
            let watcher = {
                let p = progress.clone();
                std::thread::spawn(move || {
                    let mut last = u64::MAX;
                    let mut same = 0;
                    loop {
                        std::thread::sleep(Duration::from_millis(500));
                        let v = p.load(Ordering::SeqCst);
                        if v == u64::MAX {
                            return;
                        }
                        if v == last {
                            same += 1;
                        } else {
                            same = 0;
                            last = v;
                        }
                        if same >= 6 {
                            eprintln!(
                                "HANG round {round} procs {n} batch {v}: {:?}",
                                rt2.metrics()
                            );
                            std::process::exit(7);
                        }
                    }
                })
            };
            let done = rt2.run(move || {
                let mut done = 0u64;
                for batch in 0..500 {
                    p.store(batch, Ordering::SeqCst);
                    let (tx, rx) = chan::<u64>(0);
                    let hs: Vec<_> = (0..6u64)
                        .map(|i| {
                            let (tx, rx) = (tx.clone(), rx.clone());
                            go(move || {
                                yield_now();
                                if i % 2 == 0 {
                                    tx.send(i).unwrap();
                                    0
                                } else {
                                    spin(100);
                                    rx.recv().unwrap()
                                }
                            })
                        })
                        .collect();
                    done += hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
                }
                done
            });
            progress.store(u64::MAX, Ordering::SeqCst);
            watcher.join().unwrap();
            assert_eq!(done, 3000);
        }
    }
    eprintln!("ok");
}
