//! `Cond`: a condition variable for ferrogo's `Mutex`.
//!
//! # Design
//!
//! Go's `notifyList` hands out tickets so that a waiter registered before
//! unlocking cannot miss a signal sent between its unlock and its park. We
//! get the same guarantee more directly: `wait` queues a [`Node`] for the
//! caller *while still holding the mutex*, then unlocks, then parks until its
//! node is completed. A `signal` pops the head node and completes it; a
//! `broadcast` completes every queued node. Because the node is queued
//! before the unlock, any `signal` that happens after the unlock (the only
//! ones the waiter may rely on, since signallers that changed the condition
//! held the mutex) finds it; because park has token semantics, a wake that
//! lands before the park is not lost either.
//!
//! Invariants: a node is in `queue` until exactly one `signal`/`broadcast`
//! pops and completes it; waiters return only after completion (no spurious
//! wake-ups reach the caller, although callers should still loop on their
//! condition as with any condition variable).

use std::fmt;

use super::mutex::MutexGuard;
use super::sema::{Node, WOKEN, WaitQueue};
use crate::loom::{Mutex as StdMutex, lock};
use crate::runtime::WaitReason;

/// A condition variable: goroutines wait for a condition guarded by a
/// ferrogo [`Mutex`](super::Mutex) (Go's `sync.Cond`).
///
/// Unlike Go, the mutex is not bound at construction: `wait` takes the
/// guard, unlocks, parks, and re-locks the same mutex before returning.
///
/// ```
/// use std::sync::Arc;
/// use ferrogo::sync::{Cond, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Cond::new()));
/// let p2 = pair.clone();
/// ferrogo::go(move || {
///     *p2.0.lock() = true;
///     p2.1.signal();
/// });
/// let mut ready = pair.0.lock();
/// while !*ready {
///     ready = pair.1.wait(ready);
/// }
/// ```
pub struct Cond {
    /// Waiters in arrival order. The lock is held only for queue operations
    /// (never while parking or calling user code).
    queue: StdMutex<WaitQueue>,
}

impl Cond {
    /// A condition variable with no waiters (usable in a `static`).
    ///
    /// ```
    /// let c = ferrogo::sync::Cond::new();
    /// c.signal(); // nobody waits: no effect
    /// ```
    pub const fn new() -> Self {
        Cond {
            queue: StdMutex::new(WaitQueue::new()),
        }
    }

    /// Atomically unlocks the guard's mutex and parks until signalled, then
    /// locks the mutex again and returns the new guard.
    ///
    /// A signal sent after this call released the mutex is never lost.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ferrogo::sync::{Cond, Mutex};
    ///
    /// let s = Arc::new((Mutex::new(0), Cond::new()));
    /// let s2 = s.clone();
    /// let h = ferrogo::go(move || {
    ///     let mut g = s2.0.lock();
    ///     while *g == 0 {
    ///         g = s2.1.wait(g);
    ///     }
    ///     *g
    /// });
    /// *s.0.lock() = 42;
    /// s.1.broadcast();
    /// assert_eq!(h.join().unwrap(), 42);
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = guard.mutex();
        let node = Node::new(0);
        // Queue first, with the mutex still held: the no-lost-signal step.
        lock(&self.queue).push_back(node.clone());
        drop(guard);
        node.wait(WaitReason::SyncCond);
        mutex.lock()
    }

    /// Wakes one waiting goroutine, if any (the longest waiting).
    ///
    /// ```
    /// let c = ferrogo::sync::Cond::new();
    /// c.signal();
    /// ```
    pub fn signal(&self) {
        let mut q = lock(&self.queue);
        let node = q.pop_front();
        if let Some(n) = &node {
            n.complete(WOKEN);
        }
        drop(q);
        if let Some(n) = node {
            n.wake();
        }
    }

    /// Wakes every waiting goroutine.
    ///
    /// ```
    /// let c = ferrogo::sync::Cond::new();
    /// c.broadcast();
    /// ```
    pub fn broadcast(&self) {
        let all = std::mem::take(&mut *lock(&self.queue));
        // Completing outside the lock is fine: the nodes are out of the
        // queue, so nobody else can pop them.
        for n in &all {
            n.complete(WOKEN);
        }
        for n in &all {
            n.wake();
        }
    }
}

impl Default for Cond {
    fn default() -> Self {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond")
            .field("waiters", &lock(&self.queue).len())
            .finish()
    }
}
