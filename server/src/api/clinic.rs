use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{
    Action, CodeDelivery, CodeLifetime, Colour, EmailAddress, LogoUrl, Permission, Resource,
};
use portico_tenants::registry::{Tenant, TenantBranding, TenantSettings};

use super::ApiTags;
use super::views::TenantView;
use crate::http::AppState;
use crate::http::auth::StaffSession;
use crate::http::client_info::Client;
use crate::http::error::ApiResult;
use crate::http::json_body::JsonBody;
use crate::http::text::Text;

pub struct ClinicApi;

#[derive(Object)]
pub struct SettingsView {
    /// Enable portal access when a record is created with an email and zip
    /// code, without a further confirmation.
    pub auto_enable_portal_access: bool,
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
}

impl From<&Tenant> for SettingsView {
    fn from(t: &Tenant) -> Self {
        Self {
            auto_enable_portal_access: t.settings.auto_enable_portal_access,
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
        }
    }
}

/// Fields left out stay as they are.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct SettingsRequest {
    pub auto_enable_portal_access: Option<bool>,
    /// 1 to 120 hours; a code never lives longer than 5 days.
    pub code_lifetime_hours: Option<u32>,
    #[oai(validator(max_length = 10))]
    pub default_delivery: Option<Text>,
    #[oai(validator(max_length = 7))]
    pub primary_colour: Option<Text>,
    #[oai(validator(max_length = 7))]
    pub accent_colour: Option<Text>,
    /// `null` removes it.
    #[oai(validator(max_length = 500))]
    pub logo_url: MaybeUndefined<Text>,
    /// `null` removes it.
    #[oai(validator(max_length = 254))]
    pub reply_to: MaybeUndefined<Text>,
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
        state
            .services
            .authz
            .require(
                &session.tenant,
                session.who.staff_id(),
                Permission::new(Resource::Settings, Action::Read),
            )
            .await?;
        Ok(Json(TenantView::from(&session.tenant)))
    }

    /// How the clinic runs portal access.
    #[oai(path = "/settings", method = "get")]
    async fn settings(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<SettingsView>> {
        state
            .services
            .authz
            .require(
                &session.tenant,
                session.who.staff_id(),
                Permission::new(Resource::Settings, Action::Read),
            )
            .await?;
        Ok(Json(SettingsView::from(&session.tenant)))
    }

    /// Change how the clinic runs portal access.
    #[oai(path = "/settings", method = "patch")]
    async fn update_settings(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        client: Client,
        body: JsonBody<SettingsRequest>,
    ) -> ApiResult<Json<SettingsView>> {
        let b = body.0;
        let current = &session.tenant.settings;
        let settings = TenantSettings {
            auto_enable_portal_access: b
                .auto_enable_portal_access
                .unwrap_or(current.auto_enable_portal_access),
            code_lifetime: match b.code_lifetime_hours {
                Some(h) => CodeLifetime::from_hours(h)?,
                None => current.code_lifetime,
            },
            default_delivery: match b.default_delivery {
                Some(d) => CodeDelivery::parse(&d)?,
                None => current.default_delivery,
            },
            branding: TenantBranding {
                primary_colour: match b.primary_colour {
                    Some(c) => Colour::parse("primary_colour", &c)?,
                    None => current.branding.primary_colour.clone(),
                },
                accent_colour: match b.accent_colour {
                    Some(c) => Colour::parse("accent_colour", &c)?,
                    None => current.branding.accent_colour.clone(),
                },
                logo_url: match b.logo_url {
                    MaybeUndefined::Undefined => current.branding.logo_url.clone(),
                    MaybeUndefined::Null => None,
                    MaybeUndefined::Value(u) => Some(LogoUrl::parse(&u)?),
                },
                reply_to: match b.reply_to {
                    MaybeUndefined::Undefined => current.branding.reply_to.clone(),
                    MaybeUndefined::Null => None,
                    MaybeUndefined::Value(e) => Some(EmailAddress::parse(&e)?),
                },
            },
        };
        let updated = state
            .services
            .update_tenant_settings(&session.tenant, &session.who, &settings, &client.0)
            .await?;
        state.tenants.forget(&updated).await;
        Ok(Json(SettingsView::from(&updated)))
    }
}
