//! The access-link email in the clinic's own design: its colours, its logo
//! and a sign-off the clinic sets (`signature`). Every other mail kind is
//! declined, so Portico sends its built-in mail for those.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::email::{self, Guest, LogLevel, MailContext, MailKind, RenderedMail};
use portico_plugin_sdk::html::{colour, escape};
use portico_plugin_sdk::settings;

struct BrandedEmail;

impl Guest for BrandedEmail {
    fn render(context: MailContext) -> Result<RenderedMail, String> {
        if context.kind != MailKind::AccessLink {
            return Err("this plugin only designs the access-link email".into());
        }
        let Some(link) = context.link.as_deref() else {
            return Err("an access-link email needs its link".into());
        };
        email::log(
            LogLevel::Info,
            &format!("rendering the access link in {}", context.locale),
        );
        Ok(access_link(&context, link))
    }
}

fn access_link(context: &MailContext, link: &str) -> RenderedMail {
    let brand = &context.branding;
    let clinic = escape(&brand.clinic_name);
    let name = escape(&context.patient_display_name);
    let primary = colour(&brand.primary_colour, "#0b6e4f");
    let accent = colour(&brand.accent_colour, "#f2f7f5");
    let signature = settings::get(&context.settings, "signature")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("The team at {}", brand.clinic_name));
    let expiry = context
        .expires_at
        .as_deref()
        .map(|at| at.get(..10).unwrap_or(at).to_owned());
    let expiry_sentence = match &expiry {
        Some(day) => format!("The link works once, until {day}."),
        None => "The link works once.".to_owned(),
    };
    let logo = brand
        .logo_url
        .as_deref()
        .filter(|url| url.starts_with("https://"))
        .map(|url| {
            format!(
                r#"<img src="{}" alt="{clinic}" height="48" style="display:block;margin:0 0 16px">"#,
                escape(url)
            )
        })
        .unwrap_or_default();
    let href = escape(link);

    let html = format!(
        r#"<!doctype html>
<html lang="{lang}"><body style="margin:0;background:{accent};font-family:Georgia,serif;color:#1d2623">
<div style="max-width:560px;margin:0 auto;padding:32px 24px;background:#ffffff;border-top:6px solid {primary}">
{logo}<h1 style="font-size:22px;margin:0 0 16px">{name}, your records at {clinic} are ready</h1>
<p>{clinic} has set up online access to your medical records. Choose a password and you are in.</p>
<p style="margin:28px 0"><a href="{href}" style="background:{primary};color:#ffffff;padding:14px 22px;border-radius:4px;text-decoration:none;font-weight:bold">Set up my access</a></p>
<p>{expiry}</p>
<p style="font-size:14px;color:#4a5753">Not expecting this? Do not use the link; call {clinic} instead.</p>
<p>{signature}</p>
</div></body></html>"#,
        lang = escape(&context.locale),
        expiry = escape(&expiry_sentence),
        signature = escape(&signature),
    );
    let text = format!(
        "{name}, your records at {clinic} are ready.\n\n\
         Set up your access here:\n{link}\n\n\
         {expiry_sentence}\n\n\
         Not expecting this? Do not use the link; call {clinic} instead.\n\n\
         {signature}\n",
        name = context.patient_display_name,
        clinic = brand.clinic_name,
    );
    RenderedMail {
        subject: format!("{}: your online records are ready", brand.clinic_name),
        html,
        text,
    }
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_email_renderer!(BrandedEmail);
