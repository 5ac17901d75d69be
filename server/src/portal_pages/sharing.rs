//! "Who else can see your record" on the portal's home page: a patient's
//! own record lists its parents and caregivers and the caregivers
//! invited, and an adult invites a caregiver, lets one see confidential
//! items, or ends their access. Each form posts here and comes back to
//! the home page.

use std::sync::Arc;

use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use portico_tenants::acts::caregivers::Sharing;
use portico_tenants::domain::{AccessCodeId, ClinicTimeZone, GrantId, PatientId};
use portico_tenants::family::Relation;
use serde::{Deserialize, Serialize};

use super::account::Visitor;
use super::record::{Drafts, refused};
use super::{PortalPages, portal_path, redirect};
use portico_web::AppState;
use portico_web::error::ApiError;

#[derive(Serialize)]
pub(super) struct ProxyItem {
    id: String,
    who: String,
    /// "Parent or guardian" or "Caregiver".
    role: &'static str,
    since: String,
    caregiver: bool,
    sees_confidential: bool,
}

#[derive(Serialize)]
pub(super) struct InvitationItem {
    id: String,
    email: String,
    until: String,
}

/// The section, for the patient's own record.
#[derive(Serialize)]
pub(super) struct SharingSection {
    may_invite: bool,
    proxies: Vec<ProxyItem>,
    invitations: Vec<InvitationItem>,
}

impl SharingSection {
    pub(super) fn of(sharing: &Sharing, zone: &ClinicTimeZone) -> Self {
        Self {
            may_invite: sharing.may_invite,
            proxies: sharing
                .proxies
                .iter()
                .map(|g| ProxyItem {
                    id: g.id.to_string(),
                    who: if g.account_email.eq_ignore_ascii_case(&g.username) {
                        g.account_email.clone()
                    } else {
                        format!("{} ({})", g.username, g.account_email)
                    },
                    role: match g.relation {
                        Relation::Parent => "Parent or guardian",
                        _ => "Caregiver",
                    },
                    since: zone.human(g.created_at),
                    caregiver: g.relation == Relation::Caregiver,
                    sees_confidential: g.sees_confidential,
                })
                .collect(),
            invitations: sharing
                .invitations
                .iter()
                .map(|c| InvitationItem {
                    id: c.id.to_string(),
                    email: c.invited_email.clone().unwrap_or_default(),
                    until: zone.human(c.expires_at),
                })
                .collect(),
        }
    }
}

fn record_of(raw: &str) -> poem::Result<PatientId> {
    PatientId::parse(raw).map_err(|_| ApiError::not_found("not_found", "record not found").into())
}

fn back(visitor: &Visitor, done: &str) -> Response {
    redirect(&format!(
        "{}/?done={done}#sharing",
        portal_path(&visitor.tenant)
    ))
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    csrf_token: String,
    #[serde(default)]
    email: String,
    sees_confidential: Option<String>,
}

#[handler]
pub(super) async fn invite(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path(id): Path<String>,
    Form(form): Form<InviteForm>,
) -> poem::Result<Response> {
    let patient = record_of(&id)?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let outcome = state
        .services
        .portal_invite_caregiver(
            &visitor.caller,
            patient,
            &form.email,
            form.sees_confidential.as_deref() == Some("true"),
        )
        .await;
    match outcome {
        Ok(_) => Ok(back(&visitor, "caregiver_invited")),
        Err(err) => refused(&state, &pages, visitor, req, err, Drafts::default()).await,
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf_token: String,
}

#[handler]
pub(super) async fn cancel_invitation(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path((id, invitation)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> poem::Result<Response> {
    let patient = record_of(&id)?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    let code = AccessCodeId::parse(&invitation)
        .map_err(|_| ApiError::not_found("not_found", "invitation not found"))?;
    match state
        .services
        .portal_cancel_invitation(&visitor.caller, patient, code)
        .await
    {
        Ok(()) => Ok(back(&visitor, "invitation_cancelled")),
        Err(err) => refused(&state, &pages, visitor, req, err, Drafts::default()).await,
    }
}

fn proxy_of(raw: &str) -> poem::Result<GrantId> {
    GrantId::parse(raw)
        .map_err(|_| ApiError::not_found("not_found", "person with access not found").into())
}

#[handler]
pub(super) async fn end(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path((id, proxy)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> poem::Result<Response> {
    let patient = record_of(&id)?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    match state
        .services
        .portal_end_proxy(&visitor.caller, patient, proxy_of(&proxy)?)
        .await
    {
        Ok(()) => Ok(back(&visitor, "proxy_ended")),
        Err(err) => refused(&state, &pages, visitor, req, err, Drafts::default()).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ConfidentialForm {
    csrf_token: String,
    /// `true` to let them see confidential items, anything else not to.
    #[serde(default)]
    sees: String,
}

#[handler]
pub(super) async fn confidential(
    req: &Request,
    state: Data<&AppState>,
    pages: Data<&Arc<PortalPages>>,
    Path((id, proxy)): Path<(String, String)>,
    Form(form): Form<ConfidentialForm>,
) -> poem::Result<Response> {
    let patient = record_of(&id)?;
    let visitor = Visitor::posting(&state, req, &form.csrf_token).await?;
    match state
        .services
        .portal_set_proxy_confidential(
            &visitor.caller,
            patient,
            proxy_of(&proxy)?,
            form.sees == "true",
        )
        .await
    {
        Ok(_) => Ok(back(&visitor, "proxy_changed")),
        Err(err) => refused(&state, &pages, visitor, req, err, Drafts::default()).await,
    }
}
