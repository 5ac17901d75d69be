//! Never returns.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::verifier::{Decision, EmailAcceptance, Guest, PortalAccess, Redemption};

struct Spin;

fn forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Guest for Spin {
    fn check_redemption(_: Redemption) -> Decision {
        forever()
    }
    fn check_portal_access(_: PortalAccess) -> Decision {
        forever()
    }
    fn check_email(_: EmailAcceptance) -> Decision {
        forever()
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(Spin);
