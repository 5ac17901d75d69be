//! Shapes of the API's answers, built from domain values.

use poem_openapi::Object;
use portico_tenants::registry::Tenant;
use portico_tenants::staff::StaffMember;

#[derive(Object)]
pub struct StaffView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// `active` or `disabled` (deactivated: cannot log in).
    pub status: String,
    pub created_at: String,
    /// Their password was set by someone else; they must choose their own
    /// at the next login before they can do anything else.
    pub must_change_password: bool,
    /// How many second factors (authenticator apps, passkeys) they have.
    pub second_factors: u32,
}

impl From<&StaffMember> for StaffView {
    fn from(m: &StaffMember) -> Self {
        Self {
            id: m.id.to_string(),
            email: m.email.to_string(),
            display_name: m.display_name.to_string(),
            status: m.status.as_str().into(),
            created_at: m.created_at.to_rfc3339(),
            must_change_password: m.must_change_password,
            second_factors: m.second_factors,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    /// `active` or `suspended`.
    pub status: String,
    pub custom_domain: Option<String>,
    /// A host the clinic asked for, not yet connected by an operator.
    pub requested_custom_domain: Option<String>,
    pub created_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            display_name: t.display_name.to_string(),
            status: t.status.as_str().into(),
            custom_domain: t.custom_domain.clone(),
            requested_custom_domain: t.requested_custom_domain.as_ref().map(ToString::to_string),
            created_at: t.created_at.to_rfc3339(),
        }
    }
}
