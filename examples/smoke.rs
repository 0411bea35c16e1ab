use std::time::Instant;
fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 { return num; }
    let hs: Vec<_> = (0..10).map(|i| { let sub = size / 10; ferrogo::go(move || skynet(num + i * sub, sub)) }).collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}
fn main() {
    let rt = ferrogo::Runtime::builder().max_procs(2).build().unwrap();
    let t = Instant::now();
    let n = rt.run(|| {
        let hs: Vec<_> = (0..100_000u64).map(|i| ferrogo::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    println!("100k spawn sum {n} in {:?}", t.elapsed());
    let t = Instant::now();
    let s = rt.run(|| skynet(0, 1_000_000));
    println!("skynet {s} in {:?} ({:.0} ns/leaf)", t.elapsed(), t.elapsed().as_nanos() as f64 / 1e6);
}
