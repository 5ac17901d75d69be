use serde::Serialize;

use super::patients::Frame;

/// The question asked before an act that cannot be taken back: what it
/// acts on, by name, and what follows from it. Its button repeats the
/// original form with `confirmed=yes`; the other way out changes nothing.
#[derive(Debug, Serialize)]
pub struct ConfirmView {
    pub frame: Frame,
    /// The question, naming the patient or account.
    pub question: String,
    /// What the act does, a sentence each.
    pub facts: Vec<String>,
    /// Where the confirmed form goes.
    pub action: String,
    /// The original form's fields, sent again as they were.
    pub fields: Vec<(String, String)>,
    pub confirm_label: String,
    pub keep_href: String,
    pub keep_label: String,
    /// The act needs a fresh confirmation: a field for the password or a
    /// code from the authenticator app.
    pub ask_password: bool,
}
