use minijinja::{Environment, context};
use serde::Serialize;

use super::navigation::Section;
use super::oversight::{
    AuditView, FollowUpView, IntegrityView, PluginsView, SettingsView, StaffView,
};
use super::patients::{FormsView, Frame, PatientView, PatientsView, SendLinkView};

#[derive(Debug, thiserror::Error)]
#[error("rendering {page} failed: {source}")]
pub struct RenderError {
    page: &'static str,
    #[source]
    source: minijinja::Error,
}

/// The login page.
#[derive(Debug, Serialize)]
pub struct LoginView {
    pub clinic_name: String,
    /// Where the console lives, such as `/t/demo/console`.
    pub console_path: String,
    pub email: String,
    pub error: Option<String>,
}

/// A patient who wrote and is waiting for the clinic to read it.
#[derive(Debug, Serialize)]
pub struct InboxRow {
    pub patient_id: String,
    pub patient_name: String,
    pub unread: i64,
    /// When the oldest unread message came, in the clinic's time zone.
    pub waiting_since: String,
}

/// Codes given but not used yet, as the home page counts them.
#[derive(Debug, Serialize)]
pub struct FollowUpCount {
    pub pending: usize,
    /// The list is cut at its page size: show "at least".
    pub more: bool,
    /// Of those, how many expire within a day.
    pub expiring: usize,
}

/// The console's landing page, built for the front desk: find a patient,
/// see what needs following up and who is waiting for an answer.
#[derive(Debug, Serialize)]
pub struct HomeView {
    pub frame: Frame,
    pub roles: Vec<String>,
    pub sections: Vec<Section>,
    /// Each is present only when the staff member may see it.
    pub may_find: bool,
    pub may_add: bool,
    pub follow_up: Option<FollowUpCount>,
    pub inbox: Option<Vec<InboxRow>>,
}

/// Renders console pages. Build once and share.
pub struct Console {
    env: Environment<'static>,
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl Console {
    pub fn new() -> Self {
        let mut env = portico_web::templates::environment();
        // Templates are part of the binary; a broken one is a bug caught by
        // this crate's tests, not a runtime condition.
        macro_rules! templates {
            ($($name:literal),+ $(,)?) => {
                [$(($name, include_str!(concat!("../../templates/", $name)))),+]
            };
        }
        for (name, source) in templates![
            "layout.html",
            "signed_in.html",
            "login.html",
            "error.html",
            "home.html",
            "patients.html",
            "patient.html",
            "send_link.html",
            "confirm.html",
            "follow_up.html",
            "audit.html",
            "integrity.html",
            "forms.html",
            "password.html",
            "second_step.html",
            "settings.html",
            "staff.html",
            "roles.html",
            "plugins.html",
        ] {
            env.add_template(name, source)
                .expect("console templates parse");
        }
        Self { env }
    }

    fn render(&self, page: &'static str, ctx: minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(page)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError { page, source })
    }

    pub fn login_page(&self, view: &LoginView) -> Result<String, RenderError> {
        self.render(
            "login.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn patients_page(&self, view: &PatientsView) -> Result<String, RenderError> {
        self.render(
            "patients.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn patient_page(&self, view: &PatientView) -> Result<String, RenderError> {
        self.render(
            "patient.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn follow_up_page(&self, view: &FollowUpView) -> Result<String, RenderError> {
        self.render(
            "follow_up.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    /// The staff member's own password change; the frame is all it needs.
    pub fn account_page(&self, view: &super::AccountView) -> Result<String, RenderError> {
        self.render(
            "password.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn second_step_page(&self, view: &super::SecondStepView) -> Result<String, RenderError> {
        self.render(
            "second_step.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn settings_page(&self, view: &SettingsView) -> Result<String, RenderError> {
        self.render(
            "settings.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn plugins_page(&self, view: &PluginsView) -> Result<String, RenderError> {
        self.render(
            "plugins.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn staff_page(&self, view: &StaffView) -> Result<String, RenderError> {
        self.render(
            "staff.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn forms_page(&self, view: &FormsView) -> Result<String, RenderError> {
        self.render(
            "forms.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn audit_page(&self, view: &AuditView) -> Result<String, RenderError> {
        self.render(
            "audit.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn integrity_page(&self, view: &IntegrityView) -> Result<String, RenderError> {
        self.render(
            "integrity.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn send_link_page(&self, view: &SendLinkView) -> Result<String, RenderError> {
        self.render(
            "send_link.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn confirm_page(&self, view: &super::ConfirmView) -> Result<String, RenderError> {
        self.render(
            "confirm.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    /// An error as a page in the console's plain layout.
    pub fn error_page(
        &self,
        clinic_name: &str,
        console_path: &str,
        error: &portico_web::error_pages::ErrorPage,
    ) -> Result<String, RenderError> {
        self.render(
            "error.html",
            context! { page => context! {
                clinic_name => clinic_name,
                console_path => console_path,
                error => minijinja::value::Serde(error),
            } },
        )
    }

    pub fn roles_page(&self, view: &super::RolesView) -> Result<String, RenderError> {
        self.render(
            "roles.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }

    pub fn home_page(&self, view: &HomeView) -> Result<String, RenderError> {
        self.render(
            "home.html",
            context! { page => minijinja::value::Serde(view) },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped() {
        let html = Console::new()
            .login_page(&LoginView {
                clinic_name: "<script>alert(1)</script> Clinic".into(),
                console_path: "/t/x/console".into(),
                email: "\"><img src=x>".into(),
                error: Some("nope".into()),
            })
            .unwrap();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("\"><img"));
    }

    #[test]
    fn the_home_page_shows_only_permitted_sections() {
        let html = Console::new()
            .home_page(&HomeView {
                frame: Frame {
                    clinic_name: "North".into(),
                    console_path: "/console".into(),
                    staff_name: "Dana".into(),
                    csrf_token: "tok".into(),
                    notice: None,
                    notice_at: None,
                    error: None,
                    nav: crate::views::Navigation::default(),
                    first_password: false,
                },
                roles: vec!["auditor".into()],
                sections: crate::views::sections_for(|act| act.name == "audit.read"),
                may_find: false,
                may_add: false,
                follow_up: None,
                inbox: Some(vec![InboxRow {
                    patient_id: "p1".into(),
                    patient_name: "Mia <Wong>".into(),
                    unread: 2,
                    waiting_since: "Mon 23 Nov, 10:00".into(),
                }]),
            })
            .unwrap();
        assert!(html.contains("Audit trail"));
        assert!(!html.contains(">Staff<"));
        assert!(
            !html.contains("Find a patient"),
            "no search for a role that may not read patients"
        );
        assert!(
            html.contains("Mia &lt;Wong&gt;")
                && html.contains("/console/patients/p1?tab=shared#messages")
        );
        assert!(html.contains("name=\"csrf_token\" value=\"tok\""));
    }
}
