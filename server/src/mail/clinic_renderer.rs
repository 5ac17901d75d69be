//! A clinic's mail as the clinic wants it: through its active email
//! plugin when it has one, with the built-in templates whenever it has
//! none, or the plugin declines the kind, or fails (the failure is
//! recorded and audited by the domain). A kind newer than every published
//! plugin interface (the record-update notice, the registration-attempt
//! notice, the sign-in code) has no name a plugin could read, so it always
//! takes the built-in template, in the clinic's colours; so does a family's
//! mail (interface 3.0.0) for a plugin built against an older version.
//! A plugin of interface 4.0.0 also gets the clinic's time zone, and the
//! patient's name only when its manifest reads it.

use portico_plugins::model as plugin;
use portico_tenants::outbox::MailKind;
use portico_tenants::registry::Tenant;
use portico_tenants::{Caller, Services};

use super::render::{BuiltinTemplates, MailContext, MailRenderer, RenderError, RenderedMail};

pub struct ClinicRenderer {
    services: Services,
    builtin: BuiltinTemplates,
}

impl ClinicRenderer {
    pub fn new(services: Services) -> Self {
        Self {
            services,
            builtin: BuiltinTemplates::new(),
        }
    }
}

/// The mail's context as a plugin is handed it; the sandbox then takes out
/// what the plugin does not declare it reads.
fn plugin_context(ctx: &MailContext, tenant: &Tenant) -> Option<plugin::MailContext> {
    Some(plugin::MailContext {
        kind: match ctx.kind {
            MailKind::AccessLink => plugin::MailKind::AccessLink,
            MailKind::SmartformInvitation => plugin::MailKind::SmartformInvitation,
            MailKind::EmailChangeNotice => plugin::MailKind::EmailChangeNotice,
            MailKind::PasswordReset => plugin::MailKind::PasswordReset,
            MailKind::EmailVerification => plugin::MailKind::EmailVerification,
            MailKind::CaregiverInvitation => plugin::MailKind::CaregiverInvitation,
            MailKind::ProxyAdded => plugin::MailKind::ProxyAdded,
            MailKind::ProxyNarrowed => plugin::MailKind::ProxyNarrowed,
            MailKind::ProxyEnded => plugin::MailKind::ProxyEnded,
            MailKind::ComingOfAge => plugin::MailKind::ComingOfAge,
            MailKind::RecordUpdate | MailKind::RegistrationAttempt | MailKind::SignInCode => {
                return None;
            }
        },
        branding: plugin::Branding {
            clinic_name: ctx.branding.clinic_name.clone(),
            primary_colour: ctx.branding.primary_colour.clone(),
            accent_colour: ctx.branding.accent_colour.clone(),
            logo_url: ctx.branding.logo_url.clone(),
            reply_to: ctx.branding.reply_to.clone(),
        },
        patient_display_name: Some(ctx.patient_display_name.clone()),
        link: ctx.link.clone(),
        expires_at: ctx.expires_at_rfc3339.clone(),
        time_zone: Some(tenant.settings.time_zone.name().to_owned()),
        locale: ctx.locale.clone(),
        settings: Vec::new(),
        portal_url: ctx.portal_url.clone(),
        details: details_of(ctx),
    })
}

/// What a family's mail needs beyond the shared fields, named as the
/// interface (3.0.0) lists them with each kind: kebab-case names and
/// values. Only these members of the payload leave the host.
fn details_of(ctx: &MailContext) -> Vec<plugin::Detail> {
    let wanted: &[(&str, &str)] = match ctx.kind {
        MailKind::ProxyAdded => &[("relation", "relation"), ("proxy_login", "proxy-login")],
        MailKind::ProxyNarrowed => &[("limited_from", "limited-from"), ("adult_age", "adult-age")],
        MailKind::ProxyEnded => &[("reason", "reason"), ("adult_age", "adult-age")],
        MailKind::ComingOfAge => &[("adult_age", "adult-age")],
        _ => &[],
    };
    wanted
        .iter()
        .filter_map(|(member, name)| {
            let value = match ctx.details.get(*member)? {
                serde_json::Value::String(s) => s.replace('_', "-"),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(plugin::Detail {
                name: (*name).to_owned(),
                value,
            })
        })
        .collect()
}

#[async_trait::async_trait]
impl MailRenderer for ClinicRenderer {
    async fn render_for(
        &self,
        tenant: &Tenant,
        ctx: &MailContext,
    ) -> Result<RenderedMail, RenderError> {
        let Some(for_plugin) = plugin_context(ctx, tenant) else {
            return self.builtin.render(ctx);
        };
        let caller = Caller::system(tenant.clone());
        match self.services.render_with_plugin(&caller, for_plugin).await {
            Ok(Some(mail)) => Ok(RenderedMail {
                subject: mail.subject,
                html: mail.html,
                text: mail.text,
            }),
            Ok(None) => self.builtin.render(ctx),
            Err(err) => {
                tracing::warn!(tenant = %tenant.id, error = %err, "email plugin unavailable; sending the built-in mail");
                self.builtin.render(ctx)
            }
        }
    }
}
