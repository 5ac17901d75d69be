use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{
    ClinicTimeZone, CodeDelivery, CodeLifetime, Colour, DisplayName, EmailAddress, LogoUrl,
    PortalHost, RetentionDays,
};
use portico_tenants::family::{AgeRules, LimitedParts};
use portico_tenants::registry::{Tenant, TenantBranding, TenantSettings};

use super::ApiTags;
use super::views::TenantView;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::ApiResult;
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct ClinicApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SettingsView {
    /// The clinic's name, on every portal page and mail.
    pub display_name: String,
    /// An IANA time zone, such as `Europe/Berlin`: appointments are booked
    /// and times shown in it.
    pub time_zone: String,
    /// Enable portal access when a record is created with an email and zip
    /// code, without a further confirmation.
    pub auto_enable_portal_access: bool,
    /// Whether visitors may register online without a code (as when
    /// booking a first appointment). Off: the portal's registration asks
    /// for a code from the clinic.
    pub self_registration: bool,
    /// Every staff member must sign in with a second factor (an
    /// authenticator app or a passkey) as well as their password.
    pub staff_second_factor_required: bool,
    /// Every patient passes a second step at sign-in: the authenticator
    /// app or passkey they set up, or else a code by email.
    pub patient_second_factor_required: bool,
    /// How long a Medical Records Access Code lives: 1 to 120 hours.
    pub code_lifetime_hours: u32,
    /// `email` or `print`.
    pub default_delivery: String,
    /// The clinic's colours, `#rrggbb`, used in its mail and portal.
    pub primary_colour: String,
    pub accent_colour: String,
    /// An `https://` address of the clinic's logo, for the portal.
    pub logo_url: Option<String>,
    /// Where replies to the clinic's mail go.
    pub reply_to: Option<String>,
    /// From this birthday (on the clinic's calendar) a parent's proxy sees
    /// the limited view: never notes, never confidential items.
    pub proxy_limited_from_age: u32,
    /// On this birthday a parent's proxy ends: 16 to 21.
    pub adult_age: u32,
    /// What the limited view shows: appointments,
    pub limited_view_appointments: bool,
    /// messages with the clinic,
    pub limited_view_messages: bool,
    /// and shared documents not marked confidential.
    pub limited_view_documents: bool,
    /// A parent's or caregiver's code is redeemed only with the patient's
    /// date of birth; three wrong dates cancel it.
    pub proxy_code_requires_dob: bool,
    /// How many days audit events are kept before retention prunes them
    /// (what was pruned stays summarised by a signed tree head); absent
    /// when they are kept forever.
    pub audit_retention_days: Option<u32>,
}

impl From<&Tenant> for SettingsView {
    fn from(t: &Tenant) -> Self {
        Self {
            display_name: t.display_name.to_string(),
            time_zone: t.settings.time_zone.name().to_owned(),
            auto_enable_portal_access: t.settings.auto_enable_portal_access,
            self_registration: t.settings.self_registration,
            staff_second_factor_required: t.settings.staff_second_factor_required,
            patient_second_factor_required: t.settings.patient_second_factor_required,
            code_lifetime_hours: (t.settings.code_lifetime.as_secs() / 3600) as u32,
            default_delivery: t.settings.default_delivery.as_str().into(),
            primary_colour: t.settings.branding.primary_colour.to_string(),
            accent_colour: t.settings.branding.accent_colour.to_string(),
            logo_url: t
                .settings
                .branding
                .logo_url
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            reply_to: t
                .settings
                .branding
                .reply_to
                .as_ref()
                .map(ToString::to_string),
            proxy_limited_from_age: u32::from(t.settings.age_rules.limited_from()),
            adult_age: u32::from(t.settings.age_rules.adult_at()),
            limited_view_appointments: t.settings.age_rules.limited_parts().appointments,
            limited_view_messages: t.settings.age_rules.limited_parts().messages,
            limited_view_documents: t.settings.age_rules.limited_parts().documents,
            proxy_code_requires_dob: t.settings.proxy_code_requires_dob,
            audit_retention_days: t.settings.audit_retention.map(RetentionDays::days),
        }
    }
}

/// Fields left out stay as they are.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct SettingsRequest {
    #[oai(validator(max_length = 120))]
    pub display_name: Option<Text>,
    /// An IANA time zone name, such as `America/Chicago`.
    #[oai(validator(max_length = 64))]
    pub time_zone: Option<Text>,
    pub auto_enable_portal_access: Option<bool>,
    pub self_registration: Option<bool>,
    pub staff_second_factor_required: Option<bool>,
    pub patient_second_factor_required: Option<bool>,
    /// 1 to 120 hours; a code never lives longer than 5 days.
    pub code_lifetime_hours: Option<u32>,
    #[oai(validator(max_length = 10))]
    pub default_delivery: Option<Text>,
    #[oai(validator(max_length = 7))]
    pub primary_colour: Option<Text>,
    #[oai(validator(max_length = 7))]
    pub accent_colour: Option<Text>,
    /// `null` removes it.
    #[oai(nullable, validator(max_length = 500))]
    pub logo_url: MaybeUndefined<Text>,
    /// `null` removes it.
    #[oai(nullable, validator(max_length = 254))]
    pub reply_to: MaybeUndefined<Text>,
    /// 1 to one below `adult_age`.
    pub proxy_limited_from_age: Option<u32>,
    /// 16 to 21.
    pub adult_age: Option<u32>,
    pub limited_view_appointments: Option<bool>,
    pub limited_view_messages: Option<bool>,
    pub limited_view_documents: Option<bool>,
    pub proxy_code_requires_dob: Option<bool>,
    /// 365 (a year) to 36500 days; 2190 is HIPAA's six years. `null` keeps
    /// events forever. Shortening it needs a recent confirmation
    /// (`POST /v1/auth/step-up`).
    #[oai(nullable)]
    pub audit_retention_days: MaybeUndefined<i64>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PortalHostRequest {
    /// Such as `portal.northclinic.org`; `null` withdraws the request.
    #[oai(validator(max_length = 253))]
    pub requested_host: Option<Text>,
}

#[OpenApi(prefix_path = "/v1/clinic", tag = "ApiTags::Clinic")]
impl ClinicApi {
    /// The clinic this request is for.
    #[oai(path = "/", method = "get")]
    async fn show(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<TenantView>> {
        let clinic = state.services.clinic_settings(&session.caller).await?;
        Ok(Json(TenantView::from(&clinic)))
    }

    /// How the clinic runs portal access.
    #[oai(path = "/settings", method = "get")]
    async fn settings(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<SettingsView>> {
        let clinic = state.services.clinic_settings(&session.caller).await?;
        Ok(Json(SettingsView::from(&clinic)))
    }

    /// Change how the clinic runs portal access.
    #[oai(path = "/settings", method = "patch")]
    async fn update_settings(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<SettingsRequest>,
    ) -> ApiResult<Json<SettingsView>> {
        let b = body.0;
        let current = &session.tenant().settings;
        let display_name = match b.display_name {
            Some(n) => DisplayName::parse("display_name", &n)?,
            None => session.tenant().display_name.clone(),
        };
        let rules = current.age_rules;
        let parts = rules.limited_parts();
        let age_rules = AgeRules::new(
            i64::from(
                b.proxy_limited_from_age
                    .unwrap_or(u32::from(rules.limited_from())),
            ),
            i64::from(b.adult_age.unwrap_or(u32::from(rules.adult_at()))),
            LimitedParts {
                appointments: b.limited_view_appointments.unwrap_or(parts.appointments),
                messages: b.limited_view_messages.unwrap_or(parts.messages),
                documents: b.limited_view_documents.unwrap_or(parts.documents),
            },
        )?;
        let settings = TenantSettings {
            age_rules,
            proxy_code_requires_dob: b
                .proxy_code_requires_dob
                .unwrap_or(current.proxy_code_requires_dob),
            audit_retention: match b.audit_retention_days {
                MaybeUndefined::Undefined => current.audit_retention,
                MaybeUndefined::Null => None,
                MaybeUndefined::Value(days) => Some(RetentionDays::new(days)?),
            },
            time_zone: match b.time_zone {
                Some(z) => ClinicTimeZone::parse(&z)?,
                None => current.time_zone.clone(),
            },
            auto_enable_portal_access: b
                .auto_enable_portal_access
                .unwrap_or(current.auto_enable_portal_access),
            self_registration: b.self_registration.unwrap_or(current.self_registration),
            staff_second_factor_required: b
                .staff_second_factor_required
                .unwrap_or(current.staff_second_factor_required),
            patient_second_factor_required: b
                .patient_second_factor_required
                .unwrap_or(current.patient_second_factor_required),
            code_lifetime: match b.code_lifetime_hours {
                Some(h) => CodeLifetime::from_hours(h)?,
                None => current.code_lifetime,
            },
            default_delivery: match b.default_delivery {
                Some(d) => CodeDelivery::parse(&d)?,
                None => current.default_delivery,
            },
            branding: TenantBranding::readable(
                match b.primary_colour {
                    Some(c) => Colour::parse("primary_colour", &c)?,
                    None => current.branding.primary_colour.clone(),
                },
                match b.accent_colour {
                    Some(c) => Colour::parse("accent_colour", &c)?,
                    None => current.branding.accent_colour.clone(),
                },
                match b.logo_url {
                    MaybeUndefined::Undefined => current.branding.logo_url.clone(),
                    MaybeUndefined::Null => None,
                    MaybeUndefined::Value(u) => Some(LogoUrl::parse(&u)?),
                },
                match b.reply_to {
                    MaybeUndefined::Undefined => current.branding.reply_to.clone(),
                    MaybeUndefined::Null => None,
                    MaybeUndefined::Value(e) => Some(EmailAddress::parse(&e)?),
                },
            )?,
        };
        let updated = state
            .services
            .update_tenant_settings(&session.caller, &display_name, &settings)
            .await?;
        Ok(Json(SettingsView::from(&updated)))
    }

    /// Ask the platform's operators to connect the portal to a host of the
    /// clinic's own (`null` withdraws the request). Point the host's DNS
    /// (a CNAME) at the clinic's current portal host first; patients keep
    /// the current address until an operator connects the new one.
    #[oai(path = "/portal-host", method = "put")]
    async fn request_portal_host(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<PortalHostRequest>,
    ) -> ApiResult<Json<TenantView>> {
        let host = body
            .0
            .requested_host
            .map(|h| PortalHost::parse("requested_host", &h))
            .transpose()?;
        let updated = state
            .services
            .request_portal_host(&session.caller, host.as_ref())
            .await?;
        Ok(Json(TenantView::from(&updated)))
    }
}
