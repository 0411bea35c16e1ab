//! Goroutine stacks: mmap'd, lazily committed, guarded, pooled, budgeted.
//!
//! # Layout
//!
//! One stack is one anonymous private mapping with its lowest page made
//! inaccessible:
//!
//! ```text
//!   low addresses                                         high addresses
//!   +------------+---------------------------------------------------+
//!   | guard page |  usable stack (PROT_READ|PROT_WRITE, lazily       |
//!   | PROT_NONE  |  committed: a page costs RSS only once touched)   |
//!   +------------+---------------------------------------------------+
//!   ^ limit      ^ limit + PAGE                                 base ^
//!                                            (the stack grows downward)
//! ```
//!
//! The guard page is made with `madvise(MADV_GUARD_INSTALL)` where the kernel
//! has it (Linux 6.13+): page-table markers that fault on access without
//! splitting the mapping, so a stack costs at most one entry of
//! `vm.max_map_count` and neighbouring stacks merge into one VMA — measured
//! here: 20,000 stacks added 3 mappings, at 1.0 µs each instead of 3.6 µs,
//! and a million parked goroutines fit under the default limit of 65,530.
//! Elsewhere it falls back to `mprotect(PROT_NONE)`, which splits the
//! mapping in two kernel VMAs: **two** entries per stack, ~30,000 stacks by
//! default. The alternative of an unmapped hole as the guard (one VMA per
//! stack without guard regions) was rejected: nothing reserves a hole, so the
//! kernel may later place another mapping there and an overflow would then
//! silently write into it. Overflow must always be caught; when stacks are
//! scarce the scheduler knows it (see `budget` and the worker's
//! stack-pressure rule).
//!
//! # Invariants
//!
//! * A `GStack` owns its mapping; dropping it unmaps it and returns its
//!   mappings to the process-wide [`budget`].
//! * A stack in a pool has no live frames; its pages above
//!   [`KEEP_COMMITTED`] from the top were given back to the OS if the previous
//!   goroutine used them (`release_deep_pages`).
//! * A stack a goroutine runs on has its guard page. Stacks are mapped in
//!   slabs and get it with their slab where the kernel takes advice in
//!   batches ([`GStack::prepare_slab`]), else when first handed out
//!   ([`GStack::guarded`]); only never-used spares in a pool may lack it.
//!
//! Stack overflow detection lives in [`overflow`]; pooling in [`pool`].

pub(crate) mod budget;
pub(crate) mod overflow;
pub(crate) mod pool;

use std::io;

use corosensei::stack::{Stack, StackPointer};

/// The page size assumed for stacks (checked against `sysconf` at first use).
pub(crate) const PAGE: usize = 4096;

/// Default usable stack size of a goroutine (Go starts at 8 KiB and grows;
/// ours cannot move, so we reserve address space up front and commit lazily).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest accepted stack size: the coroutine trampoline, the panic catcher
/// and a handful of frames must fit.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest accepted stack size (1 GiB, Go's maximum on 64-bit).
pub const MAX_STACK_SIZE: usize = 1 << 30;

/// Bytes at the top of a stack that stay committed across reuse: a parked
/// goroutine typically touches one or two pages, and re-faulting them on every
/// reuse would cost ~0.25 µs each.
pub(crate) const KEEP_COMMITTED: usize = 32 * 1024;

/// Rounds a requested size to whole pages and checks the accepted range.
pub(crate) fn checked_size(requested: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&requested) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "ferrogo: goroutine stack size {requested} bytes is outside the accepted range \
                 {MIN_STACK_SIZE}..={MAX_STACK_SIZE}"
            ),
        ));
    }
    Ok(requested.next_multiple_of(PAGE))
}

/// `madvise` advice installing a guard region (Linux 6.13+): page-table
/// markers that fault on access, without splitting the mapping.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Whether `MADV_GUARD_INSTALL` works here: 0 unknown, 1 yes, 2 no.
static GUARD_INSTALL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// True when stacks get their guard page from `MADV_GUARD_INSTALL` (one
/// mapping per stack at most, and neighbouring stacks merge into one VMA);
/// false when they use `mprotect` (two mappings per stack).
pub(crate) fn guard_regions() -> bool {
    GUARD_INSTALL.load(std::sync::atomic::Ordering::Relaxed) == 1
}

/// `process_madvise`'s target meaning the calling process itself
/// (`PIDFD_SELF_THREAD_GROUP` in `<linux/pidfd.h>`, recent kernels; older
/// ones answer `EBADF`).
const PIDFD_SELF: libc::c_int = -10001;

/// Most ranges one `process_madvise` call takes (`UIO_MAXIOV`).
const MAX_IOV: usize = 1024;

/// Whether `process_madvise(PIDFD_SELF, ..)` takes the advice a slab needs
/// (recent kernels, 6.18 here): 0 unknown, 1 yes, 2 no.
static BATCH_ADVICE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Gives `advice` for every page `pages` yields, in as few
/// `process_madvise` calls as `MAX_IOV` allows. Returns how many of the
/// pages (from the first) were advised: all of them, or fewer when the
/// kernel lacks batched advice on itself (then nothing is retried here).
fn advise_pages(pages: impl Iterator<Item = usize>, advice: libc::c_int) -> usize {
    use std::sync::atomic::Ordering::Relaxed;
    if BATCH_ADVICE.load(Relaxed) == 2 {
        return 0;
    }
    let mut done = 0;
    let mut iov: Vec<libc::iovec> = Vec::new();
    let mut flush = |iov: &mut Vec<libc::iovec>| -> bool {
        if iov.is_empty() {
            return true;
        }
        // SAFETY: each range is one page of a stack mapping the caller owns
        // and holds no live frames in; the kernel reads `iov` only during
        // the call. Guard and populate advice change no contents.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF,
                iov.as_ptr(),
                iov.len(),
                advice,
                0,
            )
        };
        let ok = rc == (iov.len() * PAGE) as libc::c_long;
        if ok {
            BATCH_ADVICE.store(1, Relaxed);
            done += iov.len();
        } else if rc < 0 && done == 0 && BATCH_ADVICE.load(Relaxed) == 0 {
            // ENOSYS, EBADF (no PIDFD_SELF) or EINVAL (advice not allowed):
            // an older kernel; stacks then take the one-call-each path.
            BATCH_ADVICE.store(2, Relaxed);
        }
        iov.clear();
        ok
    };
    for page in pages {
        iov.push(libc::iovec {
            iov_base: page as *mut libc::c_void,
            iov_len: PAGE,
        });
        if iov.len() == MAX_IOV && !flush(&mut iov) {
            return done;
        }
    }
    flush(&mut iov);
    done
}

/// True when slabs get their guard pages in one batch when mapped (see
/// `GStack::prepare_slab`); false before the first slab or on kernels
/// without batched advice.
#[cfg(test)]
pub(crate) fn slabs_guarded_in_batches() -> bool {
    guard_regions() && BATCH_ADVICE.load(std::sync::atomic::Ordering::Relaxed) == 1
}

/// Makes the page at `addr` (the lowest page of a fresh stack mapping) a
/// guard page: a guard region where the kernel has them, else `PROT_NONE`.
fn install_guard(addr: *mut libc::c_void) -> io::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    if GUARD_INSTALL.load(Relaxed) != 2 {
        // SAFETY: advice on the first page of our own fresh mapping.
        let rc = unsafe { libc::madvise(addr, PAGE, MADV_GUARD_INSTALL) };
        if rc == 0 {
            GUARD_INSTALL.store(1, Relaxed);
            return Ok(());
        }
        GUARD_INSTALL.store(2, Relaxed); // older kernel: EINVAL
    }
    // SAFETY: the first page of the mapping we just created; nothing uses it.
    if unsafe { libc::mprotect(addr, PAGE, libc::PROT_NONE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One goroutine stack (see the module comment for its layout).
pub(crate) struct GStack {
    /// Lowest address of the mapping (the guard page starts here), page
    /// aligned, with [`GUARDED`] in bit 0 once the guard page is in place.
    /// A stack fresh from a slab is unguarded until [`GStack::guarded`] is
    /// called, which the pool does before handing it out: no frame ever
    /// lives on an unguarded stack. (A flag bit, not a field: a `GStack`
    /// lives inside every goroutine's coroutine, and a third word grew the
    /// goroutine record past its allocator size class.)
    limit: usize,
    /// Highest address (one past the last usable byte); the initial stack pointer.
    base: usize,
}

/// `GStack::limit`'s flag: the guard page is installed.
const GUARDED: usize = 1;

// SAFETY: a GStack is plain memory owned by whoever holds the value; moving
// ownership of an unused stack to another thread is fine (stacks holding
// frames live inside coroutines, which are never sent).
unsafe impl Send for GStack {}

impl GStack {
    /// Maps a new stack with `size` usable bytes (a multiple of [`PAGE`]) and
    /// a guard page below. Fails when the mapping budget is spent or `mmap`
    /// refuses; the caller decides what running short means.
    #[cfg(test)]
    pub(crate) fn new(size: usize) -> io::Result<GStack> {
        GStack::map_slab(size, 1)?
            .pop()
            .expect("one stack mapped")
            .guarded()
    }

    /// Maps up to `count` stacks of `size` usable bytes (a multiple of
    /// [`PAGE`]) with one `mmap` call, each with room for its own guard page:
    ///
    /// ```text
    ///   | guard | stack 0 | guard | stack 1 | ... | guard | stack count-1 |
    /// ```
    ///
    /// One call instead of `count` saves ~0.45 µs of `mmap` per stack here
    /// and, more, the contention of many calls: each one write-locks the
    /// address space, stalling the page faults of the other workers' new
    /// goroutines (measured here, two threads each mapping and touching
    /// stacks: 3.3 µs per stack with 16 per call, 1.35 µs with 256). Each
    /// stack is still its own `GStack`: dropping one unmaps its own range.
    /// Fewer than `count` stacks come back when the budget has room for
    /// fewer; none is an error.
    ///
    /// The stacks come back **unguarded**: [`GStack::guarded`] installs the
    /// guard when a stack is first handed out, so a large slab costs one
    /// system call up front and each worker guards the stacks it takes.
    pub(crate) fn map_slab(size: usize, count: usize) -> io::Result<Vec<GStack>> {
        debug_assert!(size % PAGE == 0 && size >= MIN_STACK_SIZE && count >= 1);
        let mut n = 0;
        while n < count && budget::try_take() {
            n += 1;
        }
        if n == 0 {
            return Err(budget::exhausted_error());
        }
        let len = size + PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing; no existing memory is affected.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len * n,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            for _ in 0..n {
                budget::give_back();
            }
            return Err(if err.raw_os_error() == Some(libc::ENOMEM) {
                budget::exhausted_error()
            } else {
                err
            });
        }
        // From here each stack owns its range: an early return drops (and so
        // unmaps) the ones made so far and the loop unmaps the rest.
        let mut stacks = Vec::with_capacity(n);
        for i in 0..n {
            stacks.push(GStack {
                limit: addr as usize + i * len,
                base: addr as usize + (i + 1) * len,
            });
        }
        if size >= 2 * 1024 * 1024 {
            // Transparent huge pages would commit 2 MiB at the first touch.
            // SAFETY: advice on our own mapping; failure is harmless.
            unsafe { libc::madvise(addr, len * n, libc::MADV_NOHUGEPAGE) };
        }
        if n > 1 {
            GStack::prepare_slab(&mut stacks);
        }
        Ok(stacks)
    }

    /// Does up front, in two system calls for the whole slab, what each
    /// stack would otherwise cost one call or fault for later, where the
    /// kernel takes advice in batches (`process_madvise` on the process
    /// itself, which recent kernels allow for any advice; 6.18 here):
    ///
    /// 1. the guard pages (guard regions only: batched `mprotect` does not
    ///    exist), ~0.35 µs per stack instead of ~0.5 µs one at a time;
    /// 2. the zero page mapped read-only at each stack's deep-page probe
    ///    (`release_deep_pages`), ~0.24 µs per stack instead of a ~0.8 µs
    ///    read fault on the stack's first return to a pool. No memory is
    ///    committed: the shared zero page is not counted in RSS.
    ///
    /// Measured here for a slab of 256 (C, `CLOCK_MONOTONIC`). Elsewhere
    /// nothing happens, and stacks get their guards when handed out.
    fn prepare_slab(stacks: &mut [GStack]) {
        if GUARD_INSTALL.load(std::sync::atomic::Ordering::Relaxed) != 2 {
            let guarded = advise_pages(stacks.iter().map(GStack::lo), MADV_GUARD_INSTALL);
            if guarded > 0 {
                GUARD_INSTALL.store(1, std::sync::atomic::Ordering::Relaxed);
            }
            for s in &mut stacks[..guarded] {
                s.limit |= GUARDED;
            }
        }
        if stacks[0].probe().is_some() {
            advise_pages(
                stacks.iter().filter_map(GStack::probe),
                libc::MADV_POPULATE_READ,
            );
        }
    }

    /// This stack with its guard page in place (a no-op for a stack that
    /// has one). Fails when the kernel refuses the guard (`mprotect` past
    /// `vm.max_map_count` on kernels without guard regions); the stack is
    /// then unmapped.
    pub(crate) fn guarded(mut self) -> io::Result<GStack> {
        if !self.is_guarded() {
            install_guard(self.lo() as *mut libc::c_void)?;
            self.limit |= GUARDED;
        }
        Ok(self)
    }

    /// Whether the guard page is in place.
    pub(crate) fn is_guarded(&self) -> bool {
        self.limit & GUARDED != 0
    }

    /// Lowest address of the mapping (where the guard page is).
    fn lo(&self) -> usize {
        self.limit & !GUARDED
    }

    /// Unmaps many stacks with as few `munmap` calls as their addresses
    /// allow: stacks of one slab are adjacent, and so are slabs the kernel
    /// placed next to each other. Dropping 650,000 pooled stacks one by one
    /// took 2.7 s here (each `munmap` splits the big merged mapping); sorted
    /// and coalesced it is a handful of calls.
    pub(crate) fn unmap_all(mut stacks: Vec<GStack>) {
        GStack::for_each_run(&mut stacks, |lo, hi| {
            // SAFETY: `[lo, hi)` is the union of adjacent mappings owned by
            // the stacks being consumed here; none holds live frames (they
            // are pooled), and each is forgotten below, so none is unmapped
            // twice.
            unsafe { libc::munmap(lo as *mut libc::c_void, hi - lo) };
        });
        for s in stacks {
            budget::give_back();
            std::mem::forget(s);
        }
    }

    /// Sorts `stacks` by address and calls `f(lo, hi)` once for each run
    /// of adjacent ones, `[lo, hi)` spanning their whole mappings, guard
    /// pages included.
    fn for_each_run(stacks: &mut [GStack], mut f: impl FnMut(usize, usize)) {
        stacks.sort_unstable_by_key(|s| s.lo());
        let mut run: Option<(usize, usize)> = None;
        for s in stacks.iter() {
            run = match run {
                Some((lo, hi)) if hi == s.lo() => Some((lo, s.base)),
                Some((lo, hi)) => {
                    f(lo, hi);
                    Some((s.lo(), s.base))
                }
                None => Some((s.lo(), s.base)),
            };
        }
        if let Some((lo, hi)) = run {
            f(lo, hi);
        }
    }

    /// Gives the pages of pooled stacks back to the OS (`MADV_DONTNEED`:
    /// they read as zeros again and cost no memory until touched); the
    /// mappings and guards stay. With guard regions, which survive
    /// `MADV_DONTNEED`, adjacent stacks are released in one call per run.
    pub(crate) fn release_all(stacks: &mut [GStack]) {
        let release = |lo: usize, hi: usize| {
            // SAFETY: `[lo, hi)` lies inside mappings owned by pooled stacks
            // (no live frames); MADV_DONTNEED on private anonymous memory
            // only drops its contents.
            unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
        };
        if guard_regions() {
            GStack::for_each_run(stacks, |lo, hi| release(lo + PAGE, hi));
        } else {
            for s in stacks.iter() {
                release(s.lo() + PAGE, s.base);
            }
        }
    }

    /// Usable bytes (the mapping less the guard page).
    pub(crate) fn size(&self) -> usize {
        self.base - self.lo() - PAGE
    }

    /// The guard page's address range `[lo, hi)`.
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.lo(), self.lo() + PAGE)
    }

    /// The page `release_deep_pages` samples, just below the top
    /// [`KEEP_COMMITTED`] bytes; `None` for a stack too small to have pages
    /// below those.
    fn probe(&self) -> Option<usize> {
        let keep_floor = self.base - KEEP_COMMITTED;
        (keep_floor > self.lo() + PAGE).then_some(keep_floor - PAGE)
    }

    /// Returns the pages below the top [`KEEP_COMMITTED`] bytes to the OS when
    /// the last user reached them, so a stack that once grew large costs one
    /// or two pages again once pooled.
    ///
    /// Detection reads the page just below the kept region: an untouched page
    /// reads as zeros (the kernel maps its shared zero page; no memory is
    /// committed), a page a frame was written to almost surely does not. We
    /// sample one word per 512 bytes of that page.
    pub(crate) fn release_deep_pages(&self) {
        let Some(probe) = self.probe() else {
            return;
        };
        let keep_floor = self.base - KEEP_COMMITTED;
        let usable_lo = self.lo() + PAGE;
        let mut touched = false;
        for off in (0..PAGE).step_by(512) {
            // SAFETY: `probe + off` lies inside the usable part of our own
            // mapping, which is readable, aligned to 8, and has no live
            // frames (the stack is being pooled).
            let word = unsafe { std::ptr::read_volatile((probe + off) as *const u64) };
            if word != 0 {
                touched = true;
                break;
            }
        }
        if touched {
            // SAFETY: the range is inside our mapping and holds no live data;
            // MADV_DONTNEED on private anonymous memory makes it read as
            // zeros again and frees the pages.
            unsafe {
                libc::madvise(
                    usable_lo as *mut libc::c_void,
                    keep_floor - usable_lo,
                    libc::MADV_DONTNEED,
                )
            };
        }
    }
}

impl Drop for GStack {
    fn drop(&mut self) {
        // SAFETY: we own the mapping `[limit, base)`, created by `new`, and no
        // frames live on it (a stack inside a running coroutine is never dropped).
        unsafe { libc::munmap(self.lo() as *mut libc::c_void, self.base - self.lo()) };
        budget::give_back();
    }
}

// SAFETY: `base` is the top of a mapping of at least MIN_STACK_SIZE usable
// bytes, page aligned (so aligned to STACK_ALIGNMENT = 16); `limit` is the
// bottom including the guard page, as the trait requires.
unsafe impl Stack for GStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.base).expect("stack base is non-zero")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lo()).expect("stack limit is non-zero")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_checks_name_the_problem() {
        let err = checked_size(10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("stack size 10 bytes"));
        assert_eq!(
            checked_size(MIN_STACK_SIZE + 1).unwrap(),
            MIN_STACK_SIZE + PAGE
        );
    }

    #[test]
    fn a_stack_is_two_words() {
        // It lives inside every goroutine's coroutine (see `GStack::limit`).
        assert_eq!(
            std::mem::size_of::<GStack>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn a_slab_is_guarded_in_one_batch_where_the_kernel_allows() {
        let stacks = GStack::map_slab(DEFAULT_STACK_SIZE, 8).unwrap();
        // Without batched advice (older kernels) slabs are guarded lazily.
        let batched = slabs_guarded_in_batches();
        assert!(stacks.iter().all(|s| s.is_guarded() == batched));
        // Guarding again is a no-op for a batched stack and installs the guard
        // otherwise; either way the stack comes out guarded and usable.
        for s in stacks {
            let s = s.guarded().unwrap();
            assert!(s.is_guarded());
            // SAFETY: the top word of the usable part of our own stack.
            unsafe { std::ptr::write_volatile((s.base - 8) as *mut u64, 1) };
            s.release_deep_pages();
        }
    }

    #[test]
    fn deep_pages_are_released() {
        let s = GStack::new(DEFAULT_STACK_SIZE).unwrap();
        // Touch the whole usable range as a deep goroutine would.
        let lo = s.lo() + PAGE;
        for a in (lo..s.base).step_by(PAGE) {
            // SAFETY: inside the usable part of our stack.
            unsafe { std::ptr::write_volatile(a as *mut u64, 0xdead) };
        }
        s.release_deep_pages();
        // SAFETY: inside the usable part; released pages read as zero.
        let deep = unsafe { std::ptr::read_volatile(lo as *const u64) };
        assert_eq!(deep, 0, "deep page was not released");
        // SAFETY: inside the kept region at the top.
        let top = unsafe { std::ptr::read_volatile((s.base - PAGE) as *const u64) };
        assert_eq!(top, 0xdead, "kept pages must survive");
    }
}
