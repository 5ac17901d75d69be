use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use portico_tenants::domain::{Action, Permission, Resource};

use super::ApiTags;
use super::views::TenantView;
use crate::http::AppState;
use crate::http::auth::StaffSession;
use crate::http::error::ApiResult;

pub struct ClinicApi;

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
}
