//! The spin lock that guards one channel's state.
//!
//! # Design
//!
//! Every channel keeps its buffer and wait queues behind one lock, like Go's
//! `hchan.lock`. Critical sections are a handful of loads and stores: no
//! allocation on the steady-state path, no call that can park, switch
//! goroutines or run user code (no `T` is ever dropped while the lock is held,
//! and wakes happen after unlocking). Under those rules a short spin is the
//! cheapest correct lock: the holder is running, so it will release soon.
//!
//! Invariants:
//! * `locked == true` exactly while one [`SpinLockGuard`] exists.
//! * Code holding the guard never parks, yields to the scheduler, or calls
//!   user code (`Drop` of `T` included).
//!
//! Rejected alternatives:
//! * `std::sync::Mutex`: after ~100 spins it sleeps on a futex and its unlock
//!   then pays a `futex_wake` syscall; two cores hammering one channel (SPSC)
//!   would pay syscalls in the steady state. It would also block a whole worker
//!   thread rather than spin for a few nanoseconds.
//! * A lock-free ring per flavor (crossbeam's `array.rs`): faster under heavy
//!   contention, but the select/close protocol across several lock-free
//!   structures is far harder to prove; kept as a later optimisation behind the
//!   same `Chan` surface.
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(loom))]
use crossbeam_utils::Backoff;

/// A test-and-test-and-set spin lock owning the data it protects.
///
/// `repr(C)`, lock word first: the data's leading fields share its cache
/// line (the locked flavor keeps its hot fields there, see `locked.rs`).
#[repr(C)]
pub(crate) struct SpinLock<T> {
    /// True while a guard exists. Acquired with `Acquire`, released with
    /// `Release` by the guard's drop (the pair that publishes `value`).
    #[cfg(not(loom))]
    locked: AtomicBool,
    /// Under loom: a loom mutex in place of the spin. Loom cannot make a
    /// spinning thread's loads see the release (with `yield_now` in the spin
    /// its search still exceeded the branch limit, the spinner reading `true`
    /// long after the holder unlocked), so the model blocks instead. The
    /// channel protocol above the lock is unchanged.
    #[cfg(loom)]
    locked: crate::loom::Mutex<()>,
    /// The protected data; touched only through a guard.
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time, so the
// lock may be shared across threads whenever the value may be sent between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the value; requires only `T: Send`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock holding `value`.
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked lock holding `value` (loom: no `const fn` constructors).
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: crate::loom::Mutex::new(()),
            value: UnsafeCell::new(value),
        }
    }

    /// Acquires the lock (loom flavour: blocks on the model's mutex).
    #[cfg(loom)]
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, T> {
        SpinLockGuard {
            held: crate::loom::lock(&self.locked),
            lock: self,
        }
    }

    /// Acquires the lock, spinning (then yielding the thread) while it is held.
    #[inline]
    #[cfg(not(loom))]
    pub(crate) fn lock(&self) -> SpinLockGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinLockGuard { lock: self }
    }

    #[cold]
    #[cfg(not(loom))]
    fn lock_contended(&self) {
        let backoff = Backoff::new();
        loop {
            // Test before test-and-set: spin on a shared cache line.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Exclusive access to a [`SpinLock`]'s value; unlocks on drop.
pub(crate) struct SpinLockGuard<'a, T> {
    /// The lock this guard holds.
    lock: &'a SpinLock<T>,
    /// Loom: the model mutex's guard (unlocks when the guard drops).
    #[cfg(loom)]
    #[allow(dead_code)]
    held: loom::sync::MutexGuard<'a, ()>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists, so this thread holds the lock and no other
        // reference to the value exists outside this guard.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only live borrow.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Pairs with the `Acquire` in `lock`: the next holder sees our writes.
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn counts_under_contention() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }
}
