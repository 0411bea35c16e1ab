//! Stack overflow detection: a `SIGSEGV`/`SIGBUS` handler on an alternate
//! signal stack that recognises a fault in the running goroutine's guard page.
//!
//! When a goroutine runs past the bottom of its stack it touches the guard
//! page (Rust's stack probes make sure a large frame touches every page on
//! its way down, so it cannot jump over it). The kernel raises `SIGSEGV`; the
//! handler runs on the worker's `sigaltstack` (the goroutine's stack is the
//! one that is full), compares the fault address with the guard page of the
//! goroutine the worker is running, and if it matches writes one line
//!
//! ```text
//! ferrogo: goroutine 17 "parser" overflowed its 262144-byte stack (fault at 0x7f..); give it more with Builder::stack_size
//! ```
//!
//! to stderr with `write(2)` and aborts. Anything else is passed to the
//! handler that was installed before ours (Rust's own handler reports main
//! thread overflows the same way), or to the default action.
//!
//! The handler only reads plain memory (a thread-local pointer and the
//! goroutine's fields, which live as long as it runs), formats into a buffer
//! on the signal stack, and calls `write` and `abort`: all async-signal-safe.

use std::cell::Cell;
use std::sync::{Once, OnceLock};

use crate::runtime::g::G;

thread_local! {
    /// The goroutine this worker thread is running right now, or null.
    /// Set by the worker around every resume; read by the signal handler.
    static RUNNING: Cell<*const G> = const { Cell::new(std::ptr::null()) };
}

/// The previous `SIGSEGV` and `SIGBUS` dispositions, chained to for faults
/// that are not ours. Set once at installation; read by the handler (a
/// `OnceLock::get` is an atomic load: async-signal-safe).
static PREVIOUS: [OnceLock<libc::sigaction>; 2] = [OnceLock::new(), OnceLock::new()];

/// Size of the alternate signal stack each worker installs.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Records which goroutine the calling worker thread runs (null: none).
#[inline]
pub(crate) fn set_running(g: *const G) {
    RUNNING.with(|r| r.set(g));
}

/// Installs the process-wide handler (once) and an alternate signal stack on
/// the calling worker thread (kept until the thread exits).
pub(crate) fn install_on_worker_thread() {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(install_handler);
    install_alt_stack();
}

fn install_handler() {
    for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
        // SAFETY: `sigaction` with a zeroed struct then filled: a valid
        // handler function with the SA_SIGINFO signature, SA_ONSTACK so it
        // runs on the alternate stack; `prev` is a valid out-pointer.
        let prev = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handle_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut prev: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, &action, &mut prev);
            prev
        };
        let _ = PREVIOUS[i].set(prev);
    }
}

fn install_alt_stack() {
    // SAFETY: querying the current alternate stack into a zeroed struct.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer; a null new-stack pointer only queries.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= 16 * 1024 {
        return; // std already gave this thread a big enough one
    }
    // SAFETY: a fresh anonymous mapping for the signal stack; it is leaked on
    // purpose (it must outlive every signal the thread may take; worker
    // threads live as long as their runtime).
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ALT_STACK_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return; // overflow then ends in a plain SIGSEGV: still no corruption
    }
    let stack = libc::stack_t {
        ss_sp: mem,
        ss_flags: 0,
        ss_size: ALT_STACK_SIZE,
    };
    // SAFETY: `stack` describes the mapping above, valid for the thread's life.
    unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
}

/// The signal handler. See the module comment.
extern "C" fn handle_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let g = RUNNING.with(|r| r.get());
    if !g.is_null() {
        // SAFETY: RUNNING points at the goroutine this thread is executing;
        // its `G` is kept alive by the worker for as long as it runs, and we
        // only read plain fields.
        let g = unsafe { &*g };
        let (lo, hi) = g.guard();
        if lo <= addr && addr < hi {
            report_and_abort(g, addr);
        }
    }
    // Not a goroutine overflow: chain to whoever handled it before us.
    let idx = if sig == libc::SIGBUS { 1 } else { 0 };
    let (handler, flags) = match PREVIOUS[idx].get() {
        Some(prev) => (prev.sa_sigaction, prev.sa_flags),
        None => (libc::SIG_DFL, 0),
    };
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: restoring the default disposition; returning re-executes
        // the faulting instruction, which then takes the default action.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with the SA_SIGINFO signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous handler was installed with the plain signature.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// Writes the one-line report for `g` and aborts. Async-signal-safe.
fn report_and_abort(g: &G, addr: usize) -> ! {
    let mut buf = Line::new();
    buf.push(b"ferrogo: goroutine ");
    buf.push_dec(g.id());
    if let Some(name) = g.name() {
        buf.push(b" \"");
        buf.push(name.as_bytes());
        buf.push(b"\"");
    }
    buf.push(b" overflowed its ");
    buf.push_dec(g.stack_size() as u64);
    buf.push(b"-byte stack (fault at 0x");
    buf.push_hex(addr as u64);
    buf.push(b"); give it more with Builder::stack_size\n");
    // SAFETY: writing our own buffer to fd 2; abort never returns.
    unsafe {
        libc::write(2, buf.bytes.as_ptr().cast(), buf.len);
        libc::abort();
    }
}

/// A fixed buffer formatter usable inside a signal handler (no allocation).
struct Line {
    bytes: [u8; 512],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_dec(&mut self, mut v: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&tmp[i..]);
    }

    fn push_hex(&mut self, mut v: u64) {
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b"0123456789abcdef"[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.push(&tmp[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn line_formats_numbers() {
        let mut l = Line::new();
        l.push(b"g ");
        l.push_dec(0);
        l.push(b" ");
        l.push_dec(1234567890123);
        l.push(b" 0x");
        l.push_hex(0xdeadbeef);
        assert_eq!(&l.bytes[..l.len], b"g 0 1234567890123 0xdeadbeef");
    }
}
