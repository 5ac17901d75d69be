use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{DisplayName, EmailAddress, NewPassword, RoleName, StaffId};

use super::ApiTags;
use super::views::StaffView;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct StaffApi;

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[oai(validator(max_length = 254))]
    pub email: Text,
    #[oai(validator(max_length = 120))]
    pub display_name: Text,
    /// An initial password, at least 12 characters; tell it to the person.
    /// They must choose their own at their first login.
    #[oai(validator(max_length = 256))]
    pub password: Text,
    /// Roles to give, such as `front_desk`.
    #[oai(validator(max_items = 8))]
    pub roles: Vec<Text>,
}

pub fn parse_staff_id(raw: &str) -> Result<StaffId, ApiError> {
    // An id that cannot exist is simply not found.
    StaffId::parse(raw).map_err(|_| ApiError::not_found("not_found", "staff member not found"))
}

#[OpenApi(prefix_path = "/v1/staff", tag = "ApiTags::Staff")]
impl StaffApi {
    /// List the clinic's staff.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<StaffView>>> {
        let members = state.services.staff_list(&session.caller).await?;
        Ok(Json(members.iter().map(StaffView::from).collect()))
    }

    /// Add a staff member with an initial password and roles.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<CreateStaffRequest>,
    ) -> ApiResult<Json<StaffView>> {
        let body = body.0;
        let email = EmailAddress::parse(&body.email)?;
        let name = DisplayName::parse("display_name", &body.display_name)?;
        let password =
            NewPassword::parse(body.password.into_inner()).map_err(|e| e.at("password"))?;
        let roles = body
            .roles
            .iter()
            .map(|r| RoleName::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        let member = state
            .services
            .staff_create(&session.caller, &email, &name, &password, &roles)
            .await?;
        Ok(Json(StaffView::from(&member)))
    }

    /// One staff member.
    #[oai(path = "/:id", method = "get")]
    async fn show(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<StaffView>> {
        let id = parse_staff_id(&id.0)?;
        let member = state.services.staff_get(&session.caller, id).await?;
        Ok(Json(StaffView::from(&member)))
    }

    /// Deactivate a staff member: they can no longer log in and their
    /// sessions end at once. Not your own account, not the last active
    /// owner; only an owner deactivates an owner.
    #[oai(path = "/:id/deactivate", method = "post")]
    async fn deactivate(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<StaffView>> {
        let id = parse_staff_id(&id.0)?;
        let member = state.services.staff_deactivate(&session.caller, id).await?;
        Ok(Json(StaffView::from(&member)))
    }

    /// Reset a colleague's second factors (a lost phone): every factor and
    /// recovery code of theirs is removed and their sessions end. Needs a
    /// fresh step-up; only an owner resets an owner's. Where the clinic
    /// requires a second factor, they set up a new one at their next login.
    #[oai(path = "/:id/reset-second-factors", method = "post")]
    async fn reset_second_factors(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<FactorsResetView>> {
        let id = parse_staff_id(&id.0)?;
        let removed = state
            .services
            .staff_factors_reset(&session.caller, id)
            .await?;
        Ok(Json(FactorsResetView {
            factors_removed: removed as u32,
        }))
    }

    /// Let a deactivated staff member log in again, with the password and
    /// roles they had.
    #[oai(path = "/:id/reactivate", method = "post")]
    async fn reactivate(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        id: Path<String>,
    ) -> ApiResult<Json<StaffView>> {
        let id = parse_staff_id(&id.0)?;
        let member = state.services.staff_reactivate(&session.caller, id).await?;
        Ok(Json(StaffView::from(&member)))
    }
}

#[derive(poem_openapi::Object)]
pub struct FactorsResetView {
    /// How many second factors were removed.
    pub factors_removed: u32,
}
