//! Panics, told to the host. Rust's own panic hook prints to stderr and
//! first reads `RUST_BACKTRACE` from the environment, which a plugin does
//! not get: without this, a panic would end the call as a forbidden
//! environment read and its message would be lost. The export macros
//! install [`report_to_host`] before every call, so the clinic's admins see
//! "the plugin panicked: … at src/lib.rs:28:22".

use std::sync::Once;

/// How a panic's line starts in the host log: the host recognises it, at
/// the `error` level, as the reason the call ended.
pub const PANIC_PREFIX: &str = "panicked at ";

/// The log line for a panic at `location` with `message`.
pub fn panic_line(location: Option<&std::panic::Location<'_>>, message: &str) -> String {
    match location {
        Some(at) => format!(
            "{PANIC_PREFIX}{}:{}:{}: {message}",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("{PANIC_PREFIX}an unknown place: {message}"),
    }
}

/// A panic's message: `panic!`'s text, or a placeholder when the payload
/// is not text.
pub(crate) fn message<'a>(info: &'a std::panic::PanicHookInfo<'_>) -> &'a str {
    info.payload()
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// Replaces the panic hook, once per instance, with one that sends the
/// panic's message and place to `log` (the host's log at the `error`
/// level) and reads nothing from the environment.
pub fn report_to_host(log: fn(&str)) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(move |info| {
            log(&panic_line(info.location(), message(info)));
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn collect(line: &str) {
        LINES.lock().unwrap().push(line.to_owned());
    }

    #[test]
    fn a_panic_reaches_the_log_with_its_message_and_place() {
        report_to_host(collect);
        let values: Vec<u32> = Vec::new();
        let index = values.len() + 3;
        let caught = std::panic::catch_unwind(|| values[index]);
        assert!(caught.is_err());
        let caught = std::panic::catch_unwind(|| panic!("the {} rule", "second"));
        assert!(caught.is_err());
        let _ = std::panic::take_hook();
        let lines = LINES.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("panicked at plugins/sdk/src/panics.rs:")
                || lines[0].starts_with("panicked at src/panics.rs:"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("index out of bounds: the len is 0 but the index is 3"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(": the second rule"), "{}", lines[1]);
    }
}
