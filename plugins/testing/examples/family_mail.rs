//! A renderer built against `portico:plugins@3.0.0`, which also renders the
//! mail of a family's sharing: its subject names the kind and its text
//! lists the mail's details, so a test can see what reached the plugin.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({
    path: "../sdk/wit/v3",
    world: "email-renderer",
});

use exports::portico::plugins::email_rendering::{Guest, MailContext, MailKind, RenderedMail};

struct FamilyMail;

impl Guest for FamilyMail {
    fn render(context: MailContext) -> Result<RenderedMail, String> {
        let kind = match context.kind {
            MailKind::CaregiverInvitation => "caregiver invitation",
            MailKind::ProxyAdded => "proxy added",
            MailKind::ProxyNarrowed => "proxy narrowed",
            MailKind::ProxyEnded => "proxy ended",
            MailKind::ComingOfAge => "coming of age",
            _ => return Err("this plugin renders only a family's mail".into()),
        };
        let details: Vec<String> = context
            .details
            .iter()
            .map(|d| format!("{}={}", d.name, d.value))
            .collect();
        let link = context.link.unwrap_or_default();
        Ok(RenderedMail {
            subject: format!("{} (family plugin): {kind}", context.branding.clinic_name),
            html: String::new(),
            text: format!("{kind}\n{}\n{link}\n", details.join("\n")),
        })
    }
}

#[cfg(target_family = "wasm")]
export!(FamilyMail);
