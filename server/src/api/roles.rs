use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::domain::{Action, Resource, RoleName};

use super::ApiTags;
use super::staff::parse_staff_id;
use portico_web::AppState;
use portico_web::auth::StaffSession;
use portico_web::error::ApiResult;
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct RolesApi;

#[derive(Object)]
pub struct AssignmentView {
    pub staff_id: String,
    pub role: String,
}

#[derive(Object)]
pub struct PolicyView {
    pub role: String,
    pub resource: String,
    pub action: String,
    /// The platform's own rule for a built-in role; cannot be removed.
    pub builtin: bool,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PolicyRequest {
    #[oai(validator(max_length = 32))]
    pub role: Text,
    #[oai(validator(max_length = 32))]
    pub resource: Text,
    #[oai(validator(max_length = 32))]
    pub action: Text,
}

#[derive(Object)]
pub struct ChangeView {
    /// False when the change was already in place.
    pub changed: bool,
}

#[OpenApi(prefix_path = "/v1/roles", tag = "ApiTags::Roles")]
impl RolesApi {
    /// Who holds which role in this clinic.
    #[oai(path = "/assignments", method = "get")]
    async fn assignments(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<AssignmentView>>> {
        let s = &state.services;
        let list = s.list_role_assignments(&session.caller).await?;
        Ok(Json(
            list.into_iter()
                .map(|a| AssignmentView {
                    staff_id: a.staff_id.to_string(),
                    role: a.role.to_string(),
                })
                .collect(),
        ))
    }

    /// Give a staff member a role. Only an owner can give `owner`.
    #[oai(path = "/assignments/:staff_id/:role", method = "put")]
    async fn assign(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        staff_id: Path<String>,
        role: Path<String>,
    ) -> ApiResult<Json<ChangeView>> {
        let staff_id = parse_staff_id(&staff_id.0)?;
        let role = RoleName::parse(&role.0)?;
        let changed = state
            .services
            .assign_role(&session.caller, staff_id, &role)
            .await?;
        Ok(Json(ChangeView { changed }))
    }

    /// Take a role away. The clinic's last owner cannot lose `owner`.
    #[oai(path = "/assignments/:staff_id/:role", method = "delete")]
    async fn unassign(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        staff_id: Path<String>,
        role: Path<String>,
    ) -> ApiResult<Json<ChangeView>> {
        let staff_id = parse_staff_id(&staff_id.0)?;
        let role = RoleName::parse(&role.0)?;
        let changed = state
            .services
            .unassign_role(&session.caller, staff_id, &role)
            .await?;
        Ok(Json(ChangeView { changed }))
    }

    /// Every permission rule in force here: the platform's built-ins and the
    /// clinic's own.
    #[oai(path = "/policies", method = "get")]
    async fn policies(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
    ) -> ApiResult<Json<Vec<PolicyView>>> {
        let s = &state.services;
        let list = s.list_policies(&session.caller).await?;
        Ok(Json(
            list.into_iter()
                .map(|p| PolicyView {
                    role: p.role.to_string(),
                    resource: p.resource.to_string(),
                    action: p.action.to_string(),
                    builtin: p.builtin,
                })
                .collect(),
        ))
    }

    /// Allow a role something more in this clinic.
    #[oai(path = "/policies", method = "post")]
    async fn add_policy(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        body: JsonBody<PolicyRequest>,
    ) -> ApiResult<Json<ChangeView>> {
        let body = body.0;
        let role = RoleName::parse(&body.role)?;
        let resource = Resource::parse(&body.resource)?;
        let action = Action::parse(&body.action)?;
        let changed = state
            .services
            .add_policy(&session.caller, &role, resource, action)
            .await?;
        Ok(Json(ChangeView { changed }))
    }

    /// Remove a rule the clinic added. Built-in rules stay.
    #[oai(path = "/policies/:role/:resource/:action", method = "delete")]
    async fn remove_policy(
        &self,
        state: poem::web::Data<&AppState>,
        session: StaffSession,
        role: Path<String>,
        resource: Path<String>,
        action: Path<String>,
    ) -> ApiResult<Json<ChangeView>> {
        let role = RoleName::parse(&role.0)?;
        let resource = Resource::parse(&resource.0)?;
        let action = Action::parse(&action.0)?;
        state
            .services
            .remove_policy(&session.caller, &role, resource, action)
            .await?;
        Ok(Json(ChangeView { changed: true }))
    }
}
