//! `Pool<T>`: a cache of reusable values (Go's `sync.Pool`).
//!
//! # Design
//!
//! Go keeps a per-P private slot and a lock-free shared chain, and drops
//! the whole pool at each GC. We approximate "per P" with a small sharded
//! set: `shards` = the available parallelism (at least 1, at most 64),
//! each a short-held lock around a `Vec<T>`, padded against false sharing.
//! Each OS thread picks its shard once (a thread-local round-robin id), so
//! goroutines on one worker share that worker's shard and rarely contend.
//! `get` pops from its own shard, then tries (`try_lock`, never waiting)
//! the others, then calls the constructor. `put` pushes to its own shard.
//!
//! Without a GC nothing ever empties the pool, so each shard keeps at most
//! [`SHARD_CAP`] values and drops the rest: a burst cannot pin unbounded
//! memory. Like Go's pool, nothing is guaranteed to come back: callers must
//! treat `get` as "maybe reused, maybe new".
//!
//! The shard locks are plain `std` mutexes: they are held for a push or pop
//! only, never across a park or user code (values are dropped after
//! unlocking), so a worker never sleeps on them for long.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::loom::lock;

/// Values kept per shard at most; further `put`s drop the value.
pub const SHARD_CAP: usize = 256;

/// Type of the constructor a pool calls when empty.
type NewFn<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A cache of reusable values, shared by goroutines (Go's `sync.Pool`).
///
/// `get` returns a cached value or a fresh one from the constructor; `put`
/// offers a value back. Values are not reset for you: clear them before
/// `put` (or after `get`).
///
/// ```
/// use ferrogo::sync::Pool;
///
/// let pool = Pool::new(|| Vec::<u8>::with_capacity(1024));
/// let mut buf = pool.get();
/// buf.extend_from_slice(b"hello");
/// buf.clear();
/// pool.put(buf);
/// let again = pool.get(); // very likely the same buffer
/// assert!(again.capacity() >= 1024);
/// ```
pub struct Pool<T> {
    /// Per-shard caches; a thread uses `shards[shard_id() % len]` first.
    shards: Box<[CachePadded<std::sync::Mutex<Vec<T>>>]>,
    /// Makes a value when the pool is empty.
    new: NewFn<T>,
}

/// The calling thread's shard id (assigned round-robin at first use).
///
/// Never inlined: with migration a goroutine may change thread between two
/// calls, and an inlined thread-local access may reuse the first thread's
/// address (see `runtime/worker.rs`). Cross-crate calls from the generic
/// `get`/`put` are not inlined anyway; this keeps it so under LTO.
#[inline(never)]
fn shard_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static ID: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    ID.with(|id| {
        if id.get() == usize::MAX {
            id.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        id.get()
    })
}

impl<T> Pool<T> {
    /// A pool that calls `new` when it has nothing cached.
    ///
    /// ```
    /// let pool = ferrogo::sync::Pool::new(String::new);
    /// assert_eq!(pool.get(), "");
    /// ```
    pub fn new<F>(new: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 64);
        Pool {
            shards: (0..n)
                .map(|_| CachePadded::new(std::sync::Mutex::new(Vec::new())))
                .collect(),
            new: Box::new(new),
        }
    }

    /// A cached value, or a new one from the constructor.
    ///
    /// ```
    /// let pool = ferrogo::sync::Pool::new(|| 7);
    /// assert_eq!(pool.get(), 7);
    /// ```
    pub fn get(&self) -> T {
        let n = self.shards.len();
        let me = shard_id() % n;
        if let Some(v) = lock(&self.shards[me]).pop() {
            return v;
        }
        // Steal from the others without waiting on a busy shard.
        for i in 1..n {
            if let Ok(mut s) = self.shards[(me + i) % n].try_lock() {
                if let Some(v) = s.pop() {
                    return v;
                }
            }
        }
        (self.new)()
    }

    /// Offers `value` for reuse (dropped if the caller's shard is full).
    ///
    /// ```
    /// let pool = ferrogo::sync::Pool::new(|| 0u32);
    /// pool.put(5);
    /// assert_eq!(pool.get(), 5);
    /// ```
    pub fn put(&self, value: T) {
        let me = shard_id() % self.shards.len();
        let mut s = lock(&self.shards[me]);
        if s.len() < SHARD_CAP {
            s.push(value);
        } else {
            drop(s); // drop the value outside the lock
            drop(value);
        }
    }

    /// A value wrapped in a guard that puts it back when dropped.
    ///
    /// ```
    /// let pool = ferrogo::sync::Pool::new(Vec::<u8>::new);
    /// {
    ///     let mut buf = pool.get_guard();
    ///     buf.push(1);
    /// } // back in the pool
    /// assert_eq!(pool.get(), [1]);
    /// ```
    pub fn get_guard(&self) -> PoolGuard<'_, T> {
        PoolGuard {
            pool: self,
            value: Some(self.get()),
        }
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// A pooled value that returns to its [`Pool`] when dropped.
///
/// ```
/// let pool = ferrogo::sync::Pool::new(|| 1);
/// let v = pool.get_guard();
/// assert_eq!(*v, 1);
/// let owned: i32 = v.take(); // keep it instead of returning it
/// assert_eq!(owned, 1);
/// ```
pub struct PoolGuard<'a, T> {
    /// Where the value goes back.
    pool: &'a Pool<T>,
    /// The value; `None` only after `take`.
    value: Option<T>,
}

impl<T> PoolGuard<'_, T> {
    /// Keeps the value instead of returning it to the pool.
    pub fn take(mut self) -> T {
        self.value
            .take()
            .expect("PoolGuard holds a value until taken")
    }
}

impl<T> std::ops::Deref for PoolGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .expect("PoolGuard holds a value until taken")
    }
}

impl<T> std::ops::DerefMut for PoolGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("PoolGuard holds a value until taken")
    }
}

impl<T> Drop for PoolGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.put(v);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}
