//! What a store holds for one call: the memory limiter that records a
//! refused growth, and the guest's bounded log.

use serde::Serialize;

/// Severity of a guest log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The level as the API and the console write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The lines a plugin logged during one call, kept with the call's record
/// for the clinic's admins. Bounded: lines past the limit are counted and
/// dropped, so a chatty plugin cannot fill memory or the database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GuestLog {
    pub lines: Vec<LogLine>,
    /// Lines dropped because the call's log was full.
    pub dropped: usize,
    #[serde(skip)]
    bytes: usize,
    #[serde(skip)]
    max_bytes: usize,
}

impl GuestLog {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            ..Self::default()
        }
    }

    pub(crate) fn push(&mut self, level: LogLevel, message: String) {
        if self.bytes + message.len() > self.max_bytes {
            self.dropped += 1;
            return;
        }
        self.bytes += message.len();
        self.lines.push(LogLine { level, message });
    }
}

/// Grants memory up to the call's limit and remembers a refusal, so that
/// the trap which usually follows (an allocation failure) is reported as
/// "memory" rather than as a bare trap.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    pub(crate) refused: bool,
}

/// A component's tables hold function references; no honest plugin needs
/// more than this many.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// How the SDK's panic hook starts the `error` line it logs as a plugin
/// panics (`portico_plugin_sdk::panics`): "panicked at src/lib.rs:28:22:
/// index out of bounds…". A plugin in another language may log the same.
pub const PANIC_PREFIX: &str = "panicked at ";

/// The longest panic line kept as a failure's reason.
const MAX_PANIC_BYTES: usize = 500;

/// The data of a store that runs one call.
pub struct CallState {
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log: GuestLog,
    /// The plugin's report of its own panic, kept even when the log is
    /// full: the reason the call ended.
    pub(crate) panic: Option<String>,
}

impl CallState {
    pub(crate) fn new(max_memory_bytes: usize, max_log_bytes: usize) -> Self {
        Self {
            limiter: MemoryLimiter {
                max_bytes: max_memory_bytes,
                refused: false,
            },
            log: GuestLog::new(max_log_bytes),
            panic: None,
        }
    }

    /// A line the plugin logged; the first panic report is also kept
    /// apart.
    pub(crate) fn record_log(&mut self, level: LogLevel, message: String) {
        if level == LogLevel::Error && self.panic.is_none() && message.starts_with(PANIC_PREFIX) {
            let mut end = message.len().min(MAX_PANIC_BYTES);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            self.panic = Some(message[..end].to_owned());
        }
        self.log.push(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_lines_up_to_its_bound_and_counts_the_rest() {
        let mut log = GuestLog::new(10);
        log.push(LogLevel::Info, "12345".into());
        log.push(LogLevel::Warn, "123456".into());
        log.push(LogLevel::Error, "12345".into());
        assert_eq!(log.lines.len(), 2);
        assert_eq!(log.lines[1].level, LogLevel::Error);
        assert_eq!(log.dropped, 1);
    }

    #[test]
    fn a_panic_report_is_kept_apart_even_from_a_full_log() {
        let mut state = CallState::new(1 << 20, 8);
        state.record_log(LogLevel::Info, "filling".into());
        state.record_log(
            LogLevel::Warn,
            "panicked at nothing: a warning is no report".into(),
        );
        state.record_log(
            LogLevel::Error,
            format!("panicked at src/lib.rs:28:22: {}", "é".repeat(400)),
        );
        state.record_log(
            LogLevel::Error,
            "panicked at src/lib.rs:1:1: a second".into(),
        );
        let kept = state.panic.expect("the report");
        assert!(
            kept.starts_with("panicked at src/lib.rs:28:22: é"),
            "{kept}"
        );
        assert!(kept.len() <= MAX_PANIC_BYTES, "{}", kept.len());
        assert_eq!(state.log.dropped, 3, "the log itself stays bounded");
    }
}
