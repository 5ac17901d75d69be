//! What a clinic's verification rule may ask a patient, and what the
//! patient answers. The domain's own words for it: the plugin interface
//! has its wire types, mapped to these in one place (`acts/plugin_rules`),
//! so no interface version reaches the HTTP layer.

use serde::Serialize;

/// A detail the rule asks for before it rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AskedField {
    /// The name to send the answer back under.
    pub name: String,
    /// The question as the patient reads it.
    pub label: String,
    pub kind: AskedKind,
}

/// How to ask for a detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AskedKind {
    Date,
    Text,
    ZipCode,
}

/// The patient's answer to one [`AskedField`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenAnswer {
    pub name: String,
    pub value: String,
}
