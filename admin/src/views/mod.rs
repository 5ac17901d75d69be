//! What each console page shows, and the renderer that draws it from the
//! templates in `templates/`.

mod account;
mod confirm;
mod navigation;
mod oversight;
mod patients;
mod renderer;

pub use account::{AccountView, FactorRow, PasskeySetupView, SecondStepView, TotpSetupView};
pub use confirm::ConfirmView;
pub use navigation::{Section, all_sections, sections_for};
pub use oversight::{
    AuditFilterForm, AuditLine, AuditSubject, AuditView, DryRunResult, FollowUpRow, FollowUpView,
    GridCell, GridRow, HeadRow, HookSample, IntegrityView, PluginFailureRow, PluginRow,
    PluginsView, RolesView, SettingField, SettingsForm, SettingsView, StaffMemberRow, StaffView,
};
pub use patients::{
    Abilities, AnswerRow, AppointmentRow, AssignmentRow, CodeRow, DocumentRow, FormChoice,
    FormsTab, FormsView, Frame, GrantRow, MailRow, MessageRow, Navigation, NewPatientDraft,
    NoteRow, PatientRow, PatientView, PatientsView, QuestionDraft, RelationChoice, SendLinkView,
    SharedTab, WorkspaceTab,
};
pub use renderer::{Console, FollowUpCount, HomeView, InboxRow, LoginView, RenderError};
