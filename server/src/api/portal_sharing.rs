//! A patient sharing their own record: who else sees it (parents,
//! caregivers), caregivers invited by email, what a caregiver may see,
//! and ending a caregiver's access. Only the patient's own account may;
//! a proxy gets `403 not_allowed`.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use portico_tenants::acts::caregivers::Sharing;
use portico_tenants::codes::CodeRecord;
use portico_tenants::domain::{AccessCodeId, GrantId, PatientId};
use portico_tenants::portal::GrantRecord;

use super::ApiTags;
use portico_web::AppState;
use portico_web::auth::PatientSession;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct PortalSharingApi;

/// Someone who holds the record besides the patient.
#[derive(Object)]
pub struct ProxyView {
    /// Pass to end it or change what they see.
    pub id: String,
    /// `parent` or `caregiver`.
    pub relation: String,
    /// The login of their portal account.
    pub login: String,
    pub email: String,
    pub since: String,
    /// For a caregiver: whether they see items the clinic marked
    /// confidential.
    pub sees_confidential: bool,
}

impl From<&GrantRecord> for ProxyView {
    fn from(g: &GrantRecord) -> Self {
        Self {
            id: g.id.to_string(),
            relation: g.relation.as_str().into(),
            login: g.username.clone(),
            email: g.account_email.clone(),
            since: g.created_at.to_rfc3339(),
            sees_confidential: g.sees_confidential,
        }
    }
}

/// A caregiver invited and not yet in.
#[derive(Object)]
pub struct InvitationView {
    /// Pass to cancel it.
    pub id: String,
    pub email: String,
    pub sent_at: String,
    pub expires_at: String,
    pub sees_confidential: bool,
}

impl From<&CodeRecord> for InvitationView {
    fn from(c: &CodeRecord) -> Self {
        Self {
            id: c.id.to_string(),
            email: c.invited_email.clone().unwrap_or_default(),
            sent_at: c.issued_at.to_rfc3339(),
            expires_at: c.expires_at.to_rfc3339(),
            sees_confidential: c.sees_confidential,
        }
    }
}

#[derive(Object)]
pub struct SharingView {
    /// Whether this account may invite caregivers: the patient's own, and
    /// the patient an adult.
    pub may_invite: bool,
    pub proxies: Vec<ProxyView>,
    pub invitations: Vec<InvitationView>,
}

impl From<&Sharing> for SharingView {
    fn from(s: &Sharing) -> Self {
        Self {
            may_invite: s.may_invite,
            proxies: s.proxies.iter().map(ProxyView::from).collect(),
            invitations: s.invitations.iter().map(InvitationView::from).collect(),
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct InviteRequest {
    /// Where the invitation goes.
    #[oai(validator(max_length = 254))]
    pub email: Text,
    /// Whether the caregiver also sees items the clinic marked
    /// confidential. `false` by default; it can be changed later.
    pub sees_confidential: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct ProxyChange {
    pub sees_confidential: bool,
}

fn record_id(raw: &str) -> ApiResult<PatientId> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("not_found", "record not found"))
}

#[OpenApi(tag = "ApiTags::Portal")]
impl PortalSharingApi {
    /// Who else sees this record, and the caregivers invited.
    #[oai(path = "/v1/portal/records/:id/sharing", method = "get")]
    async fn sharing(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
    ) -> ApiResult<Json<SharingView>> {
        let patient = record_id(&id.0)?;
        let sharing = state
            .services
            .portal_sharing(&session.caller, patient)
            .await?;
        Ok(Json(SharingView::from(&sharing)))
    }

    /// Invite a caregiver by email (an adult patient, on their own
    /// record). The mail carries a caregiver's code; at most 5 a day
    /// (`429 rate_limited`).
    #[oai(path = "/v1/portal/records/:id/caregivers", method = "post")]
    async fn invite(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        body: JsonBody<InviteRequest>,
    ) -> ApiResult<Json<InvitationView>> {
        let patient = record_id(&id.0)?;
        let sent = state
            .services
            .portal_invite_caregiver(
                &session.caller,
                patient,
                &body.0.email,
                body.0.sees_confidential.unwrap_or(false),
            )
            .await?;
        Ok(Json(InvitationView::from(&sent.code)))
    }

    /// Cancel an invitation not yet used.
    #[oai(
        path = "/v1/portal/records/:id/caregiver-invitations/:invitation/cancel",
        method = "post"
    )]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        invitation: Path<String>,
    ) -> ApiResult<Json<SharingView>> {
        let patient = record_id(&id.0)?;
        let code = AccessCodeId::parse(&invitation.0)
            .map_err(|_| ApiError::not_found("not_found", "invitation not found"))?;
        state
            .services
            .portal_cancel_invitation(&session.caller, patient, code)
            .await?;
        let sharing = state
            .services
            .portal_sharing(&session.caller, patient)
            .await?;
        Ok(Json(SharingView::from(&sharing)))
    }

    /// End a caregiver's access. They are told by mail.
    #[oai(path = "/v1/portal/records/:id/proxies/:proxy/end", method = "post")]
    async fn end(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        proxy: Path<String>,
    ) -> ApiResult<Json<SharingView>> {
        let patient = record_id(&id.0)?;
        let grant = parse_proxy(&proxy.0)?;
        state
            .services
            .portal_end_proxy(&session.caller, patient, grant)
            .await?;
        let sharing = state
            .services
            .portal_sharing(&session.caller, patient)
            .await?;
        Ok(Json(SharingView::from(&sharing)))
    }

    /// Let a caregiver see items the clinic marked confidential, or not.
    #[oai(path = "/v1/portal/records/:id/proxies/:proxy", method = "put")]
    async fn change(
        &self,
        state: poem::web::Data<&AppState>,
        session: PatientSession,
        id: Path<String>,
        proxy: Path<String>,
        body: JsonBody<ProxyChange>,
    ) -> ApiResult<Json<ProxyView>> {
        let patient = record_id(&id.0)?;
        let grant = parse_proxy(&proxy.0)?;
        let updated = state
            .services
            .portal_set_proxy_confidential(
                &session.caller,
                patient,
                grant,
                body.0.sees_confidential,
            )
            .await?;
        Ok(Json(ProxyView::from(&updated)))
    }
}

fn parse_proxy(raw: &str) -> ApiResult<GrantId> {
    GrantId::parse(raw)
        .map_err(|_| ApiError::not_found("not_found", "person with access not found"))
}
