use portico_tenants::Act;
use portico_tenants::acts;
use serde::Serialize;

/// A part of the console, shown only to those whom the door would let
/// through to the act behind it: a role that may not act sees no control
/// for it, and the act refuses it regardless.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub key: &'static str,
    pub title: &'static str,
    /// Where it lives under the console's address.
    pub path: &'static str,
    /// The act its page asks for first.
    #[serde(skip)]
    pub opens: &'static Act,
}

const SECTIONS: &[(&str, &str, &str, &Act)] = &[
    ("patients", "Patients", "/patients", &acts::PATIENT_READ),
    ("forms", "SmartForms", "/forms", &acts::FORMS_READ),
    (
        "follow_up",
        "Codes to follow up",
        "/follow-up",
        &acts::CODES_READ,
    ),
    ("staff", "Staff", "/staff", &acts::STAFF_LIST),
    (
        "roles",
        "Roles and permissions",
        "/roles",
        &acts::POLICIES_READ,
    ),
    ("audit", "Audit trail", "/audit", &acts::AUDIT_READ),
    (
        "settings",
        "Clinic settings",
        "/settings",
        &acts::SETTINGS_READ,
    ),
    ("plugins", "Plugins", "/plugins", &acts::PLUGINS_READ),
];

/// Every section, in console order.
pub fn all_sections() -> Vec<Section> {
    SECTIONS
        .iter()
        .map(|(key, title, path, opens)| Section {
            key,
            title,
            path,
            opens,
        })
        .collect()
}

/// The sections whose acts `allowed` lets the staff member reach, in
/// console order.
pub fn sections_for(mut allowed: impl FnMut(&Act) -> bool) -> Vec<Section> {
    all_sections()
        .into_iter()
        .filter(|s| allowed(s.opens))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_sees_only_what_it_may_use() {
        let auditor = ["audit.read", "staff.list"];
        let keys: Vec<_> = sections_for(|act| auditor.contains(&act.name))
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(keys, ["staff", "audit"]);
        let desk = ["patient.read"];
        let keys: Vec<_> = sections_for(|act| desk.contains(&act.name))
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(keys, ["patients"]);
        assert!(sections_for(|_| false).is_empty());
    }
}
