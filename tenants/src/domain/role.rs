use std::fmt;

use super::InvalidValue;

/// The roles every tenant has from the start. Their permissions are the
/// platform's, shared by every tenant; a tenant adds its own on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    Owner,
    Admin,
    Practitioner,
    FrontDesk,
    Auditor,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 5] = [
        Self::Owner,
        Self::Admin,
        Self::Practitioner,
        Self::FrontDesk,
        Self::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Practitioner => "practitioner",
            Self::FrontDesk => "front_desk",
            Self::Auditor => "auditor",
        }
    }

    /// The platform's permissions for this role.
    pub fn permissions(self) -> Vec<Permission> {
        use Action::*;
        use Resource::*;
        let all = || {
            Resource::ALL
                .iter()
                .flat_map(|r| Action::ALL.iter().map(move |a| Permission::new(*r, *a)))
                .collect()
        };
        match self {
            Self::Owner | Self::Admin => all(),
            // Those who see patients manage records, share documents,
            // notes, appointments and messages, and hand out access
            // codes; sensitive changes to an enabled portal
            // (`portal_security`) stay with owners and admins.
            Self::Practitioner | Self::FrontDesk => vec![
                Permission::new(Staff, Read),
                Permission::new(Settings, Read),
                Permission::new(Patients, Read),
                Permission::new(Patients, Write),
                Permission::new(AccessCodes, Read),
                Permission::new(AccessCodes, Write),
                Permission::new(Forms, Read),
                Permission::new(Forms, Write),
                Permission::new(Records, Read),
                Permission::new(Records, Write),
            ],
            // Auditors check who did what; what is shared on a record
            // (`records`) is clinical content they have no need to read.
            Self::Auditor => vec![
                Permission::new(Audit, Read),
                Permission::new(Staff, Read),
                Permission::new(Roles, Read),
                Permission::new(Policies, Read),
                Permission::new(Settings, Read),
                Permission::new(Patients, Read),
                Permission::new(AccessCodes, Read),
                Permission::new(Forms, Read),
            ],
        }
    }
}

/// A role name: a built-in role or one the tenant made up
/// (`[a-z][a-z0-9_]{1,31}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = (2..=32).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "role",
                "must be 2 to 32 characters: lowercase letters, digits and underscores, starting with a letter",
            ))
        }
    }

    pub fn builtin(role: BuiltinRole) -> Self {
        Self(role.as_str().to_owned())
    }

    pub fn as_builtin(&self) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.as_str() == self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident, $field:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(InvalidValue::new($field, format!(
                        "must be one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// What a permission is about: a kind of resource, not a single row, so
    /// a check is a plain equality (see docs/architecture.md on casbin cost).
    Resource, "resource", {
        Settings => "settings",
        Staff => "staff",
        Roles => "roles",
        Policies => "policies",
        Audit => "audit",
        Patients => "patients",
        AccessCodes => "access_codes",
        PortalSecurity => "portal_security",
        Forms => "forms",
        Plugins => "plugins",
        Records => "records",
    }
);

closed_set!(
    /// What may be done to a resource.
    Action, "action", {
        Read => "read",
        Write => "write",
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permission {
    pub resource: Resource,
    pub action: Action,
}

impl Permission {
    pub const fn new(resource: Resource, action: Action) -> Self {
        Self { resource, action }
    }

    /// Every permission there is, resource by resource: the rows of the
    /// console's grid.
    pub fn all() -> Vec<Permission> {
        Resource::ALL
            .iter()
            .flat_map(|r| Action::ALL.iter().map(move |a| Permission::new(*r, *a)))
            .collect()
    }

    /// What the permission lets a person do, in the words a front desk
    /// uses: "your role does not let you {this}".
    pub fn in_words(self) -> &'static str {
        use Action::{Read, Write};
        use Resource::*;
        match (self.resource, self.action) {
            (Settings, Read) => "see the clinic's settings",
            (Settings, Write) => "change the clinic's settings",
            (Staff, Read) => "see the staff list",
            (Staff, Write) => "add, change or deactivate staff",
            (Roles, Read) => "see who has which role",
            (Roles, Write) => "give or take roles",
            (Policies, Read) => "see what each role may do",
            (Policies, Write) => "change what each role may do",
            (Audit, Read) => "read the audit trail",
            (Audit, Write) => "change the audit trail",
            (Patients, Read) => "see patients",
            (Patients, Write) => "add patients or change their details",
            (AccessCodes, Read) => "see access codes",
            (AccessCodes, Write) => "give or cancel access codes",
            (PortalSecurity, Read) => "see the portal's security settings",
            (PortalSecurity, Write) => {
                "change where a patient's portal access goes, such as the email of a patient who has a portal account"
            }
            (Forms, Read) => "see SmartForms",
            (Forms, Write) => "create or assign SmartForms",
            (Plugins, Read) => "see the clinic's plugins",
            (Plugins, Write) => "install, set up or remove plugins",
            (Records, Read) => "read what is shared with patients",
            (Records, Write) => "share documents, notes, appointments or messages with patients",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_narrow() {
        assert!(RoleName::parse("billing_clerk").is_ok());
        for bad in [
            "",
            "a",
            "Admin",
            "1st",
            "role:owner",
            "x y",
            &"a".repeat(33),
        ] {
            assert!(RoleName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RoleName::parse("front_desk").unwrap().as_builtin(),
            Some(BuiltinRole::FrontDesk)
        );
    }

    #[test]
    fn auditor_reads_audit_but_changes_nothing() {
        let perms = BuiltinRole::Auditor.permissions();
        assert!(perms.contains(&Permission::new(Resource::Audit, Action::Read)));
        assert!(perms.iter().all(|p| p.action == Action::Read));
    }
}
