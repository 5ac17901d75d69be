//! The pages that look across patients: the follow-up list of codes not
//! yet redeemed, and the audit trail with its filters.

use serde::Serialize;

use super::patients::Frame;

#[derive(Debug, Serialize)]
pub struct FollowUpRow {
    pub code_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub delivery: String,
    pub issued_at: String,
    pub expires_at: String,
    /// Within the next day: follow up now.
    pub expires_soon: bool,
}

/// Codes issued but not redeemed, the soonest to expire first.
#[derive(Debug, Serialize)]
pub struct FollowUpView {
    pub frame: Frame,
    pub rows: Vec<FollowUpRow>,
    pub may_act: bool,
}

#[derive(Debug, Serialize)]
pub struct AuditLine {
    pub at: String,
    /// In words, such as "Access code used".
    pub action: String,
    /// The stable name, such as `code.redeem`, for the export and the API.
    pub action_name: String,
    /// Who, by name where the clinic knows one.
    pub actor: String,
    /// What it was about, a part each.
    pub about: Vec<AuditSubject>,
    pub outcome: String,
    pub reason: String,
    pub ip: String,
}

/// One thing an event was about: a named person, or a kind and a short
/// form of its id (the whole id in `full`).
#[derive(Debug, Serialize)]
pub struct AuditSubject {
    pub kind: String,
    pub label: String,
    pub full: String,
    /// The patient's workspace, for a patient.
    pub link: Option<String>,
}

/// The filters as the form holds them.
#[derive(Debug, Default, Serialize)]
pub struct AuditFilterForm {
    /// Every action in words, for the filter's suggestions.
    pub known_actions: Vec<(String, String)>,
    pub action: String,
    pub outcome: String,
    pub target: String,
    /// `YYYY-MM-DD`, whole days in the clinic's time zone.
    pub since: String,
    pub until: String,
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub frame: Frame,
    pub filter: AuditFilterForm,
    pub lines: Vec<AuditLine>,
    /// The query string of the next page, when there is one.
    pub next_page: Option<String>,
    /// The query string of the CSV export of these filters.
    pub export_query: String,
}

/// The clinic's settings, as the form holds them.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    pub display_name: String,
    /// An IANA name, such as `Europe/Berlin`.
    pub time_zone: String,
    pub primary_colour: String,
    pub accent_colour: String,
    pub logo_url: String,
    pub reply_to: String,
    pub code_lifetime_hours: String,
    /// `email` or `print`.
    pub default_delivery: String,
    pub auto_enable_portal_access: bool,
    pub self_registration: bool,
    pub staff_second_factor_required: bool,
    pub patient_second_factor_required: bool,
    pub proxy_limited_from_age: String,
    pub adult_age: String,
    pub limited_view_appointments: bool,
    pub limited_view_messages: bool,
    pub limited_view_documents: bool,
    pub proxy_code_requires_dob: bool,
    /// Days, or empty for forever.
    pub audit_retention_days: String,
}

#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub frame: Frame,
    /// Set by the platform's operators.
    pub slug: String,
    pub portal_address: String,
    /// The host the clinic asked for, until an operator connects it.
    pub requested_host: Option<String>,
    /// Where the clinic points its host's DNS (a CNAME).
    pub dns_target: String,
    /// Every time zone the clinic may choose.
    pub time_zones: Vec<String>,
    pub may_edit: bool,
    pub form: SettingsForm,
}

#[derive(Debug, Serialize)]
pub struct StaffMemberRow {
    pub id: String,
    pub display_name: String,
    pub email: String,
    /// Deactivated staff cannot log in.
    pub active: bool,
    /// Still on the password someone else chose.
    pub must_change_password: bool,
    /// How many second factors they have.
    pub second_factors: u32,
    /// The row is the signed-in staff member's own.
    pub is_me: bool,
    pub roles: Vec<String>,
}

/// Staff, their roles, and the permission rules in force.
#[derive(Debug, Serialize)]
pub struct StaffView {
    pub frame: Frame,
    pub staff: Vec<StaffMemberRow>,
    /// Every role a staff member can be given here.
    pub roles: Vec<String>,
    pub may_add_staff: bool,
    pub may_assign: bool,
    /// Links to the roles page.
    pub may_read_policies: bool,
}

#[derive(Debug, Serialize)]
pub struct PluginFailureRow {
    pub at: String,
    pub hook: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct PluginRow {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub family: String,
    pub interface: String,
    pub size: String,
    pub uploaded_at: String,
    pub active: bool,
    /// The settings activating it would use, one `name=value` per line:
    /// its own when active, else those of its family's active version
    /// (they carry over unless changed).
    pub settings: String,
    /// Whether it declared what it reads and takes (interface 4.0.0).
    pub declared: bool,
    /// The patient facts it is handed, in words.
    pub reads: Vec<&'static str>,
    /// A declared version's settings, as form fields.
    pub fields: Vec<SettingField>,
    pub calls: i64,
    pub failures: i64,
    /// Verification only: decisions that refused and that asked for more.
    pub denied: i64,
    pub asked: i64,
    pub verification: bool,
    /// The largest share of the instruction budget a recent call used.
    pub peak_fuel: Option<String>,
    pub p50_ms: Option<String>,
    pub p95_ms: Option<String>,
    pub recent_failures: Vec<PluginFailureRow>,
}

/// One declared setting in the activation form.
#[derive(Debug, Serialize)]
pub struct SettingField {
    pub name: String,
    pub label: String,
    pub description: String,
    /// `text`, `list`, `number` or `select`.
    pub control: &'static str,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// A select's values.
    pub options: Vec<String>,
    /// What activating would run with: the family's active value, else the
    /// default.
    pub value: String,
    /// No default: it must be given.
    pub required: bool,
    /// The type, in words, for the hint.
    pub kind: String,
}

#[derive(Debug, Serialize)]
pub struct DryRunResult {
    pub plugin: String,
    pub hook: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub output: Option<String>,
    pub log: Vec<String>,
    pub fuel_used: String,
    pub fuel_limit: String,
    pub fuel_percent: String,
    pub elapsed_us: u128,
    /// Where its settings came from: the input's own, or the active ones.
    pub settings_from: String,
}

#[derive(Debug, Serialize)]
pub struct HookSample {
    pub hook: String,
    pub input: String,
}

/// The clinic's plugins: versions, activation, dry runs and failures.
#[derive(Debug, Serialize)]
pub struct PluginsView {
    pub frame: Frame,
    pub may_manage: bool,
    pub plugins: Vec<PluginRow>,
    pub samples: Vec<HookSample>,
    pub dry_run: Option<DryRunResult>,
    /// What the dry-run form held.
    pub dry_hook: String,
    pub dry_input: String,
}

/// One role's answer for one permission in the grid.
#[derive(Debug, Serialize)]
pub struct GridCell {
    pub role: String,
    /// `role|resource|action`, the checkbox's value.
    pub key: String,
    pub allowed: bool,
    /// Given by the platform to a built-in role: shown, not editable.
    pub builtin: bool,
}

/// One permission across every role.
#[derive(Debug, Serialize)]
pub struct GridRow {
    /// What it lets a person do, in words, as a heading.
    pub words: String,
    /// The same, to end a sentence: "front desk may {phrase}".
    pub phrase: String,
    /// `patients · write`, for those who know the names.
    pub name: String,
    pub cells: Vec<GridCell>,
}

/// Roles and permissions: a grid of what each role may do.
#[derive(Debug, Serialize)]
pub struct RolesView {
    pub frame: Frame,
    pub roles: Vec<String>,
    pub rows: Vec<GridRow>,
    pub resources: Vec<(String, String)>,
    pub may_edit: bool,
}

/// A signed tree head as the integrity page lists it.
#[derive(Debug, Serialize)]
pub struct HeadRow {
    pub id: String,
    pub size: u64,
    pub signed_at: String,
    pub root_hash: String,
    pub key_id: String,
}

/// The audit trail's integrity: the verdict of recomputing the log, the
/// signed heads, retention, and where to get proofs.
#[derive(Debug, Serialize)]
pub struct IntegrityView {
    pub frame: Frame,
    pub verified: bool,
    /// Events in the log, pruned ones included.
    pub size: u64,
    /// "verified up to event N, signed at T", when a head covers it.
    pub verified_up_to: Option<u64>,
    pub signed_at: Option<String>,
    /// What does not hold, in plain words.
    pub problem: Option<String>,
    pub first_bad_seq: Option<u64>,
    pub heads: Vec<HeadRow>,
    pub pruned: u64,
    /// "forever", or a number of days.
    pub retention: String,
    pub key_id: String,
    pub public_key: String,
    pub may_sign: bool,
    pub has_head: bool,
}
