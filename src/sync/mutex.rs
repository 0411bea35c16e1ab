//! `Mutex<T>`: a lock that parks the goroutine, with Go's starvation mode.
//!
//! # Design (after Go's `sync/mutex.go`; our own code)
//!
//! The lock is one atomic word plus a [`Sema`] to sleep on:
//!
//! ```text
//!   state:  [ waiters (29 bits) | STARVING | WOKEN | LOCKED ]
//! ```
//!
//! * `LOCKED`: someone owns the lock.
//! * `WOKEN`: a waiter is awake and competing (spinning, or woken by
//!   `unlock`), so `unlock` need not wake another one.
//! * `STARVING`: ownership is handed from `unlock` straight to the head
//!   waiter; nobody else may take it.
//! * `waiters`: contexts parked (or about to park) on `sema`.
//!
//! **Normal mode**: a locker takes the lock with one CAS if it is free
//! (arriving lockers are running and have the CPU, so letting them barge is
//! much faster than a hand-off). Otherwise it spins briefly (a few rounds,
//! only while the lock is held in normal mode), then registers as a waiter
//! and parks on `sema`, FIFO. A woken waiter does not own the lock: it
//! competes with new arrivals and usually loses — so a waiter that fails
//! goes back to the *head* of the queue (LIFO re-queue).
//!
//! **Starvation mode**: a waiter that has waited more than 1 ms
//! ([`STARVATION_THRESHOLD`]) sets `STARVING` on its next attempt. From then
//! on `unlock` hands the lock directly to the head waiter
//! ([`Sema::release`] with handoff) and arriving lockers neither take it nor
//! spin: they queue at the tail. The waiter that receives the lock switches
//! back to normal mode when it was the last waiter or waited < 1 ms itself.
//! So no waiter waits forever behind a stream of bargers.
//!
//! In starvation mode the handed-off waiter owns the lock while `LOCKED` is
//! still clear (it sets `LOCKED` itself when it runs); arriving lockers see
//! `STARVING` and never take a lock with `STARVING` set.
//!
//! The lock is not owned by a context: a guard may be sent to and dropped by
//! another goroutine or thread (Go allows unlocking from another goroutine).
//!
//! # Rejected alternatives
//!
//! * `std::sync::Mutex`: blocks the OS thread, so every goroutine on that
//!   worker stalls, and two goroutines of one worker can deadlock it.
//! * Strict FIFO hand-off always: fair but several times slower under
//!   contention (every unlock waits for a context switch to the next owner).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::sema::Sema;
use crate::runtime::WaitReason;

/// Bit: the lock is held.
const LOCKED: u32 = 1;
/// Bit: a waiter is awake and competing; `unlock` need not wake another.
const WOKEN: u32 = 2;
/// Bit: starvation mode, ownership is handed to the head waiter.
const STARVING: u32 = 4;
/// The waiter count starts at this bit.
const WAITER_SHIFT: u32 = 3;
/// One waiter, in `state` units.
const WAITER: u32 = 1 << WAITER_SHIFT;

/// A waiter blocked longer than this switches the mutex to starvation mode
/// (Go's `starvationThresholdNs`).
pub(crate) const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Spin rounds before parking (Go's `active_spin`), each of
/// [`SPIN_PAUSES`] pause instructions.
const SPIN_ROUNDS: u32 = 4;
/// Pause instructions per spin round (Go's `active_spin_cnt`).
const SPIN_PAUSES: u32 = 30;

/// The lock without data: shared by `Mutex`, `RwMutex` (its writer lock)
/// and `Once`.
pub(crate) struct RawMutex {
    /// `LOCKED | WOKEN | STARVING | waiters << WAITER_SHIFT` (module comment).
    state: AtomicU32,
    /// Where waiters park; a permit is a wake-up (or, in starvation mode, the
    /// lock itself).
    sema: Sema,
}

/// Whether a locker should spin once more (Go's `sync_runtime_canSpin`,
/// approximated): only a few rounds, only on a multi-core machine, and for a
/// goroutine only if its runtime has more than one worker — on one worker
/// the holder cannot run while we spin (it is parked or queued behind us).
///
/// Go also refuses to spin while the caller's local run queue is not empty;
/// the runtime does not expose that yet, so a goroutine on a busy worker may
/// spin up to `SPIN_ROUNDS * SPIN_PAUSES` pauses needlessly.
fn can_spin(spins: u32) -> bool {
    if spins >= SPIN_ROUNDS || !multicore() {
        return false;
    }
    match crate::runtime::worker::current_shared() {
        Some(shared) => shared.remotes.len() > 1,
        None => true, // a plain thread: the holder may be running elsewhere
    }
}

/// True on a machine with more than one CPU (cached).
fn multicore() -> bool {
    use std::sync::atomic::AtomicU8;
    static MULTI: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
    match MULTI.load(Ordering::Relaxed) {
        0 => {
            let multi = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
            MULTI.store(if multi { 2 } else { 1 }, Ordering::Relaxed);
            multi
        }
        v => v == 2,
    }
}

impl RawMutex {
    /// An unlocked mutex.
    pub(crate) const fn new() -> Self {
        RawMutex {
            state: AtomicU32::new(0),
            sema: Sema::new(),
        }
    }

    /// Takes the lock, parking with `reason` while it is held elsewhere.
    #[inline]
    pub(crate) fn lock(&self, reason: WaitReason) {
        crate::runtime::checkpoint();
        // Fast path: grab the unlocked mutex. Acquire pairs with the Release
        // in `unlock`.
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow(reason);
        }
    }

    /// Takes the lock if it is free and not being handed to a waiter.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        // A woken waiter may be competing; barging past it is allowed in
        // normal mode, exactly as in `lock`'s fast path.
        self.state
            .compare_exchange(old, old | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[cold]
    fn lock_slow(&self, reason: WaitReason) {
        let mut wait_start: Option<Instant> = None;
        let mut starving = false;
        // We were woken by unlock (and own the WOKEN bit).
        let mut awoke = false;
        let mut spins = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // Spin only in normal mode while the lock is held: in starvation
            // mode ownership goes to the queue anyway.
            if old & (LOCKED | STARVING) == LOCKED && can_spin(spins) {
                // Tell unlock not to wake others while we are awake.
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                spins += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Do not take a starving mutex: it belongs to the queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += WAITER;
            }
            // Switch to starvation mode, unless the lock is free (then the
            // unlock that freed it expects a normal-mode mutex).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                // We were woken (or spun with WOKEN): reset the flag either way.
                if new & WOKEN == 0 {
                    crate::debug::report::fatal("sync: inconsistent mutex state");
                }
                new &= !WOKEN;
            }
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return; // took it with the CAS
                    }
                    // A waiter that already waited goes to the queue's head.
                    let lifo = wait_start.is_some();
                    let start = *wait_start.get_or_insert_with(Instant::now);
                    self.sema.acquire(lifo, reason);
                    starving = starving || start.elapsed() > STARVATION_THRESHOLD;
                    old = self.state.load(Ordering::Acquire);
                    if old & STARVING != 0 {
                        // Handed to us: LOCKED is clear and we are still
                        // counted as a waiter. Fix both in one add.
                        if old & (LOCKED | WOKEN) != 0 || old >> WAITER_SHIFT == 0 {
                            crate::debug::report::fatal("sync: inconsistent mutex state");
                        }
                        let mut delta = LOCKED.wrapping_sub(WAITER);
                        if !starving || old >> WAITER_SHIFT == 1 {
                            // Leave starvation mode: we waited little, or we
                            // were the last waiter (staying starving would
                            // make the next unlock hand off to nobody).
                            delta = delta.wrapping_sub(STARVING);
                        }
                        self.state.fetch_add(delta, Ordering::Acquire);
                        return;
                    }
                    awoke = true;
                    spins = 0;
                }
                Err(now) => old = now,
            }
        }
    }

    /// Releases the lock. Precondition: the lock is held (by anyone).
    #[inline]
    pub(crate) fn unlock(&self) {
        // Release pairs with the Acquire of the next locker.
        let new = self
            .state
            .fetch_sub(LOCKED, Ordering::Release)
            .wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: u32) {
        if new.wrapping_add(LOCKED) & LOCKED == 0 {
            crate::debug::report::fatal("sync: unlock of unlocked mutex");
        }
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // Nobody to wake, or someone already awake / took the lock /
                // it went starving meanwhile: done.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                let next = (old - WAITER) | WOKEN;
                match self.state.compare_exchange_weak(
                    old,
                    next,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.sema.release(false);
                        return;
                    }
                    Err(now) => old = now,
                }
            }
        } else if self.sema.release(true) {
            // Starvation mode: the head waiter owns the lock now; let it run
            // (it was readied on our worker's runnext or its home worker).
            crate::runtime::yield_now();
        }
    }
}

/// A mutual-exclusion lock that parks the calling goroutine (or OS thread)
/// instead of blocking its worker, with Go's starvation mode for fairness.
///
/// * No poisoning: a panic while holding the guard just unlocks.
/// * Not re-entrant: locking it twice from one goroutine deadlocks, as in Go.
/// * The guard may be sent to another goroutine and dropped there (Go lets
///   any goroutine unlock).
///
/// In normal mode a newly arriving locker may take the lock before a woken
/// waiter (fast, one CAS); a waiter blocked for over 1 ms switches the mutex
/// to starvation mode, where each unlock hands the lock to the waiter at the
/// head of the queue, so no waiter starves.
///
/// ```
/// use std::sync::Arc;
/// use ferrogo::sync::Mutex;
///
/// let count = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let count = count.clone();
///         ferrogo::go(move || *count.lock() += 1)
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(*count.lock(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    /// The lock word and wait queue.
    raw: RawMutex,
    /// The protected value; touched only through a guard or `&mut self`.
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `data` to one context at a time, so
// sharing it is sound when `T` may be sent between threads (like std's Mutex).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: moving the mutex moves the value.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value` (usable in a `static`).
    ///
    /// ```
    /// static LOG: ferrogo::sync::Mutex<Vec<u32>> = ferrogo::sync::Mutex::new(Vec::new());
    /// LOG.lock().push(1);
    /// assert_eq!(LOG.lock().len(), 1);
    /// ```
    pub const fn new(value: T) -> Self {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// let m = ferrogo::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the goroutine (or thread) until it is free.
    /// A preemption point.
    ///
    /// ```
    /// let m = ferrogo::sync::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock(WaitReason::SyncMutex);
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// Locks the mutex if it is free right now (Go's `TryLock`).
    ///
    /// Returns `None` when it is held, or when it is being handed to a
    /// waiter in starvation mode.
    ///
    /// ```
    /// let m = ferrogo::sync::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            Some(MutexGuard {
                mutex: self,
                _marker: PhantomData,
            })
        } else {
            None
        }
    }

    /// A mutable reference to the value, without locking (`&mut self`
    /// proves nobody else can hold the lock).
    ///
    /// ```
    /// let mut m = ferrogo::sync::Mutex::new(1);
    /// *m.get_mut() = 7;
    /// assert_eq!(*m.lock(), 7);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Proof of holding a [`Mutex`]; unlocks when dropped.
///
/// `Send` when `T: Send` (the lock has no owner, so another goroutine may
/// drop the guard); `Sync` when `T: Send + Sync`.
///
/// ```
/// let m = ferrogo::sync::Mutex::new(String::new());
/// let mut g = m.lock();
/// g.push_str("hi");
/// drop(g); // unlocks
/// assert_eq!(*m.lock(), "hi");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    /// The locked mutex.
    mutex: &'a Mutex<T>,
    /// Gives the guard the auto traits of `&mut T` (on top of `&Mutex<T>`).
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Cond::wait`).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no `&mut T` exists
        // elsewhere.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held and `&mut self` that this
        // is the only access through it.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
