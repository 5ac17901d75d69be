//! Logs a line, then panics on an index out of bounds, as a plugin with
//! a bug would.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::verifier::{
    self, Decision, EmailAcceptance, Guest, LogLevel, PortalAccess, Redemption,
};

struct Crash;

fn crash() -> Decision {
    verifier::log(LogLevel::Warn, "About to fail on purpose (Rule::Limits)");
    let limits: Vec<u32> = Vec::new();
    // Opaque to the compiler, so the bug survives to run time.
    let wanted = std::hint::black_box(3);
    if limits[wanted] > 0 {
        Decision::Allow
    } else {
        Decision::Deny("over the limit".into())
    }
}

impl Guest for Crash {
    fn check_redemption(_: Redemption) -> Decision {
        crash()
    }
    fn check_portal_access(_: PortalAccess) -> Decision {
        crash()
    }
    fn check_email(_: EmailAcceptance) -> Decision {
        crash()
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(Crash);
