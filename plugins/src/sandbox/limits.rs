//! The bounds on one call, per hook family, with the defaults a clinic's
//! plugins get unless the operator changes them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hooks::HookFamily;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest linear memory a call may grow to.
    pub memory_bytes: usize,
    /// Instructions, roughly: wasmtime's fuel.
    pub fuel: u64,
    /// Wall time for instantiation and the call, host time included.
    pub wall_time_ms: u64,
    /// Text handed in (names, values, branding, settings).
    pub max_input_bytes: usize,
    /// Each text the plugin hands back (rendered HTML, plain text).
    pub max_output_bytes: usize,
    /// Everything the plugin logs in one call.
    pub max_log_bytes: usize,
}

const MIB: usize = 1024 * 1024;

impl Limits {
    pub const RENDERING: Limits = Limits {
        memory_bytes: 32 * MIB,
        fuel: 50_000_000,
        wall_time_ms: 50,
        max_input_bytes: 64 * 1024,
        max_output_bytes: 256 * 1024,
        max_log_bytes: 16 * 1024,
    };

    pub const VERIFICATION: Limits = Limits {
        memory_bytes: 16 * MIB,
        fuel: 10_000_000,
        wall_time_ms: 50,
        max_input_bytes: 16 * 1024,
        max_output_bytes: 16 * 1024,
        max_log_bytes: 16 * 1024,
    };

    pub fn for_family(family: HookFamily) -> Self {
        match family {
            HookFamily::EmailRendering => Self::RENDERING,
            HookFamily::Verification => Self::VERIFICATION,
        }
    }

    pub fn wall_time(&self) -> Duration {
        Duration::from_millis(self.wall_time_ms)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::VERIFICATION
    }
}

/// How the sandbox is set up: limits per family, the upload cap, and the
/// instance pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    pub rendering: Limits,
    pub verification: Limits,
    /// Largest component accepted at upload.
    pub max_component_bytes: usize,
    /// Calls that may run at once; also the size of the instance pool.
    pub max_concurrent_calls: u32,
    /// Use wasmtime's pooling allocator when the machine's address space
    /// allows it (it falls back to on-demand allocation when not).
    pub pooling: bool,
    /// How often the epoch advances; wall-time deadlines are counted in
    /// these ticks.
    pub epoch_tick_ms: u64,
    /// Per pooled instance slot: how much of a finished call's memory is
    /// reset in place and kept mapped for the next call, rather than
    /// returned to the kernel. Covers a Rust plugin's stack and data.
    pub keep_resident_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            rendering: Limits::RENDERING,
            verification: Limits::VERIFICATION,
            max_component_bytes: 4 * MIB,
            max_concurrent_calls: 64,
            pooling: true,
            epoch_tick_ms: 5,
            keep_resident_bytes: 2 * MIB,
        }
    }
}

impl SandboxConfig {
    pub fn limits(&self, family: HookFamily) -> &Limits {
        match family {
            HookFamily::EmailRendering => &self.rendering,
            HookFamily::Verification => &self.verification,
        }
    }

    /// Epoch ticks that cover `limits`' wall time: at least the wall time,
    /// at most one tick more.
    pub(crate) fn deadline_ticks(&self, limits: &Limits) -> u64 {
        let tick = self.epoch_tick_ms.max(1);
        limits.wall_time_ms.div_ceil(tick) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_published_limits() {
        let config = SandboxConfig::default();
        assert_eq!(config.verification.memory_bytes, 16 * MIB);
        assert_eq!(config.rendering.memory_bytes, 32 * MIB);
        assert_eq!(config.rendering.max_output_bytes, 256 * 1024);
        assert!(config.rendering.fuel > config.verification.fuel);
        // 50 ms in 5 ms ticks: the deadline falls between 50 and 55 ms.
        assert_eq!(config.deadline_ticks(&config.verification), 11);
    }
}
