//! What the patient pages show: the list with its search, and one
//! patient's workspace with its tabs. The server fills these in from the
//! domain; every value is text ready to show, escaped by the templates.

use serde::Serialize;

/// The frame every signed-in console page shares.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub clinic_name: String,
    pub console_path: String,
    pub staff_name: String,
    pub csrf_token: String,
    /// A short confirmation of what just happened.
    pub notice: Option<String>,
    /// The id of the card the notice belongs in, where the person is
    /// looking (a message sent shows by its thread); `None` for the top.
    pub notice_at: Option<&'static str>,
    /// Why the last action was refused, written for the staff member.
    pub error: Option<String>,
    /// The console-wide pages this staff member may open.
    pub nav: Navigation,
    /// Someone else chose their password: the only page open to them is
    /// the one to choose their own.
    pub first_password: bool,
}

/// Which console-wide pages show in the bar.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Navigation {
    pub patients: bool,
    pub forms: bool,
    pub follow_up: bool,
    pub audit: bool,
    pub staff: bool,
    pub settings: bool,
    pub plugins: bool,
}

#[derive(Debug, Serialize)]
pub struct PatientRow {
    pub id: String,
    pub full_name: String,
    pub date_of_birth: String,
    pub email: String,
    pub phone: String,
    pub portal_access: bool,
}

/// The patient list.
#[derive(Debug, Serialize)]
pub struct PatientsView {
    pub frame: Frame,
    pub search: String,
    pub patients: Vec<PatientRow>,
    /// The `after` of the next page, when there is one.
    pub next_after: Option<String>,
    pub may_create: bool,
    /// What the create form held when it was refused.
    pub draft: NewPatientDraft,
}

/// A patient's details as a form holds them (and sends them back).
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NewPatientDraft {
    pub full_name: String,
    pub date_of_birth: String,
    pub email: String,
    pub phone: String,
    pub home_zip: String,
}

/// Which tab of the workspace is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceTab {
    Access,
    Shared,
    Forms,
    Details,
}

impl WorkspaceTab {
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("shared") => Self::Shared,
            Some("forms") => Self::Forms,
            Some("details") => Self::Details,
            _ => Self::Access,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CodeRow {
    pub id: String,
    pub kind: String,
    pub delivery: String,
    pub status: String,
    pub issued_at: String,
    pub expires_at: String,
    pub revocable: bool,
}

#[derive(Debug, Serialize)]
pub struct GrantRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub since: String,
    /// What the account is to the patient.
    pub relation: &'static str,
    /// What it sees, when less than the whole record.
    pub sees: Option<&'static str>,
    /// How and when it ended, if it has.
    pub revoked: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MailRow {
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub queued_at: String,
}

#[derive(Debug, Serialize)]
pub struct DocumentRow {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub kind: String,
    pub size: String,
    pub by: String,
    pub from_patient: bool,
    pub at: String,
    pub withdrawn: bool,
    pub confidential: bool,
}

#[derive(Debug, Serialize)]
pub struct NoteRow {
    pub body: String,
    pub author: String,
    pub at: String,
    pub confidential: bool,
}

#[derive(Debug, Serialize)]
pub struct AppointmentRow {
    pub id: String,
    pub when: String,
    pub minutes: i64,
    pub with: String,
    pub location: String,
    pub reason: Option<String>,
    pub cancelled: bool,
    pub confidential: bool,
}

#[derive(Debug, Serialize)]
pub struct MessageRow {
    pub from: String,
    pub from_patient: bool,
    pub body: String,
    pub at: String,
    pub read: bool,
    /// From the patient, and nobody at the clinic had read it before this
    /// page.
    pub new: bool,
    pub attachments: Vec<DocumentRow>,
}

/// What is shared on the record, for those who may read it.
#[derive(Debug, Serialize)]
pub struct SharedTab {
    pub documents: Vec<DocumentRow>,
    pub notes: Vec<NoteRow>,
    pub appointments: Vec<AppointmentRow>,
    pub messages: Vec<MessageRow>,
    /// Drafts kept when a write was refused.
    pub draft_note: String,
    pub draft_message: String,
    /// The clinic's time zone, in which appointments are entered.
    pub time_zone: String,
}

/// What the staff member may do here; a control they may not use is not
/// shown (and the server refuses it anyway).
#[derive(Debug, Default, Serialize)]
pub struct Abilities {
    pub edit_patient: bool,
    pub issue_codes: bool,
    pub read_records: bool,
    pub share_records: bool,
    /// The record's email is where its portal access goes (see
    /// `patient_email_guarded`): changing it takes a password, and only
    /// `change_guarded_email` may.
    pub email_guarded: bool,
    pub change_guarded_email: bool,
    /// Clearing a patient account's two-step sign-in.
    pub reset_two_step: bool,
}

/// One patient's workspace.
#[derive(Debug, Serialize)]
pub struct PatientView {
    pub frame: Frame,
    pub tab: WorkspaceTab,
    pub patient: PatientRow,
    pub phone: String,
    pub home_zip: String,
    /// The details form: the record's values, or what was typed when a
    /// change was refused.
    pub details: NewPatientDraft,
    pub may: Abilities,
    pub codes: Vec<CodeRow>,
    pub grants: Vec<GrantRow>,
    pub mail: Vec<MailRow>,
    pub shared: Option<SharedTab>,
    /// Present for those who may read forms.
    pub forms: Option<FormsTab>,
}

/// The step before a Medical Records code is issued, by an emailed link
/// or on a printed handout: the staff member's password to confirm it, and
/// for a link the address it goes to.
#[derive(Debug, Serialize)]
pub struct SendLinkView {
    pub frame: Frame,
    pub patient_id: String,
    pub patient_name: String,
    /// Empty for a handout.
    pub email: String,
    pub lifetime: String,
    /// A printed handout rather than an emailed link.
    pub print: bool,
    /// The unused codes of the patient's own account that a code for
    /// the patient cancels, described for staff.
    pub replaces: Vec<String>,
    /// Who may hold the code, as the patient's age allows; one is checked.
    pub relations: Vec<RelationChoice>,
}

/// One answer to "who will use this code?".
#[derive(Debug, Serialize)]
pub struct RelationChoice {
    pub value: &'static str,
    pub label: String,
    pub hint: &'static str,
    pub checked: bool,
}

#[derive(Debug, Serialize)]
pub struct FormChoice {
    pub id: String,
    pub title: String,
    pub questions: usize,
}

#[derive(Debug, Serialize)]
pub struct AnswerRow {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Serialize)]
pub struct AssignmentRow {
    pub title: String,
    pub status: String,
    pub assigned_at: String,
    pub submitted_at: Option<String>,
    pub answers: Vec<AnswerRow>,
}

/// The workspace's forms tab: what was assigned, what came back, and the
/// forms that can still be assigned.
#[derive(Debug, Default, Serialize)]
pub struct FormsTab {
    pub assignments: Vec<AssignmentRow>,
    pub forms: Vec<FormChoice>,
    pub may_assign: bool,
}

/// The clinic's SmartForms and the form to define one.
#[derive(Debug, Serialize)]
pub struct FormsView {
    pub frame: Frame,
    pub forms: Vec<FormChoice>,
    pub may_define: bool,
    pub draft_title: String,
    /// Blank question rows to fill in, with what was typed if refused.
    pub draft_questions: Vec<QuestionDraft>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct QuestionDraft {
    pub label: String,
    pub kind: String,
    pub required: bool,
}
