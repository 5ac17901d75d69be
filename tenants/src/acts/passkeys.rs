//! What staff and patients share about passkeys: the challenge a browser
//! signs, the ceremony that waits for its answer, and checking an answer
//! against a person's passkeys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::{Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Uuid};

use crate::auth::SecretToken;
use crate::door::Passage;
use crate::error::{DomainError, RefusalKind};
use crate::factors::passkey::{self, PasskeyError, Purpose, RelyingParty};
use crate::factors::{Holder, store};

/// A challenge for the browser: `options` go to `navigator.credentials`
/// (their `publicKey`), and its answer comes back with `ceremony_id`.
#[derive(Debug)]
pub struct PasskeyOptions {
    pub ceremony_id: Uuid,
    pub options: serde_json::Value,
}

/// Passkey challenges one address may ask for without signing in, in 15
/// minutes: far more than people signing in from one office need.
const CHALLENGES_PER_ADDRESS: u32 = 120;

/// What a passkey challenge is for.
#[derive(Debug)]
pub enum ChallengeFor<'a> {
    /// Signing in with the passkey alone.
    SignIn,
    /// The second step of the login `pending` stands for.
    SecondStep(&'a SecretToken),
    /// A step-up of the signed-in staff member.
    StepUp,
}

impl From<PasskeyError> for DomainError {
    fn from(err: PasskeyError) -> Self {
        match err {
            PasskeyError::NoHostName => DomainError::refused(
                RefusalKind::Forbidden,
                "passkeys_need_a_host_name",
                err.to_string(),
            ),
            PasskeyError::Rejected(_) => DomainError::WrongSecondFactor,
        }
    }
}

pub(super) fn ceremony_over() -> DomainError {
    DomainError::refused(
        RefusalKind::Gone,
        "ceremony_expired",
        "this passkey prompt has expired or was already answered; start again",
    )
}

pub(super) fn no_passkey() -> DomainError {
    DomainError::Conflict {
        code: "no_passkey",
        message: "there is no passkey on this account: use a code from your authenticator app"
            .into(),
    }
}

/// The stored passkeys of `holder`, read back.
pub(super) async fn passkeys_of(
    pass: &Passage<'_>,
    holder: Holder,
) -> Result<Vec<(crate::domain::FactorId, Passkey)>, DomainError> {
    let mut tx = pass.read().await?;
    let stored = store::passkeys(&mut tx, holder).await?;
    tx.commit().await?;
    stored
        .into_iter()
        .map(|s| {
            serde_json::from_str(&s.passkey)
                .map(|p| (s.id, p))
                .map_err(|e| {
                    DomainError::Storage(crate::storage::StorageError::Corrupt(format!(
                        "a stored passkey does not read back: {e}"
                    )))
                })
        })
        .collect()
}

/// Spends the ceremony `id` in a transaction of its own, so that a wrong
/// answer cannot be followed by another to the same challenge.
pub(super) async fn take_ceremony<S: serde::de::DeserializeOwned>(
    pass: &Passage<'_>,
    id: Uuid,
    holder: Option<Holder>,
    purpose: Purpose,
) -> Result<S, DomainError> {
    let mut tx = pass.write().await?;
    let state = passkey::take(&mut tx, id, holder, purpose).await?;
    tx.commit().await?;
    state.ok_or_else(ceremony_over)
}

/// Checks the answer to a challenge for one of `holder`'s passkeys: the
/// passkey, with its new counter for the caller to keep in its
/// transaction. A wrong answer is a miss.
pub(super) async fn verify(
    pass: &mut Passage<'_>,
    rp: &RelyingParty,
    holder: Holder,
    ceremony: Uuid,
    purpose: Purpose,
    answer: &PublicKeyCredential,
) -> Result<(crate::domain::FactorId, String), DomainError> {
    let state: webauthn_rs::prelude::PasskeyAuthentication =
        take_ceremony(pass, ceremony, Some(holder), purpose).await?;
    let mine = passkeys_of(pass, holder).await?;
    let result = match rp.finish_authentication(answer, &state) {
        Ok(result) => result,
        Err(_) => {
            pass.secret_missed("wrong_passkey");
            return Err(DomainError::WrongSecondFactor);
        }
    };
    let Some((id, mut passkey)) = mine
        .into_iter()
        .find(|(_, p)| p.cred_id() == result.cred_id())
    else {
        pass.secret_missed("unknown_passkey");
        return Err(DomainError::WrongSecondFactor);
    };
    passkey.update_credential(&result);
    Ok((id, serde_json::to_string(&passkey).expect("serialises")))
}

/// Anyone may ask for a sign-in challenge; each is a row for a few
/// minutes, so an address gets a budget of them.
pub(super) async fn spend_challenge_budget(pass: &Passage<'_>) -> Result<(), DomainError> {
    let policy = crate::auth::ThrottlePolicy {
        max_failures_per_account: CHALLENGES_PER_ADDRESS,
        max_failures_per_ip: CHALLENGES_PER_ADDRESS,
        window: std::time::Duration::from_secs(15 * 60),
        lockout: std::time::Duration::from_secs(15 * 60),
        max_lockout: std::time::Duration::from_secs(15 * 60),
    };
    let bucket = crate::auth::Bucket::ip("passkey-challenge", pass.client().ip.as_deref(), &policy);
    if let Err(retry_after) = pass.spend(&bucket, &policy).await? {
        return Err(DomainError::RateLimited { retry_after });
    }
    Ok(())
}

pub(super) async fn authentication(
    pass: &Passage<'_>,
    rp: &RelyingParty,
    holder: Holder,
) -> Result<
    (
        serde_json::Value,
        webauthn_rs::prelude::PasskeyAuthentication,
    ),
    DomainError,
> {
    let mine: Vec<Passkey> = passkeys_of(pass, holder)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if mine.is_empty() {
        return Err(no_passkey());
    }
    Ok(rp.start_authentication(&mine)?)
}

/// Starts registering a passkey for `holder`, known to the browser by
/// `login` and `display_name`: the challenge, with the passkeys they
/// already have excluded, and its ceremony, ending the act.
pub(super) async fn begin_registration(
    pass: &mut Passage<'_>,
    rp: &RelyingParty,
    holder: Holder,
    login: &str,
    display_name: &str,
) -> Result<PasskeyOptions, DomainError> {
    let existing: Vec<Passkey> = passkeys_of(pass, holder)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let (options, state) =
        rp.start_registration(passkey::user_handle(holder), login, display_name, &existing)?;
    open_ceremony(pass, Some(holder), Purpose::Register, options, &state).await
}

/// Keeps a challenge's state as a ceremony, ending the act: the options
/// for the browser, with the ceremony's id.
pub(super) async fn open_ceremony(
    pass: &mut Passage<'_>,
    holder: Option<Holder>,
    purpose: Purpose,
    options: serde_json::Value,
    state: &impl serde::Serialize,
) -> Result<PasskeyOptions, DomainError> {
    let mut tx = pass.write().await?;
    let ceremony_id = passkey::begin(&mut tx, holder, purpose, state).await?;
    pass.commit(tx).await?;
    Ok(PasskeyOptions {
        ceremony_id,
        options,
    })
}

/// A passkey registered: its credential id (for the unique index) and the
/// passkey as stored, from the browser's answer to `holder`'s ceremony.
pub(super) async fn finish_registration(
    pass: &Passage<'_>,
    rp: &RelyingParty,
    holder: Holder,
    ceremony: Uuid,
    answer: &RegisterPublicKeyCredential,
) -> Result<(String, String), DomainError> {
    let state = take_ceremony(pass, ceremony, Some(holder), Purpose::Register).await?;
    let passkey = rp.finish_registration(answer, &state).map_err(|e| {
        DomainError::refused(
            RefusalKind::Malformed,
            "passkey_rejected",
            format!("the passkey could not be added: {e}"),
        )
    })?;
    Ok((
        URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        serde_json::to_string(&passkey).expect("serialises"),
    ))
}

/// A challenge to sign in with a passkey alone: any of this site's
/// passkeys may answer.
pub(super) async fn sign_in_challenge(
    pass: &mut Passage<'_>,
    rp: &RelyingParty,
) -> Result<PasskeyOptions, DomainError> {
    let (options, state) = rp.start_sign_in()?;
    open_ceremony(pass, None, Purpose::SignIn, options, &state).await
}

/// A challenge only `holder`'s passkeys may answer, for `purpose`.
pub(super) async fn challenge_for(
    pass: &mut Passage<'_>,
    rp: &RelyingParty,
    holder: Holder,
    purpose: Purpose,
) -> Result<PasskeyOptions, DomainError> {
    let (options, state) = authentication(pass, rp, holder).await?;
    open_ceremony(pass, Some(holder), purpose, options, &state).await
}
