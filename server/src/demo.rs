//! The demo clinic a newcomer can log in to on first start. Created only on
//! an empty database and never in production mode.

use portico_tenants::acts::patients::NewPatient;
use portico_tenants::acts::redeem::AccountForm;
use portico_tenants::audit::ClientInfo;
use portico_tenants::auth::SecretToken;
use portico_tenants::domain::{
    BuiltinRole, CodeDelivery, DateOfBirth, DisplayName, EmailAddress, NewPassword, PatientId,
    PhoneNumber, PlainPassword, RoleName, Slug, Timestamp, ZipCode,
};
use portico_tenants::family::Relation;
use portico_tenants::operators::Operator;
use portico_tenants::patients::PortalAccess;
use portico_tenants::records::{AppointmentRequest, Upload, WrittenText};
use portico_tenants::registry::Tenant;
use portico_tenants::staff::SessionKind;
use portico_tenants::{Caller, DomainError, Services};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_OWNER_EMAIL: &str = "owner@demo-clinic.example";

/// The demo patient whose portal account exists from the start.
pub const DEMO_PATIENT_EMAIL: &str = "mia.wong@example.org";

/// What to tell the person who started the server, once.
pub struct DemoCredentials {
    pub owner_email: String,
    pub owner_password: String,
    pub operator_token: String,
    /// Mia Wong's portal login (her email and this password).
    pub patient_password: String,
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
            // Off with a note in the banner, so that a newcomer's first
            // login needs no authenticator app; new clinics have it on.
            false,
            &system,
        )
        .await?;
    // The server itself sets up its demo: the passwords it prints are the
    // staff's to keep (one an operator chose must be changed at login).
    let server = Caller::system(tenant.clone());
    let owner_password = generate_password();
    services
        .staff_create(
            &server,
            &EmailAddress::parse(DEMO_OWNER_EMAIL)?,
            &DisplayName::parse("display_name", "Dana Owner")?,
            &NewPassword::parse(owner_password.clone())?,
            &[RoleName::builtin(BuiltinRole::Owner)],
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
                &server,
                &EmailAddress::parse(email)?,
                &DisplayName::parse("display_name", name)?,
                &NewPassword::parse(generate_password())?,
                &[RoleName::builtin(role)],
            )
            .await?;
    }
    let patient_password = generate_password();
    seed_patients(services, &tenant, &owner_password, &patient_password).await?;
    Ok(Some(DemoCredentials {
        owner_email: DEMO_OWNER_EMAIL.into(),
        owner_password,
        operator_token: operator_token.expose().to_owned(),
        patient_password,
    }))
}

/// A few patients, so every page has something in it: Mia with a portal
/// account and things shared on her record, her daughter Ava whose record
/// Mia holds as a parent, her son Leo holding a code not yet redeemed, and
/// Sam without portal access.
async fn seed_patients(
    services: &Services,
    tenant: &Tenant,
    owner_password: &str,
    patient_password: &str,
) -> Result<(), DomainError> {
    let system = ClientInfo::default();
    let visitor = Caller::visitor(tenant.clone(), system.clone());
    let password = PlainPassword::new(owner_password.to_owned())?;
    let session = services
        .staff_login(
            &visitor,
            &EmailAddress::parse(DEMO_OWNER_EMAIL)?,
            &password,
            SessionKind::Bearer,
        )
        .await?;
    // The demo clinic does not require a second factor, and its owner has
    // none: the password signs in.
    let portico_tenants::acts::staff::StaffLogin::Signed(session) = session else {
        return Err(DomainError::NotAllowed(
            "the demo owner has a second factor",
        ));
    };
    let owner = services
        .staff_caller(tenant.clone(), &session.token, system.clone())
        .await?;
    // Issuing codes needs a fresh password confirmation, as for anyone.
    services.staff_step_up(&owner, &password).await?;
    let owner = services
        .staff_caller(tenant.clone(), &session.token, system.clone())
        .await?;
    for (name, dob, email, zip, phone, enable, account) in [
        (
            "Mia Wong",
            "1984-03-12",
            Some(DEMO_PATIENT_EMAIL),
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
                &owner,
                NewPatient {
                    full_name: DisplayName::parse("full_name", name)?,
                    date_of_birth: DateOfBirth::parse(dob)?,
                    email: email.map(EmailAddress::parse).transpose()?,
                    phone: phone.map(PhoneNumber::parse).transpose()?,
                    home_zip: zip.map(ZipCode::parse).transpose()?,
                },
            )
            .await?;
        if enable {
            services
                .patient_set_portal_access(&owner, patient.id, PortalAccess::Enabled)
                .await?;
        }
        if !enable {
            continue;
        }
        let issued = services
            .issue_medical_records_code(&owner, patient.id, CodeDelivery::Print, None)
            .await?;
        // Mia's code is redeemed into her portal account; Leo's waits in
        // the follow-up list, for the clinic to resend or revoke.
        if account {
            let redeemed = services
                .redeem_code(
                    &visitor,
                    issued.code.display(),
                    Some(AccountForm {
                        username: None,
                        email: DEMO_PATIENT_EMAIL.to_owned(),
                        password: patient_password.to_owned(),
                    }),
                    Vec::new(),
                )
                .await?;
            share_with(services, &owner, patient.id).await?;
            if let Some(session) = redeemed.session {
                let mia = services
                    .patient_caller(tenant.clone(), &session.token, system.clone())
                    .await?;
                add_teenager(services, &owner, &mia).await?;
                services.portal_logout(&mia).await?;
            }
        }
    }
    services.staff_logout(&owner).await?;
    Ok(())
}

/// Mia's daughter Ava, fourteen: Mia holds her record as a parent, so the
/// portal shows her the limited view (the appointment, not the
/// confidential note), and the console the relation.
async fn add_teenager(
    services: &Services,
    owner: &Caller,
    mia: &Caller,
) -> Result<(), DomainError> {
    let today = time::OffsetDateTime::now_utc().date();
    let born = today
        .replace_year(today.year() - 14)
        .unwrap_or(today)
        .saturating_sub(time::Duration::days(60));
    let ava = services
        .patient_create(
            owner,
            NewPatient {
                full_name: DisplayName::parse("full_name", "Ava Wong")?,
                date_of_birth: DateOfBirth::parse(&born.to_string())?,
                email: Some(EmailAddress::parse("mia.wong@example.org")?),
                phone: None,
                home_zip: Some(ZipCode::parse("10001")?),
            },
        )
        .await?;
    services
        .patient_set_portal_access(owner, ava.id, PortalAccess::Enabled)
        .await?;
    services
        .note_write(
            owner,
            ava.id,
            &WrittenText::parse(
                "body",
                "As we discussed, you can call the clinic's youth line any weekday. This note is \
                 confidential: your parents do not see it in the portal.",
            )?,
            true,
        )
        .await?;
    services
        .appointment_book(
            owner,
            ava.id,
            &AppointmentRequest::parse(
                &Timestamp::now()
                    .plus(std::time::Duration::from_secs(9 * 24 * 3600))
                    .to_rfc3339(),
                20,
                "Dr. Okafor",
                "Room 3",
                Some("Sports check-up"),
            )?,
        )
        .await?;
    let code = services
        .issue_medical_records_code(owner, ava.id, CodeDelivery::Print, Some(Relation::Parent))
        .await?;
    services
        .redeem_code(mia, code.code.display(), None, Vec::new())
        .await?;
    Ok(())
}

/// What the clinic has shared with Mia: a lab report, a vaccination
/// record, a note, an appointment next week, and a message.
async fn share_with(
    services: &Services,
    owner: &Caller,
    patient: PatientId,
) -> Result<(), DomainError> {
    let lab = Upload::parse(
        "lab-results-2026-11.pdf",
        demo_pdf(&[
            "Demo Clinic - Laboratory report",
            "Patient: Mia Wong",
            "Complete blood count: within normal range",
            "Cholesterol (total): 182 mg/dL",
            "This is demonstration data.",
        ]),
    )?;
    services
        .document_upload(owner, patient, Some("Blood test results"), lab, false)
        .await?;
    let vaccinations = Upload::parse(
        "vaccinations.txt",
        b"Vaccination record - Mia Wong\n\n2024-10-02  Influenza\n2025-10-14  Influenza\n2026-10-09  Influenza, COVID-19\n"
            .to_vec(),
    )?;
    services
        .document_upload(
            owner,
            patient,
            Some("Vaccination record"),
            vaccinations,
            false,
        )
        .await?;
    services
        .note_write(
            owner,
            patient,
            &WrittenText::parse(
                "body",
                "Your blood test results are all within the normal range. No change to your \
                 medication. We will see you at your check-up next week.",
            )?,
            false,
        )
        .await?;
    let next_week = Timestamp::now().plus(std::time::Duration::from_secs(7 * 24 * 3600));
    let at_nine =
        next_week.unix_millis() - next_week.unix_millis() % (24 * 3600 * 1000) + 9 * 3600 * 1000;
    services
        .appointment_book(
            owner,
            patient,
            &AppointmentRequest::parse(
                &Timestamp::from_unix_millis(at_nine).to_rfc3339(),
                30,
                "Dr. Priya Practitioner",
                "Room 2, first floor",
                Some("Annual check-up"),
            )?,
        )
        .await?;
    services
        .message_send(
            owner,
            patient,
            &WrittenText::parse(
                "body",
                "Welcome to our patient portal, Mia. You can write to us here at any time; \
                 we answer within two working days.",
            )?,
            None,
        )
        .await?;
    Ok(())
}

/// A one-page PDF showing `lines`, so the demo's lab report opens in any
/// browser's viewer. The cross-reference table needs each object's byte
/// offset, hence the bookkeeping.
fn demo_pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 14 Tf 72 760 Td 20 TL");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        text.push_str(&format!(" ({escaped}) Tj T*"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
