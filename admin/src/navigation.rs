use portico_tenants::domain::{Action, Permission, Resource};
use serde::Serialize;

/// A part of the console, shown only to those whose role allows its
/// permission: a role that may not act sees no control for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub key: &'static str,
    pub title: &'static str,
    /// Where it lives under the console's address.
    pub path: &'static str,
    #[serde(skip)]
    pub needs: Permission,
}

const SECTIONS: &[(&str, &str, &str, Resource, Action)] = &[
    (
        "patients",
        "Patients",
        "/patients",
        Resource::Patients,
        Action::Read,
    ),
    (
        "forms",
        "SmartForms",
        "/forms",
        Resource::Forms,
        Action::Read,
    ),
    (
        "follow_up",
        "Codes to follow up",
        "/follow-up",
        Resource::AccessCodes,
        Action::Read,
    ),
    ("staff", "Staff", "/staff", Resource::Staff, Action::Read),
    (
        "roles",
        "Roles and permissions",
        "/staff",
        Resource::Roles,
        Action::Read,
    ),
    (
        "audit",
        "Audit trail",
        "/audit",
        Resource::Audit,
        Action::Read,
    ),
    (
        "settings",
        "Clinic settings",
        "/settings",
        Resource::Settings,
        Action::Read,
    ),
    (
        "plugins",
        "Plugins",
        "/plugins",
        Resource::Plugins,
        Action::Read,
    ),
];

/// Every section, in console order.
pub fn all_sections() -> Vec<Section> {
    SECTIONS
        .iter()
        .map(|(key, title, path, resource, action)| Section {
            key,
            title,
            path,
            needs: Permission::new(*resource, *action),
        })
        .collect()
}

/// The sections `allowed` lets the staff member see, in console order.
pub fn sections_for(mut allowed: impl FnMut(Permission) -> bool) -> Vec<Section> {
    all_sections()
        .into_iter()
        .filter(|s| allowed(s.needs))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_sees_only_what_it_may_use() {
        let auditor = [
            Permission::new(Resource::Audit, Action::Read),
            Permission::new(Resource::Staff, Action::Read),
        ];
        let keys: Vec<_> = sections_for(|p| auditor.contains(&p))
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(keys, ["staff", "audit"]);
        let desk = [Permission::new(Resource::Patients, Action::Read)];
        let keys: Vec<_> = sections_for(|p| desk.contains(&p))
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(keys, ["patients"]);
        assert!(sections_for(|_| false).is_empty());
    }
}
