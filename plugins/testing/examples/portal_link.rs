//! A renderer built against `portico:plugins@2.0.0`, which hands in the
//! clinic's portal address: the host runs it beside plugins built against
//! 1.0.0.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({
    path: "../sdk/wit/v2",
    world: "email-renderer",
});

use exports::portico::plugins::email_rendering::{Guest, MailContext, RenderedMail};

struct PortalLink;

impl Guest for PortalLink {
    fn render(context: MailContext) -> Result<RenderedMail, String> {
        Ok(RenderedMail {
            subject: format!("{}: your portal", context.branding.clinic_name),
            html: String::new(),
            text: format!("Log in at {}\n", context.portal_url),
        })
    }
}

#[cfg(target_family = "wasm")]
export!(PortalLink);
