//! The library's only way to print: panics nobody will join, the deadlock
//! report, and fatal runtime errors (Go's `throw`).

use std::any::Any;
use std::io::Write;

use crate::runtime::g::Goroutine;

/// The text of a panic payload.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// `goroutine 7 "name"` or `goroutine 7`.
pub(crate) fn describe(id: u64, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("goroutine {id} \"{n}\""),
        None => format!("goroutine {id}"),
    }
}

/// Reports a panic in a goroutine whose `JoinHandle` was dropped.
pub(crate) fn unjoined_panic(who: &Goroutine, payload: &(dyn Any + Send)) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "ferrogo: {} panicked and nobody joins it: {}",
        describe(who.id(), who.name()),
        payload_text(payload)
    );
}

/// Reports a panic from dropping something a runtime left behind at shutdown:
/// the closure of a goroutine that never ran, or a timer's callback.
pub(crate) fn shutdown_drop_panic(payload: &(dyn Any + Send)) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "ferrogo: dropping a goroutine that never ran (runtime shutdown) panicked: {}",
        payload_text(payload)
    );
}

/// An internal invariant is broken, or the runtime cannot go on: print one
/// `ferrogo:` line and abort.
#[cold]
pub(crate) fn fatal(msg: &str) -> ! {
    let _ = writeln!(std::io::stderr().lock(), "ferrogo: fatal error: {msg}");
    std::process::abort()
}

/// Prints a Go-style fatal report and exits with status 2, as Go does.
#[cold]
pub(crate) fn fatal_exit(text: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    std::process::exit(2)
}
