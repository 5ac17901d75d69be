//! Redeeming an access code at `/v1/portal/redeem`: a Medical Records
//! Access Code adds a record to an account (setting the account up first
//! when there is no session), a SmartForm Access Code opens one form. The
//! account and record views and the portal cookie are the account API's, in
//! `portal`.

use std::collections::BTreeMap;

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use portico_tenants::DomainError;
use portico_tenants::acts::redeem::{AccountForm, Unlocked};

use super::ApiTags;
use super::portal::{AccountView, RecordView, portal_cookie};
use portico_web::AppState;
use portico_web::auth::MaybePatient;
use portico_web::error::{ApiError, ApiResult};
use portico_web::json_body::JsonBody;
use portico_web::text::Text;

pub struct RedeemApi;

#[derive(ApiResponse)]
pub enum RedeemResponse {
    /// Redeemed into a new account, now logged in; the cookie is set.
    #[oai(status = 201)]
    NewAccount(Json<RedeemedView>, #[oai(header = "Set-Cookie")] String),
    /// Redeemed into the logged-in account.
    #[oai(status = 200)]
    Added(Json<RedeemedView>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RedeemedView {
    pub account: AccountView,
    /// The record a Medical Records Access Code opened.
    pub record: Option<RecordView>,
    /// The form a SmartForm Access Code opened (and nothing else).
    pub form: Option<UnlockedFormView>,
    /// True when a confirmation link was mailed to the account's address.
    pub verification_sent: bool,
    /// The new session's CSRF token, when this created the account.
    pub csrf_token: Option<String>,
}

#[derive(Object)]
pub struct UnlockedFormView {
    pub assignment_id: String,
    pub title: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct NewAccountRequest {
    /// Needed only when another account already logs in with this email.
    #[oai(validator(max_length = 64))]
    pub username: Option<Text>,
    #[oai(validator(max_length = 254))]
    pub email: Text,
    /// At least 12 characters. The access code is not a password.
    #[oai(validator(max_length = 256))]
    pub password: Text,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The four words, with any separators and in any case.
    #[oai(validator(max_length = 200))]
    pub code: Text,
    /// To set up a new account with this code; leave out when logged in.
    pub account: Option<NewAccountRequest>,
    /// Answers to the fields the clinic's rule asked for (see
    /// `more_information_needed`), by field name.
    #[oai(default)]
    pub answers: BTreeMap<String, String>,
}

#[OpenApi(prefix_path = "/v1/portal", tag = "ApiTags::Portal")]
impl RedeemApi {
    /// Redeem a Medical Records Access Code.
    ///
    /// Without a session, `account` sets up a new account with the patient's
    /// own password (the code is never a password), in one step with the
    /// grant. With a session, the record is added to that account (a family).
    /// Each failure has its own code: `code_missing`, `code_malformed`,
    /// `code_not_found`, `code_expired`, `code_revoked`, `code_replaced` (a newer code was sent), `code_already_used`,
    /// `portal_access_disabled`, `too_many_attempts`, and `account_required`
    /// without a session or `account`. When the clinic has a
    /// verification rule, it may answer `more_information_needed` with the
    /// `fields` to ask for (send them back as `answers`), or
    /// `verification_denied` with a reason to show.
    #[oai(path = "/redeem", method = "post")]
    async fn redeem(
        &self,
        state: poem::web::Data<&AppState>,
        session: MaybePatient,
        req: &Request,
        body: JsonBody<RedeemRequest>,
    ) -> ApiResult<RedeemResponse> {
        let b = body.0;
        // Passed as typed: a short password or a bad address is refused,
        // and audited, inside the act like any other failed attempt.
        let account = b.account.map(|a| AccountForm {
            username: a.username.map(Text::into_inner),
            email: a.email.into_inner(),
            password: a.password.into_inner(),
        });
        let answers = parse_answers(b.answers)?;
        let done = state
            .services
            .redeem_code(&session.0, &b.code, account, answers)
            .await
            .map_err(in_this_request)?;
        let (record, form) = match &done.unlocked {
            Unlocked::Record(g) => (Some(RecordView::from(g)), None),
            Unlocked::Form {
                assignment_id,
                form_title,
            } => (
                None,
                Some(UnlockedFormView {
                    assignment_id: assignment_id.clone(),
                    title: form_title.clone(),
                }),
            ),
        };
        let view = RedeemedView {
            account: AccountView::from(&done.account),
            record,
            form,
            verification_sent: done.verification_sent,
            csrf_token: done.session.as_ref().map(|s| s.csrf_token.clone()),
        };
        Ok(match done.session {
            Some(s) => {
                let cookie = portal_cookie(
                    &state,
                    req,
                    s.token.expose(),
                    state.settings.portal_session_secs,
                )?;
                RedeemResponse::NewAccount(Json(view), cookie)
            }
            None => RedeemResponse::Added(Json(view)),
        })
    }
}

/// Answers to a clinic rule's questions: at most 16, each named as the rule
/// named it, each at most 500 characters.
pub(crate) fn parse_answers(
    answers: BTreeMap<String, String>,
) -> Result<Vec<portico_tenants::domain::GivenAnswer>, ApiError> {
    let invalid = |message: String| {
        let mut e = ApiError::unprocessable("invalid_answers", message);
        e.field = Some("answers".into());
        e
    };
    if answers.len() > 16 {
        return Err(invalid("at most 16 answers".into()));
    }
    answers
        .into_iter()
        .map(|(name, value)| {
            if name.is_empty() || name.len() > 40 {
                return Err(invalid(
                    "an answer's name must be 1 to 40 characters".into(),
                ));
            }
            if value.chars().count() > 500 {
                return Err(invalid(format!(
                    "the answer to {name} is over 500 characters"
                )));
            }
            Ok(portico_tenants::domain::GivenAnswer { name, value })
        })
        .collect()
}

/// A refused account field, named as this request names it
/// (`account.password`), not as the domain does (`new_password`).
fn in_this_request(err: DomainError) -> DomainError {
    match err {
        DomainError::Invalid(invalid) => {
            let field = match invalid.field {
                "new_password" => "account.password",
                "email" => "account.email",
                "username" => "account.username",
                other => other,
            };
            DomainError::Invalid(invalid.at(field))
        }
        other => other,
    }
}
