//! Calling a plugin's functions in a native `cargo test`.
//!
//! Outside the host there is no host log and no host to report a panic
//! to. [`call`] runs a function as the host would call a hook: what it
//! logs is kept and handed back, and a panic comes back as the line the
//! host would show the clinic's admins.
//!
//! ```ignore
//! use portico_plugin_sdk::testing;
//! use portico_plugin_sdk::v3::verifier::{self, Decision, EmailAcceptance, Guest};
//!
//! let called = testing::call(|| MyRule::check_email(EmailAcceptance {
//!     email: "a@example.com".into(),
//!     settings: verifier::settings(&[("refused_domains", "example.com")]),
//! }));
//! assert!(matches!(called.output, Ok(Decision::Deny(_))));
//! assert_eq!(called.log, [("info", "refused example.com".to_owned())]);
//! ```

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static LOG: RefCell<Vec<(&'static str, String)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a line a plugin logged in a native build (the families' `log`).
pub fn record(level: &'static str, message: &str) {
    LOG.with(|log| log.borrow_mut().push((level, message.to_owned())));
}

/// What one call did.
#[derive(Debug)]
pub struct Called<T> {
    /// What it returned, or the panic as the host would report it
    /// (`panicked at src/lib.rs:12:5: …`).
    pub output: Result<T, String>,
    /// What it logged, `(level, message)`, in order.
    pub log: Vec<(&'static str, String)>,
}

/// Calls `hook` as the host would: with an empty log, and a panic caught
/// and reported with its message and place.
pub fn call<T>(hook: impl FnOnce() -> T) -> Called<T> {
    install_panic_reporting();
    LOG.with(|log| log.borrow_mut().clear());
    IN_CALL.with(|in_call| in_call.set(true));
    let output = catch_unwind(AssertUnwindSafe(hook));
    IN_CALL.with(|in_call| in_call.set(false));
    let log = LOG.with(|log| std::mem::take(&mut *log.borrow_mut()));
    let output = output.map_err(|_| {
        log.iter()
            .rev()
            .find(|(level, line)| {
                *level == "error" && line.starts_with(crate::panics::PANIC_PREFIX)
            })
            .map(|(_, line)| line.clone())
            .unwrap_or_else(|| "panicked".to_owned())
    });
    Called { output, log }
}

thread_local! {
    /// Whether this thread is inside [`call`]: tests run on many threads
    /// at once, and only a panic in a call is the plugin's to report.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Puts one process-wide hook in front of whatever hook there was: a
/// panic inside [`call`] is logged as the host would show it, any other
/// goes to the previous hook.
fn install_panic_reporting() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CALL.with(Cell::get) {
                return previous(info);
            }
            let line = crate::panics::panic_line(info.location(), crate::panics::message(info));
            record("error", &line);
        }));
    });
}
