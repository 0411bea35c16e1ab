//! `Semaphore`: a weighted semaphore with FIFO fairness
//! (golang.org/x/sync/semaphore's behaviour; our own code).
//!
//! # Design
//!
//! State under one short lock: `cur` (permits in use) and a FIFO
//! [`WaitQueue`] of [`Node`]s whose `weight` is the request. `acquire(n)`
//! succeeds at once only if `n` permits are free **and nobody is queued**;
//! otherwise it queues and parks. `release(n)` returns permits and then
//! grants queued requests strictly in order, stopping at the first that does
//! not fit: a large request at the head is not overtaken by a stream of
//! small ones (no starvation), at the cost of idling permits meanwhile —
//! x/sync's trade-off. Permits are *granted* to the waiter (node state
//! `GRANTED`, under the lock), so a woken waiter never competes again.
//!
//! A request larger than the whole semaphore can never succeed; x/sync then
//! blocks until its context is cancelled. Without a context that is a
//! guaranteed deadlock, so `acquire` panics instead (a user error).

use std::fmt;

use super::sema::{GRANTED, Node, WaitQueue};
use crate::loom::{Mutex as StdMutex, lock};
use crate::runtime::WaitReason;

/// The lock-protected state.
struct State {
    /// Permits currently held.
    cur: u64,
    /// Parked requests, oldest first; each node's `weight` is its request.
    waiters: WaitQueue,
}

/// A weighted counting semaphore with FIFO fairness, for bounding access to
/// a resource (golang.org/x/sync/semaphore).
///
/// ```
/// use std::sync::Arc;
/// use ferrogo::sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(3));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let sem = sem.clone();
///         ferrogo::go(move || {
///             sem.acquire(1);
///             // at most three goroutines are here at once
///             sem.release(1);
///         })
///     })
///     .collect();
/// for h in hs { h.join().unwrap(); }
/// ```
pub struct Semaphore {
    /// Total permits.
    size: u64,
    /// Held permits and the queue. Never held while parking.
    state: StdMutex<State>,
}

impl Semaphore {
    /// A semaphore with `n` permits (usable in a `static`).
    ///
    /// ```
    /// let s = ferrogo::sync::Semaphore::new(2);
    /// assert_eq!(s.available(), 2);
    /// ```
    pub const fn new(n: u64) -> Self {
        Semaphore {
            size: n,
            state: StdMutex::new(State {
                cur: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Acquires `n` permits, parking until they are available and every
    /// earlier request was served (FIFO). A preemption point.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the semaphore's size (it could never succeed).
    ///
    /// ```
    /// let s = ferrogo::sync::Semaphore::new(4);
    /// s.acquire(3);
    /// assert_eq!(s.available(), 1);
    /// s.release(3);
    /// ```
    pub fn acquire(&self, n: u64) {
        crate::runtime::checkpoint();
        if n > self.size {
            panic!(
                "semaphore: acquire of {n} permits can never succeed (size {})",
                self.size
            );
        }
        let node = {
            let mut st = lock(&self.state);
            if self.size - st.cur >= n && st.waiters.is_empty() {
                st.cur += n;
                return;
            }
            let node = Node::new(n);
            st.waiters.push_back(node.clone());
            node
        };
        let outcome = node.wait(WaitReason::Semaphore);
        debug_assert_eq!(outcome, GRANTED);
    }

    /// Acquires `n` permits if they are free now and nobody is queued.
    ///
    /// ```
    /// let s = ferrogo::sync::Semaphore::new(1);
    /// assert!(s.try_acquire(1));
    /// assert!(!s.try_acquire(1));
    /// ```
    pub fn try_acquire(&self, n: u64) -> bool {
        let mut st = lock(&self.state);
        if self.size - st.cur >= n && st.waiters.is_empty() {
            st.cur += n;
            true
        } else {
            false
        }
    }

    /// Returns `n` permits and grants queued requests in order.
    ///
    /// # Panics
    ///
    /// If more permits are released than are held.
    ///
    /// ```
    /// let s = ferrogo::sync::Semaphore::new(2);
    /// s.acquire(2);
    /// s.release(2);
    /// assert!(s.try_acquire(2));
    /// ```
    pub fn release(&self, n: u64) {
        let mut granted = Vec::new();
        {
            let mut st = lock(&self.state);
            if n > st.cur {
                drop(st);
                panic!("semaphore: released more than held");
            }
            st.cur -= n;
            while let Some(head) = st.waiters.front() {
                if self.size - st.cur < head.weight {
                    // Strict FIFO: do not let smaller requests overtake.
                    break;
                }
                st.cur += head.weight;
                let head = st.waiters.pop_front().expect("front exists");
                head.complete(GRANTED);
                granted.push(head);
            }
        }
        for g in granted {
            g.wake();
        }
    }

    /// Permits free right now (a snapshot).
    ///
    /// ```
    /// let s = ferrogo::sync::Semaphore::new(5);
    /// s.acquire(2);
    /// assert_eq!(s.available(), 3);
    /// ```
    pub fn available(&self) -> u64 {
        self.size - lock(&self.state).cur
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("held", &st.cur)
            .field("waiters", &st.waiters.len())
            .finish()
    }
}
