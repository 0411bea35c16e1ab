//! `RwMutex<T>`: a reader/writer lock with Go's writer preference.
//!
//! # Design (after Go's `sync/rwmutex.go`; our own code)
//!
//! ```text
//!   w            RawMutex: serialises writers
//!   reader_count readers holding or waiting for the lock; minus MAX_READERS
//!                while a writer holds or waits for it
//!   reader_wait  readers the waiting writer still waits for (departing readers)
//!   writer_sem   the writer parks here until the last departing reader
//!   reader_sem   readers that arrived while a writer was pending park here
//! ```
//!
//! * `read`: `reader_count += 1`; if the result is negative a writer is
//!   pending, so park on `reader_sem`. That is the **writer preference**: once
//!   a writer announced itself, new readers queue behind it.
//! * `write`: take `w`, then subtract `MAX_READERS` from `reader_count` (new
//!   readers now block); the readers that were active (`r`) are added to
//!   `reader_wait`; if some remain, park on `writer_sem`.
//! * read unlock: `reader_count -= 1`; if negative, a writer waits: decrement
//!   `reader_wait`, and the reader that brings it to zero wakes the writer.
//! * write unlock: add `MAX_READERS` back (readers may enter); release
//!   `reader_sem` once per reader that queued meanwhile; unlock `w`.
//!
//! Invariant: at most [`MAX_READERS`] − 1 readers at once (checked).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI32, Ordering};

use super::mutex::RawMutex;
use super::sema::Sema;
use crate::runtime::WaitReason;

/// The most readers at once (Go's `rwmutexMaxReaders`).
const MAX_READERS: i32 = 1 << 30;

/// The lock without data.
struct RawRwMutex {
    /// Serialises writers.
    w: RawMutex,
    /// The writer parks here until departing readers are gone.
    writer_sem: Sema,
    /// Readers blocked by a pending writer park here.
    reader_sem: Sema,
    /// Readers in or queued; `- MAX_READERS` while a writer is pending.
    reader_count: AtomicI32,
    /// Readers the pending writer still waits for.
    reader_wait: AtomicI32,
}

impl RawRwMutex {
    const fn new() -> Self {
        RawRwMutex {
            w: RawMutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
        }
    }

    fn read(&self) {
        crate::runtime::checkpoint();
        // SeqCst for all counters: the writer/reader hand-off below is a
        // Dekker-style exchange on reader_count and reader_wait.
        if self.reader_count.fetch_add(1, Ordering::SeqCst) + 1 < 0 {
            // A writer is pending: wait for it.
            self.reader_sem.acquire(false, WaitReason::SyncRwRead);
        }
    }

    fn try_read(&self) -> bool {
        let mut c = self.reader_count.load(Ordering::SeqCst);
        loop {
            if c < 0 {
                return false; // a writer holds or waits
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => c = now,
            }
        }
    }

    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::SeqCst) - 1;
        if r < 0 {
            self.read_unlock_slow(r);
        }
    }

    #[cold]
    fn read_unlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -MAX_READERS {
            crate::debug::report::fatal("sync: RUnlock of unlocked RWMutex");
        }
        // A writer is pending; the last departing reader wakes it.
        if self.reader_wait.fetch_sub(1, Ordering::SeqCst) - 1 == 0 {
            self.writer_sem.release(false);
        }
    }

    fn write(&self) {
        self.w.lock(WaitReason::SyncRwWrite);
        // Announce the writer: readers arriving from now on block.
        let r = self.reader_count.fetch_sub(MAX_READERS, Ordering::SeqCst);
        if r >= MAX_READERS - 1 {
            crate::debug::report::fatal("sync: too many readers on RWMutex");
        }
        // Wait for the readers that were active.
        if r != 0 && self.reader_wait.fetch_add(r, Ordering::SeqCst) + r != 0 {
            self.writer_sem.acquire(false, WaitReason::SyncRwWrite);
        }
    }

    fn try_write(&self) -> bool {
        if !self.w.try_lock() {
            return false;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.w.unlock();
            return false;
        }
        true
    }

    fn write_unlock(&self) {
        // Let readers in again.
        let r = self.reader_count.fetch_add(MAX_READERS, Ordering::SeqCst) + MAX_READERS;
        if r >= MAX_READERS {
            crate::debug::report::fatal("sync: Unlock of unlocked RWMutex");
        }
        // Wake the readers that queued behind us.
        for _ in 0..r {
            self.reader_sem.release(false);
        }
        self.w.unlock();
    }
}

/// A reader/writer lock that parks the goroutine (or thread), with Go's
/// writer preference: once a writer waits, newly arriving readers wait
/// until that writer has had the lock, so a stream of readers cannot starve
/// writers. No poisoning; guards may be dropped by another goroutine.
///
/// A goroutine must not take a read lock twice (a writer arriving between
/// the two would deadlock it), exactly as in Go.
///
/// ```
/// use std::sync::Arc;
/// use ferrogo::sync::RwMutex;
///
/// let cfg = Arc::new(RwMutex::new(vec![1, 2]));
/// let reader = { let cfg = cfg.clone(); ferrogo::go(move || cfg.read().len()) };
/// cfg.write().push(3);
/// let n = reader.join().unwrap();
/// assert!(n == 2 || n == 3);
/// assert_eq!(cfg.read().len(), 3);
/// ```
pub struct RwMutex<T: ?Sized> {
    /// Lock state.
    raw: RawRwMutex,
    /// The protected value; touched only through guards or `&mut self`.
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (needs `T: Sync`), writers get
// `&mut T` from any thread (needs `T: Send`) — the same bounds as std's RwLock.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}
// SAFETY: moving the lock moves the value.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}

impl<T> RwMutex<T> {
    /// A new unlocked lock holding `value` (usable in a `static`).
    ///
    /// ```
    /// static NAMES: ferrogo::sync::RwMutex<Vec<&str>> = ferrogo::sync::RwMutex::new(Vec::new());
    /// NAMES.write().push("gopher");
    /// assert_eq!(NAMES.read()[0], "gopher");
    /// ```
    pub const fn new(value: T) -> Self {
        RwMutex {
            raw: RawRwMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// assert_eq!(ferrogo::sync::RwMutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Takes a shared read lock, parking while a writer holds or waits for
    /// the lock (Go's `RLock`). A preemption point.
    ///
    /// ```
    /// let l = ferrogo::sync::RwMutex::new(1);
    /// let (a, b) = (l.read(), l.read());
    /// assert_eq!(*a + *b, 2);
    /// ```
    pub fn read(&self) -> RwMutexReadGuard<'_, T> {
        self.raw.read();
        RwMutexReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Takes a read lock if no writer holds or waits for it (Go's `TryRLock`).
    ///
    /// ```
    /// let l = ferrogo::sync::RwMutex::new(1);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwMutexReadGuard<'_, T>> {
        if self.raw.try_read() {
            Some(RwMutexReadGuard {
                lock: self,
                _marker: PhantomData,
            })
        } else {
            None
        }
    }

    /// Takes the exclusive write lock, parking until all readers and other
    /// writers are gone (Go's `Lock`). A preemption point.
    ///
    /// ```
    /// let l = ferrogo::sync::RwMutex::new(1);
    /// *l.write() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn write(&self) -> RwMutexWriteGuard<'_, T> {
        self.raw.write();
        RwMutexWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Takes the write lock if nobody holds the lock (Go's `TryLock`).
    ///
    /// ```
    /// let l = ferrogo::sync::RwMutex::new(1);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwMutexWriteGuard<'_, T>> {
        if self.raw.try_write() {
            Some(RwMutexWriteGuard {
                lock: self,
                _marker: PhantomData,
            })
        } else {
            None
        }
    }

    /// A mutable reference to the value, without locking.
    ///
    /// ```
    /// let mut l = ferrogo::sync::RwMutex::new(1);
    /// *l.get_mut() = 5;
    /// assert_eq!(*l.read(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// A shared read lock on an [`RwMutex`]; released when dropped.
///
/// ```
/// let l = ferrogo::sync::RwMutex::new(vec![1]);
/// let g = l.read();
/// assert_eq!(g.len(), 1);
/// ```
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    /// The read-locked lock.
    lock: &'a RwMutex<T>,
    /// Auto traits of `&T`.
    _marker: PhantomData<&'a T>,
}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held, so no writer has `&mut T`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The exclusive write lock on an [`RwMutex`]; released when dropped.
///
/// ```
/// let l = ferrogo::sync::RwMutex::new(vec![1]);
/// l.write().push(2);
/// assert_eq!(*l.read(), [1, 2]);
/// ```
#[must_use = "if unused the RwMutex will immediately unlock"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    /// The write-locked lock.
    lock: &'a RwMutex<T>,
    /// Auto traits of `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: no other guard exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held and `&mut self` is unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
