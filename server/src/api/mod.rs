//! The JSON API, described by poem-openapi. Handlers are thin: parse the
//! body into domain values, call `Services`, shape the answer.

mod access_codes;
mod audit;
mod auth;
mod clinic;
mod factors;
mod forms;
mod grants;
mod mail;
mod operator;
mod patients;
mod plugins;
mod portal;
mod portal_factors;
mod portal_records;
mod portal_sharing;
mod records;
mod redeem;
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
    /// Patient records and their portal-access switch.
    Patients,
    /// Medical Records Access Codes: issue, follow up, revoke.
    AccessCodes,
    /// The patient portal: codes, accounts, records.
    Portal,
    /// SmartForms: questionnaires for patients.
    Forms,
    /// Delivery status of the clinic's mail.
    Mail,
    /// Documents, notes, appointments and messages shared on a record.
    Records,
    /// The clinic's WebAssembly plugins.
    Plugins,
    /// Platform operators: tenants across the platform.
    Operator,
}

// The order here is the order of the paths in the OpenAPI document. A flat
// tuple holds at most 16 (poem-openapi implements `OpenApi` up to there); to
// add another API, nest a tuple.
pub type Apis = (
    (auth::AuthApi, factors::FactorsApi, factors::PasskeysApi),
    clinic::ClinicApi,
    staff::StaffApi,
    roles::RolesApi,
    audit::AuditApi,
    patients::PatientsApi,
    access_codes::AccessCodesApi,
    grants::GrantsApi,
    redeem::RedeemApi,
    (portal::PortalApi, portal_factors::PortalFactorsApi),
    forms::FormsApi,
    records::RecordsApi,
    (
        portal_records::PortalRecordsApi,
        portal_sharing::PortalSharingApi,
    ),
    mail::MailApi,
    plugins::PluginsApi,
    operator::OperatorApi,
);

pub fn apis() -> Apis {
    (
        (auth::AuthApi, factors::FactorsApi, factors::PasskeysApi),
        clinic::ClinicApi,
        staff::StaffApi,
        roles::RolesApi,
        audit::AuditApi,
        patients::PatientsApi,
        access_codes::AccessCodesApi,
        grants::GrantsApi,
        redeem::RedeemApi,
        (portal::PortalApi, portal_factors::PortalFactorsApi),
        forms::FormsApi,
        records::RecordsApi,
        (
            portal_records::PortalRecordsApi,
            portal_sharing::PortalSharingApi,
        ),
        mail::MailApi,
        plugins::PluginsApi,
        operator::OperatorApi,
    )
}
