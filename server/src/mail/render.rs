use minijinja::{Environment, context};
use portico_tenants::outbox::MailKind;
use portico_tenants::registry::Tenant;
use serde::Serialize;

/// How a clinic's mail looks.
#[derive(Debug, Clone, Serialize)]
pub struct Branding {
    pub clinic_name: String,
    pub primary_colour: String,
    pub accent_colour: String,
    pub logo_url: Option<String>,
    pub reply_to: Option<String>,
}

impl Branding {
    /// The clinic's own branding, from its settings.
    pub fn of(tenant: &portico_tenants::registry::Tenant) -> Self {
        let b = &tenant.settings.branding;
        Self {
            clinic_name: tenant.display_name.to_string(),
            primary_colour: b.primary_colour.to_string(),
            accent_colour: b.accent_colour.to_string(),
            logo_url: b.logo_url.as_ref().map(|u| u.as_str().to_owned()),
            reply_to: b.reply_to.as_ref().map(ToString::to_string),
        }
    }

    pub fn plain(clinic_name: &str) -> Self {
        Self {
            clinic_name: clinic_name.to_owned(),
            primary_colour: "#0b6e4f".into(),
            accent_colour: "#e3f1ec".into(),
            logo_url: None,
            reply_to: None,
        }
    }
}

/// Everything a mail needs, whoever renders it. The same fields as the
/// plugin interface's `mail-context`.
#[derive(Debug, Clone, Serialize)]
pub struct MailContext {
    #[serde(skip)]
    pub kind: MailKind,
    pub branding: Branding,
    pub patient_display_name: String,
    /// The link the mail is about: registration, verification, reset.
    pub link: Option<String>,
    /// When the link or code stops working, for people to read.
    pub expires_at: Option<String>,
    pub locale: String,
    /// Kind-specific facts: a form's title, an address's domain.
    pub details: serde_json::Value,
    /// `expires_at` as RFC 3339, as the plugin interface hands it over.
    #[serde(skip)]
    pub expires_at_rfc3339: Option<String>,
    /// The clinic's patient portal.
    pub portal_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("rendering {kind} mail failed: {reason}")]
pub struct RenderError {
    pub kind: &'static str,
    pub reason: String,
}

/// Turns a clinic's mail context into a message: the one interface that
/// the built-in templates and a clinic's email plugin
/// ([`ClinicRenderer`](super::ClinicRenderer)) both sit behind.
#[async_trait::async_trait]
pub trait MailRenderer: Send + Sync {
    async fn render_for(
        &self,
        tenant: &Tenant,
        ctx: &MailContext,
    ) -> Result<RenderedMail, RenderError>;
}

/// The built-in templates in `server/templates/mail/`, rendered with
/// minijinja; HTML escaping is on for the `.html` ones.
pub struct BuiltinTemplates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/mail/", $name)))),*]
    };
}

impl Default for BuiltinTemplates {
    fn default() -> Self {
        Self::new()
    }
}

impl BuiltinTemplates {
    pub fn new() -> Self {
        let mut env = portico_web::templates::environment();
        for (name, source) in templates!(
            "layout.html",
            "access_link.html",
            "access_link.txt",
            "smartform_invitation.html",
            "smartform_invitation.txt",
            "email_change_notice.html",
            "email_change_notice.txt",
            "password_reset.html",
            "password_reset.txt",
            "email_verification.html",
            "email_verification.txt",
            "record_update.html",
            "record_update.txt",
            "registration_attempt.html",
            "registration_attempt.txt",
            "sign_in_code.html",
            "sign_in_code.txt",
            "proxy_narrowed.html",
            "proxy_narrowed.txt",
            "proxy_ended.html",
            "proxy_ended.txt",
            "coming_of_age.html",
            "coming_of_age.txt",
            "caregiver_invitation.html",
            "caregiver_invitation.txt",
            "proxy_added.html",
            "proxy_added.txt",
        ) {
            env.add_template(name, source)
                .expect("mail templates parse");
        }
        Self { env }
    }
}

fn subject(ctx: &MailContext) -> String {
    let clinic = &ctx.branding.clinic_name;
    match ctx.kind {
        MailKind::AccessLink => format!("Your online access to your records at {clinic}"),
        MailKind::SmartformInvitation => format!("{clinic} asks you to fill in a form"),
        MailKind::EmailChangeNotice => format!("Your email address at {clinic} was changed"),
        MailKind::PasswordReset => format!("Reset your {clinic} portal password"),
        MailKind::EmailVerification => format!("Confirm your email address for {clinic}"),
        MailKind::RecordUpdate => format!("Something new in your {clinic} patient portal"),
        MailKind::RegistrationAttempt => {
            format!("Someone tried to register at {clinic} with your email address")
        }
        MailKind::SignInCode => format!("Your code to sign in to {clinic}"),
        MailKind::ProxyNarrowed => {
            format!("What you see of your child's record at {clinic} has changed")
        }
        MailKind::ProxyEnded => format!("Your access to a record at {clinic} has ended"),
        MailKind::ComingOfAge => format!("Your record at {clinic} is now yours alone"),
        MailKind::CaregiverInvitation => format!(
            "{} invites you to see their records at {clinic}",
            ctx.patient_display_name
        ),
        MailKind::ProxyAdded => format!("Someone else can now see your record at {clinic}"),
    }
}

#[async_trait::async_trait]
impl MailRenderer for BuiltinTemplates {
    async fn render_for(
        &self,
        _tenant: &Tenant,
        ctx: &MailContext,
    ) -> Result<RenderedMail, RenderError> {
        self.render(ctx)
    }
}

impl BuiltinTemplates {
    /// Renders the built-in mail for `ctx`.
    pub fn render(&self, ctx: &MailContext) -> Result<RenderedMail, RenderError> {
        let kind = ctx.kind.as_str();
        let fail = |e: minijinja::Error| RenderError {
            kind,
            reason: e.to_string(),
        };
        let vars = context! { mail => minijinja::value::Serde(ctx), subject => subject(ctx) };
        let html = self
            .env
            .get_template(&format!("{kind}.html"))
            .and_then(|t| t.render(&vars))
            .map_err(fail)?;
        let text = self
            .env
            .get_template(&format!("{kind}.txt"))
            .and_then(|t| t.render(&vars))
            .map_err(fail)?;
        Ok(RenderedMail {
            subject: subject(ctx),
            html,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(kind: MailKind) -> MailContext {
        MailContext {
            kind,
            branding: Branding::plain("North <Clinic>"),
            patient_display_name: "Mia \"Mo\" Wong".into(),
            link: Some(
                "https://north.example.org/portal/register#code=abacus-zoom-tidy-plant".into(),
            ),
            expires_at: Some("28 November 2026, 14:00 UTC".into()),
            locale: "en".into(),
            details: serde_json::json!({"form_title": "Intake <b>form</b>", "new_email_domain": "example.net"}),
            expires_at_rfc3339: None,
            portal_url: None,
        }
    }

    #[test]
    fn every_kind_renders_both_parts_with_the_link_and_escaped_html() {
        let t = BuiltinTemplates::new();
        for kind in MailKind::ALL {
            let m = t.render(&ctx(kind)).unwrap();
            assert!(
                m.subject.contains("North <Clinic>"),
                "{kind:?}: {}",
                m.subject
            );
            assert!(
                m.html.contains("North &lt;Clinic&gt;"),
                "{kind:?} escapes the clinic name"
            );
            assert!(!m.html.contains("<b>form</b>"), "{kind:?} escapes details");
            assert!(
                m.text.contains("North <Clinic>"),
                "{kind:?}: the text part is plain"
            );
            assert!(
                !m.html.contains("http://") || !m.html.contains("<img"),
                "no remote images"
            );
            if !matches!(kind, MailKind::EmailChangeNotice | MailKind::SignInCode) {
                assert!(
                    m.text.contains(
                        "https://north.example.org/portal/register#code=abacus-zoom-tidy-plant"
                    ),
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn a_hostile_link_cannot_break_out_of_its_attribute() {
        let mut c = ctx(MailKind::PasswordReset);
        c.link = Some("https://x.example.org/\"><script>alert(1)</script>".into());
        let m = BuiltinTemplates::new().render(&c).unwrap();
        assert!(!m.html.contains("\"><script>"));
        assert!(m.html.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn the_access_link_mail_says_what_to_do_if_unexpected() {
        let m = BuiltinTemplates::new()
            .render(&ctx(MailKind::AccessLink))
            .unwrap();
        assert!(m.text.contains("28 November 2026"));
        assert!(m.text.contains("Did not expect this email?"));
        assert!(m.html.contains(
            "href=\"https://north.example.org/portal/register#code=abacus-zoom-tidy-plant\""
        ));
    }
}
