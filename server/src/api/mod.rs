//! The JSON API, described by poem-openapi. Handlers are thin: parse the
//! body into domain values, call `Services`, shape the answer.

mod access_codes;
mod audit;
mod auth;
mod clinic;
mod forms;
mod grants;
mod mail;
mod operator;
mod patients;
mod plugins;
mod portal;
mod records;
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

pub type Apis = (
    auth::AuthApi,
    clinic::ClinicApi,
    staff::StaffApi,
    roles::RolesApi,
    audit::AuditApi,
    patients::PatientsApi,
    access_codes::AccessCodesApi,
    grants::GrantsApi,
    portal::PortalApi,
    forms::FormsApi,
    records::RecordsApi,
    mail::MailApi,
    plugins::PluginsApi,
    operator::OperatorApi,
);

pub fn apis() -> Apis {
    (
        auth::AuthApi,
        clinic::ClinicApi,
        staff::StaffApi,
        roles::RolesApi,
        audit::AuditApi,
        patients::PatientsApi,
        access_codes::AccessCodesApi,
        grants::GrantsApi,
        portal::PortalApi,
        forms::FormsApi,
        records::RecordsApi,
        mail::MailApi,
        plugins::PluginsApi,
        operator::OperatorApi,
    )
}
