//! Criterion benchmarks of the kernel operations a fresh goroutine stack
//! costs, on this machine: the figures ARCHITECTURE.md ("Stacks") argues
//! from, kept re-measurable. Plain `libc` calls, no runtime.
//!
//! `cargo bench --bench kernel`. Each figure is per stack (per 4 KiB page).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const PAGE: usize = 4096;
/// A default stack plus its guard page.
const STACK: usize = 256 * 1024 + PAGE;
/// `madvise` advice installing a guard region (Linux 6.13+).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Maps `n` stacks' worth of address space (no memory until touched).
fn map(n: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            n * STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap failed");
    p.cast()
}

fn unmap(p: *mut u8, n: usize) {
    // SAFETY: `p` came from `map(n)` and nothing refers into it any more.
    unsafe { libc::munmap(p.cast(), n * STACK) };
}

/// Per stack: the `mmap` call alone (one stack per call, then 16 and 256 per call).
fn mmap_per_stack(c: &mut Criterion) {
    for per_call in [1, 16, 256] {
        c.bench_function(
            &format!("mmap, {per_call} stacks per call (per stack)"),
            |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let t = Instant::now();
                        let p = map(per_call);
                        spent += t.elapsed();
                        unmap(p, per_call);
                    }
                    spent / per_call as u32
                })
            },
        );
    }
}

/// Times `op(p, i)` over the `N` stacks of fresh mappings (mapping and
/// unmapping not counted); the figure is per stack.
fn per_stack(c: &mut Criterion, name: &str, op: impl Fn(*mut u8, usize)) {
    const N: usize = 256;
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let rounds = iters.div_ceil(N as u64);
            let mut spent = Duration::ZERO;
            for _ in 0..rounds {
                let p = map(N);
                let t = Instant::now();
                for i in 0..N {
                    op(p, i);
                }
                spent += t.elapsed();
                unmap(p, N);
            }
            spent.mul_f64(iters as f64 / (rounds * N as u64) as f64)
        })
    });
}

/// Per stack: installing the guard page, the first write to its top page (a
/// page fault that commits a fresh page), and the first read of an untouched
/// page (the shared zero page gets mapped).
fn guard_and_first_touch(c: &mut Criterion) {
    per_stack(
        c,
        "guard install (MADV_GUARD_INSTALL, per stack)",
        |p, i| {
            // SAFETY: advice on the first page of a stack-sized range we own.
            unsafe { libc::madvise(p.add(i * STACK).cast(), PAGE, MADV_GUARD_INSTALL) };
        },
    );
    per_stack(
        c,
        "first write to a stack's top page (per stack)",
        |p, i| {
            // SAFETY: the last word of the i-th stack-sized range of our mapping.
            unsafe { std::ptr::write_volatile(p.add((i + 1) * STACK - 8).cast::<u64>(), 1) };
        },
    );
    per_stack(
        c,
        "first read of an untouched page (zero page, per stack)",
        |p, i| {
            // SAFETY: a word inside the i-th stack-sized range of our mapping.
            unsafe { std::ptr::read_volatile(p.add(i * STACK + 8 * PAGE).cast::<u64>()) };
        },
    );
}

/// Two threads each mapping stacks `per_call` at a time, guarding and
/// touching each: wall time per stack. Every `mmap` write-locks the address
/// space and stalls the other thread's page faults.
fn two_threads_new_stacks(c: &mut Criterion) {
    for per_call in [16, 256] {
        c.bench_function(
            &format!("2 threads: map {per_call} per call + guard + touch (wall per stack)"),
            |b| {
                b.iter_custom(|iters| {
                    let per_thread = (iters as usize).div_ceil(2).next_multiple_of(per_call);
                    let t = Instant::now();
                    let maps: Vec<usize> = std::thread::scope(|s| {
                        let threads: Vec<_> = (0..2)
                            .map(|_| {
                                s.spawn(move || {
                                    let mut maps = Vec::new();
                                    for _ in 0..per_thread / per_call {
                                        let p = map(per_call);
                                        for i in 0..per_call {
                                            // SAFETY: ranges inside the mapping just made.
                                            unsafe {
                                                libc::madvise(
                                                    p.add(i * STACK).cast(),
                                                    PAGE,
                                                    MADV_GUARD_INSTALL,
                                                );
                                                std::ptr::write_volatile(
                                                    p.add((i + 1) * STACK - 8).cast::<u64>(),
                                                    1,
                                                );
                                            }
                                        }
                                        maps.push(p as usize);
                                    }
                                    maps
                                })
                            })
                            .collect();
                        threads
                            .into_iter()
                            .flat_map(|t| t.join().unwrap())
                            .collect()
                    });
                    let spent = t.elapsed();
                    for p in maps {
                        unmap(p as *mut u8, per_call);
                    }
                    spent.mul_f64(iters as f64 / (2 * per_thread) as f64)
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20);
    targets = mmap_per_stack, guard_and_first_touch, two_threads_new_stacks
}
criterion_main!(benches);
