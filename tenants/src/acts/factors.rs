//! What staff and patients share about second factors: setting up an
//! authenticator app, the recovery codes a first factor brings, and
//! checking and spending an answer at a second step or a step-up.

use crate::domain::{FactorId, TenantId, Timestamp};
use crate::door::Passage;
use crate::error::{DomainError, RefusalKind};
use crate::factors::email_code::{self, EmailCodeCheck};
use crate::factors::{
    FactorSummary, Holder, RecoveryCode, SecondFactorAnswer, TotpEnrolment, TotpSecret, store,
};
use crate::services::Services;
use crate::storage::TenantTx;

/// An authenticator-app setup waiting for its first code.
#[derive(Debug)]
pub struct TotpSetup {
    pub factor_id: FactorId,
    pub enrolment: TotpEnrolment,
}

/// What confirming a factor gives: new recovery codes when it was the
/// person's first factor (shown once).
#[derive(Debug)]
pub struct FactorAdded {
    pub factor: FactorSummary,
    pub recovery_codes: Option<Vec<RecoveryCode>>,
}

/// How long an unfinished setup can be finished.
pub(super) const SETUP_TTL: std::time::Duration = std::time::Duration::from_secs(60 * 60);

pub(super) fn setup_expired() -> DomainError {
    DomainError::refused(
        RefusalKind::Gone,
        "setup_expired",
        "this setup has expired or was already finished; start again to get a new QR code",
    )
}

pub(super) fn unix_secs() -> u64 {
    (Timestamp::now().unix_millis() / 1000).max(0) as u64
}

pub(super) fn login_expired() -> DomainError {
    DomainError::refused(
        RefusalKind::Unauthenticated,
        "login_expired",
        "this sign-in has expired or was already finished; enter your email and password again",
    )
}

/// Ends adding a factor in the act's transaction `tx`: ten recovery codes
/// with a person's first factor (shown once), the factor as listed, and
/// the act's record.
pub(super) async fn factor_added(
    services: &Services,
    pass: &mut Passage<'_>,
    mut tx: TenantTx,
    holder: Holder,
    id: FactorId,
    first: bool,
) -> Result<FactorAdded, DomainError> {
    let recovery_codes = match first {
        true => Some(new_recovery_codes(services, pass.tenant().id, &mut tx, holder).await?),
        false => None,
    };
    let factor = store::list(&mut tx, holder)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(DomainError::NotFound("factor"))?;
    pass.target(format!("factor:{id}"));
    pass.detail(format!(
        "kind={}{}",
        factor.kind.as_str(),
        if first { " recovery_codes=10" } else { "" }
    ));
    pass.commit(tx).await?;
    Ok(FactorAdded {
        factor,
        recovery_codes,
    })
}

/// An authenticator-app setup of `holder` still waiting for its code, and
/// whether it would be their first factor; refused once it has expired.
pub(super) async fn waiting_setup(
    pass: &mut Passage<'_>,
    holder: Holder,
    factor: FactorId,
) -> Result<(store::StoredTotp, bool), DomainError> {
    pass.target(format!("factor:{factor}"));
    let mut tx = pass.read().await?;
    let since = Timestamp::now().minus(SETUP_TTL);
    let waiting = store::unconfirmed_totp(&mut tx, holder, factor, since).await?;
    let first = store::list(&mut tx, holder).await?.is_empty();
    tx.commit().await?;
    Ok((waiting.ok_or_else(setup_expired)?, first))
}

/// Confirms the setup `waiting` with the first code of its app, in the
/// act's write transaction, which it returns; a wrong code is a miss.
pub(super) async fn confirm_setup(
    services: &Services,
    pass: &mut Passage<'_>,
    waiting: &store::StoredTotp,
    code: &crate::factors::TotpCode,
) -> Result<TenantTx, DomainError> {
    let secret = TotpSecret::unseal(&services.code_key, pass.tenant().id, &waiting.sealed_secret)
        .ok_or_else(|| {
        DomainError::Storage(crate::storage::StorageError::Corrupt(
            "an authenticator secret does not open with this server's code key".into(),
        ))
    })?;
    let Some(step) = secret.accepts(code, unix_secs(), None) else {
        pass.secret_missed("wrong_code");
        return Err(DomainError::WrongSecondFactor);
    };
    let mut tx = pass.write().await?;
    if !store::confirm(&mut tx, waiting.id, Some(step)).await? {
        return Err(setup_expired());
    }
    Ok(tx)
}

/// Ten new recovery codes for `holder`, who must have a factor they stand
/// in for; the old ones stop working. Ends the act.
pub(super) async fn renew_recovery_codes(
    services: &Services,
    pass: &mut Passage<'_>,
    holder: Holder,
) -> Result<Vec<RecoveryCode>, DomainError> {
    let tenant = pass.tenant().id;
    let mut tx = pass.write().await?;
    if store::list(&mut tx, holder).await?.is_empty() {
        return Err(DomainError::Conflict {
            code: "no_factor",
            message:
                "recovery codes stand in for an authenticator app or a passkey: set one up first"
                    .into(),
        });
    }
    let codes = new_recovery_codes(services, tenant, &mut tx, holder).await?;
    pass.commit(tx).await?;
    Ok(codes)
}

/// A fresh set of recovery codes for `holder`, replacing the old ones; only
/// their keyed hashes are kept.
async fn new_recovery_codes(
    services: &Services,
    tenant: TenantId,
    tx: &mut TenantTx,
    holder: Holder,
) -> Result<Vec<RecoveryCode>, DomainError> {
    let codes = RecoveryCode::set();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| c.hash(&services.code_key, tenant))
        .collect();
    store::replace_recovery_codes(tx, holder, &hashes).await?;
    Ok(codes)
}

/// What an answer matched, before it is spent.
pub(super) enum Checked {
    Totp {
        factor: FactorId,
        step: u64,
    },
    Recovery {
        hash: String,
    },
    /// The code mailed for this sign-in, already spent.
    EmailCode,
}

/// Checks `answer` against the holder's factors, counting a miss. At a
/// patient's sign-in, `mailed_for` names the waiting sign-in whose mailed
/// code six digits may also be.
pub(super) async fn check_answer(
    services: &Services,
    pass: &mut Passage<'_>,
    holder: Holder,
    answer: &SecondFactorAnswer,
    mailed_for: Option<&str>,
) -> Result<Checked, DomainError> {
    let tenant = pass.tenant().id;
    match answer {
        SecondFactorAnswer::Totp(code) => {
            let mut tx = pass.read().await?;
            let apps = store::totps(&mut tx, holder).await?;
            tx.commit().await?;
            let now = unix_secs();
            for app in apps {
                let Some(secret) =
                    TotpSecret::unseal(&services.code_key, tenant, &app.sealed_secret)
                else {
                    tracing::error!(factor = %app.id, "an authenticator secret does not open with this server's code key");
                    continue;
                };
                if let Some(step) = secret.accepts(code, now, app.last_step) {
                    return Ok(Checked::Totp {
                        factor: app.id,
                        step,
                    });
                }
            }
            if let Some(pending) = mailed_for {
                // In a transaction of its own: a wrong try counts against
                // the code even though the act then fails.
                let mut tx = pass.write().await?;
                let found =
                    email_code::check_and_spend(&mut tx, &services.code_key, pending, code).await?;
                tx.commit().await?;
                if found == EmailCodeCheck::Spent {
                    return Ok(Checked::EmailCode);
                }
            }
            pass.secret_missed("wrong_code");
            Err(DomainError::WrongSecondFactor)
        }
        SecondFactorAnswer::Recovery(code) => Ok(Checked::Recovery {
            hash: code.hash(&services.code_key, tenant),
        }),
    }
}

/// Spends what the answer matched in `tx` (an app's time step, a recovery
/// code), refusing it when another request spent it first; the method,
/// for the audit trail.
pub(super) async fn spend_answer(
    _services: &Services,
    pass: &mut Passage<'_>,
    tx: &mut TenantTx,
    holder: Holder,
    checked: Checked,
) -> Result<String, DomainError> {
    match checked {
        Checked::Totp { factor, step } => {
            if !store::spend_step(tx, factor, step).await? {
                pass.secret_missed("code_already_used");
                return Err(DomainError::WrongSecondFactor);
            }
            Ok(format!("method=totp factor={factor}"))
        }
        Checked::Recovery { hash } => {
            if !store::spend_recovery_code(tx, holder, &hash).await? {
                pass.secret_missed("wrong_recovery_code");
                return Err(DomainError::WrongSecondFactor);
            }
            let left = store::recovery_codes_left(tx, holder).await?;
            Ok(format!("method=recovery_code recovery_codes_left={left}"))
        }
        Checked::EmailCode => Ok("method=email_code".to_owned()),
    }
}

/// The throttle buckets a person's second-factor failures count in: the
/// account's window, and its consecutive failures.
pub(super) fn factor_buckets(services: &Services, holder: Holder) -> Vec<crate::auth::Bucket> {
    let key = holder.throttle_key();
    vec![
        crate::auth::Bucket::account("factor", &key, &services.auth.throttle),
        crate::auth::Bucket::consecutive(
            "factor",
            &key,
            services.auth.max_consecutive_factor_failures,
        ),
    ]
}
