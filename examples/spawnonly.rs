use std::time::Instant;
fn main() {
    let procs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2);
    let n: u64 = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let rt = ferrogo::Runtime::builder()
        .max_procs(procs)
        .build()
        .unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let s = rt.run(move || {
            let hs: Vec<_> = (0..n).map(|i| ferrogo::go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(s, n * (n - 1) / 2);
        println!(
            "spawn {n} at {procs}: {:.0} ns/goroutine",
            t.elapsed().as_nanos() as f64 / n as f64
        );
    }
}
