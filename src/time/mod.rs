//! Go's `time` package for goroutines: `sleep`, `after`, `tick`, `Timer`,
//! `Ticker`, `after_func`.
//!
//! # Design
//!
//! A timer (`TimerCore`) is a small shared record plus entries in a worker's
//! timer heap (`runtime/timer.rs`); the worker fires due entries each time it
//! picks work and sleeps no longer than its earliest deadline, so timers fire
//! on time whether the workers are idle or busy, and no timer thread exists.
//!
//! Go 1.23 semantics: a timer's channel never delivers a stale value. The
//! channel has capacity 1; `fire` sends into it and `stop`/`reset` empty it,
//! both under the timer's lock, so after `stop` or `reset` returns nothing
//! from before can be received. A ticker whose receiver is slow drops ticks
//! rather than queueing them.
//!
//! Invariants of `TimerCore::state`:
//! * `generation` changes on every `stop` and on every `reset` that arms a
//!   new heap entry; an entry fires only if its generation is current.
//! * `armed` is the deadline of the live heap entry (the one with the current
//!   generation), if any. A reset to a later deadline keeps that entry: it
//!   fires early, sees `when` in the future, and re-arms itself at `when`.
//!
//! Timer channels never close (as in Go): a fired timer's channel stays
//! empty, not "closed", so it is never ready in `select!` again.
//!
//! A `Timer` or `Ticker` stops when dropped (its channel then never fires);
//! `after` and `tick` return channels whose timer lives as long as needed.
//! Deadlines that overflow `Instant` (e.g. `Duration::MAX`) never fire.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Sender, chan_unclosed as chan};
use crate::runtime::park::{self, WaitReason};
use crate::runtime::timer::{Action, Entry};
use crate::runtime::worker;

/// What a timer does when it fires.
enum Kind {
    /// Sends the firing time on a channel of capacity 1 (kept to drain it).
    Chan(Sender<Instant>, Receiver<Instant>),
    /// Runs a function in a new goroutine.
    Func(Arc<dyn Fn() + Send + Sync>),
    /// Does nothing (heap unit tests).
    #[cfg(test)]
    Nothing,
}

/// The mutable part of a timer, under `TimerCore::state`.
struct State {
    /// When it should fire next; `None` if stopped or never (overflow).
    when: Option<Instant>,
    /// True between arming and firing/stopping (a never-firing timer is active).
    active: bool,
    /// Repeat period (tickers).
    period: Option<Duration>,
    /// Current generation (see the module comment).
    generation: u64,
    /// Deadline of the live heap entry, if any.
    armed: Option<Instant>,
}

/// A timer shared by its handle and its heap entries.
pub(crate) struct TimerCore {
    /// What firing does.
    kind: Kind,
    /// Timing state; the lock also orders sends against stop/reset drains.
    state: Mutex<State>,
}

impl TimerCore {
    fn new(kind: Kind, period: Option<Duration>) -> Arc<TimerCore> {
        Arc::new(TimerCore {
            kind,
            state: Mutex::new(State {
                when: None,
                active: false,
                period,
                generation: 0,
                armed: None,
            }),
        })
    }

    #[cfg(test)]
    pub(crate) fn detached_for_test() -> Arc<TimerCore> {
        TimerCore::new(Kind::Nothing, None)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or restarts) the timer to fire after `d`. Returns whether it
    /// was active. Caller holds no lock.
    fn start(self: &Arc<Self>, d: Duration) -> bool {
        let when = Instant::now().checked_add(d);
        let mut st = self.lock();
        let was_active = st.active;
        self.drain();
        st.active = true;
        st.when = when;
        let Some(when) = when else {
            st.generation += 1; // never fires: retire any live entry
            st.armed = None;
            return was_active;
        };
        if st.armed.is_some_and(|a| a <= when) {
            return was_active; // the live entry fires early and re-arms itself
        }
        st.generation += 1;
        st.armed = Some(when);
        let generation = st.generation;
        drop(st);
        worker::arm_entry(Entry::new(
            when,
            Action::Fire {
                t: self.clone(),
                generation,
            },
        ));
        was_active
    }

    /// Stops the timer; true if it was active. Empties the channel.
    fn stop(&self) -> bool {
        let mut st = self.lock();
        let was_active = st.active;
        st.active = false;
        st.when = None;
        st.generation += 1;
        st.armed = None;
        self.drain();
        was_active
    }

    /// Empties the channel (the state lock is held by the caller). Never a
    /// preemption point: a goroutine switched out here would keep the state
    /// lock while its worker runs `fire` (or another goroutine touching this
    /// timer) and blocks on it forever.
    fn drain(&self) {
        if let Kind::Chan(_, rx) = &self.kind {
            while rx.try_recv_no_preempt().is_ok() {}
        }
    }

    /// A heap entry of generation `generation` is due at `now`. Fires if it
    /// is current and due; returns the deadline to re-arm the same entry at.
    pub(crate) fn fire(&self, now: Instant, generation: u64) -> Option<Instant> {
        let mut st = self.lock();
        if generation != st.generation || !st.active {
            return None;
        }
        let when = st.when?;
        if when > now {
            st.armed = Some(when);
            return Some(when); // reset to later: fire then
        }
        let next = st.period.map(|p| {
            // Skip the ticks a slow receiver missed (Go's ticker drops them).
            let mut next = when + p;
            if next <= now {
                let behind = now.duration_since(when).as_nanos() / p.as_nanos().max(1);
                next = when + p * (behind as u32).saturating_add(1);
                if next <= now {
                    next = now + p;
                }
            }
            next
        });
        st.when = next;
        st.armed = next;
        st.active = next.is_some();
        match &self.kind {
            Kind::Chan(tx, _) => {
                // Under the state lock: no preemption point here, as in the
                // drains of `start`/`stop` (a switch-out holding this lock
                // would deadlock the worker that fires the timer). `fire`
                // runs on the worker itself today, where it could not switch
                // anyway; this keeps that true if it ever runs elsewhere.
                let _ = tx.chan().poll_send(now);
            }
            Kind::Func(f) => {
                let f = f.clone();
                drop(st);
                crate::go(move || f());
                return next;
            }
            #[cfg(test)]
            Kind::Nothing => {}
        }
        next
    }
}

/// Pauses the calling goroutine for at least `d` (the worker runs others
/// meanwhile). On a plain thread, the thread sleeps.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// ferrogo::go(|| ferrogo::time::sleep(Duration::from_millis(20))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(d: Duration) {
    if worker::current_g().is_none() {
        std::thread::sleep(d);
        return;
    }
    crate::checkpoint();
    match Instant::now().checked_add(d) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            park::park(WaitReason::Sleep);
        },
    }
}

/// Pauses the calling goroutine until `deadline` (returns at once if it passed).
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(10);
/// ferrogo::go(move || ferrogo::time::sleep_until(deadline)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if worker::current_g().is_none() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while Instant::now() < deadline {
        park::park_until(WaitReason::Sleep, deadline);
    }
}

/// A channel that receives the current time once, after `d` (Go's
/// `time.After`). Usable in `select!`.
///
/// ```
/// use std::time::Duration;
/// let rx = ferrogo::time::after(Duration::from_millis(5));
/// assert!(rx.recv().is_some());
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = chan(1);
    let core = TimerCore::new(Kind::Chan(tx, rx.clone()), None);
    core.start(d);
    rx
}

/// A channel that receives the time every `d` (Go's `time.Tick`); ticks are
/// dropped while the receiver lags. The ticker runs as long as the process.
/// `d` must be non-zero.
///
/// ```
/// use std::time::Duration;
/// let ticks = ferrogo::time::tick(Duration::from_millis(2));
/// for _ in 0..3 { ticks.recv().unwrap(); }
/// ```
///
/// # Panics
///
/// If `d` is zero (Go returns nil; a zero period cannot tick).
pub fn tick(d: Duration) -> Receiver<Instant> {
    assert!(!d.is_zero(), "ferrogo::time::tick: non-positive interval");
    let (tx, rx) = chan(1);
    let core = TimerCore::new(Kind::Chan(tx, rx.clone()), Some(d));
    core.start(d);
    rx
}

/// A single-shot timer whose channel receives the time when it fires (Go's
/// `time.Timer`). Dropping the `Timer` stops it.
///
/// ```
/// use std::time::Duration;
/// let t = ferrogo::time::Timer::new(Duration::from_millis(5));
/// let fired_at = t.c().recv().unwrap();
/// # let _ = fired_at;
/// ```
pub struct Timer {
    core: Arc<TimerCore>,
    c: Receiver<Instant>,
}

impl Timer {
    /// A timer that fires after `d`.
    ///
    /// ```
    /// let t = ferrogo::time::Timer::new(std::time::Duration::from_secs(3600));
    /// assert!(t.stop());
    /// ```
    pub fn new(d: Duration) -> Timer {
        let (tx, rx) = chan(1);
        let core = TimerCore::new(Kind::Chan(tx, rx.clone()), None);
        core.start(d);
        Timer { core, c: rx }
    }

    /// Runs `f` in its own goroutine after `d` (Go's `time.AfterFunc`); the
    /// returned timer's channel never receives. Stopping it before it fires
    /// cancels the call.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let hit = Arc::new(AtomicBool::new(false));
    /// let h2 = hit.clone();
    /// let _t = ferrogo::time::Timer::after_func(Duration::from_millis(1), move || h2.store(true, Ordering::SeqCst));
    /// while !hit.load(Ordering::SeqCst) { std::thread::sleep(Duration::from_millis(1)); }
    /// ```
    pub fn after_func<F>(d: Duration, f: F) -> Timer
    where
        F: Fn() + Send + Sync + 'static,
    {
        let (_tx, rx) = chan(1);
        let core = TimerCore::new(Kind::Func(Arc::new(f)), None);
        core.start(d);
        Timer { core, c: rx }
    }

    /// The channel that receives the firing time (Go's `t.C`).
    ///
    /// ```
    /// let t = ferrogo::time::Timer::new(std::time::Duration::ZERO);
    /// assert!(t.c().recv().is_some());
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stops the timer. Returns true if that stopped it, false if it had
    /// already fired or been stopped. Afterwards its channel receives
    /// nothing (Go 1.23: no stale value).
    ///
    /// ```
    /// let t = ferrogo::time::Timer::new(std::time::Duration::from_millis(50));
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// ```
    pub fn stop(&self) -> bool {
        self.core.stop()
    }

    /// Restarts the timer to fire after `d`. Returns true if it was active.
    /// No value from before the reset is received afterwards.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = ferrogo::time::Timer::new(Duration::from_secs(60));
    /// assert!(t.reset(Duration::from_millis(1)));
    /// t.c().recv().unwrap();
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.core.start(d)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.core.stop();
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("active", &self.core.lock().active)
            .finish()
    }
}

/// Delivers the time on its channel every period (Go's `time.Ticker`);
/// ticks are dropped while the receiver lags. Dropping it stops it.
///
/// ```
/// use std::time::Duration;
/// let t = ferrogo::time::Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 { t.c().recv().unwrap(); }
/// t.stop();
/// ```
pub struct Ticker {
    core: Arc<TimerCore>,
    c: Receiver<Instant>,
}

impl Ticker {
    /// A ticker with period `d`.
    ///
    /// # Panics
    ///
    /// If `d` is zero (Go panics too: "non-positive interval for NewTicker").
    ///
    /// ```should_panic
    /// ferrogo::time::Ticker::new(std::time::Duration::ZERO);
    /// ```
    pub fn new(d: Duration) -> Ticker {
        assert!(
            !d.is_zero(),
            "ferrogo::time::Ticker::new: non-positive interval"
        );
        let (tx, rx) = chan(1);
        let core = TimerCore::new(Kind::Chan(tx, rx.clone()), Some(d));
        core.start(d);
        Ticker { core, c: rx }
    }

    /// The channel that receives the ticks (Go's `t.C`).
    ///
    /// ```
    /// let t = ferrogo::time::Ticker::new(std::time::Duration::from_millis(1));
    /// t.c().recv().unwrap();
    /// ```
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stops the ticker; no tick is received afterwards.
    ///
    /// ```
    /// let t = ferrogo::time::Ticker::new(std::time::Duration::from_millis(1));
    /// t.stop();
    /// assert!(t.c().recv_timeout(std::time::Duration::from_millis(20)).is_err());
    /// ```
    pub fn stop(&self) {
        self.core.stop();
    }

    /// Changes the period to `d` and restarts the ticker from now.
    ///
    /// # Panics
    ///
    /// If `d` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = ferrogo::time::Ticker::new(Duration::from_secs(60));
    /// t.reset(Duration::from_millis(1));
    /// t.c().recv().unwrap();
    /// ```
    pub fn reset(&self, d: Duration) {
        assert!(
            !d.is_zero(),
            "ferrogo::time::Ticker::reset: non-positive interval"
        );
        self.core.lock().period = Some(d);
        self.core.start(d);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.core.stop();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.core.lock();
        f.debug_struct("Ticker")
            .field("period", &st.period)
            .field("active", &st.active)
            .finish()
    }
}
