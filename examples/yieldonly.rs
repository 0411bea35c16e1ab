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
        rt.run(move || {
            let a = ferrogo::go(move || {
                for _ in 0..n {
                    ferrogo::yield_now()
                }
            });
            let b = ferrogo::go(move || {
                for _ in 0..n {
                    ferrogo::yield_now()
                }
            });
            a.join().unwrap();
            b.join().unwrap();
        });
        println!(
            "yield pingpong at {procs}: {:.1} ns/yield",
            t.elapsed().as_nanos() as f64 / (2 * n) as f64
        );
    }
}
