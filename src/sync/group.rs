//! `Group`: run goroutines and collect the first error (Go's
//! golang.org/x/sync/errgroup; our own code).
//!
//! # Design
//!
//! A `Group` is a cloneable handle to shared state: a [`WaitGroup`] counting
//! running tasks, the first error (kept under a short lock), a `cancelled`
//! flag set with it, and an optional [`Semaphore`] for `set_limit`.
//!
//! * `spawn` takes a limit permit first (parking while `n` tasks run), then
//!   starts a goroutine that runs the task, records an `Err` if it is the
//!   first, releases the permit and calls `done` — from a drop guard, so a
//!   panicking task neither leaks its permit nor hangs `wait`.
//! * A panic in a task is caught and re-raised by `wait` (errgroup in newer
//!   x/sync does the same), after all tasks finished; the first panic wins
//!   over errors.
//! * Cancellation: a `context` module does not exist yet, so the group
//!   exposes [`Group::cancelled`], which turns true on the first error (or
//!   panic). Tasks poll it to stop early. When `context` lands this flag
//!   becomes the group's `Context` (errgroup's `WithContext`), cancelled at
//!   the same moment.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::semaphore::Semaphore;
use super::waitgroup::WaitGroup;
use crate::loom::{Mutex as StdMutex, lock};

/// The first failure of a group.
enum Failure<E> {
    /// A task returned `Err`.
    Err(E),
    /// A task panicked (re-raised by `wait`).
    Panic(Box<dyn Any + Send>),
}

/// State shared by all handles and running tasks.
struct Inner<E> {
    /// Running tasks.
    wg: WaitGroup,
    /// The first failure; later ones are dropped (panics replace errors).
    first: StdMutex<Option<Failure<E>>>,
    /// True from the first failure on.
    cancelled: AtomicBool,
    /// The concurrency limit, if set (replaced only when no task runs).
    limit: StdMutex<Option<Arc<Semaphore>>>,
}

/// Runs tasks as goroutines and waits for all of them, returning the first
/// error (Go's `errgroup.Group`).
///
/// Cloning gives another handle to the same group (tasks may spawn more
/// tasks into it).
///
/// ```
/// use ferrogo::sync::Group;
///
/// let g: Group<String> = Group::new();
/// for i in 0..5 {
///     g.spawn(move || if i == 3 { Err(format!("task {i} failed")) } else { Ok(()) });
/// }
/// assert_eq!(g.wait(), Err("task 3 failed".to_string()));
/// ```
pub struct Group<E> {
    /// The shared state.
    inner: Arc<Inner<E>>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            inner: self.inner.clone(),
        }
    }
}

/// Releases a task's resources even if it panics.
struct TaskEnd<E: Send + 'static> {
    /// The group.
    inner: Arc<Inner<E>>,
    /// The limit permit to return, if the group has a limit.
    permit: Option<Arc<Semaphore>>,
}

impl<E: Send + 'static> Drop for TaskEnd<E> {
    fn drop(&mut self) {
        if let Some(s) = self.permit.take() {
            s.release(1);
        }
        self.inner.wg.done();
    }
}

impl<E: Send + 'static> Group<E> {
    /// An empty group with no concurrency limit.
    ///
    /// ```
    /// let g: ferrogo::sync::Group<()> = ferrogo::sync::Group::new();
    /// assert_eq!(g.wait(), Ok(()));
    /// ```
    pub fn new() -> Self {
        Group {
            inner: Arc::new(Inner {
                wg: WaitGroup::new(),
                first: StdMutex::new(None),
                cancelled: AtomicBool::new(false),
                limit: StdMutex::new(None),
            }),
        }
    }

    /// Limits the group to `n` tasks running at once: `spawn` parks while
    /// `n` run. `None` removes the limit.
    ///
    /// # Panics
    ///
    /// If tasks are running (as errgroup's `SetLimit`), or if `n` is
    /// `Some(0)` (every spawn would block forever).
    ///
    /// ```
    /// let g: ferrogo::sync::Group<()> = ferrogo::sync::Group::new();
    /// g.set_limit(Some(2));
    /// for _ in 0..6 { g.spawn(|| Ok(())); }
    /// g.wait().unwrap();
    /// ```
    pub fn set_limit(&self, n: Option<usize>) {
        if self.inner.wg.count() != 0 {
            panic!(
                "errgroup: modify limit while {} goroutines in the group are still active",
                self.inner.wg.count()
            );
        }
        if n == Some(0) {
            panic!("errgroup: a limit of 0 would block every spawn");
        }
        *lock(&self.inner.limit) = n.map(|n| Arc::new(Semaphore::new(n as u64)));
    }

    /// Runs `f` in a new goroutine, first parking while the limit's worth
    /// of tasks run. If `f` returns `Err` and it is the group's first
    /// failure, `wait` returns it and [`cancelled`](Group::cancelled) turns
    /// true.
    ///
    /// ```
    /// let g = ferrogo::sync::Group::new();
    /// g.spawn(|| Err::<(), _>(7));
    /// assert_eq!(g.wait(), Err(7));
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let permit = lock(&self.inner.limit).clone();
        if let Some(s) = &permit {
            s.acquire(1);
        }
        self.start(f, permit);
    }

    /// Runs `f` in a new goroutine only if the limit allows it right now;
    /// returns whether it started (errgroup's `TryGo`).
    ///
    /// ```
    /// let g = ferrogo::sync::Group::<()>::new();
    /// g.set_limit(Some(1));
    /// assert!(g.try_spawn(|| Ok(())));
    /// g.wait().unwrap();
    /// ```
    pub fn try_spawn<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let permit = lock(&self.inner.limit).clone();
        if let Some(s) = &permit {
            if !s.try_acquire(1) {
                return false;
            }
        }
        self.start(f, permit);
        true
    }

    fn start<F>(&self, f: F, permit: Option<Arc<Semaphore>>)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.inner.wg.add(1);
        let end = TaskEnd {
            inner: self.inner.clone(),
            permit,
        };
        crate::go(move || {
            let failure = match catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(Failure::Err(e)),
                Err(p) => Some(Failure::Panic(p)),
            };
            if let Some(fail) = failure {
                end.inner.record(fail);
            }
            drop(end);
        });
    }

    /// Parks until every task finished; returns the first error, if any
    /// (taken: a second `wait` returns `Ok` unless new tasks failed).
    ///
    /// # Panics
    ///
    /// Re-raises the first panic of a task.
    ///
    /// ```
    /// let g = ferrogo::sync::Group::<&str>::new();
    /// g.spawn(|| Ok(()));
    /// assert!(g.wait().is_ok());
    /// ```
    pub fn wait(&self) -> Result<(), E> {
        self.inner.wg.wait();
        match lock(&self.inner.first).take() {
            None => Ok(()),
            Some(Failure::Err(e)) => Err(e),
            Some(Failure::Panic(p)) => resume_unwind(p),
        }
    }

    /// True once a task failed: tasks should stop early. This flag becomes
    /// the group's `Context` (errgroup's `WithContext`) once ferrogo has a
    /// `context` module.
    ///
    /// ```
    /// let g = ferrogo::sync::Group::new();
    /// assert!(!g.cancelled());
    /// g.spawn(|| Err::<(), _>("boom"));
    /// let _ = g.wait();
    /// assert!(g.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }
}

impl<E> Inner<E> {
    /// Records a failure if it is the first (a panic replaces an error).
    fn record(&self, fail: Failure<E>) {
        let dropped = {
            let mut first = lock(&self.first);
            match (&*first, fail) {
                (None, f) | (Some(Failure::Err(_)), f @ Failure::Panic(_)) => first.replace(f),
                (Some(_), f) => Some(f),
            }
        };
        self.cancelled.store(true, Ordering::Release);
        drop(dropped); // user `Drop`s run outside the lock
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Group::new()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("running", &self.inner.wg.count())
            .field("cancelled", &self.inner.cancelled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
