//! Behaviours of Go's `time` package tests (src/time/sleep_test.go, tick_test.go),
//! re-implemented for ferrogo's `time` module. Timing assertions are lower
//! bounds plus generous upper bounds (the machine is shared and noisy).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrogo::time::{Ticker, Timer, after, sleep, sleep_until};
use ferrogo::{Runtime, chan, go, select};

const SLACK: Duration = Duration::from_secs(3);

mod support;
use support::for_procs;

// Go: TestSleep — sleep lasts at least the duration.
#[test]
fn sleep_lasts_at_least_its_duration() {
    for_procs(|| {
        let t = Instant::now();
        sleep(Duration::from_millis(20));
        let el = t.elapsed();
        assert!(el >= Duration::from_millis(20), "slept only {el:?}");
        assert!(el < SLACK, "slept {el:?}");
    });
}

// Sleeping parks the goroutine, not the worker: 1000 concurrent 50 ms sleeps
// on one worker take about 50 ms, not 50 s.
#[test]
fn sleeps_run_concurrently_on_one_worker() {
    for_procs(|| {
        let t = Instant::now();
        let hs: Vec<_> = (0..1000)
            .map(|_| go(|| sleep(Duration::from_millis(50))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let el = t.elapsed();
        assert!(el >= Duration::from_millis(50));
        assert!(el < SLACK, "1000 sleeps took {el:?}");
    });
}

// Go: TestAfter — after delivers once, no earlier than asked.
#[test]
fn after_delivers_once_after_the_duration() {
    for_procs(|| {
        let t = Instant::now();
        let rx = after(Duration::from_millis(10));
        let at = rx.recv().expect("after delivers");
        assert!(at >= t + Duration::from_millis(10));
        assert!(
            rx.recv_timeout(Duration::from_millis(30)).is_err(),
            "after delivers only once"
        );
        // Go's timer channels never close: a fired one is not ready in select.
        let ready = select! {
            recv(rx) -> _ => true,
            default => false,
        };
        assert!(!ready, "a fired timer channel looks closed");
    });
}

// Zero and past deadlines fire at once.
#[test]
fn zero_and_past_deadlines_fire_immediately() {
    for_procs(|| {
        let t = Instant::now();
        Timer::new(Duration::ZERO).c().recv().unwrap();
        after(Duration::ZERO).recv().unwrap();
        sleep_until(Instant::now() - Duration::from_millis(5));
        sleep(Duration::ZERO);
        assert!(t.elapsed() < SLACK);
    });
}

// crossbeam#795: Duration::MAX must not overflow anywhere.
#[test]
fn duration_max_does_not_overflow() {
    for_procs(|| {
        let t = Timer::new(Duration::MAX);
        assert!(t.c().try_recv().is_err());
        assert!(t.reset(Duration::MAX));
        assert!(t.stop());
        let never = after(Duration::MAX);
        let (tx, rx) = chan::<u8>(1);
        tx.send(1).unwrap();
        let got = select! {
            recv(rx) -> v => v,
            recv(never) -> _ => None,
            after(Duration::MAX) => None,
        };
        assert_eq!(got, Some(1));
    });
}

// Go: TestTimerStopStaleValue (1.23 semantics) — after Stop, nothing is received.
#[test]
fn stop_before_fire_delivers_nothing() {
    for_procs(|| {
        let t = Timer::new(Duration::from_millis(20));
        assert!(t.stop(), "stop of an active timer reports true");
        assert!(!t.stop(), "second stop reports false");
        assert!(t.c().recv_timeout(Duration::from_millis(60)).is_err());
    });
}

// Go 1.23: a fired-but-unreceived value is discarded by Stop and by Reset.
#[test]
fn no_stale_value_after_stop_or_reset() {
    for_procs(|| {
        let t = Timer::new(Duration::from_millis(1));
        sleep(Duration::from_millis(20)); // it fired into the channel meanwhile
        assert!(!t.stop(), "already fired: stop reports false");
        assert!(t.c().try_recv().is_err(), "stale value after stop");

        let t = Timer::new(Duration::from_millis(1));
        sleep(Duration::from_millis(20));
        t.reset(Duration::from_secs(3600));
        assert!(t.c().try_recv().is_err(), "stale value after reset");
        assert!(t.stop());
    });
}

// Go: TestReset — reset re-arms, to earlier and to later deadlines.
#[test]
fn reset_rearms() {
    for_procs(|| {
        let t = Timer::new(Duration::from_secs(3600));
        let start = Instant::now();
        assert!(t.reset(Duration::from_millis(10)), "was active");
        let at = t.c().recv().unwrap();
        assert!(at >= start + Duration::from_millis(10));
        // Later: reset to a later deadline fires at the later one.
        let start = Instant::now();
        assert!(!t.reset(Duration::from_millis(5)), "had fired: inactive");
        assert!(t.reset(Duration::from_millis(40)), "active again");
        let at = t.c().recv().unwrap();
        assert!(
            at >= start + Duration::from_millis(40),
            "fired at the earlier deadline"
        );
    });
}

// A goroutine whose time slice is used up resets or stops a due timer. The
// channel drain inside must not be the preemption point: switched out there,
// the goroutine would keep the timer's lock while its worker fires that timer
// and blocks on the lock forever (found with ThreadSanitizer, whose slowdown
// used up the slice inside `reset_in_a_loop_fires_once`).
#[test]
fn reset_and_stop_with_the_slice_used_up() {
    // Longer than a slice (10 ms) plus sysmon's slowest check interval.
    fn hog() {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            std::hint::spin_loop();
        }
    }
    for_procs(|| {
        let t = Timer::new(Duration::from_millis(1));
        hog();
        t.reset(Duration::from_millis(1));
        assert!(t.c().recv().is_some());
        assert!(t.c().recv_timeout(Duration::from_millis(20)).is_err());

        let t = Timer::new(Duration::from_millis(1));
        hog();
        t.stop();
        assert!(t.c().recv_timeout(Duration::from_millis(20)).is_err());
    });
}

// Resetting a timer in a loop does not keep old deadlines alive: after the
// last reset, exactly one value arrives, at the last deadline.
#[test]
fn reset_in_a_loop_fires_once() {
    for_procs(|| {
        let t = Timer::new(Duration::from_millis(5));
        for _ in 0..10_000 {
            t.reset(Duration::from_millis(5));
        }
        t.c().recv().unwrap();
        assert!(t.c().recv_timeout(Duration::from_millis(30)).is_err());
    });
}

// Stop/reset racing with firing, from several goroutines: when everything has
// stopped, the channel stays empty.
#[test]
fn stop_reset_races_leave_no_value() {
    for_procs(|| {
        for _ in 0..20 {
            let t = Arc::new(Timer::new(Duration::from_micros(50)));
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let t = t.clone();
                    go(move || {
                        for k in 0..200u64 {
                            if (k + i) % 2 == 0 {
                                t.reset(Duration::from_micros(k % 7 * 10));
                            } else {
                                t.stop();
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            t.stop();
            assert!(
                t.c().recv_timeout(Duration::from_millis(5)).is_err(),
                "value after final stop"
            );
        }
    });
}

// Go: TestTicker — ticks arrive about every period; Stop stops them.
#[test]
fn ticker_ticks_and_stops() {
    for_procs(|| {
        let period = Duration::from_millis(5);
        let t = Ticker::new(period);
        let start = Instant::now();
        for _ in 0..5 {
            t.c().recv().unwrap();
        }
        let el = start.elapsed();
        assert!(el >= period * 4, "5 ticks in {el:?}");
        assert!(el < SLACK);
        t.stop();
        let _ = t.c().try_recv();
        assert!(
            t.c().recv_timeout(Duration::from_millis(30)).is_err(),
            "tick after stop"
        );
    });
}

// A slow receiver gets at most one buffered tick (ticks are dropped, not queued).
#[test]
fn ticker_drops_ticks_for_slow_receivers() {
    for_procs(|| {
        let t = Ticker::new(Duration::from_millis(1));
        sleep(Duration::from_millis(40));
        let mut n = 0;
        while t.c().try_recv().is_ok() {
            n += 1;
        }
        assert!(n <= 1, "{n} ticks were queued");
        // And it keeps ticking afterwards.
        t.c().recv_timeout(Duration::from_secs(2)).unwrap();
    });
}

// Ticker::reset changes the period.
#[test]
fn ticker_reset_changes_period() {
    for_procs(|| {
        let t = Ticker::new(Duration::from_secs(3600));
        t.reset(Duration::from_millis(2));
        t.c().recv_timeout(Duration::from_secs(2)).unwrap();
        t.c().recv_timeout(Duration::from_secs(2)).unwrap();
    });
}

// Go: TestTimerFairness — timers fire while every worker is busy with
// channel traffic.
#[test]
fn timers_fire_while_workers_are_busy() {
    for_procs(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let mut busy = Vec::new();
        for _ in 0..2 {
            let (a_tx, a_rx) = chan::<u64>(0);
            let (b_tx, b_rx) = chan::<u64>(0);
            let s1 = stop.clone();
            busy.push(go(move || {
                let mut v = 0;
                while !s1.load(Ordering::Relaxed) {
                    a_tx.send(v).unwrap();
                    v = b_rx.recv().unwrap();
                }
                drop(a_tx);
            }));
            busy.push(go(move || {
                while let Some(v) = a_rx.recv() {
                    if b_tx.send(v + 1).is_err() {
                        break;
                    }
                }
            }));
        }
        let t = Instant::now();
        for _ in 0..10 {
            after(Duration::from_millis(2)).recv().unwrap();
        }
        let el = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        for h in busy {
            h.join().unwrap();
        }
        assert!(el < SLACK, "10 timers took {el:?} under load");
    });
}

// golang/go#65178: an after_func callback is not starved by a ping-pong pair
// on a single worker.
#[test]
fn after_func_not_starved_by_ping_pong_at_one_worker() {
    Runtime::builder().max_procs(1).build().unwrap().run(|| {
        let fired = Arc::new(AtomicBool::new(false));
        let (a_tx, a_rx) = chan::<u64>(0);
        let (b_tx, b_rx) = chan::<u64>(0);
        let f2 = fired.clone();
        let pinger = go(move || {
            let mut v = 0;
            while !f2.load(Ordering::SeqCst) {
                a_tx.send(v).unwrap();
                v = b_rx.recv().unwrap();
            }
        });
        let ponger = go(move || {
            while let Some(v) = a_rx.recv() {
                if b_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
        let f3 = fired.clone();
        let t = Instant::now();
        let _timer = Timer::after_func(Duration::from_millis(5), move || {
            f3.store(true, Ordering::SeqCst)
        });
        pinger.join().unwrap();
        let el = t.elapsed();
        ponger.join().unwrap();
        assert!(el < SLACK, "after_func ran only after {el:?}");
    });
}

// Timers work from plain OS threads, mixed with goroutines.
#[test]
fn timers_from_plain_threads() {
    let t = Instant::now();
    let timer = Timer::new(Duration::from_millis(10));
    timer.c().recv().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(10));
    let hits = Arc::new(AtomicU64::new(0));
    let h2 = hits.clone();
    let _f = Timer::after_func(Duration::from_millis(1), move || {
        h2.fetch_add(1, Ordering::SeqCst);
    });
    let deadline = Instant::now() + SLACK;
    while hits.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "after_func from a thread never ran"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // A thread waits on a timer a goroutine owns.
    let rx = go(|| after(Duration::from_millis(5))).join().unwrap();
    assert!(rx.recv().is_some());
}
