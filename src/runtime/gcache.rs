//! Memory for goroutine records: per-thread free lists by size class over a
//! process-wide pool, so that spawning and finishing goroutines do not go
//! through `malloc`/`free` (Go keeps freed `g`s on per-P and global free
//! lists the same way, `gFree` in `runtime/proc.go`).
//!
//! # Why
//!
//! A goroutine's record (`record.rs`) is one allocation (192 bytes for a small closure).
//! Measured with callgrind (`bench-ferrogo spawn 100000`), `malloc` and
//! `free` of it cost ~430 of the ~1,370 instructions per goroutine: a
//! million spawns collected into a `Vec` of handles and then joined miss
//! glibc's small per-thread cache (tcache, 7 blocks per size) and take the
//! locked arena path every time, and glibc's non-main arenas grow page by
//! page with `mprotect` (each takes the process's mmap lock). Here an
//! allocation is a pop from a thread-local list, a free is a push.
//!
//! # Structure
//!
//! ```text
//!   thread A (any thread: worker or not)      thread B
//!   ┌──────────────────────────────┐          ┌────────────┐
//!   │ per class: cur  (≤ BATCH)    │          │ cur, spare │
//!   │            spare (0 or BATCH)│          └─────┬──────┘
//!   └──────────┬───────────────────┘                │
//!              │ whole batches, under a lock         │
//!              ▼                                     ▼
//!   POOLS: per class, a Mutex<Vec<batch>>  ── trim: batches unused for a
//!                                             whole TRIM_PERIOD go back to
//!                                             the global allocator
//! ```
//!
//! * **Size classes**: multiples of `CLASS_STEP` (32 B) up to `MAX_CLASS_SIZE`
//!   (1 KiB), aligned to `CLASS_ALIGN` (16). A record's class depends on its
//!   closure and result types; records of different types share a class, so
//!   the cache serves any mix of goroutines. Larger or more aligned records
//!   go straight to the global allocator.
//! * **Thread cache**: two intrusive lists per class: `cur`, which takes and
//!   gives single blocks, and `spare`, a full batch kept back. A free that
//!   finds `cur` full makes it the `spare`, pushing an older `spare` to the
//!   pool; an allocation that finds `cur` empty takes the `spare`, else a
//!   batch from the pool, else one fresh block from the global allocator. A
//!   thread so holds at most `2 × BATCH` blocks per class, and a pattern
//!   that alternates around a batch boundary does not move a batch each
//!   time (tcmalloc's transfer cache and Go's per-P `gFree` make the same
//!   trade: bounded local lists, whole batches to a shared one).
//! * **Pool**: unbounded, so that a burst (a million goroutines spawned, then
//!   a million joined) is served from memory the previous burst freed. It
//!   remembers its low-water mark since the last trim; `maybe_trim`, called
//!   by every runtime's sysmon, at most once per `TRIM_PERIOD` process-wide,
//!   frees the batches that no allocation needed during the whole period
//!   (Go's scavenger returns idle memory in the same spirit). Thread caches
//!   are not trimmed: they are bounded.
//! * **Threads end**: a thread's cache goes to the pool in its thread-local
//!   destructor, so records freed by the workers of a dropped `Runtime` serve
//!   the next one. A free during or after that destructor (a record released
//!   by another thread-local's destructor) goes to the global allocator.
//!
//! Blocks come from the global allocator one at a time (never carved from
//! big chunks), so any block can be given back alone when the pool is
//! trimmed.
//!
//! Nothing here runs user code or switches stacks, so the thread-local is
//! read only inside `#[inline(never)]` functions that cannot be suspended
//! (see "Reading `CORE` from a goroutine that may migrate" in `worker.rs`).

use std::alloc::{Layout, handle_alloc_error};
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::{Mutex, TryLockError};
use std::time::{Duration, Instant};

/// Size classes are multiples of this.
const CLASS_STEP: usize = 32;

/// Number of size classes: `CLASS_STEP`, `2 × CLASS_STEP`, ..., `MAX_CLASS_SIZE`.
const NCLASSES: usize = 32;

/// Largest size served from the cache.
const MAX_CLASS_SIZE: usize = CLASS_STEP * NCLASSES;

/// Alignment of every cached block.
const CLASS_ALIGN: usize = 16;

/// Blocks moved between a thread cache and the pool at once.
const BATCH: usize = 64;

/// Pool batches that stay unused this long are given back.
pub(crate) const TRIM_PERIOD: Duration = Duration::from_secs(1);

/// The size class serving `layout`, or `None` for the global allocator.
const fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() == 0 || layout.size() > MAX_CLASS_SIZE || layout.align() > CLASS_ALIGN {
        None
    } else {
        Some(layout.size().div_ceil(CLASS_STEP) - 1)
    }
}

/// The layout of every block of `class`.
fn class_layout(class: usize) -> Layout {
    debug_assert!(class < NCLASSES);
    // Never fails: a multiple of 32 up to 1 KiB with a power-of-two alignment.
    Layout::from_size_align((class + 1) * CLASS_STEP, CLASS_ALIGN).expect("size class layout")
}

/// Allocates a block for `layout` (its size rounded up to its class) from
/// the calling thread's cache, the pool, or the global allocator. Never
/// returns null (aborts on out-of-memory like `Box::new`).
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    match class_of(layout) {
        Some(class) => alloc_class(class),
        None => system_alloc(layout),
    }
}

/// Frees a block returned by [`alloc`] with the same `layout`.
///
/// # Safety
///
/// `block` came from `alloc(layout)` with this very `layout`, is not used
/// afterwards, and is freed once.
#[inline]
pub(crate) unsafe fn free(block: NonNull<u8>, layout: Layout) {
    match class_of(layout) {
        // SAFETY: a block of `class` (per the fn contract), freed once.
        Some(class) => unsafe { free_class(class, block) },
        // SAFETY: `alloc` took it from the global allocator with `layout`.
        None => unsafe { std::alloc::dealloc(block.as_ptr(), layout) },
    }
}

/// The slow paths of [`alloc`] for a cached class, out of line (the
/// thread-local is read here; see the module comment).
#[inline(never)]
fn alloc_class(class: usize) -> NonNull<u8> {
    LOCAL
        .try_with(|cache| cache.alloc(class))
        .ok()
        .flatten()
        .unwrap_or_else(|| system_alloc(class_layout(class)))
}

/// Frees a block of `class` into the calling thread's cache (or, once the
/// thread's cache is gone, to the global allocator).
///
/// # Safety
///
/// `block` is a block of `class` no longer used, freed once.
#[inline(never)]
unsafe fn free_class(class: usize, block: NonNull<u8>) {
    let kept = LOCAL.try_with(|cache| {
        // SAFETY: an unused block of `class`, freed once (fn contract).
        unsafe { cache.free(class, block) }
    });
    if kept.is_err() {
        // SAFETY: blocks of a class come from the global allocator with its layout.
        unsafe { std::alloc::dealloc(block.as_ptr(), class_layout(class)) };
    }
}

/// One fresh block from the global allocator.
fn system_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: every layout passed here has a non-zero size (a record has a
    // header; classes are at least 64 bytes).
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

/// The first word of a free block: the next free block of its list.
struct FreeBlock {
    /// The next free block, or null.
    next: *mut FreeBlock,
}

/// An intrusive list of free blocks of one class. It owns the blocks: each
/// came from the global allocator with its class's layout and is used by
/// nobody else.
#[derive(Clone, Copy)]
struct List {
    /// The first block, or null.
    head: *mut FreeBlock,
    /// How many blocks the list holds.
    len: usize,
}

// SAFETY: a list owns its blocks outright (plain memory, no thread affinity);
// moving it to another thread moves that ownership.
unsafe impl Send for List {}

impl List {
    /// No blocks.
    const EMPTY: List = List {
        head: ptr::null_mut(),
        len: 0,
    };

    /// Adds `block`.
    ///
    /// # Safety
    ///
    /// `block` is an unused block of this list's class, at least
    /// `CLASS_STEP` bytes and `CLASS_ALIGN`-aligned, owned by nobody else.
    unsafe fn push(&mut self, block: NonNull<u8>) {
        let b = block.cast::<FreeBlock>().as_ptr();
        // SAFETY: the block is ours, large and aligned enough for a pointer.
        unsafe { b.write(FreeBlock { next: self.head }) };
        self.head = b;
        self.len += 1;
    }

    /// Takes a block, if any.
    fn pop(&mut self) -> Option<NonNull<u8>> {
        let b = NonNull::new(self.head)?;
        // SAFETY: `b` is a free block of this list; its first word was
        // written by `push`.
        self.head = unsafe { b.as_ref().next };
        self.len -= 1;
        Some(b.cast())
    }

    /// Gives every block back to the global allocator.
    ///
    /// # Safety
    ///
    /// The blocks are of `class` (allocated with its layout).
    unsafe fn release(mut self, class: usize) {
        while let Some(b) = self.pop() {
            // SAFETY: per the fn contract; the list owned the block.
            unsafe { std::alloc::dealloc(b.as_ptr(), class_layout(class)) };
        }
    }
}

/// A thread's cache of one class. Touched only by its thread.
struct LocalClass {
    /// Blocks handed out and taken back one at a time (at most `BATCH`).
    cur: Cell<List>,
    /// Empty, or a full batch kept back before going to the pool.
    spare: Cell<List>,
}

/// A thread's cache: one `LocalClass` per class.
struct LocalCache {
    /// Indexed by class.
    classes: [LocalClass; NCLASSES],
}

thread_local! {
    /// The calling thread's cache (flushed to the pool when the thread ends).
    static LOCAL: LocalCache = const {
        LocalCache {
            classes: [const {
                LocalClass { cur: Cell::new(List::EMPTY), spare: Cell::new(List::EMPTY) }
            }; NCLASSES],
        }
    };
}

impl LocalCache {
    /// A block of `class` from this cache or the pool; `None` if both are empty.
    fn alloc(&self, class: usize) -> Option<NonNull<u8>> {
        let c = &self.classes[class];
        let mut cur = c.cur.get();
        if cur.len == 0 {
            cur = c.spare.replace(List::EMPTY);
            if cur.len == 0 {
                cur = POOLS[class].take()?;
            }
        }
        let b = cur.pop();
        c.cur.set(cur);
        b
    }

    /// Keeps `block` (of `class`) in this cache, moving a batch to the pool
    /// when the cache is full.
    ///
    /// # Safety
    ///
    /// As for `List::push`.
    unsafe fn free(&self, class: usize, block: NonNull<u8>) {
        let c = &self.classes[class];
        let mut cur = c.cur.get();
        if cur.len == BATCH {
            let older = c.spare.replace(cur);
            if older.len != 0 {
                POOLS[class].give(older);
            }
            cur = List::EMPTY;
        }
        // SAFETY: per the fn contract.
        unsafe { cur.push(block) };
        c.cur.set(cur);
    }
}

impl Drop for LocalCache {
    fn drop(&mut self) {
        for (class, c) in self.classes.iter().enumerate() {
            for list in [c.cur.replace(List::EMPTY), c.spare.replace(List::EMPTY)] {
                if list.len != 0 {
                    POOLS[class].give(list);
                }
            }
        }
    }
}

/// The process-wide store of one class: batches given up by thread caches.
struct Pool {
    /// The batches (each a list of up to `BATCH` blocks), newest last.
    batches: Vec<List>,
    /// The fewest batches held since the last trim: that many have been
    /// unused the whole time.
    low: usize,
}

/// One lock per class.
struct PoolLock(Mutex<Pool>);

/// The pools, indexed by class.
static POOLS: [PoolLock; NCLASSES] = [const {
    PoolLock(Mutex::new(Pool {
        batches: Vec::new(),
        low: 0,
    }))
}; NCLASSES];

impl PoolLock {
    /// Locks the pool (the lock is never held across code that can panic,
    /// except a failing `Vec` growth, which aborts).
    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the newest batch, if any.
    fn take(&self) -> Option<List> {
        let mut pool = self.lock();
        let list = pool.batches.pop()?;
        pool.low = pool.low.min(pool.batches.len());
        Some(list)
    }

    /// Adds a batch.
    fn give(&self, list: List) {
        self.lock().batches.push(list);
    }

    /// Removes the batches that stayed unused since the last trim and
    /// starts a new period; returns them.
    fn take_idle(&self) -> Vec<List> {
        let mut pool = self.lock();
        let (low, keep) = (pool.low, pool.batches.len() - pool.low);
        // The oldest batches are at the front: take those.
        let idle: Vec<List> = pool.batches.drain(..low).collect();
        pool.low = keep;
        idle
    }

    /// Blocks held in this pool.
    #[cfg(test)]
    fn blocks(&self) -> usize {
        self.lock().batches.iter().map(|l| l.len).sum()
    }
}

/// When the last trim ran (`None` before the first call).
static LAST_TRIM: Mutex<Option<Instant>> = Mutex::new(None);

/// Gives back to the global allocator the pooled blocks no allocation
/// needed for a whole `TRIM_PERIOD`; does nothing if a trim ran less than a
/// period ago (every runtime's sysmon calls this on each of its ticks).
pub(crate) fn maybe_trim(now: Instant) {
    let mut last = match LAST_TRIM.try_lock() {
        Ok(last) => last,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return, // another sysmon is at it
    };
    if last.is_some_and(|t| now.saturating_duration_since(t) < TRIM_PERIOD) {
        return;
    }
    *last = Some(now);
    // Trimming under `LAST_TRIM` keeps one trim at a time.
    trim();
}

/// Ends a trim period: frees the batches unused during it. Called with
/// `LAST_TRIM` held.
fn trim() {
    for (class, pool) in POOLS.iter().enumerate() {
        // Freed outside the lock: a million blocks take a while.
        for list in pool.take_idle() {
            // SAFETY: the pool of `class` holds only blocks of `class`.
            unsafe { list.release(class) };
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Tests that look at the pools run one at a time (the pools are global).
    static SERIAL: Mutex<()> = Mutex::new(());

    /// Holds the pools for one test (the record tests take it too).
    pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn classes() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(32, 8)), Some(0));
        assert_eq!(class_of(l(33, 8)), Some(1));
        assert_eq!(class_of(l(224, 8)), Some(6));
        assert_eq!(class_of(l(1024, 16)), Some(NCLASSES - 1));
        assert_eq!(class_of(l(1025, 8)), None);
        assert_eq!(class_of(l(64, 32)), None);
        for c in 0..NCLASSES {
            assert_eq!(class_of(class_layout(c)), Some(c));
        }
    }

    /// Blocks are usable memory of the requested size, distinct while live,
    /// and reused after being freed.
    #[test]
    fn alloc_free_reuse() {
        let _s = serial();
        let layout = Layout::from_size_align(200, 8).unwrap();
        let n = if cfg!(miri) { 300 } else { 10_000 };
        let mut live = Vec::new();
        for i in 0..n {
            let b = alloc(layout);
            // SAFETY: a fresh block of 200 bytes.
            unsafe { b.as_ptr().write_bytes(i as u8, layout.size()) };
            live.push(b);
        }
        for (i, b) in live.iter().enumerate() {
            // SAFETY: live, written above.
            assert_eq!(unsafe { *b.as_ptr().add(199) }, i as u8);
        }
        let mut sorted: Vec<_> = live.iter().map(|b| b.as_ptr() as usize).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), n);
        for b in live.drain(..) {
            // SAFETY: allocated with `layout`, freed once.
            unsafe { free(b, layout) };
        }
        let again = alloc(layout);
        assert!(sorted.binary_search(&(again.as_ptr() as usize)).is_ok());
        // SAFETY: as above.
        unsafe { free(again, layout) };
    }

    /// Oversized and over-aligned layouts bypass the cache.
    #[test]
    fn large_and_aligned() {
        for layout in [
            Layout::from_size_align(4096, 8).unwrap(),
            Layout::from_size_align(128, 64).unwrap(),
        ] {
            let b = alloc(layout);
            assert_eq!(b.as_ptr() as usize % layout.align(), 0);
            // SAFETY: a fresh block of `layout`.
            unsafe { b.as_ptr().write_bytes(7, layout.size()) };
            // SAFETY: allocated with `layout`, freed once.
            unsafe { free(b, layout) };
        }
    }

    /// Blocks freed by another thread, and a thread's cache at its exit,
    /// reach the pool, where other threads take them.
    #[test]
    fn cross_thread_and_thread_exit() {
        let _s = serial();
        // A class no goroutine record of the lib's tests uses.
        let layout = Layout::from_size_align(900, 8).unwrap();
        let class = class_of(layout).unwrap();
        let n = if cfg!(miri) { 3 * BATCH } else { 20 * BATCH };
        /// Blocks handed to another thread to free.
        struct Blocks(Vec<NonNull<u8>>);
        // SAFETY: plain memory owned by the vector, no thread affinity.
        unsafe impl Send for Blocks {}
        let blocks = Blocks((0..n).map(|_| alloc(layout)).collect());
        let before = POOLS[class].blocks();
        std::thread::spawn(move || {
            let blocks = blocks;
            for b in blocks.0 {
                // SAFETY: allocated above with `layout`, freed once, here.
                unsafe { free(b, layout) };
            }
        })
        .join()
        .unwrap();
        // Everything the thread freed is in the pool now (its cache was flushed).
        assert_eq!(POOLS[class].blocks(), before + n);
        let taken: Vec<_> = (0..n).map(|_| alloc(layout)).collect();
        assert!(POOLS[class].blocks() < before + n);
        for b in taken {
            // SAFETY: allocated with `layout`, freed once.
            unsafe { free(b, layout) };
        }
    }

    /// Pooled batches unused for a whole period are released; used ones stay.
    #[test]
    fn trim_releases_idle_batches() {
        let _s = serial();
        // No sysmon of another test trims meanwhile.
        let _t = LAST_TRIM.lock().unwrap_or_else(|e| e.into_inner());
        let layout = Layout::from_size_align(700, 16).unwrap();
        let class = class_of(layout).unwrap();
        trim();
        trim(); // whatever earlier tests left is gone now
        assert_eq!(POOLS[class].blocks(), 0);
        let n = 4 * BATCH;
        std::thread::spawn(move || {
            let blocks: Vec<_> = (0..n).map(|_| alloc(layout)).collect();
            for b in blocks {
                // SAFETY: allocated with `layout`, freed once.
                unsafe { free(b, layout) };
            }
        })
        .join()
        .unwrap();
        assert_eq!(POOLS[class].blocks(), n);
        trim(); // these arrived during this period: kept
        assert_eq!(POOLS[class].blocks(), n);
        // One batch is taken (and freed back into this thread's cache) in the
        // next period: the pool's low mark drops by one batch.
        let b = alloc(layout);
        // SAFETY: allocated with `layout`, freed once.
        unsafe { free(b, layout) };
        trim();
        assert_eq!(
            POOLS[class].blocks(),
            0,
            "the unused batches go, the taken one is in our cache"
        );
        LOCAL.with(|c| {
            let cur = c.classes[class].cur.get();
            assert_eq!(cur.len, BATCH);
        });
    }
}
