//! The pages that look across patients: the follow-up list of codes not
//! yet redeemed, and the audit trail with its filters.

use serde::Serialize;

use crate::patients::Frame;

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
    pub action: String,
    pub actor: String,
    pub target: String,
    pub outcome: String,
    pub reason: String,
    pub ip: String,
}

/// The filters as the form holds them.
#[derive(Debug, Default, Serialize)]
pub struct AuditFilterForm {
    pub action: String,
    pub outcome: String,
    pub target: String,
    /// `YYYY-MM-DD`, in UTC.
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
