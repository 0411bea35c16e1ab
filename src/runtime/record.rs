//! The goroutine's allocation (its *record*): one block holding the
//! type-independent [`G`], the result slot its `JoinHandle` reads and the
//! body until it runs; the reference-counted pointer to it ([`GRef`]); and
//! the per-type table that runs and drops the typed part.
//!
//! # Layout
//!
//! ```text
//!  GRef ──────────┐
//!  JoinHandle<T> ─┤
//!                 ▼
//!   offset 0  ┌──────────────────────────┐
//!             │ Header                   │
//!             │   refs: AtomicUsize      │
//!             │   vtable ───────────────────► VTable of Record<F, T> (static):
//!             │   g: G                   │      run, drop_record, layout
//!             ├──────────────────────────┤ ◄─ offset fixed by T alone
//!             │ packet: Packet<T>        │    (Prefix<T> has the same)
//!             ├──────────────────────────┤
//!             │ body: Option<F>          │ ◄─ taken when it runs
//!             └──────────────────────────┘
//! ```
//!
//! `#[repr(C)]` lays the fields out in this order, each at the first offset
//! its alignment allows after the previous one. So the header is at offset 0
//! of every record, and the packet at the same offset in `Record<F, T>` as
//! in `Prefix<T>`, whatever `F` is: a [`GRef`] is a thin pointer that reads
//! the header, a `JoinHandle<T>` reads the packet through `Prefix<T>`, and
//! only the vtable knows `F`.
//!
//! # Ownership
//!
//! `refs` counts the `GRef`s and the `JoinHandle` (the handle holds a
//! `GRef`). A record starts with two: the run queue's and the handle's. The
//! `GRef` that brings the count to zero drops the record in place (its `G`,
//! its packet, its body if it never ran) and gives the block back to
//! [`gcache`](super::gcache). The counting is `Arc`'s: increments relaxed,
//! decrements release, an acquire load before the drop (it pairs with every
//! other holder's release decrement, so their uses of the record happen
//! before it is dropped).
//!
//! Who drops the user's values: the body is consumed by its call; a result
//! is taken by `join`, or dropped by the handle's `drop` if the goroutine
//! finished first, or by the goroutine itself (inside `catch_unwind`) if the
//! handle was gone (`join.rs`). So the last reference, which may be the
//! worker's, drops user code only for a body that never ran (shutdown). A
//! panic there still frees the block (the drop glue finishes the other
//! fields, then a guard frees) and propagates to the dropper.
//!
//! # Why not `Arc<GBox<dyn Tail>>` (the previous design)
//!
//! The block comes from `gcache`'s free lists instead of `malloc` (~430
//! instructions per goroutine saved in the spawn benchmark, see
//! `gcache.rs`); a `GRef` is one word instead of a fat pointer (run queues,
//! wakers); and a `JoinHandle` is one word instead of 40 bytes (it finds the
//! goroutine's identity in the record instead of keeping a copy). `Arc`
//! cannot take memory from a custom pool on stable Rust.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

use corosensei::Yielder;

use super::g::{G, Switch};
use super::gcache;
use super::join::Packet;

/// The start of every record: what any holder of a [`GRef`] may use.
#[repr(C)]
pub(crate) struct Header {
    /// Live references (`GRef`s, the handle's included). Decremented by
    /// whichever thread drops one; the one reaching zero frees the record.
    refs: AtomicUsize,
    /// The table of the record's concrete type; immutable.
    vtable: &'static VTable,
    /// The goroutine (ownership rules in `g.rs`).
    pub(crate) g: G,
}

/// What only the concrete record type knows.
struct VTable {
    /// Runs the body on the goroutine's own stack and stores its outcome.
    /// Called once.
    run: unsafe fn(NonNull<Header>),
    /// Drops the whole record in place.
    drop_record: unsafe fn(NonNull<Header>),
    /// The record's layout (what `gcache` allocated).
    layout: Layout,
}

/// A record for a goroutine running `F` and returning `T`.
#[repr(C)]
struct Record<F, T> {
    /// Offset 0: see the module comment.
    header: Header,
    /// The result slot the `JoinHandle` reads (its own protocol, `join.rs`).
    packet: Packet<T>,
    /// The body; taken by the one `run`, on the goroutine's stack, by the
    /// worker that started it. Dropped with the record if it never ran.
    body: UnsafeCell<Option<F>>,
}

/// The part of a `Record<F, T>` that does not depend on `F` (same layout,
/// see the module comment). A `JoinHandle<T>` reads its packet through it.
#[repr(C)]
pub(crate) struct Prefix<T> {
    /// As in `Record`.
    header: Header,
    /// As in `Record`.
    pub(crate) packet: Packet<T>,
}

impl<F, T> Record<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// This type's table (a constant, promoted to a `'static`).
    const VTABLE: VTable = VTable {
        run: Self::run,
        drop_record: Self::drop_record,
        layout: Layout::new::<Self>(),
    };

    /// `VTable::run` for this type.
    ///
    /// # Safety
    ///
    /// `p` is a live `Record<F, T>`, and this is its one run, on its
    /// goroutine's stack.
    unsafe fn run(p: NonNull<Header>) {
        // SAFETY: per the fn contract the record is a live `Record<F, T>`.
        let rec = unsafe { p.cast::<Record<F, T>>().as_ref() };
        let g = &rec.header.g;
        // SAFETY: the one run, by the goroutine itself: nobody else touches `body`.
        let body = unsafe { (*rec.body.get()).take() }.expect("goroutine body runs once");
        let result = catch_unwind(AssertUnwindSafe(body));
        if let Err(payload) = result {
            if g.unwinding.get() {
                // The runtime unwinds this goroutine at shutdown: let it through.
                resume_unwind(payload);
            }
            rec.packet.complete(Err(payload), || g.identity());
        } else {
            rec.packet.complete(result, || g.identity());
        }
    }

    /// `VTable::drop_record` for this type.
    ///
    /// # Safety
    ///
    /// `p` is a `Record<F, T>` that nobody references any more, dropped once.
    unsafe fn drop_record(p: NonNull<Header>) {
        // SAFETY: per the fn contract.
        unsafe { ptr::drop_in_place(p.cast::<Record<F, T>>().as_ptr()) };
    }
}

/// Allocates the record of a new goroutine `g` running `body`; returns the
/// run queue's reference and the handle's (the count starts at two).
pub(crate) fn new<F, T>(g: G, body: F) -> (GRef, GRef)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let layout = Layout::new::<Record<F, T>>();
    let block = gcache::alloc(layout).cast::<Record<F, T>>();
    // SAFETY: a fresh block for `layout`, suitably sized and aligned (gcache
    // rounds the size up to a class whose alignment covers the record's).
    unsafe {
        block.write(Record {
            header: Header {
                refs: AtomicUsize::new(2),
                vtable: &Record::<F, T>::VTABLE,
                g,
            },
            packet: Packet::new(),
            body: UnsafeCell::new(Some(body)),
        })
    };
    let p = block.cast::<Header>();
    (GRef { ptr: p }, GRef { ptr: p })
}

/// A counted reference to a goroutine's record (see the module comment).
pub(crate) struct GRef {
    /// The record's header; valid while this reference lives.
    ptr: NonNull<Header>,
}

// SAFETY: what a `GRef` gives access to is `Sync`: the `G` (see its own
// `Sync` impl), the atomic count; the typed part is reached only through
// `run` (called once, by the goroutine, which owns the `Send` body then) and
// the packet (its own protocol, `T: Send`). Dropping the last reference on
// any thread drops the body or result there, which `F: Send`/`T: Send`
// (required by `new`) permits.
unsafe impl Send for GRef {}
// SAFETY: as for Send.
unsafe impl Sync for GRef {}

/// A count beyond this aborts (as `Arc` does): it could only come from
/// leaked references, and wrapping would free a live record.
const MAX_REFS: usize = isize::MAX as usize;

impl Clone for GRef {
    #[inline]
    fn clone(&self) -> GRef {
        // Relaxed, as `Arc::clone`: a new reference is made from an existing
        // one, which keeps the record alive meanwhile.
        let old = self.header().refs.fetch_add(1, Ordering::Relaxed);
        if old > MAX_REFS {
            std::process::abort();
        }
        GRef { ptr: self.ptr }
    }
}

impl Drop for GRef {
    #[inline]
    fn drop(&mut self) {
        // Release: our uses of the record happen before the final drop (the
        // acquire load below, on whichever thread reaches zero).
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: pairs with every other holder's release decrement. A load
        // rather than `fence(Acquire)` (std's `Arc` does the same under
        // ThreadSanitizer): TSan does not model fences and reported the
        // record's drop racing with the other threads' last uses; on x86
        // either is a plain instruction.
        self.header().refs.load(Ordering::Acquire);
        // SAFETY: the count reached zero: nobody references the record.
        unsafe { destroy(self.ptr) };
    }
}

/// Drops the record at `p` and frees its block; the block is freed even if
/// a `Drop` of the typed part panics.
///
/// # Safety
///
/// `p` is a live record nobody references any more; called once.
#[inline(never)]
unsafe fn destroy(p: NonNull<Header>) {
    /// Frees the block when dropped: after the record's drop, or during the
    /// unwind of a panic from it.
    struct FreeBlock(NonNull<Header>, Layout);
    impl Drop for FreeBlock {
        fn drop(&mut self) {
            // SAFETY: the record was allocated by `new` with this layout and
            // is dropped (or being unwound out of); nobody uses the block.
            unsafe { gcache::free(self.0.cast(), self.1) };
        }
    }
    // SAFETY: the record is live until `drop_record` below.
    let vtable = unsafe { p.as_ref() }.vtable;
    let _free = FreeBlock(p, vtable.layout);
    // SAFETY: nobody references the record (fn contract); dropped once.
    unsafe { (vtable.drop_record)(p) };
}

impl std::ops::Deref for GRef {
    type Target = G;
    #[inline]
    fn deref(&self) -> &G {
        &self.header().g
    }
}

impl GRef {
    /// The header.
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: the record lives while this reference does.
        unsafe { self.ptr.as_ref() }
    }

    /// The record's `G` (stable while any reference lives).
    #[inline]
    pub(crate) fn as_ptr(this: &GRef) -> *const G {
        &this.header().g
    }

    /// The record, as a non-owning pointer (for `WaiterRef`, the coroutine).
    #[inline]
    pub(crate) fn as_raw(this: &GRef) -> NonNull<Header> {
        this.ptr
    }

    /// Takes over a reference to the record at `p` that its holder gave up
    /// with `mem::forget` (a parked goroutine's: see "Who owns a parked
    /// goroutine's reference" in `park.rs`); no count changes.
    ///
    /// # Safety
    ///
    /// Exactly one forgotten reference to the record exists for this call to
    /// take over, and nothing else takes it.
    #[inline]
    pub(crate) unsafe fn adopt(p: NonNull<Header>) -> GRef {
        GRef { ptr: p }
    }

    /// A new reference to the record at `p`.
    ///
    /// # Safety
    ///
    /// The record is alive (some reference to it lives) for the duration of
    /// the call.
    #[inline]
    pub(crate) unsafe fn clone_raw(p: NonNull<Header>) -> GRef {
        // SAFETY: alive per the fn contract; `ManuallyDrop` keeps the
        // borrowed count as it was, the clone takes one more.
        GRef::clone(&std::mem::ManuallyDrop::new(GRef { ptr: p }))
    }

    /// The packet of a record made by `new::<F, T>`.
    ///
    /// # Safety
    ///
    /// The record was created for result type `T`.
    #[inline]
    pub(crate) unsafe fn packet<T>(&self) -> &Packet<T> {
        // SAFETY: `Prefix<T>` is the layout prefix of `Record<F, T>` (module
        // comment), and the record is a `Record<_, T>` per the fn contract.
        unsafe { &self.ptr.cast::<Prefix<T>>().as_ref().packet }
    }
}

/// Runs the body of the goroutine whose record is at `p`: the entry of its
/// coroutine.
///
/// # Safety
///
/// Called once per record, on the goroutine's own (new) stack, with `y` the
/// coroutine's yielder, while a reference to the record is held (the
/// worker's, a run queue's or the registry's, as long as the coroutine lives).
pub(crate) unsafe fn run(p: NonNull<Header>, y: &Yielder<(), Switch>) {
    // SAFETY: alive per the fn contract.
    let h = unsafe { p.as_ref() };
    h.g.set_yielder(y);
    // SAFETY: the one run, on the goroutine's stack (fn contract).
    unsafe { (h.vtable.run)(p) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_offset_does_not_depend_on_the_body() {
        #[repr(align(64))]
        struct Big(#[allow(dead_code)] [u8; 64]);
        fn off<F, T>() -> usize {
            std::mem::offset_of!(Record<F, T>, packet)
        }
        let p = std::mem::offset_of!(Prefix<u8>, packet);
        assert_eq!(off::<u8, u8>(), p);
        assert_eq!(off::<Big, u8>(), p);
        assert_eq!(off::<[u64; 9], u8>(), p);
        let p = std::mem::offset_of!(Prefix<Big>, packet);
        assert_eq!(off::<u8, Big>(), p);
        assert_eq!(off::<Big, Big>(), p);
        assert_eq!(std::mem::offset_of!(Record<Big, u8>, header), 0);
    }

    /// A goroutine whose closure captures nothing or one word, returning
    /// `()` or a word, fits the 192-byte class (a parked goroutine's memory
    /// beyond its stack page is mostly this record; BENCHMARKS.md, "sleep-1m
    /// RSS"). The class is what `gcache` allocates, so compare the rounded size.
    #[test]
    fn a_small_goroutine_fits_the_192_byte_class() {
        fn class<F, T>() -> usize {
            std::mem::size_of::<Record<F, T>>().next_multiple_of(32)
        }
        let nothing = || {};
        let one = std::sync::Arc::new(0u8);
        let one_word = move || drop(one);
        fn of<F: FnOnce() -> T, T>(_: &F) -> usize {
            class::<F, T>()
        }
        assert_eq!(of(&nothing), 192);
        assert_eq!(of(&one_word), 192);
        assert_eq!(class::<fn() -> u64, u64>(), 192);
    }

    /// Records freed on the workers of a dropped runtime (their caches go to
    /// the pool when the threads exit) serve the spawns of the next one.
    #[test]
    fn records_reused_across_runtimes() {
        // The pools are global: a gcache test trimming them between the two
        // runtimes would free the first one's blocks (seen once in CI).
        let _pools = crate::runtime::gcache::tests::serial();
        let addresses = || -> Vec<usize> {
            let rt = crate::Runtime::builder().max_procs(1).build().unwrap();
            rt.run(|| {
                let hs: Vec<_> = (0..2_000)
                    .map(|_| {
                        crate::go(|| {
                            let p = crate::runtime::worker::current_gref_ptr();
                            p.expect("on a goroutine").as_ptr() as usize
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            })
        };
        let first: std::collections::HashSet<usize> = addresses().into_iter().collect();
        let second = addresses();
        let reused = second.iter().filter(|a| first.contains(a)).count();
        assert!(reused > 0, "no record of the first runtime was reused");
    }
}
