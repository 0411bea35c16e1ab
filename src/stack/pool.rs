//! Stack pools: a small per-worker cache in front of a per-runtime pool.
//!
//! Mapping a fresh stack costs microseconds (mmap + guard, then page faults
//! as it is touched); taking a pooled one costs a `Vec::pop`. When both pools
//! are empty, default-size stacks are mapped a slab at a time. Each worker keeps
//! up to [`LOCAL_CAP`] default-size stacks of its own (touched only by that
//! worker, no lock); beyond that, and for other sizes, stacks go to the
//! runtime's shared pool behind a mutex.
//!
//! Slabs grow while demand lasts: the first holds [`SLAB_MIN`] stacks, each
//! next one twice as many, up to [`SLAB_MAX`]. A program with a few
//! goroutines maps a few stacks; one starting a million maps them 256 per
//! call, which is what keeps the other workers' page faults from queueing
//! behind `mmap` (see `GStack::map_slab`). A slab's stacks get their guard
//! pages in one batch when the slab is mapped where the kernel allows it,
//! else each when first handed out.
//!
//! Memory goes back to the OS after a burst: the shared pool keeps *warm*
//! stacks (their top pages committed, ready for reuse without a fault) and
//! *cold* ones (no pages: fresh from a slab, or scavenged). Once a second
//! sysmon calls [`StackPool::scavenge`], which releases half of the warm
//! stacks that sat unused through the whole last period beyond a reserve of
//! [`KEEP_WARM`], oldest first (Go's scavenger returns heap pages gradually
//! in the same way). After a million goroutines finish, the 2.6 GB their
//! stacks kept resident halves every second.
//!
//! A runtime also caps how many stacks it maps (`limit`: the process budget,
//! or less when the builder asked for it). `owned` counts what it mapped; a
//! stack is either in a pool or inside a started goroutine.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::GStack;

/// Default-size stacks a worker caches privately.
pub(crate) const LOCAL_CAP: usize = 64;

/// Default-size stacks mapped by the first `mmap` call when the pools are
/// empty (see `GStack::map_slab`).
const SLAB_MIN: usize = 16;

/// The largest slab: 256 stacks of the default size reserve 65 MiB of
/// address space (no memory until touched) and are one kernel mapping.
const SLAB_MAX: usize = 256;

/// Warm spare stacks the scavenger never releases.
pub(crate) const KEEP_WARM: usize = 256;

/// The spare stacks of a runtime (under `StackPool::spare`'s lock).
#[derive(Default)]
struct Spares {
    /// Stacks returned by goroutines, oldest first; their top pages are
    /// committed. Taken from the back.
    warm: Vec<GStack>,
    /// Stacks without committed pages: never used (from a slab; unguarded)
    /// or scavenged. Taken only when no warm one fits.
    cold: Vec<GStack>,
    /// The fewest warm stacks seen since the last scavenge: that many sat
    /// unused through the whole period.
    low: usize,
}

impl Spares {
    fn len(&self) -> usize {
        self.warm.len() + self.cold.len()
    }

    /// A spare of `size` usable bytes, warm ones first.
    fn take(&mut self, size: usize) -> Option<GStack> {
        if let Some(i) = self.warm.iter().rposition(|s| s.size() == size) {
            let s = self.warm.swap_remove(i);
            self.low = self.low.min(self.warm.len());
            return Some(s);
        }
        let i = self.cold.iter().rposition(|s| s.size() == size)?;
        Some(self.cold.swap_remove(i))
    }
}

/// A runtime's shared stack pool and its mapping cap.
pub(crate) struct StackPool {
    /// The usable size of stacks that goroutines get unless they ask otherwise.
    pub(crate) default_size: usize,
    /// The runtime's own cap (`RuntimeBuilder::max_stacks`, else unlimited);
    /// the process budget applies on top (see [`StackPool::limit`]).
    max: usize,
    /// Stacks mapped by this runtime (pooled or in use). Updated with the
    /// `spare` lock not held; read racily for the pressure heuristic only.
    owned: AtomicUsize,
    /// Spare stacks of any size, shared by all workers.
    spare: Mutex<Spares>,
    /// `spare.len()`, readable without the lock (a hint).
    spare_len: AtomicUsize,
    /// Stacks the next slab maps: [`SLAB_MIN`], doubling after each slab up
    /// to [`SLAB_MAX`]. Racy updates are harmless (any value in range works).
    slab: AtomicUsize,
}

/// A worker's private cache of default-size stacks. Owned by the worker's core.
#[derive(Default)]
pub(crate) struct LocalPool {
    /// Hot stacks, most recently freed last.
    stacks: Vec<GStack>,
}

impl StackPool {
    /// A pool for stacks of `default_size` bytes, capped at `limit` stacks.
    pub(crate) fn new(default_size: usize, limit: usize) -> StackPool {
        StackPool {
            default_size,
            max: limit,
            owned: AtomicUsize::new(0),
            spare: Mutex::new(Spares::default()),
            spare_len: AtomicUsize::new(0),
            slab: AtomicUsize::new(SLAB_MIN),
        }
    }

    /// A stack of `size` usable bytes: from `local`, the shared pool, or a new
    /// mapping. `None` when the runtime's cap or the process budget is spent.
    ///
    /// `*published` is set when a new slab put spare stacks in the shared
    /// pool: a worker that found the pool empty a moment earlier (while this
    /// slab was being mapped) may be waiting for a stack, and the caller must
    /// wake it (`Core::start`).
    pub(crate) fn get(
        &self,
        local: &mut LocalPool,
        size: usize,
        published: &mut bool,
    ) -> Option<GStack> {
        if size == self.default_size {
            if let Some(s) = local.stacks.pop() {
                // Only stacks a goroutine ran on come back here: guarded.
                debug_assert!(s.is_guarded());
                return Some(s);
            }
        }
        if self.spare_len.load(Ordering::Relaxed) > 0 {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = spare.take(size) {
                self.spare_len.store(spare.len(), Ordering::Relaxed);
                drop(spare);
                return self.guarded(s);
            }
        }
        // Default-size stacks are mapped a slab at a time, the spares going
        // to the shared pool (they cost no memory until touched; in this
        // worker's cache they would be out of reach of a starving worker).
        // Never more than a quarter of the room left: while a slab is being
        // mapped its stacks count as owned but are not yet in any pool, and
        // a worker that then found the cap reached and the pools empty
        // would starve (a race seen as fresh goroutines never starting
        // under `max_stacks(64)` at 2 workers); near the cap, one at a time.
        let room = self.limit().saturating_sub(self.owned());
        if room == 0 {
            return self.evict_and_map(size);
        }
        let slab = self.slab.load(Ordering::Relaxed);
        let count = if size == self.default_size {
            slab.min(room / 4).max(1)
        } else {
            1
        };
        self.owned.fetch_add(count, Ordering::Relaxed);
        match GStack::map_slab(size, count) {
            Ok(mut stacks) => {
                self.owned
                    .fetch_sub(count - stacks.len(), Ordering::Relaxed);
                if count == slab {
                    self.slab.store((slab * 2).min(SLAB_MAX), Ordering::Relaxed);
                }
                let first = stacks.pop();
                if !stacks.is_empty() {
                    let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
                    spare.cold.append(&mut stacks);
                    self.spare_len.store(spare.len(), Ordering::Relaxed);
                    *published = true;
                }
                self.guarded(first?)
            }
            Err(_) => {
                self.owned.fetch_sub(count, Ordering::Relaxed);
                self.evict_and_map(size)
            }
        }
    }

    /// `stack` with its guard page installed, or `None` (and the stack
    /// unmapped) when the kernel refused the guard.
    fn guarded(&self, stack: GStack) -> Option<GStack> {
        match stack.guarded() {
            Ok(s) => Some(s),
            Err(_) => {
                self.owned.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// At the cap, a spare stack of another size may be unmapped to make room.
    fn evict_and_map(&self, size: usize) -> Option<GStack> {
        let victim = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let v = spare.cold.pop().or_else(|| spare.warm.pop());
            spare.low = spare.low.min(spare.warm.len());
            self.spare_len.store(spare.len(), Ordering::Relaxed);
            v
        }?;
        drop(victim);
        match GStack::map_slab(size, 1) {
            Ok(mut s) => self.guarded(s.pop()?),
            Err(_) => {
                self.owned.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Returns a stack whose goroutine finished.
    pub(crate) fn put(&self, local: &mut LocalPool, stack: GStack) {
        stack.release_deep_pages();
        if stack.size() == self.default_size && local.stacks.len() < LOCAL_CAP {
            local.stacks.push(stack);
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.warm.push(stack);
        self.spare_len.store(spare.len(), Ordering::Relaxed);
    }

    /// Moves a worker's cached stacks to the shared pool (a worker exiting, or
    /// other workers starving for stacks).
    pub(crate) fn flush(&self, local: &mut LocalPool) {
        if local.stacks.is_empty() {
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.warm.append(&mut local.stacks);
        self.spare_len.store(spare.len(), Ordering::Relaxed);
    }

    /// Gives back the pages of warm spares that went unused for a whole
    /// period (the time since the last call), beyond [`KEEP_WARM`]: half of
    /// them, oldest first; they become cold. Called by sysmon about once a
    /// second. Returns how many stacks it released.
    pub(crate) fn scavenge(&self) -> usize {
        let mut batch = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let idle = spare.low.min(spare.warm.len()).saturating_sub(KEEP_WARM);
            let batch: Vec<GStack> = spare.warm.drain(..idle.div_ceil(2)).collect();
            spare.low = spare.warm.len();
            self.spare_len.store(spare.len(), Ordering::Relaxed);
            batch
        };
        if batch.is_empty() {
            return 0;
        }
        // Released with the lock not held (one `madvise` per run of adjacent
        // stacks, which can take milliseconds); meanwhile the batch is in
        // neither list, still counted in `owned`.
        GStack::release_all(&mut batch);
        let n = batch.len();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.cold.append(&mut batch);
        self.spare_len.store(spare.len(), Ordering::Relaxed);
        n
    }

    /// At most this many stacks may be mapped by this runtime at once: its
    /// own cap, or what the process budget allows besides the stacks it
    /// already has.
    pub(crate) fn limit(&self) -> usize {
        self.max.min(self.owned() + super::budget::room())
    }

    /// The runtime's own cap, if `max_stacks` set one.
    pub(crate) fn own_cap(&self) -> Option<usize> {
        (self.max != usize::MAX).then_some(self.max)
    }

    /// Stacks mapped by this runtime.
    pub(crate) fn owned(&self) -> usize {
        self.owned.load(Ordering::Relaxed)
    }

    /// Spare stacks in the shared pool (a hint).
    pub(crate) fn spare(&self) -> usize {
        self.spare_len.load(Ordering::Relaxed)
    }

    /// True when new goroutines should wait for started ones: most of the cap
    /// is mapped and nothing is spare.
    pub(crate) fn under_pressure(&self, local: &LocalPool) -> bool {
        local.stacks.is_empty() && self.spare() == 0 && {
            let limit = self.limit();
            self.owned() >= limit - limit / 8
        }
    }

    /// Whether a stack could be had right now without waiting for one to be freed.
    pub(crate) fn available(&self, local: &LocalPool) -> bool {
        !local.stacks.is_empty() || self.spare() > 0 || self.owned() < self.limit()
    }

    /// Drops every spare stack (runtime shutdown).
    pub(crate) fn clear(&self) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let Spares { mut warm, cold, .. } = std::mem::take(&mut *spare);
        self.spare_len.store(0, Ordering::Relaxed);
        drop(spare);
        warm.extend(cold);
        self.owned.fetch_sub(warm.len(), Ordering::Relaxed);
        GStack::unmap_all(warm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::DEFAULT_STACK_SIZE;

    /// Whether `addr` is mapped (`mincore` fails with ENOMEM on a hole).
    fn mapped(addr: usize) -> bool {
        let mut v = 0u8;
        // SAFETY: `mincore` only inspects the page tables of our own address
        // space; `v` has room for the one page asked about.
        unsafe {
            libc::mincore(
                (addr & !(crate::stack::PAGE - 1)) as *mut libc::c_void,
                1,
                &mut v,
            ) == 0
        }
    }

    #[test]
    fn slabs_grow_while_demand_lasts_and_stacks_come_out_guarded() {
        let pool = StackPool::new(DEFAULT_STACK_SIZE, usize::MAX);
        let mut local = LocalPool::default();
        let mut published = false;
        let mut held = Vec::new();
        // The first slab maps SLAB_MIN stacks; the next one twice as many.
        held.push(
            pool.get(&mut local, DEFAULT_STACK_SIZE, &mut published)
                .unwrap(),
        );
        assert!(published, "a slab's spares go to the shared pool");
        assert_eq!(pool.owned(), SLAB_MIN);
        for _ in 1..SLAB_MIN {
            held.push(
                pool.get(&mut local, DEFAULT_STACK_SIZE, &mut published)
                    .unwrap(),
            );
        }
        assert_eq!(
            pool.owned(),
            SLAB_MIN,
            "spares were used before mapping more"
        );
        held.push(
            pool.get(&mut local, DEFAULT_STACK_SIZE, &mut published)
                .unwrap(),
        );
        assert_eq!(pool.owned(), 3 * SLAB_MIN);
        assert!(
            held.iter().all(|s| s.is_guarded()),
            "every handed-out stack has its guard"
        );
        assert!(
            pool.spare
                .lock()
                .unwrap()
                .cold
                .iter()
                .all(|s| s.is_guarded() == crate::stack::slabs_guarded_in_batches()),
            "never-used spares are guarded with their slab, or not yet"
        );
        for s in held {
            pool.put(&mut local, s);
        }
        pool.flush(&mut local);
        pool.clear();
        assert_eq!(pool.owned(), 0);
    }

    #[test]
    fn slabs_stay_within_a_quarter_of_the_room() {
        let pool = StackPool::new(DEFAULT_STACK_SIZE, 20);
        let mut local = LocalPool::default();
        let mut published = false;
        let s = pool
            .get(&mut local, DEFAULT_STACK_SIZE, &mut published)
            .unwrap();
        assert_eq!(pool.owned(), 5, "a quarter of 20, not a whole slab");
        pool.put(&mut local, s);
        pool.flush(&mut local);
        pool.clear();
    }

    #[test]
    fn clear_unmaps_adjacent_stacks() {
        let pool = StackPool::new(DEFAULT_STACK_SIZE, usize::MAX);
        let mut local = LocalPool::default();
        let mut published = false;
        let s = pool
            .get(&mut local, DEFAULT_STACK_SIZE, &mut published)
            .unwrap();
        let (lo, _) = s.guard();
        let top = s.base - 1;
        // SAFETY: the top byte of a stack we own, with no frames on it.
        unsafe { std::ptr::write_volatile(top as *mut u8, 7) };
        assert!(mapped(lo + crate::stack::PAGE) && mapped(top));
        pool.put(&mut local, s);
        pool.flush(&mut local);
        assert_eq!(pool.owned(), SLAB_MIN);
        pool.clear();
        assert_eq!(pool.owned(), 0);
        assert!(!mapped(top), "the stack's pages are unmapped");
    }

    /// Whether the page holding `addr` is resident.
    fn resident(addr: usize) -> bool {
        let mut v = 0u8;
        // SAFETY: as in `mapped`.
        let rc = unsafe {
            libc::mincore(
                (addr & !(crate::stack::PAGE - 1)) as *mut libc::c_void,
                1,
                &mut v,
            )
        };
        rc == 0 && v & 1 == 1
    }

    #[test]
    fn scavenge_releases_half_of_what_sat_unused_beyond_the_reserve() {
        let pool = StackPool::new(DEFAULT_STACK_SIZE, usize::MAX);
        let mut local = LocalPool::default();
        let mut published = false;
        let n = KEEP_WARM + 200;
        let held: Vec<GStack> = (0..n)
            .map(|_| {
                pool.get(&mut local, DEFAULT_STACK_SIZE, &mut published)
                    .unwrap()
            })
            .collect();
        let tops: Vec<usize> = held.iter().map(|s| s.base - 8).collect();
        for &t in &tops {
            // SAFETY: the top word of a stack we own, with no frames on it.
            unsafe { std::ptr::write_volatile(t as *mut u64, 1) };
        }
        for s in held {
            pool.put(&mut local, s);
        }
        pool.flush(&mut local);
        let resident_now = || tops.iter().filter(|&&t| resident(t)).count();
        assert_eq!(resident_now(), n);
        // The first period started with no warm stacks: nothing sat unused.
        assert_eq!(pool.scavenge(), 0);
        // Through the second period all n sat unused: half of those beyond
        // the reserve go.
        assert_eq!(pool.scavenge(), 100);
        assert_eq!(resident_now(), n - 100);
        assert_eq!(pool.spare(), pool.owned(), "released stacks stay pooled");
        // Warm stacks are handed out before cold ones.
        let s = pool
            .get(&mut local, DEFAULT_STACK_SIZE, &mut published)
            .unwrap();
        assert!(resident(s.base - 8));
        pool.put(&mut local, s);
        assert_eq!(pool.scavenge(), 50);
        assert_eq!(pool.scavenge(), 25);
        pool.flush(&mut local);
        pool.clear();
        assert_eq!(pool.owned(), 0);
    }
}
