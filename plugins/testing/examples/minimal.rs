//! Allows everything at once: the fixed cost of a call.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::verifier::{Decision, EmailAcceptance, Guest, PortalAccess, Redemption};

struct Minimal;

impl Guest for Minimal {
    fn check_redemption(_: Redemption) -> Decision {
        Decision::Allow
    }
    fn check_portal_access(_: PortalAccess) -> Decision {
        Decision::Allow
    }
    fn check_email(_: EmailAcceptance) -> Decision {
        Decision::Allow
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(Minimal);
