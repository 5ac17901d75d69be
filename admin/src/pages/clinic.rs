//! The clinic's own setup: its settings (branding, code lifetime, default
//! delivery), its staff and their roles, and the permission rules.

use portico_tenants::acts;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::views::{Console, SettingsForm, SettingsView, StaffMemberRow, StaffView};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::DomainError;
use portico_tenants::domain::InvalidValue;
use portico_tenants::domain::{
    BuiltinRole, ClinicTimeZone, CodeDelivery, CodeLifetime, Colour, DisplayName, EmailAddress,
    LogoUrl, NewPassword, PortalHost, RetentionDays, RoleName, StaffId,
};
use portico_tenants::family::{AgeRules, LimitedParts};
use portico_tenants::registry::{Tenant, TenantBranding, TenantSettings};
use portico_tenants::staff::StaffStatus;
use serde::Deserialize;

use super::{CsrfOnly, Signed, page, redirect, refusal, render_failed};
use portico_web::AppState;
use portico_web::error::ApiError;

fn form_of(t: &Tenant) -> SettingsForm {
    let s = &t.settings;
    SettingsForm {
        display_name: t.display_name.to_string(),
        time_zone: s.time_zone.name().to_owned(),
        primary_colour: s.branding.primary_colour.as_str().to_owned(),
        accent_colour: s.branding.accent_colour.as_str().to_owned(),
        logo_url: s
            .branding
            .logo_url
            .as_ref()
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default(),
        reply_to: s
            .branding
            .reply_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        code_lifetime_hours: (s.code_lifetime.as_secs() / 3600).to_string(),
        default_delivery: s.default_delivery.as_str().to_owned(),
        auto_enable_portal_access: s.auto_enable_portal_access,
        self_registration: s.self_registration,
        staff_second_factor_required: s.staff_second_factor_required,
        patient_second_factor_required: s.patient_second_factor_required,
        proxy_limited_from_age: s.age_rules.limited_from().to_string(),
        adult_age: s.age_rules.adult_at().to_string(),
        limited_view_appointments: s.age_rules.limited_parts().appointments,
        limited_view_messages: s.age_rules.limited_parts().messages,
        limited_view_documents: s.age_rules.limited_parts().documents,
        proxy_code_requires_dob: s.proxy_code_requires_dob,
        audit_retention_days: s
            .audit_retention
            .map(|r| r.days().to_string())
            .unwrap_or_default(),
    }
}

async fn settings_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    form: SettingsForm,
    status: StatusCode,
) -> poem::Result<Response> {
    let may_edit = signed.may(state, &acts::SETTINGS_UPDATE).await?;
    let t = &signed.tenant.tenant;
    let html = console
        .settings_page(&SettingsView {
            slug: t.slug.to_string(),
            portal_address: state.links.portal(t, "/"),
            requested_host: t.requested_custom_domain.as_ref().map(ToString::to_string),
            dns_target: state.links.dns_target(t),
            time_zones: ClinicTimeZone::choices(),
            frame: signed.frame,
            may_edit,
            form,
        })
        .map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn settings(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    let clinic = state
        .services
        .clinic_settings(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let notice = match req.uri().query() {
        Some("done=saved") => Some("Settings saved. Mail and portal pages use them now."),
        Some("done=host_requested") => Some(
            "Host requested. Patients keep the current address until the platform's operators connect the new one.",
        ),
        Some("done=host_withdrawn") => Some("The request for a portal host was withdrawn."),
        _ => None,
    };
    if let Some(notice) = notice {
        signed.frame.notice = Some(notice.into());
    }
    let form = form_of(&clinic);
    settings_page(&state, &console, signed, form, StatusCode::OK).await
}

/// The posted form. A checkbox left unticked is absent, so the one boolean
/// is read by its presence (serde's `flatten` cannot parse it from a form).
#[derive(Deserialize)]
pub(super) struct SettingsPost {
    csrf_token: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    primary_colour: String,
    #[serde(default)]
    accent_colour: String,
    #[serde(default)]
    logo_url: String,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    code_lifetime_hours: String,
    #[serde(default)]
    default_delivery: String,
    auto_enable_portal_access: Option<String>,
    self_registration: Option<String>,
    staff_second_factor_required: Option<String>,
    patient_second_factor_required: Option<String>,
    #[serde(default)]
    proxy_limited_from_age: String,
    #[serde(default)]
    adult_age: String,
    limited_view_appointments: Option<String>,
    limited_view_messages: Option<String>,
    limited_view_documents: Option<String>,
    proxy_code_requires_dob: Option<String>,
    /// Absent from an older form: the retention stays as it is.
    audit_retention_days: Option<String>,
    /// Present when the form carried the families fieldset; without it
    /// (an older form) the age rules stay as they are.
    families_shown: Option<String>,
    /// Needed to turn a two-step requirement off.
    #[serde(default)]
    confirmation: String,
}

impl SettingsPost {
    fn into_form(self, current: &Tenant) -> SettingsForm {
        let families_shown = self.families_shown.is_some();
        let kept_retention = || form_of(current).audit_retention_days;
        let form = SettingsForm {
            audit_retention_days: self.audit_retention_days.unwrap_or_else(kept_retention),
            display_name: self.display_name,
            time_zone: self.time_zone,
            primary_colour: self.primary_colour,
            accent_colour: self.accent_colour,
            logo_url: self.logo_url,
            reply_to: self.reply_to,
            code_lifetime_hours: self.code_lifetime_hours,
            default_delivery: self.default_delivery,
            auto_enable_portal_access: self.auto_enable_portal_access.is_some(),
            self_registration: self.self_registration.is_some(),
            staff_second_factor_required: self.staff_second_factor_required.is_some(),
            patient_second_factor_required: self.patient_second_factor_required.is_some(),
            proxy_limited_from_age: self.proxy_limited_from_age,
            adult_age: self.adult_age,
            limited_view_appointments: self.limited_view_appointments.is_some(),
            limited_view_messages: self.limited_view_messages.is_some(),
            limited_view_documents: self.limited_view_documents.is_some(),
            proxy_code_requires_dob: self.proxy_code_requires_dob.is_some(),
        };
        if families_shown {
            return form;
        }
        let kept = form_of(current);
        SettingsForm {
            proxy_limited_from_age: kept.proxy_limited_from_age,
            adult_age: kept.adult_age,
            limited_view_appointments: kept.limited_view_appointments,
            limited_view_messages: kept.limited_view_messages,
            limited_view_documents: kept.limited_view_documents,
            proxy_code_requires_dob: kept.proxy_code_requires_dob,
            ..form
        }
    }
}

fn non_empty(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|s| !s.is_empty())
}

fn parse_settings(form: &SettingsForm) -> Result<(DisplayName, TenantSettings), DomainError> {
    let hours = form
        .code_lifetime_hours
        .trim()
        .parse::<u32>()
        .map_err(|_| {
            DomainError::refused(
                portico_tenants::RefusalKind::Malformed,
                "invalid_code_lifetime",
                "the code lifetime must be a whole number of hours, 1 to 120",
            )
        })?;
    let name = DisplayName::parse("display_name", &form.display_name)?;
    let years = |field: &'static str, raw: &str| {
        raw.trim().parse::<i64>().map_err(|_| InvalidValue {
            field,
            reason: "must be a whole number of years".into(),
        })
    };
    let age_rules = AgeRules::new(
        years("proxy_limited_from_age", &form.proxy_limited_from_age)?,
        years("adult_age", &form.adult_age)?,
        LimitedParts {
            appointments: form.limited_view_appointments,
            messages: form.limited_view_messages,
            documents: form.limited_view_documents,
        },
    )?;
    let audit_retention = non_empty(&form.audit_retention_days)
        .map(|raw| {
            raw.parse::<i64>()
                .map_err(|_| InvalidValue {
                    field: "audit_retention_days",
                    reason: "must be a whole number of days, or empty to keep events forever"
                        .into(),
                })
                .and_then(RetentionDays::new)
        })
        .transpose()?;
    let wanted = TenantSettings {
        audit_retention,
        age_rules,
        proxy_code_requires_dob: form.proxy_code_requires_dob,
        auto_enable_portal_access: form.auto_enable_portal_access,
        self_registration: form.self_registration,
        staff_second_factor_required: form.staff_second_factor_required,
        patient_second_factor_required: form.patient_second_factor_required,
        code_lifetime: CodeLifetime::from_hours(hours)?,
        default_delivery: CodeDelivery::parse(&form.default_delivery)?,
        time_zone: ClinicTimeZone::parse(&form.time_zone)?,
        branding: TenantBranding::readable(
            Colour::parse("primary_colour", &form.primary_colour)?,
            Colour::parse("accent_colour", &form.accent_colour)?,
            non_empty(&form.logo_url).map(LogoUrl::parse).transpose()?,
            non_empty(&form.reply_to)
                .map(EmailAddress::parse)
                .transpose()?,
        )?,
    };
    Ok((name, wanted))
}

#[handler]
pub(super) async fn save_settings(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(mut post): Form<SettingsPost>,
) -> poem::Result<Response> {
    let mut signed = Signed::posting(&state, req, &post.csrf_token).await?;
    let confirmation = std::mem::take(&mut post.confirmation);
    let form = post.into_form(&signed.tenant.tenant);
    if !confirmation.is_empty() {
        if let Err(err) =
            super::two_step::confirm_identity(&state, &signed.caller, confirmation).await
        {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            return settings_page(&state, &console, signed, form, status).await;
        }
        // Read again: the caller now carries the confirmation.
        signed = Signed::of(&state, req).await?;
    }
    let outcome = async {
        let (name, wanted) = parse_settings(&form)?;
        state
            .services
            .update_tenant_settings(&signed.caller, &name, &wanted)
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(&signed.path("/settings?done=saved"))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            settings_page(&state, &console, signed, form, status).await
        }
    }
}

/// The clinic's saved colours for the settings page's preview; both are
/// checked `#rrggbb` values, so nothing else reaches the stylesheet.
#[handler]
pub(super) async fn preview_colours(req: &Request) -> poem::Result<Response> {
    let t = portico_web::auth::tenant_of(req)?;
    let b = &t.tenant.settings.branding;
    Ok(Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(format!(
            ".preview {{ --preview-brand: {}; --preview-accent: {}; }}\n",
            b.primary_colour.as_str(),
            b.accent_colour.as_str()
        )))
}

#[derive(Deserialize)]
pub(super) struct PortalHostPost {
    csrf_token: String,
    /// Empty withdraws the request.
    #[serde(default)]
    requested_host: String,
}

/// Asks the operators for a portal host of the clinic's own.
#[handler]
pub(super) async fn request_portal_host(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(post): Form<PortalHostPost>,
) -> poem::Result<Response> {
    let mut signed = Signed::posting(&state, req, &post.csrf_token).await?;
    let outcome = async {
        let host = non_empty(&post.requested_host)
            .map(|h| PortalHost::parse("requested_host", h))
            .transpose()?;
        state
            .services
            .request_portal_host(&signed.caller, host.as_ref())
            .await
    }
    .await;
    match outcome {
        Ok(updated) => {
            let done = if updated.requested_custom_domain.is_some() {
                "host_requested"
            } else {
                "host_withdrawn"
            };
            Ok(redirect(&signed.path(&format!("/settings?done={done}"))))
        }
        Err(err) => {
            let (status, message) = refusal(err)?;
            signed.frame.error = Some(message);
            let form = form_of(&signed.tenant.tenant);
            settings_page(&state, &console, signed, form, status).await
        }
    }
}

async fn staff_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    status: StatusCode,
) -> poem::Result<Response> {
    let services = &state.services;
    let members = services
        .staff_list(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let me = signed.who().staff_id();
    let may_roles = signed.may(state, &acts::ROLES_READ).await?;
    let assignments = if may_roles {
        services
            .list_role_assignments(&signed.caller)
            .await
            .map_err(ApiError::from)?
    } else {
        Vec::new()
    };
    let may_read_policies = signed.may(state, &acts::POLICIES_READ).await?;
    // The built-in roles, and any the clinic made up with a rule.
    let mut roles: BTreeSet<String> = BuiltinRole::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    if may_read_policies {
        let rules = services
            .list_policies(&signed.caller)
            .await
            .map_err(ApiError::from)?;
        roles.extend(rules.into_iter().map(|p| p.role.to_string()));
    }
    let view = StaffView {
        staff: members
            .iter()
            .map(|m| StaffMemberRow {
                id: m.id.to_string(),
                display_name: m.display_name.to_string(),
                email: m.email.to_string(),
                active: m.status == StaffStatus::Active,
                must_change_password: m.must_change_password,
                second_factors: m.second_factors,
                is_me: m.id == me,
                roles: assignments
                    .iter()
                    .filter(|a| a.staff_id == m.id)
                    .map(|a| a.role.to_string())
                    .collect(),
            })
            .collect(),
        roles: roles.into_iter().collect(),
        may_add_staff: signed.may(state, &acts::STAFF_CREATE).await?,
        may_assign: signed.may(state, &acts::ROLE_ASSIGN).await?,
        may_read_policies,
        frame: signed.frame,
    };
    let html = console.staff_page(&view).map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn staff(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    signed.notice_from(
        req,
        &[
            (
                "added",
                "Staff member added. Give them their first password in person.",
            ),
            (
                "roles",
                "Roles changed. They apply from the next page load.",
            ),
            (
                "deactivated",
                "Staff member deactivated. They were logged out everywhere and cannot log in.",
            ),
            (
                "reactivated",
                "Staff member reactivated. They can log in again with their password.",
            ),
            (
                "policies",
                "Permissions changed. They apply from the next page load.",
            ),
            (
                "two_step_reset",
                "Two-step sign-in reset. They were logged out everywhere and sign in with their password alone, until they set up a new authenticator app.",
            ),
        ],
    );
    staff_page(&state, &console, signed, StatusCode::OK).await
}

#[handler]
pub(super) async fn deactivate_staff(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let id = parse_staff(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state.services.staff_deactivate(&signed.caller, id).await;
    signed
        .finish(outcome, "/staff", "deactivated", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}

#[handler]
pub(super) async fn reactivate_staff(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> poem::Result<Response> {
    let id = parse_staff(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = state.services.staff_reactivate(&signed.caller, id).await;
    signed
        .finish(outcome, "/staff", "reactivated", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct ConfirmedPost {
    csrf_token: String,
    confirmation: String,
}

/// An owner resets a colleague's two-step sign-in (a lost phone), after
/// confirming who they are.
#[handler]
pub(super) async fn reset_two_step(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<ConfirmedPost>,
) -> poem::Result<Response> {
    let id = parse_staff(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        super::two_step::confirm_identity(&state, &signed.caller, form.confirmation).await?;
        let fresh = Signed::of(&state, req)
            .await
            .map_err(|_| DomainError::InvalidToken)?;
        state.services.staff_factors_reset(&fresh.caller, id).await
    }
    .await;
    signed
        .finish(outcome, "/staff", "two_step_reset", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct NewStaff {
    csrf_token: String,
    display_name: String,
    email: String,
    password: String,
    role: String,
}

#[handler]
pub(super) async fn add_staff(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<NewStaff>,
) -> poem::Result<Response> {
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let email = EmailAddress::parse(&form.email)?;
        let name = DisplayName::parse("display_name", &form.display_name)?;
        let password = NewPassword::parse(form.password)?;
        let role = RoleName::parse(&form.role)?;
        state
            .services
            .staff_create(&signed.caller, &email, &name, &password, &[role])
            .await
    }
    .await;
    signed
        .finish(outcome, "/staff", "added", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    csrf_token: String,
    #[serde(default)]
    role: String,
}

fn parse_staff(raw: &str) -> poem::Result<StaffId> {
    StaffId::parse(raw)
        .map_err(|_| ApiError::not_found("not_found", "staff member not found").into())
}

#[handler]
pub(super) async fn give_role(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> poem::Result<Response> {
    let member = parse_staff(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let role = RoleName::parse(&form.role)?;
        state
            .services
            .assign_role(&signed.caller, member, &role)
            .await
    }
    .await;
    signed
        .finish(outcome, "/staff", "roles", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}

#[handler]
pub(super) async fn take_role(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Path((id, role)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> poem::Result<Response> {
    let member = parse_staff(&id)?;
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let role = RoleName::parse(&role)?;
        state
            .services
            .unassign_role(&signed.caller, member, &role)
            .await
    }
    .await;
    signed
        .finish(outcome, "/staff", "roles", |signed, status| {
            staff_page(&state, &console, signed, status)
        })
        .await
}
