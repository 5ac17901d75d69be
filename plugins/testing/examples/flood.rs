//! Renders a mail four times larger than the output limit.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::email::{Guest, MailContext, RenderedMail};

struct Flood;

impl Guest for Flood {
    fn render(_: MailContext) -> Result<RenderedMail, String> {
        Ok(RenderedMail {
            subject: "Everything".into(),
            html: "<p>flood</p>".repeat(1024 * 1024 / 12),
            text: "flood".into(),
        })
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_email_renderer!(Flood);
