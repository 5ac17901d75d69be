//! The demo clinic a newcomer can log in to on first start. Created only on
//! an empty database and never in production mode.

use portico_tenants::audit::{Actor, ClientInfo};
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{
    BuiltinRole, CodeDelivery, DateOfBirth, DisplayName, EmailAddress, NewPassword, PhoneNumber,
    PlainPassword, RoleName, Slug, ZipCode,
};
use portico_tenants::operators::Operator;
use portico_tenants::patients::{NewPatient, PortalAccess};
use portico_tenants::registry::Tenant;
use portico_tenants::staff::SessionKind;
use portico_tenants::{DomainError, Services};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_OWNER_EMAIL: &str = "owner@demo-clinic.example";

/// What to tell the person who started the server, once.
pub struct DemoCredentials {
    pub owner_email: String,
    pub owner_password: String,
    pub operator_token: String,
}

/// A password that is easy to copy and long enough: 20 URL-safe characters
/// (120 bits).
pub fn generate_password() -> String {
    SecretToken::generate().expose()[..20].to_owned()
}

/// Creates the demo clinic when the platform has no tenant yet.
pub async fn ensure(services: &Services) -> Result<Option<DemoCredentials>, DomainError> {
    if !services.list_tenants().await?.is_empty() {
        return Ok(None);
    }
    let operator_token = services.create_operator_token("demo-operator").await?;
    let operator = Operator {
        name: "demo-operator".into(),
    };
    let system = ClientInfo::default();
    let tenant = services
        .create_tenant(
            &operator,
            &Slug::parse(DEMO_SLUG)?,
            &DisplayName::parse("display_name", "Demo Clinic")?,
            None,
            &system,
        )
        .await?;
    let owner_password = generate_password();
    services
        .create_owner(
            &operator,
            &tenant,
            &EmailAddress::parse(DEMO_OWNER_EMAIL)?,
            &DisplayName::parse("display_name", "Dana Owner")?,
            &NewPassword::parse(owner_password.clone())?,
            &system,
        )
        .await?;
    // Colleagues in the other built-in roles, so the role model has people
    // to show. Their passwords are random; the owner can reset them.
    for (email, name, role) in [
        (
            "admin@demo-clinic.example",
            "Alex Admin",
            BuiltinRole::Admin,
        ),
        (
            "doctor@demo-clinic.example",
            "Dr. Priya Practitioner",
            BuiltinRole::Practitioner,
        ),
        (
            "desk@demo-clinic.example",
            "Frankie Front Desk",
            BuiltinRole::FrontDesk,
        ),
        (
            "auditor@demo-clinic.example",
            "Aud Itor",
            BuiltinRole::Auditor,
        ),
    ] {
        services
            .staff_create(
                &tenant,
                Actor::System,
                &EmailAddress::parse(email)?,
                &DisplayName::parse("display_name", name)?,
                &NewPassword::parse(generate_password())?,
                &[RoleName::builtin(role)],
                &system,
            )
            .await?;
    }
    seed_patients(services, &tenant, &owner_password).await?;
    Ok(Some(DemoCredentials {
        owner_email: DEMO_OWNER_EMAIL.into(),
        owner_password,
        operator_token: operator_token.expose().to_owned(),
    }))
}

/// A few patients, so every list has something in it: two with portal
/// access (one holding a code not yet redeemed), one without.
async fn seed_patients(
    services: &Services,
    tenant: &Tenant,
    owner_password: &str,
) -> Result<(), DomainError> {
    let system = ClientInfo::default();
    let session = services
        .staff_login(
            tenant,
            &EmailAddress::parse(DEMO_OWNER_EMAIL)?,
            &PlainPassword::new(owner_password.to_owned())?,
            SessionKind::Bearer,
            &system,
        )
        .await?;
    let owner = services.staff_authenticate(tenant, &session.token).await?;
    for (name, dob, email, zip, phone, enable, code) in [
        (
            "Mia Wong",
            "1984-03-12",
            Some("mia.wong@example.org"),
            Some("10001"),
            Some("+1 555 010 0101"),
            true,
            true,
        ),
        (
            "Leo Wong",
            "2016-07-30",
            Some("mia.wong@example.org"),
            Some("10001"),
            None,
            true,
            false,
        ),
        (
            "Sam Patel",
            "1957-11-02",
            None,
            None,
            Some("+1 555 010 0199"),
            false,
            false,
        ),
    ] {
        let patient = services
            .patient_create(
                tenant,
                &owner,
                NewPatient {
                    full_name: DisplayName::parse("full_name", name)?,
                    date_of_birth: DateOfBirth::parse(dob)?,
                    email: email.map(EmailAddress::parse).transpose()?,
                    phone: phone.map(PhoneNumber::parse).transpose()?,
                    home_zip: zip.map(ZipCode::parse).transpose()?,
                },
                &system,
            )
            .await?;
        if enable {
            services
                .patient_set_portal_access(
                    tenant,
                    &owner,
                    patient.id,
                    PortalAccess::Enabled,
                    &system,
                )
                .await?;
        }
        if code {
            services
                .issue_medical_records_code(
                    tenant,
                    &owner,
                    patient.id,
                    CodeDelivery::Print,
                    &system,
                )
                .await?;
        }
    }
    services.staff_logout(tenant, &owner, &system).await?;
    Ok(())
}
