//! The `select!` macro.
//!
//! # Design
//!
//! A `macro_rules!` tt-muncher normalises the arms into a list of
//! `(name ctor pattern body)` cases plus at most one `default`/`after` arm, then
//! expands to:
//!
//! ```text
//! match (rx0.__select_recv(), tx1.__select_send(v), ..) {   // source order, like Go
//!     (mut c0, mut c1, ..) => {
//!         run(&mut [&mut c0 as &mut dyn Case, &mut c1, ..], timeout, biased);
//!         if c0.__is_selected() { let pat0 = c0.__take(); body0 }
//!         else if c1.__is_selected() { let pat1 = c1.__take(); body1 }
//!         else { default/after body }
//!     }
//! }
//! ```
//!
//! The bodies are plain `if` branches in the caller's function, so the macro
//! is an expression with the chosen arm's value and `break`/`continue`/`return`/`?`
//! act on the caller's loop and function. Cases live on the caller's stack (no
//! allocation). The scrutinee tuple keeps temporaries such as
//! `recv(make_rx())` alive for the whole select. Each case's name is an
//! identifier minted by a separate macro expansion, so hygiene keeps them distinct.

/// Waits on several channel operations and runs the arm of the one that
/// commits (Go's `select`).
///
/// Arms, in any order, separated by commas (optional after a block):
///
/// * `recv(rx) -> v => body` — `v: Option<T>`, `None` when the channel is closed.
/// * `send(tx, value) -> res => body` — `res: Result<(), SendError<T>>`.
/// * `default => body` — runs if no case is ready right now.
/// * `after(duration) => body` — runs if no case commits within `duration`
///   (`Duration::ZERO` acts like `default`).
///
/// At most one `default` or `after` arm. Channel and value expressions are
/// evaluated once, in source order, before waiting. When several cases are
/// ready one is chosen uniformly at random; start with `biased;` to prefer
/// earlier arms instead. A [`never`](crate::never) receiver is never chosen.
/// Exactly one case commits: a send whose arm did not run sent nothing (its
/// value is dropped). `select! {}` blocks forever.
///
/// ```
/// use std::time::Duration;
/// use ferrogo::{chan, select};
///
/// let (tx, rx) = chan::<i32>(0);
/// let (done_tx, done) = chan::<()>(0);
/// ferrogo::go(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
///     done_tx.close();
/// });
/// let mut sum = 0;
/// loop {
///     select! {
///         // `v` is `None` once the sender is gone (the channel closed).
///         recv(rx) -> v => match v {
///             Some(v) => sum += v,
///             None => break,
///         },
///         recv(done) -> _ => break,
///         after(Duration::from_secs(5)) => panic!("stuck"),
///     }
/// }
/// assert_eq!(sum, 3);
///
/// let (tx, rx) = chan::<i32>(1);
/// let sent = select! {
///     send(tx, 7) -> res => res.is_ok(),
///     default => false,
/// };
/// assert!(sent);
/// assert_eq!(rx.recv(), Some(7));
/// ```
#[macro_export]
macro_rules! select {
    // ---- parse one arm head -------------------------------------------------
    (@parse $b:tt $cases:tt $else:tt [recv($rx:expr) -> $p:pat => $($rest:tt)*]) => {
        $crate::select!(@body $b $cases $else [case (($rx).__select_recv()) $p] [$($rest)*])
    };
    (@parse $b:tt $cases:tt $else:tt [send($tx:expr, $v:expr) -> $p:pat => $($rest:tt)*]) => {
        $crate::select!(@body $b $cases $else [case (($tx).__select_send($v)) $p] [$($rest)*])
    };
    (@parse $b:tt $cases:tt $else:tt [after($d:expr) => $($rest:tt)*]) => {
        $crate::select!(@body $b $cases $else [after ($d)] [$($rest)*])
    };
    (@parse $b:tt $cases:tt $else:tt [default => $($rest:tt)*]) => {
        $crate::select!(@body $b $cases $else [default] [$($rest)*])
    };
    (@parse $b:tt $cases:tt $else:tt []) => {
        $crate::select!(@gen $b $cases $else)
    };
    (@parse $b:tt $cases:tt $else:tt [$($bad:tt)*]) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(rx) -> v => ..`, `send(tx, value) -> res => ..`, ",
            "`after(duration) => ..` or `default => ..`, found: ",
            ::core::stringify!($($bad)*)
        ))
    };
    // ---- parse one arm body -------------------------------------------------
    (@body $b:tt $cases:tt $else:tt $head:tt [$body:block, $($rest:tt)*]) => {
        $crate::select!(@push $b $cases $else $head $body [$($rest)*])
    };
    (@body $b:tt $cases:tt $else:tt $head:tt [$body:block $($rest:tt)*]) => {
        $crate::select!(@push $b $cases $else $head $body [$($rest)*])
    };
    (@body $b:tt $cases:tt $else:tt $head:tt [$body:expr, $($rest:tt)*]) => {
        $crate::select!(@push $b $cases $else $head { $body } [$($rest)*])
    };
    (@body $b:tt $cases:tt $else:tt $head:tt [$body:expr]) => {
        $crate::select!(@push $b $cases $else $head { $body } [])
    };
    // ---- append the arm -----------------------------------------------------
    (@push $b:tt [$($cases:tt)*] $else:tt [case $ctor:tt $p:pat] $body:tt $rest:tt) => {
        $crate::select!(@parse $b [$($cases)* (__ferrogo_case $ctor $p => $body)] $else $rest)
    };
    (@push $b:tt $cases:tt [] [after $d:tt] $body:tt $rest:tt) => {
        $crate::select!(@parse $b $cases [after $d $body] $rest)
    };
    (@push $b:tt $cases:tt [] [default] $body:tt $rest:tt) => {
        $crate::select!(@parse $b $cases [default $body] $rest)
    };
    (@push $b:tt $cases:tt [$($else:tt)+] $head:tt $body:tt $rest:tt) => {
        ::core::compile_error!("select!: at most one `default` or `after` arm")
    };
    // ---- generate -----------------------------------------------------------
    (@gen $b:tt $cases:tt []) => {
        $crate::select!(@emit $b $cases ($crate::chan::select::Timeout::Never) { ::core::unreachable!() })
    };
    (@gen $b:tt $cases:tt [default $body:tt]) => {
        $crate::select!(@emit $b $cases ($crate::chan::select::Timeout::Now) $body)
    };
    (@gen $b:tt $cases:tt [after ($d:expr) $body:tt]) => {
        $crate::select!(@emit $b $cases ($crate::chan::select::Timeout::after($d)) $body)
    };
    (@emit [$biased:tt] [$( ($name:ident $ctor:tt $p:pat => $body:tt) )*] ($timeout:expr) $else_body:tt) => {
        match ( $( $ctor, )* ) {
            ( $( mut $name, )* ) => {
                let __ferrogo_timeout = $timeout;
                $crate::chan::select::run::<
                    &mut dyn $crate::chan::select::Case,
                    dyn $crate::chan::select::Case,
                >(
                    &mut [ $( &mut $name as &mut dyn $crate::chan::select::Case ),* ],
                    __ferrogo_timeout,
                    $biased,
                );
                $( if $name.__is_selected() { let $p = $name.__take(); $body } else )*
                $else_body
            }
        }
    };
    // ---- entry points -------------------------------------------------------
    (@ $($bad:tt)*) => {
        ::core::compile_error!("select!: internal rule mismatch")
    };
    (biased; $($arms:tt)*) => {
        $crate::select!(@parse [true] [] [] [$($arms)*])
    };
    ($($arms:tt)*) => {
        $crate::select!(@parse [false] [] [] [$($arms)*])
    };
}
