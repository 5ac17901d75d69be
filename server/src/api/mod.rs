//! The JSON API, described by poem-openapi. Handlers are thin: parse the
//! body into domain values, call `Services`, shape the answer.

mod audit;
mod auth;
mod clinic;
mod operator;
mod roles;
mod staff;
mod views;

use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Staff login, sessions and passwords.
    Auth,
    /// The clinic the request is for.
    Clinic,
    /// The clinic's staff accounts.
    Staff,
    /// Role assignments and permission policies of the clinic.
    Roles,
    /// The clinic's audit trail.
    Audit,
    /// Platform operators: tenants across the platform.
    Operator,
}

pub type Apis = (
    auth::AuthApi,
    clinic::ClinicApi,
    staff::StaffApi,
    roles::RolesApi,
    audit::AuditApi,
    operator::OperatorApi,
);

pub fn apis() -> Apis {
    (
        auth::AuthApi,
        clinic::ClinicApi,
        staff::StaffApi,
        roles::RolesApi,
        audit::AuditApi,
        operator::OperatorApi,
    )
}
