use crate::domain::{BuiltinRole, RoleName, StaffId};

pub(crate) const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && (p.dom == r.dom || p.dom == "*") && r.obj == p.obj && r.act == p.act
"#;

/// The domain under which the platform's shared policies live.
pub(crate) const SHARED_DOMAIN: &str = "*";

pub(crate) fn staff_subject(id: StaffId) -> String {
    format!("staff:{id}")
}

pub(crate) fn role_subject(role: &RoleName) -> String {
    format!("role:{role}")
}

pub(crate) fn parse_role_subject(subject: &str) -> Option<RoleName> {
    subject
        .strip_prefix("role:")
        .and_then(|r| RoleName::parse(r).ok())
}

pub(crate) fn parse_staff_subject(subject: &str) -> Option<StaffId> {
    subject
        .strip_prefix("staff:")
        .and_then(|s| StaffId::parse(s).ok())
}

/// The platform's policies for the built-in roles, as `p` rules.
pub(crate) fn builtin_policies() -> Vec<Vec<String>> {
    BuiltinRole::ALL
        .into_iter()
        .flat_map(|role| {
            role.permissions().into_iter().map(move |perm| {
                vec![
                    role_subject(&RoleName::builtin(role)),
                    SHARED_DOMAIN.to_owned(),
                    perm.resource.as_str().to_owned(),
                    perm.action.as_str().to_owned(),
                ]
            })
        })
        .collect()
}
