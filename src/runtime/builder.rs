//! Creating runtimes and goroutines: `Runtime`, `RuntimeBuilder`, the lazily
//! started global runtime, `Builder` for named / sized goroutines, and the
//! spawn path shared by all of them.

use std::fmt;
use std::io;
use std::panic::resume_unwind;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::thread;

use super::g::G;
use super::join::JoinHandle;
use super::record;
use super::scheduler::{LIVE_RUNTIMES, Shared};
use super::{sysmon, worker};
use crate::stack::pool::StackPool;
use crate::stack::{self, DEFAULT_STACK_SIZE, budget};

/// The environment variable that sets the default number of workers
/// (Go's `GOMAXPROCS`).
pub const MAXPROCS_ENV: &str = "FERROGO_MAXPROCS";

/// A set of worker threads running goroutines: an M:N scheduler.
///
/// Most programs use the global runtime implicitly through [`go`](crate::go)
/// and [`run`](crate::run). Build your own to choose the number of workers
/// or to keep goroutines apart; dropping a `Runtime` stops its workers,
/// unwinding goroutines that are still parked (on their own threads, before
/// those exit).
///
/// ```
/// let rt = ferrogo::Runtime::builder().max_procs(2).build().unwrap();
/// let sum = rt.run(|| {
///     let hs: Vec<_> = (0..100u64).map(|i| ferrogo::go(move || i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 4950);
/// ```
pub struct Runtime {
    /// What the workers share (leaked on purpose: goroutine records and
    /// wakers may outlive the runtime and point into it).
    shared: &'static Shared,
    /// The worker threads, joined at drop.
    threads: Vec<thread::JoinHandle<()>>,
}

/// Configures a [`Runtime`].
///
/// ```
/// let rt = ferrogo::Runtime::builder()
///     .max_procs(1)
///     .stack_size(128 * 1024)
///     .build()
///     .unwrap();
/// assert_eq!(rt.max_procs(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RuntimeBuilder {
    max_procs: Option<usize>,
    stack_size: Option<usize>,
    max_stacks: Option<usize>,
    /// Set by the `unsafe` [`RuntimeBuilder::allow_migration`].
    migrate: bool,
}

impl RuntimeBuilder {
    /// The number of worker threads (Go's `GOMAXPROCS`). Default: the
    /// `FERROGO_MAXPROCS` environment variable, else the available
    /// parallelism (cgroup-aware).
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(3).build().unwrap();
    /// assert_eq!(rt.max_procs(), 3);
    /// ```
    pub fn max_procs(mut self, n: usize) -> Self {
        self.max_procs = Some(n);
        self
    }

    /// Default usable stack size of this runtime's goroutines (rounded up to
    /// whole pages; 16 KiB ..= 1 GiB; default 256 KiB). Stacks are reserved
    /// address space, committed only as touched.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().stack_size(1 << 20).build().unwrap();
    /// rt.run(|| { let big = [1u8; 512 * 1024]; assert_eq!(big[1000], 1); });
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Caps the number of goroutine stacks this runtime maps at once (each
    /// costs two of the process's `vm.max_map_count` mappings). Default: the
    /// process-wide budget derived from `vm.max_map_count`.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(1).max_stacks(4).build().unwrap();
    /// // 100 goroutines, but never more than 4 alive at once need a stack.
    /// let n = rt.run(|| (0..100).map(|i| ferrogo::go(move || i)).map(|h| h.join().unwrap()).count());
    /// assert_eq!(n, 100);
    /// ```
    pub fn max_stacks(mut self, n: usize) -> Self {
        self.max_stacks = Some(n);
        self
    }

    /// Lets started goroutines move between this runtime's worker threads,
    /// like Go's: a goroutine woken by another worker may run there, and idle
    /// workers take runnable goroutines from busy ones whether they have
    /// started or not.
    ///
    /// By default a goroutine stays, once started, on the worker that first
    /// ran it (the crate docs' "Soundness" section explains why): goroutines
    /// that all started on one worker keep running there even while other
    /// workers are idle, and a pair that started on different workers pays a
    /// cross-thread hand-off on every exchange. With migration a fan-out
    /// spreads over every worker, and communicating goroutines gather where
    /// they are woken. What it costs, on this runtime only: yields and
    /// preemptions go through the shared injector queue and may wake another
    /// worker (as Go's `Gosched` does: a `yield_now` ping-pong becomes about
    /// ten times slower), goroutines find their worker through a call that
    /// is not inlined, and hand-offs between workers cost cache misses — and
    /// a wait whenever the other worker's thread is descheduled, so on a
    /// machine where other processes compete for the CPUs a fan-out can run
    /// slower than on one worker (`examples/migration_fanout.rs` measures
    /// both modes).
    ///
    /// # Safety
    ///
    /// While parked in any blocking ferrogo call (channel operations,
    /// `select!`, locks, `WaitGroup`, `join`, `sleep`, timers, `blocking`,
    /// `yield_now`, `checkpoint` and every other call that may switch) a
    /// goroutine of this runtime may be moved to another OS thread. The
    /// caller promises that **no goroutine run by this runtime relies on
    /// thread identity across such a call**. Rust cannot check this (it is
    /// why [`go`](crate::go()) is safe without this opt-in), so every item
    /// below is on you, including for code in other crates that your
    /// goroutines call:
    ///
    /// 1. **No `!Send` value is alive across a blocking call.** The
    ///    goroutine's stack is sent to another thread while it is parked, so
    ///    it must be `Send` at each such point, as an `async` block must be
    ///    for a multi-threaded executor: no `Rc`/`Weak` clone kept (they count
    ///    non-atomically and may be shared with the thread's other
    ///    goroutines), no `rand::ThreadRng` (`rand::thread_rng()` holds an
    ///    `Rc` to the thread's generator), no `RefCell` borrow or reference
    ///    obtained from a thread-local (`LocalKey::with`), no raw pointer to a
    ///    thread-local, no `std::sync::MutexGuard` or `RwLock` guard and no
    ///    `std::io::StdoutLock`/`StderrLock` (std's locks must be released on
    ///    the thread that took them; the standard streams' locks are
    ///    re-entrant per thread).
    /// 2. **No thread-local state is carried across a blocking call.** What
    ///    a thread-local held before the call may belong to another thread
    ///    after it (so may be changed by, or change, that thread's
    ///    goroutines): per-thread caches assumed exclusive, `scoped-tls`
    ///    scopes, a `tracing` span entered through its thread-local
    ///    dispatcher, a logger's thread-local context, a per-thread
    ///    allocator arena handle kept in a local.
    /// 3. **No function touches a thread-local both before and after a
    ///    blocking call.** The compiler assumes a function runs on one thread
    ///    and may compute a thread-local's address once and reuse it after
    ///    the call, which then reads or writes the *previous* thread's
    ///    variable while that thread uses it too: a data race, undefined
    ///    behaviour. This includes `thread_local!` accesses (`with`, `get`,
    ///    `set`) and code inlined from other crates that uses one
    ///    (`rand::thread_rng()`, many loggers and tracers). Touch
    ///    thread-locals only inside `#[inline(never)]` functions that do not
    ///    block, or not at all in this runtime's goroutines.
    /// 4. **Nothing keyed by the OS thread is kept across a blocking call**:
    ///    a saved `std::thread::current()`, `ThreadId`, `gettid`/`pthread_self`
    ///    value, thread-bound OS or library state (the signal mask,
    ///    `sched_setaffinity`, thread priority or name, `errno` read after
    ///    the call, an OpenGL or other per-thread context, thread-keyed or
    ///    error-checking mutexes locked by the same thread before and after).
    ///
    /// What ferrogo itself takes care of: its own thread-locals (read out of
    /// line on this runtime's workers), std's panic count (a goroutine that
    /// blocks while unwinding a panic stays on its thread until its next
    /// switch-out after the unwind), `current()`, timers, stacks and
    /// shutdown (each goroutine is unwound on the thread that last ran it).
    /// The hazard of the default mode — thread-local state set and restored
    /// in nested order across a blocking call (crate docs, "Soundness") — is
    /// covered by item 2.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// // SAFETY: the goroutines below keep only `Send` values (an `Arc`, a
    /// // channel, integers) across blocking calls and use no thread-locals
    /// // or thread identity.
    /// let rt = unsafe { ferrogo::Runtime::builder().max_procs(2).allow_migration() }
    ///     .build()
    ///     .unwrap();
    /// let total = Arc::new(AtomicU64::new(0));
    /// let t = total.clone();
    /// rt.run(move || {
    ///     let (tx, rx) = ferrogo::chan::<u64>(0);
    ///     let consumers: Vec<_> = (0..4)
    ///         .map(|_| {
    ///             let (rx, t) = (rx.clone(), t.clone());
    ///             ferrogo::go(move || {
    ///                 for v in &rx {
    ///                     t.fetch_add(v, Ordering::Relaxed); // may run on any worker
    ///                 }
    ///             })
    ///         })
    ///         .collect();
    ///     for v in 1..=100 {
    ///         tx.send(v).unwrap();
    ///     }
    ///     drop(tx);
    ///     consumers.into_iter().for_each(|h| h.join().unwrap());
    /// });
    /// assert_eq!(total.load(Ordering::Relaxed), 5050);
    /// ```
    pub unsafe fn allow_migration(mut self) -> Self {
        self.migrate = true;
        self
    }

    /// Starts the runtime's worker threads.
    ///
    /// Errors name the problem: `max_procs(0)`, an unparsable
    /// `FERROGO_MAXPROCS`, a stack size out of range, `max_stacks(0)`, or a
    /// thread that could not be started.
    ///
    /// ```
    /// let err = ferrogo::Runtime::builder().max_procs(0).build().unwrap_err();
    /// assert!(err.to_string().contains("max_procs"));
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let procs = match self.max_procs {
            Some(0) => return Err(invalid("ferrogo: max_procs must be at least 1")),
            Some(n) => n,
            None => procs_from_env()?,
        };
        let stack_size = stack::checked_size(self.stack_size.unwrap_or(DEFAULT_STACK_SIZE))?;
        let max_stacks = match self.max_stacks {
            Some(0) => return Err(invalid("ferrogo: max_stacks must be at least 1")),
            Some(n) => n,
            None => usize::MAX,
        };
        let pool = StackPool::new(stack_size, max_stacks);
        if pool.limit() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                budget::exhausted_message(budget::mapped()),
            ));
        }
        let deques: Vec<_> = (0..procs)
            .map(|_| crossbeam_deque::Worker::new_lifo())
            .collect();
        let shared: &'static Shared = Box::leak(Box::new(Shared::new(
            deques.iter().map(|d| d.stealer()).collect(),
            pool,
            self.migrate,
        )));
        LIVE_RUNTIMES.fetch_add(1, Ordering::SeqCst);
        let mut rt = Runtime {
            shared,
            threads: Vec::with_capacity(procs + 1),
        };
        for (i, deque) in deques.into_iter().enumerate() {
            let s = shared;
            let t = thread::Builder::new()
                .name(format!("ferrogo-worker-{i}"))
                .spawn(move || {
                    fatal_on_panic("a worker thread", || worker::run_worker(s, i, deque))
                });
            match t {
                Ok(t) => rt.threads.push(t),
                Err(e) => {
                    // Workers that will never run count as stopped (in both
                    // phases), or the started ones would wait for them at
                    // shutdown (`rt` is dropped on return).
                    shared.stopped.fetch_add(2 * (procs - i), Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        let t = thread::Builder::new()
            .name("ferrogo-sysmon".into())
            .spawn(move || fatal_on_panic("the sysmon thread", || sysmon::run_sysmon(shared)))?;
        rt.threads.push(t);
        Ok(rt)
    }
}

/// Runs a runtime thread's body; a panic escaping it is a runtime bug (user
/// panics are caught at each goroutine's root), so the process aborts
/// through the one fatal path instead of losing the thread silently (its
/// goroutines stuck for good, a later `Runtime` drop hanging or ignoring it).
/// The panic's own message was printed by the panic hook already.
fn fatal_on_panic(thread: &str, body: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_err() {
        crate::debug::report::fatal(&format!("{thread} panicked (a runtime bug); see above"));
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned())
}

/// The default worker count: `FERROGO_MAXPROCS`, else the available parallelism.
fn procs_from_env() -> io::Result<usize> {
    match std::env::var(MAXPROCS_ENV) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(&format!(
                "ferrogo: {MAXPROCS_ENV}={v:?} is not a positive integer"
            ))),
        },
        Err(_) => Ok(thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

impl Runtime {
    /// A builder to configure a runtime.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(2).build().unwrap();
    /// assert_eq!(rt.max_procs(), 2);
    /// ```
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// A runtime with the default configuration.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::new().unwrap();
    /// assert_eq!(rt.spawn(|| 1).join().unwrap(), 1);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        RuntimeBuilder::default().build()
    }

    /// The number of worker threads.
    ///
    /// ```
    /// assert!(ferrogo::Runtime::new().unwrap().max_procs() >= 1);
    /// ```
    pub fn max_procs(&self) -> usize {
        self.shared.nworkers()
    }

    /// Goroutines of this runtime spawned and not yet finished.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::new().unwrap();
    /// rt.spawn(|| ()).join().unwrap();
    /// while rt.num_goroutine() > 0 { std::thread::yield_now(); }
    /// ```
    pub fn num_goroutine(&self) -> usize {
        self.shared.live()
    }

    /// Counters of this runtime: goroutines, stacks mapped and in use, limits.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
    /// rt.spawn(|| ()).join().unwrap();
    /// let m = rt.metrics();
    /// assert!(m.stacks_mapped >= 1);
    /// ```
    pub fn metrics(&self) -> crate::debug::Metrics {
        crate::debug::metrics_of(self.shared)
    }

    /// Spawns a goroutine on this runtime (from anywhere: a plain thread,
    /// or a goroutine of another runtime).
    ///
    /// ```
    /// let rt = ferrogo::Runtime::new().unwrap();
    /// assert_eq!(rt.spawn(|| "hi").join().unwrap(), "hi");
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_in(self.shared, None, self.shared.stacks.default_size, f)
    }

    /// Runs `f` as the main goroutine of this runtime and returns its value
    /// (a panic in it resumes in the caller).
    ///
    /// While `f` runs, Go's deadlock detector is armed: if every goroutine,
    /// the main one included, is parked on a ferrogo primitive and nothing
    /// else can wake one (no timer, no `blocking` call, no thread outside the
    /// runtime still running), the process prints `fatal error: all
    /// goroutines are asleep - deadlock!` with each goroutine's wait reason
    /// and exits with status 2, as Go does.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(2).build().unwrap();
    /// assert_eq!(rt.run(|| ferrogo::go(|| 2 + 2).join().unwrap()), 4);
    /// ```
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.mains.fetch_add(1, Ordering::SeqCst);
        let h = Builder::new().name("main").spawn_in(self.shared, f);
        let r = h.map(JoinHandle::join);
        self.shared.mains.fetch_sub(1, Ordering::SeqCst);
        match r {
            Ok(Ok(v)) => v,
            Ok(Err(p)) => resume_unwind(p),
            Err(e) => panic!("{e}"),
        }
    }
}

impl Drop for Runtime {
    /// Stops the workers: each lets the goroutine it is running reach its
    /// next runtime call (a park, a yield, a preemption point), then resumes
    /// nothing more: it unwinds the started goroutines suspended on it
    /// (parked or runnable), drops the unstarted ones, and exits. Dropped
    /// from one of its own goroutines, the runtime is only told to stop
    /// (joining its own worker thread would never return).
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for i in self.shared.idle.take_all() {
            self.shared.unpark(i);
        }
        for i in 0..self.shared.nworkers() {
            self.shared.unpark(i);
        }
        if let Some(t) = self.shared.sysmon.get() {
            t.unpark();
        }
        if worker::current_shared().is_some_and(|s| std::ptr::eq(s, self.shared)) {
            LIVE_RUNTIMES.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.shared.stacks.clear();
        LIVE_RUNTIMES.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("max_procs", &self.max_procs())
            .field("num_goroutine", &self.num_goroutine())
            .finish()
    }
}

/// The global runtime, started at first use.
pub(crate) fn global() -> &'static Runtime {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    GLOBAL.get_or_init(|| match Runtime::builder().build() {
        Ok(rt) => rt,
        Err(e) => crate::debug::report::fatal(&format!("cannot start the global runtime: {e}")),
    })
}

/// The shared state of the global runtime.
pub(crate) fn global_shared() -> &'static Shared {
    global().shared
}

/// The runtime a spawn from this thread goes to: the caller's own when it is
/// a worker, else the global one.
fn current_or_global() -> &'static Shared {
    worker::current_shared().unwrap_or_else(|| global().shared)
}

/// Spawns `f` as a goroutine of `shared`: one record (`record.rs`) holding
/// the goroutine, its body and its result slot.
pub(crate) fn spawn_in<F, T>(
    shared: &'static Shared,
    name: Option<Arc<String>>,
    stack_size: usize,
    f: F,
) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    worker::checkpoint();
    let id = worker::next_goid();
    let (g, for_handle) = record::new(G::new(id, name, stack_size, shared), f);
    // SAFETY: `record::new::<F, T>` made the record: its result type is `T`.
    let handle = unsafe { JoinHandle::new(for_handle) };
    if let Err(g) = worker::try_spawn_local(g) {
        shared.inject(g);
    }
    handle
}

/// Spawns a goroutine running `f` and returns a handle to join it.
///
/// The goroutine goes to the caller's runtime when called from a goroutine,
/// else to the global runtime (started at first use). Creation costs no
/// system call: the goroutine gets a pooled stack when it first runs.
///
/// ```
/// let (a, b) = (ferrogo::go(|| 1), ferrogo::go(|| 2));
/// assert_eq!(a.join().unwrap() + b.join().unwrap(), 3);
/// ```
///
/// The closure must be `Send`: it may start on any worker.
///
/// ```compile_fail
/// let rc = std::rc::Rc::new(1);
/// ferrogo::go(move || *rc);
/// ```
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = current_or_global();
    let size = shared.stacks.default_size;
    spawn_in(shared, None, size, f)
}

/// Runs `f` as the main goroutine of the global runtime and returns its
/// value; the deadlock detector is armed meanwhile (see [`Runtime::run`]).
///
/// ```
/// let n = ferrogo::run(|| {
///     let hs: Vec<_> = (0..10).map(|i| ferrogo::go(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
/// });
/// assert_eq!(n, 285);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    global().run(f)
}

/// Configures one goroutine: its name and stack size.
///
/// ```
/// let h = ferrogo::Builder::new()
///     .name("resolver")
///     .stack_size(64 * 1024)
///     .spawn(|| ferrogo::current().name().unwrap().to_owned())
///     .unwrap();
/// assert_eq!(h.join().unwrap(), "resolver");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Arc<String>>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    ///
    /// ```
    /// let h = ferrogo::Builder::new().spawn(|| 5).unwrap();
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine (shown by `current().name()`, panic and overflow
    /// reports, and the deadlock report).
    ///
    /// ```
    /// let h = ferrogo::Builder::new().name("x").spawn(|| ()).unwrap();
    /// assert_eq!(h.goroutine().name(), Some("x"));
    /// # h.join().unwrap();
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(Arc::new(name.into()));
        self
    }

    /// Usable stack size in bytes (rounded up to pages; 16 KiB ..= 1 GiB).
    ///
    /// ```
    /// let h = ferrogo::Builder::new().stack_size(4 << 20).spawn(|| {
    ///     let buf = [7u8; 2 << 20]; // 2 MiB on the stack
    ///     buf[12345]
    /// }).unwrap();
    /// assert_eq!(h.join().unwrap(), 7);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the goroutine (on the caller's runtime, else the global one).
    ///
    /// Errors: a stack size outside 16 KiB ..= 1 GiB (`InvalidInput`), or no
    /// room for any stack under the mapping budget (`OutOfMemory`, naming
    /// `vm.max_map_count` and how to raise it).
    ///
    /// ```
    /// let err = ferrogo::Builder::new().stack_size(100).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = current_or_global();
        self.spawn_in(shared, f)
    }

    /// Spawns the goroutine on runtime `rt`.
    ///
    /// ```
    /// let rt = ferrogo::Runtime::builder().max_procs(1).build().unwrap();
    /// let h = ferrogo::Builder::new().name("on-rt").spawn_on(&rt, || 3).unwrap();
    /// assert_eq!(h.join().unwrap(), 3);
    /// ```
    pub fn spawn_on<F, T>(self, rt: &Runtime, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(rt.shared, f)
    }

    fn spawn_in<F, T>(self, shared: &'static Shared, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let size = match self.stack_size {
            Some(s) => stack::checked_size(s)?,
            None => shared.stacks.default_size,
        };
        if budget::capacity() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                budget::exhausted_message(budget::mapped()),
            ));
        }
        Ok(spawn_in(shared, self.name, size, f))
    }
}
