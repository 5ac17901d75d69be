use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{DisplayName, EmailAddress, NewPassword, PortalHost, Slug};
use portico_tenants::registry::TenantStatus;

use super::ApiTags;
use super::views::{StaffView, TenantView};
use portico_web::AppState;
use portico_web::auth::OperatorSession;
use portico_web::client_info::Client;
use portico_web::error::ApiResult;
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct OperatorApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 2 to 40 lowercase letters, digits and hyphens.
    #[oai(validator(max_length = 40))]
    pub slug: Text,
    #[oai(validator(max_length = 120))]
    pub display_name: Text,
    /// A host name of the clinic's own, such as `portal.northclinic.org`.
    #[oai(validator(max_length = 253))]
    pub custom_domain: Option<Text>,
    /// Whether every staff member must use a second factor (an
    /// authenticator app or a passkey). On unless set to `false`; an owner
    /// can change it in the clinic's settings.
    pub require_staff_second_factor: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CustomDomainRequest {
    /// `portal.northclinic.org`, or `null` to disconnect.
    #[oai(validator(max_length = 253))]
    pub custom_domain: Option<Text>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateOwnerRequest {
    #[oai(validator(max_length = 254))]
    pub email: Text,
    #[oai(validator(max_length = 120))]
    pub display_name: Text,
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[OpenApi(prefix_path = "/operator/v1/tenants", tag = "ApiTags::Operator")]
impl OperatorApi {
    /// Create a clinic.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        operator: OperatorSession,
        client: Client,
        body: JsonBody<CreateTenantRequest>,
    ) -> ApiResult<Json<TenantView>> {
        let body = body.0;
        let slug = Slug::parse(&body.slug)?;
        let name = DisplayName::parse("display_name", &body.display_name)?;
        let tenant = state
            .services
            .create_tenant(
                &operator.0,
                &slug,
                &name,
                body.custom_domain.as_deref(),
                body.require_staff_second_factor.unwrap_or(true),
                &client.0,
            )
            .await?;
        Ok(Json(TenantView::from(&tenant)))
    }

    /// Every clinic on the platform.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        _operator: OperatorSession,
    ) -> ApiResult<Json<Vec<TenantView>>> {
        let tenants = state.services.list_tenants().await?;
        Ok(Json(tenants.iter().map(TenantView::from).collect()))
    }

    /// One clinic.
    #[oai(path = "/:slug", method = "get")]
    async fn show(
        &self,
        state: poem::web::Data<&AppState>,
        _operator: OperatorSession,
        slug: Path<String>,
    ) -> ApiResult<Json<TenantView>> {
        let tenant = state.services.find_tenant(&slug.0).await?;
        Ok(Json(TenantView::from(&tenant)))
    }

    /// Suspend a clinic: its portal and API answer 403 until resumed.
    #[oai(path = "/:slug/suspend", method = "post")]
    async fn suspend(
        &self,
        state: poem::web::Data<&AppState>,
        operator: OperatorSession,
        client: Client,
        slug: Path<String>,
    ) -> ApiResult<Json<TenantView>> {
        let tenant = state
            .services
            .set_tenant_status(&operator.0, &slug.0, TenantStatus::Suspended, &client.0)
            .await?;
        Ok(Json(TenantView::from(&tenant)))
    }

    /// Resume a suspended clinic.
    #[oai(path = "/:slug/resume", method = "post")]
    async fn resume(
        &self,
        state: poem::web::Data<&AppState>,
        operator: OperatorSession,
        client: Client,
        slug: Path<String>,
    ) -> ApiResult<Json<TenantView>> {
        let tenant = state
            .services
            .set_tenant_status(&operator.0, &slug.0, TenantStatus::Active, &client.0)
            .await?;
        Ok(Json(TenantView::from(&tenant)))
    }

    /// Connect a clinic's portal to a host of its own (`custom_domain`), or
    /// with `null` back to its address under the platform's domain. Do it
    /// once the host's DNS points here and a certificate covers it; a
    /// request the clinic made for this host is cleared.
    #[oai(path = "/:slug/custom-domain", method = "put")]
    async fn set_custom_domain(
        &self,
        state: poem::web::Data<&AppState>,
        operator: OperatorSession,
        client: Client,
        slug: Path<String>,
        body: JsonBody<CustomDomainRequest>,
    ) -> ApiResult<Json<TenantView>> {
        let host = body
            .0
            .custom_domain
            .map(|h| PortalHost::parse("custom_domain", &h))
            .transpose()?;
        let tenant = state
            .services
            .set_tenant_custom_domain(&operator.0, &slug.0, host.as_ref(), &client.0)
            .await?;
        Ok(Json(TenantView::from(&tenant)))
    }

    /// Create a clinic's owner, to hand the clinic over.
    #[oai(path = "/:slug/owners", method = "post")]
    async fn create_owner(
        &self,
        state: poem::web::Data<&AppState>,
        operator: OperatorSession,
        client: Client,
        slug: Path<String>,
        body: JsonBody<CreateOwnerRequest>,
    ) -> ApiResult<Json<StaffView>> {
        let body = body.0;
        let tenant = state.services.find_tenant(&slug.0).await?;
        let email = EmailAddress::parse(&body.email)?;
        let name = DisplayName::parse("display_name", &body.display_name)?;
        let password =
            NewPassword::parse(body.password.into_inner()).map_err(|e| e.at("password"))?;
        let owner = state
            .services
            .create_owner(&operator.0, &tenant, &email, &name, &password, &client.0)
            .await?;
        Ok(Json(StaffView::from(&owner)))
    }
}
