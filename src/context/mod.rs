//! Go's `context` package: cancellation, deadlines and request-scoped values
//! that flow down a tree of goroutines.
//!
//! # Design
//!
//! A [`Context`] is an `Arc` to an immutable node with a parent link:
//! `Background` (the root, never done), `Cancel` (can be cancelled, optionally
//! by a deadline timer) or `Value` (carries one key/value pair). Only cancel
//! nodes own state: an error slot, a `done` channel that is *closed* when the
//! node is cancelled (so `recv(ctx.done())` in `select!` wakes every
//! listener), and weak links to their cancelable children.
//!
//! Invariants:
//! * A cancel node's `err` goes from `None` to `Some` once and never back;
//!   `done` is closed exactly then (under the node's lock).
//! * Cancelling a node cancels every child registered with it (outside the
//!   lock), never its parent. A child created under an already cancelled
//!   parent is cancelled at creation with the parent's error.
//! * A child unregisters itself from its parent when it is cancelled, so
//!   a long-lived parent does not accumulate finished children.
//!
//! Cancel functions are idempotent and do **not** run on drop (as in Go, an
//! uncancelled child stays registered until its parent is cancelled; call
//! `cancel` when done).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Sender, chan, never};
use crate::time::Timer;

/// Why a context is done. Displays with Go's messages.
///
/// ```
/// use ferrogo::context::Error;
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// assert_eq!(Error::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context (or an ancestor) was cancelled.
    Canceled,
    /// The context's deadline passed.
    DeadlineExceeded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// A cancellation signal, deadline and values shared down a call tree.
/// Cheap to clone.
///
/// ```
/// use ferrogo::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let worker = ferrogo::go(move || {
///     ctx.done().recv(); // parks until cancelled
///     ctx.err()
/// });
/// cancel.cancel();
/// assert_eq!(worker.join().unwrap(), Some(context::Error::Canceled));
/// ```
#[derive(Clone)]
pub struct Context(Arc<Node>);

/// One node of the context tree.
struct Node {
    /// The parent, `None` for the background root.
    parent: Option<Context>,
    /// What this node adds.
    kind: Kind,
}

enum Kind {
    Background,
    Cancel(CancelNode),
    Value {
        key: Box<dyn Any + Send + Sync>,
        value: Box<dyn Any + Send + Sync>,
    },
}

/// The state of a cancelable node.
struct CancelNode {
    /// Unique id, the key in the parent's `children`.
    id: u64,
    /// The deadline, if this node has one (inherited deadlines are found by walking up).
    deadline: Option<Instant>,
    /// Closed when cancelled.
    done: Receiver<()>,
    /// Mutable part.
    state: Mutex<CancelState>,
}

struct CancelState {
    /// Why it is done; `None` while live.
    err: Option<Error>,
    /// The sender side of `done`; dropped (closing it) at cancel.
    done_tx: Option<Sender<()>>,
    /// Cancelable descendants registered directly with this node.
    children: HashMap<u64, Weak<Node>>,
    /// The deadline timer, stopped at cancel.
    timer: Option<Timer>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The root context: never cancelled, no deadline, no values.
///
/// ```
/// let ctx = ferrogo::context::background();
/// assert!(ctx.err().is_none() && ctx.deadline().is_none());
/// ```
pub fn background() -> Context {
    Context(Arc::new(Node {
        parent: None,
        kind: Kind::Background,
    }))
}

/// A context that is done when `cancel` is called on the returned
/// [`CancelFunc`] or when `parent` is done, whichever happens first.
///
/// ```
/// use ferrogo::context;
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(context::Error::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    new_cancel(parent, None)
}

/// A context that is done at `deadline` (with `DeadlineExceeded`), when
/// cancelled, or when `parent` is done.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrogo::context;
/// let (ctx, _cancel) = context::with_deadline(&context::background(), Instant::now() + Duration::from_millis(5));
/// ctx.done().recv();
/// assert_eq!(ctx.err(), Some(context::Error::DeadlineExceeded));
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    match parent.deadline() {
        Some(d) if d <= deadline => new_cancel(parent, None), // the parent's comes first
        _ => new_cancel(parent, Some(deadline)),
    }
}

/// `with_deadline(parent, now + timeout)`; a timeout too large for `Instant`
/// means no deadline.
///
/// ```
/// use std::time::Duration;
/// use ferrogo::context;
/// let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_secs(60));
/// assert!(ctx.deadline().is_some());
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(context::Error::Canceled));
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    match Instant::now().checked_add(timeout) {
        Some(d) => with_deadline(parent, d),
        None => with_cancel(parent),
    }
}

/// A context carrying `value` under `key`; everything else comes from `parent`.
/// Look it up with [`Context::value`]. Use a key type of your own to avoid
/// collisions (like Go's unexported key types).
///
/// ```
/// use ferrogo::context;
/// #[derive(PartialEq)]
/// struct RequestId;
/// let ctx = context::with_value(&context::background(), RequestId, 42u64);
/// assert_eq!(ctx.value::<RequestId, u64>(&RequestId), Some(&42));
/// ```
pub fn with_value<K, V>(parent: &Context, key: K, value: V) -> Context
where
    K: Any + PartialEq + Send + Sync,
    V: Any + Send + Sync,
{
    Context(Arc::new(Node {
        parent: Some(parent.clone()),
        kind: Kind::Value {
            key: Box::new(key),
            value: Box::new(value),
        },
    }))
}

fn new_cancel(parent: &Context, deadline: Option<Instant>) -> (Context, CancelFunc) {
    let (tx, rx) = chan::<()>(0);
    let node = Arc::new(Node {
        parent: Some(parent.clone()),
        kind: Kind::Cancel(CancelNode {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            deadline,
            done: rx,
            state: Mutex::new(CancelState {
                err: None,
                done_tx: Some(tx),
                children: HashMap::new(),
                timer: None,
            }),
        }),
    });
    // Register with the nearest cancelable ancestor, or inherit its end.
    if let Some(anc) = parent.nearest_cancel() {
        let Kind::Cancel(a) = &anc.0.kind else {
            unreachable!("nearest_cancel returns cancel nodes")
        };
        let mut st = lock(&a.state);
        match st.err {
            Some(e) => {
                drop(st);
                cancel_node(&node, e);
            }
            None => {
                let Kind::Cancel(c) = &node.kind else {
                    unreachable!()
                };
                st.children.insert(c.id, Arc::downgrade(&node));
            }
        }
    }
    if let Some(d) = deadline {
        let now = Instant::now();
        if d <= now {
            cancel_node(&node, Error::DeadlineExceeded);
        } else {
            let weak = Arc::downgrade(&node);
            let timer = Timer::after_func(d - now, move || {
                if let Some(n) = weak.upgrade() {
                    cancel_node(&n, Error::DeadlineExceeded);
                }
            });
            let Kind::Cancel(c) = &node.kind else {
                unreachable!()
            };
            let mut st = lock(&c.state);
            if st.err.is_none() {
                st.timer = Some(timer);
            }
        }
    }
    (Context(node.clone()), CancelFunc(node))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Cancels `node` (a cancel node) and its descendants with `err`, once.
fn cancel_node(node: &Arc<Node>, err: Error) {
    let Kind::Cancel(c) = &node.kind else { return };
    let (children, timer, tx) = {
        let mut st = lock(&c.state);
        if st.err.is_some() {
            return;
        }
        st.err = Some(err);
        (
            std::mem::take(&mut st.children),
            st.timer.take(),
            st.done_tx.take(),
        )
    };
    if let Some(tx) = tx {
        tx.close(); // every `done()` receiver wakes
    }
    drop(timer); // stops it
    for (_, child) in children {
        if let Some(child) = child.upgrade() {
            cancel_node(&child, err);
        }
    }
    // Unregister from the parent chain's nearest cancel node.
    if let Some(anc) = node.parent.as_ref().and_then(Context::nearest_cancel) {
        if let Kind::Cancel(a) = &anc.0.kind {
            lock(&a.state).children.remove(&c.id);
        }
    }
}

impl Context {
    /// This context if it is cancelable, else its nearest cancelable ancestor.
    fn nearest_cancel(&self) -> Option<Context> {
        let mut cur = Some(self);
        while let Some(c) = cur {
            if matches!(c.0.kind, Kind::Cancel(_)) {
                return Some(c.clone());
            }
            cur = c.0.parent.as_ref();
        }
        None
    }

    /// A channel closed when this context is done; use it in `select!`. The
    /// background context's channel never closes (a nil channel).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrogo::{context, select};
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    /// let (_tx, work) = ferrogo::chan::<u32>(0);
    /// let outcome = select! {
    ///     recv(work) -> v => Ok(v),
    ///     recv(ctx.done()) -> _ => Err(ctx.err().unwrap()),
    /// };
    /// assert_eq!(outcome, Err(context::Error::DeadlineExceeded));
    /// ```
    pub fn done(&self) -> Receiver<()> {
        match self.nearest_cancel() {
            Some(c) => match &c.0.kind {
                Kind::Cancel(n) => n.done.clone(),
                _ => unreachable!("nearest_cancel returns cancel nodes"),
            },
            None => never(),
        }
    }

    /// `None` while the context is live; then why it is done.
    ///
    /// ```
    /// assert_eq!(ferrogo::context::background().err(), None);
    /// ```
    pub fn err(&self) -> Option<Error> {
        let c = self.nearest_cancel()?;
        let Kind::Cancel(n) = &c.0.kind else {
            return None;
        };
        lock(&n.state).err
    }

    /// The earliest deadline of this context and its ancestors.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ferrogo::context;
    /// let d = Instant::now() + Duration::from_secs(1);
    /// let (ctx, _c) = context::with_deadline(&context::background(), d);
    /// let child = context::with_value(&ctx, "k", 1);
    /// assert_eq!(child.deadline(), Some(d));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        let mut cur = Some(self);
        while let Some(c) = cur {
            if let Kind::Cancel(n) = &c.0.kind {
                if let Some(d) = n.deadline {
                    best = Some(best.map_or(d, |b| b.min(d)));
                }
            }
            cur = c.0.parent.as_ref();
        }
        best
    }

    /// The value stored under `key` by the nearest [`with_value`] with an
    /// equal key of type `K` and a value of type `V`.
    ///
    /// ```
    /// use ferrogo::context;
    /// let ctx = context::with_value(&context::background(), "user", String::from("ada"));
    /// assert_eq!(ctx.value::<&str, String>(&"user").map(String::as_str), Some("ada"));
    /// assert_eq!(ctx.value::<&str, String>(&"other"), None);
    /// ```
    pub fn value<K, V>(&self, key: &K) -> Option<&V>
    where
        K: Any + PartialEq,
        V: Any,
    {
        let mut cur = Some(self);
        while let Some(c) = cur {
            if let Kind::Value { key: k, value } = &c.0.kind {
                if k.downcast_ref::<K>().is_some_and(|k| k == key) {
                    if let Some(v) = value.downcast_ref::<V>() {
                        return Some(v);
                    }
                }
            }
            cur = c.0.parent.as_ref();
        }
        None
    }

    /// Sleeps for `d` unless the context is done first (then `Err` with why).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrogo::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// cancel.cancel();
    /// assert_eq!(ctx.sleep(Duration::from_secs(60)), Err(context::Error::Canceled));
    /// ```
    pub fn sleep(&self, d: Duration) -> Result<(), Error> {
        if let Some(e) = self.err() {
            return Err(e);
        }
        let done = self.done();
        crate::select! {
            recv(done) -> _ => Err(self.err().unwrap_or(Error::Canceled)),
            after(d) => Ok(()),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish()
    }
}

/// Cancels its context (Go's `CancelFunc`). Idempotent; cloneable; does not
/// cancel on drop.
///
/// ```
/// let (ctx, cancel) = ferrogo::context::with_cancel(&ferrogo::context::background());
/// cancel.cancel();
/// cancel.cancel(); // no effect
/// assert!(ctx.err().is_some());
/// ```
#[derive(Clone)]
pub struct CancelFunc(Arc<Node>);

impl CancelFunc {
    /// Cancels the context and all its descendants with `Error::Canceled`
    /// (no effect if it is already done).
    ///
    /// ```
    /// let (ctx, cancel) = ferrogo::context::with_cancel(&ferrogo::context::background());
    /// cancel.cancel();
    /// assert!(ctx.done().recv().is_none()); // closed
    /// ```
    pub fn cancel(&self) {
        cancel_node(&self.0, Error::Canceled);
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelFunc")
    }
}

impl<T> Receiver<T> {
    /// Receives a value unless `ctx` is done first: `Ok(Some(v))`, `Ok(None)`
    /// once the channel is closed and drained, or `Err` with why the context
    /// is done.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrogo::context;
    /// let (_tx, rx) = ferrogo::chan::<u8>(0);
    /// let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(5));
    /// assert_eq!(rx.recv_ctx(&ctx), Err(context::Error::DeadlineExceeded));
    /// ```
    pub fn recv_ctx(&self, ctx: &Context) -> Result<Option<T>, Error> {
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        let done = ctx.done();
        crate::select! {
            recv(self) -> v => Ok(v),
            recv(done) -> _ => Err(ctx.err().unwrap_or(Error::Canceled)),
        }
    }
}

/// Why [`Sender::send_ctx`] did not send; both hand the value back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendCtxError<T> {
    /// The channel is closed (or has no receivers).
    Closed(T),
    /// The context is done.
    Done(T, Error),
}

impl<T> SendCtxError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let e = ferrogo::context::SendCtxError::Closed(5);
    /// assert_eq!(e.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendCtxError::Closed(v) | SendCtxError::Done(v, _) => v,
        }
    }
}

impl<T> fmt::Debug for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.write_str("Closed(..)"),
            SendCtxError::Done(_, e) => write!(f, "Done(.., {e:?})"),
        }
    }
}

impl<T> fmt::Display for SendCtxError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendCtxError::Closed(_) => f.write_str("sending on a closed channel"),
            SendCtxError::Done(_, e) => write!(f, "send abandoned: {e}"),
        }
    }
}

impl<T> std::error::Error for SendCtxError<T> {}

impl<T> Sender<T> {
    /// Sends `value` unless `ctx` is done first; the value comes back in the error.
    ///
    /// ```
    /// use ferrogo::context;
    /// let (tx, _rx) = ferrogo::chan::<u8>(0);
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// cancel.cancel();
    /// let err = tx.send_ctx(9, &ctx).unwrap_err();
    /// assert_eq!(err.into_inner(), 9);
    /// ```
    pub fn send_ctx(&self, value: T, ctx: &Context) -> Result<(), SendCtxError<T>> {
        if let Some(e) = ctx.err() {
            return Err(SendCtxError::Done(value, e));
        }
        let done = ctx.done();
        let mut send = crate::chan::select::SendCase::new(self, value);
        let mut recv_done = crate::chan::select::RecvCase::new(&done);
        crate::chan::select::run(
            &mut [
                &mut send as &mut dyn crate::chan::select::Case,
                &mut recv_done,
            ],
            crate::chan::select::Timeout::Never,
            true,
        );
        if send.__is_selected() {
            return send
                .__take()
                .map_err(|e| SendCtxError::Closed(e.into_inner()));
        }
        // The send did not commit: it keeps its value.
        let value = match send.__take() {
            Err(e) => e.into_inner(),
            Ok(()) => unreachable!("an unselected send case still holds its value"),
        };
        Err(SendCtxError::Done(
            value,
            ctx.err().unwrap_or(Error::Canceled),
        ))
    }
}
