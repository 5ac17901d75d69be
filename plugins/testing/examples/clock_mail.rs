//! A renderer built against `portico:plugins@4.0.0` that declares it reads
//! no patient fact. Its mail says what it was handed: the patient's name
//! (which it must not get), the clinic's time zone and the expiry on the
//! clinic's clock.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::v4::email::{
    Guest, MailContext, PluginManifest, RenderedMail, SettingSpec,
};

struct ClockMail;

impl Guest for ClockMail {
    fn describe() -> PluginManifest {
        PluginManifest::reading([])
            .setting(SettingSpec::yes_no("show_zone", "Name the time zone").with_default("yes"))
    }

    fn render(context: MailContext) -> Result<RenderedMail, String> {
        let show_zone = portico_plugin_sdk::settings::yes(&context.settings, "show_zone");
        let until = match &context.expires_local {
            Some(t) if show_zone => format!(
                "{} at {} {} ({})",
                t.date, t.time, t.zone, context.time_zone
            ),
            Some(t) => format!("{} at {}", t.date, t.time),
            None => "no expiry".to_owned(),
        };
        let text = format!(
            "name={:?}\nuntil={until}\nlink={}\n",
            context.patient_display_name,
            context.link.as_deref().unwrap_or("none")
        );
        Ok(RenderedMail {
            subject: format!("From {}", context.branding.clinic_name),
            html: format!("<pre>{text}</pre>"),
            text,
        })
    }
}

portico_plugin_sdk::export_email_renderer!(ClockMail, v4);
