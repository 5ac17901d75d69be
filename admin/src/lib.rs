//! The clinic console: the pages staff use to run their clinic.
//!
//! Pages are rendered on the server from templates in `templates/` with
//! minijinja (HTML escaping on), and work without JavaScript. This crate
//! knows what each page shows and which controls a role may see; the HTTP
//! wiring lives in the server.

mod navigation;
mod oversight;
mod pages;
mod patients;

pub use navigation::{Section, all_sections, sections_for};
pub use oversight::{
    AuditFilterForm, AuditLine, AuditView, DryRunResult, FollowUpRow, FollowUpView, HookSample,
    PluginFailureRow, PluginRow, PluginsView, PolicyRow, SettingsForm, SettingsView,
    StaffMemberRow, StaffView,
};
pub use pages::{AuditRow, Console, HandoutView, HomeView, LoginView, RenderError, StaffRow};
pub use patients::{
    Abilities, AnswerRow, AppointmentRow, AssignmentRow, CodeRow, DocumentRow, FormChoice,
    FormsTab, FormsView, Frame, GrantRow, MailRow, MessageRow, Navigation, NewPatientDraft,
    NoteRow, PatientRow, PatientView, PatientsView, QuestionDraft, SendLinkView, SharedTab,
    WorkspaceTab,
};

/// The console's stylesheet, served from the console's own address so
/// pages load nothing from third parties.
pub const STYLESHEET: &str = include_str!("../assets/console.css");
