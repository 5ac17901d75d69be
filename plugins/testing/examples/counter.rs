//! Counts calls in a global. Every call gets a fresh instance, so the count
//! a caller sees is always 1; anything else would mean state leaked from
//! one call (or one clinic) to the next.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::sync::atomic::{AtomicU32, Ordering};

use portico_plugin_sdk::verifier::{Decision, EmailAcceptance, Guest, PortalAccess, Redemption};

static CALLS: AtomicU32 = AtomicU32::new(0);

fn count() -> Decision {
    let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Decision::Deny(format!("call {n}"))
}

struct Counter;

impl Guest for Counter {
    fn check_redemption(_: Redemption) -> Decision {
        count()
    }
    fn check_portal_access(_: PortalAccess) -> Decision {
        count()
    }
    fn check_email(_: EmailAcceptance) -> Decision {
        count()
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(Counter);
