//! Roles and permissions: a grid of roles across and permissions down,
//! saved as the clinic's own rules on top of the built-in ones, and a form
//! to create a role with its first permission.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Form};
use poem::{Request, Response, handler};
use portico_tenants::acts;
use portico_tenants::domain::{Action, BuiltinRole, Permission, Resource, RoleName};
use portico_tenants::{DomainError, acts::roles::PolicyRule};
use serde::Deserialize;

use super::{Signed, page, redirect, refusal, render_failed};
use crate::views::{Console, GridCell, GridRow, RolesView};
use portico_web::AppState;
use portico_web::error::ApiError;
use portico_web::wording::capitalised;

/// Every permission, in the order the grid lists them.
fn permissions() -> Vec<Permission> {
    Permission::all()
}

fn key(role: &str, p: Permission) -> String {
    format!("{role}|{}|{}", p.resource, p.action)
}

/// Whether the platform gives `role` this permission.
fn built_in(role: &str, p: Permission) -> bool {
    BuiltinRole::ALL
        .iter()
        .find(|b| b.as_str() == role)
        .is_some_and(|b| b.permissions().contains(&p))
}

/// The built-in roles, then the clinic's own, by name.
fn roles_of(rules: &[PolicyRule]) -> Vec<String> {
    let own: BTreeSet<String> = rules
        .iter()
        .map(|r| r.role.to_string())
        .filter(|r| !BuiltinRole::ALL.iter().any(|b| b.as_str() == r))
        .collect();
    BuiltinRole::ALL
        .iter()
        .map(|b| b.as_str().to_owned())
        .chain(own)
        .collect()
}

pub(super) async fn roles_page(
    state: &AppState,
    console: &Console,
    signed: Signed,
    status: StatusCode,
) -> poem::Result<Response> {
    let rules = state
        .services
        .list_policies(&signed.caller)
        .await
        .map_err(ApiError::from)?;
    let own: HashSet<String> = rules
        .iter()
        .filter(|r| !r.builtin)
        .map(|r| key(r.role.as_str(), r.permission()))
        .collect();
    let roles = roles_of(&rules);
    let rows = permissions()
        .into_iter()
        .map(|p| GridRow {
            words: capitalised(p.in_words()),
            phrase: p.in_words().to_owned(),
            name: format!("{} · {}", p.resource, p.action),
            cells: roles
                .iter()
                .map(|role| GridCell {
                    role: role.clone(),
                    key: key(role, p),
                    allowed: built_in(role, p) || own.contains(&key(role, p)),
                    builtin: built_in(role, p),
                })
                .collect(),
        })
        .collect();
    let view = RolesView {
        may_edit: signed.may(state, &acts::POLICY_ADD).await?,
        roles,
        rows,
        resources: permissions()
            .into_iter()
            .map(|p| {
                (
                    format!("{}|{}", p.resource, p.action),
                    capitalised(p.in_words()),
                )
            })
            .collect(),
        frame: signed.frame,
    };
    let html = console.roles_page(&view).map_err(render_failed)?;
    Ok(page(html, status))
}

#[handler]
pub(super) async fn show(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
) -> poem::Result<Response> {
    let mut signed = Signed::of(&state, req).await?;
    signed.notice_from(
        req,
        &[
            (
                "saved",
                "Permissions saved. They apply from the next page load.",
            ),
            (
                "role_created",
                "Role created. Tick what else it may do, and give it to staff on the Staff page.",
            ),
        ],
    );
    roles_page(&state, &console, signed, StatusCode::OK).await
}

/// The grid as posted: the CSRF token, the roles it showed, and a
/// `role|resource|action` for every ticked box.
#[handler]
pub(super) async fn save(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> poem::Result<Response> {
    let field = |name: &'static str| {
        fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let csrf = field("csrf_token").next().unwrap_or_default().to_owned();
    let signed = Signed::posting(&state, req, &csrf).await?;
    let ticked: HashSet<&str> = field("allow").collect();
    // What the page showed ticked: only what this person changed since is
    // applied, so a colleague's change made meanwhile is not undone.
    let was: HashSet<&str> = field("was").collect();
    let outcome = async {
        let shown = field("role")
            .map(RoleName::parse)
            .collect::<Result<Vec<_>, _>>()?;
        // Each change is its own act, in the trail on its own line.
        for role in &shown {
            for p in permissions() {
                if built_in(role.as_str(), p) {
                    continue;
                }
                let k = key(role.as_str(), p);
                match (ticked.contains(k.as_str()), was.contains(k.as_str())) {
                    (true, false) => {
                        state
                            .services
                            .add_policy(&signed.caller, role, p.resource, p.action)
                            .await?;
                    }
                    (false, true) => {
                        match state
                            .services
                            .remove_policy(&signed.caller, role, p.resource, p.action)
                            .await
                        {
                            // Someone removed it meanwhile: as wanted.
                            Ok(()) | Err(DomainError::NotFound(_)) => {}
                            Err(other) => return Err(other),
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok::<(), DomainError>(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(redirect(&signed.path("/roles?done=saved"))),
        Err(err) => {
            let (status, message) = refusal(err)?;
            let mut signed = signed;
            signed.frame.error = Some(message);
            roles_page(&state, &console, signed, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct NewRole {
    csrf_token: String,
    role: String,
    /// `resource|action`, from the form's list.
    permission: String,
}

#[handler]
pub(super) async fn create(
    req: &Request,
    state: Data<&AppState>,
    console: Data<&Arc<Console>>,
    Form(form): Form<NewRole>,
) -> poem::Result<Response> {
    let signed = Signed::posting(&state, req, &form.csrf_token).await?;
    let outcome = async {
        let role = RoleName::parse(form.role.trim())?;
        let (resource, action) = form
            .permission
            .split_once('|')
            .unwrap_or((&form.permission, ""));
        let resource = Resource::parse(resource).map_err(|e| e.at("permission"))?;
        let action = Action::parse(action).map_err(|e| e.at("permission"))?;
        state
            .services
            .add_policy(&signed.caller, &role, resource, action)
            .await
    }
    .await;
    signed
        .finish(outcome, "/roles", "role_created", |signed, status| {
            roles_page(&state, &console, signed, status)
        })
        .await
}
