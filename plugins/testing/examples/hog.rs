//! Grows its memory four mebibytes at a time, without end (reserving
//! without writing, so it reaches the memory limit long before its fuel
//! runs out).

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::verifier::{Decision, EmailAcceptance, Guest, PortalAccess, Redemption};

struct Hog;

fn hoard() -> Decision {
    let mut heap: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = Vec::with_capacity(4 << 20);
        block.push(7u8);
        heap.push(std::hint::black_box(block));
    }
}

impl Guest for Hog {
    fn check_redemption(_: Redemption) -> Decision {
        hoard()
    }
    fn check_portal_access(_: PortalAccess) -> Decision {
        hoard()
    }
    fn check_email(_: EmailAcceptance) -> Decision {
        hoard()
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(Hog);
