use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{Action, CodeDelivery, CodeLifetime, Permission, Resource};
use portico_tenants::registry::{Tenant, TenantSettings};

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
}

impl From<&Tenant> for SettingsView {
    fn from(t: &Tenant) -> Self {
        Self {
            auto_enable_portal_access: t.settings.auto_enable_portal_access,
            code_lifetime_hours: (t.settings.code_lifetime.as_secs() / 3600) as u32,
            default_delivery: t.settings.default_delivery.as_str().into(),
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
        };
        let updated = state
            .services
            .update_tenant_settings(&session.tenant, &session.who, &settings, &client.0)
            .await?;
        state.tenants.forget(&updated).await;
        Ok(Json(SettingsView::from(&updated)))
    }
}
