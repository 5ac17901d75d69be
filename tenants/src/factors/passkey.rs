//! Passkeys (WebAuthn): the relying party a clinic is, and the ceremonies
//! that register a passkey and sign in or confirm with one. The browser's
//! side is `navigator.credentials`; the JSON it exchanges is WebAuthn's own
//! (`PublicKeyCredentialCreationOptionsJSON` and friends).

use std::time::Duration;

use sqlx::Row;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

use super::Holder;
use crate::domain::{AccountId, InvalidValue, StaffId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// How long a ceremony may take, the browser's prompt included.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

/// The clinic as a WebAuthn relying party: the host its pages are reached
/// on (its RP ID), and the origin the browser must report.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    id: String,
    origin: Url,
    name: String,
}

/// Why a passkey could not be used where one was offered.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Browsers allow passkeys only on a named host, never an IP address.
    #[error(
        "passkeys need the server to be reached by a name, not an IP address (open it at http://localhost:… instead of 127.0.0.1)"
    )]
    NoHostName,
    #[error("the passkey's answer is not valid: {0}")]
    Rejected(String),
}

impl RelyingParty {
    /// The relying party of pages served at `base` (a clinic's root, such
    /// as `https://portal.north.example` or `http://127.0.0.1:8080/t/north`).
    /// A loopback address becomes `localhost`, which browsers treat as a
    /// secure context and accept as an RP ID.
    pub fn for_base(base: &str, name: &str) -> Result<Self, PasskeyError> {
        let mut origin = Url::parse(base).map_err(|_| PasskeyError::NoHostName)?;
        origin.set_path("");
        origin.set_query(None);
        origin.set_fragment(None);
        let loopback = origin
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback());
        if loopback {
            origin
                .set_host(Some("localhost"))
                .map_err(|_| PasskeyError::NoHostName)?;
        }
        let id = origin.domain().ok_or(PasskeyError::NoHostName)?.to_owned();
        Ok(Self {
            id,
            origin,
            name: name.to_owned(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn webauthn(&self) -> Result<Webauthn, PasskeyError> {
        WebauthnBuilder::new(&self.id, &self.origin)
            .and_then(|b| b.rp_name(&self.name).timeout(CEREMONY_TTL).build())
            .map_err(|e| PasskeyError::Rejected(e.to_string()))
    }

    /// Starts registering a passkey for the person `user` (their id, their
    /// login name, their display name), excluding the ones they have. The
    /// passkey must be discoverable (a resident key), so that it can sign
    /// in without a name typed first, and verify its user (a PIN or a
    /// fingerprint).
    pub fn start_registration(
        &self,
        user: Uuid,
        login: &str,
        display: &str,
        existing: &[Passkey],
    ) -> Result<(serde_json::Value, PasskeyRegistration), PasskeyError> {
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(user, login, display, Some(exclude))
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        Ok((require_resident_key(options), state))
    }

    pub fn finish_registration(
        &self,
        answer: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, PasskeyError> {
        self.webauthn()?
            .finish_passkey_registration(answer, state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))
    }

    /// A challenge any of the user's `passkeys` can sign (a second step, a
    /// step-up).
    pub fn start_authentication(
        &self,
        passkeys: &[Passkey],
    ) -> Result<(serde_json::Value, PasskeyAuthentication), PasskeyError> {
        let (options, state) = self
            .webauthn()?
            .start_passkey_authentication(passkeys)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        Ok((
            serde_json::to_value(options).expect("options serialise"),
            state,
        ))
    }

    pub fn finish_authentication(
        &self,
        answer: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<webauthn_rs::prelude::AuthenticationResult, PasskeyError> {
        self.webauthn()?
            .finish_passkey_authentication(answer, state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))
    }

    /// A challenge for a sign-in that starts with the passkey: the browser
    /// offers whichever of this site's passkeys the person picks. The
    /// prompt is modal (a button), not the autofill kind.
    pub fn start_sign_in(
        &self,
    ) -> Result<(serde_json::Value, DiscoverableAuthentication), PasskeyError> {
        let (mut options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        options.mediation = None;
        Ok((
            serde_json::to_value(options).expect("options serialise"),
            state,
        ))
    }

    /// The user a sign-in's answer names, and the credential it used.
    pub fn identify(answer: &PublicKeyCredential) -> Option<(Uuid, Vec<u8>)> {
        let user = Uuid::from_slice(answer.get_user_unique_id()?).ok()?;
        Some((user, answer.get_credential_id().to_vec()))
    }

    pub fn finish_sign_in(
        &self,
        answer: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        passkey: &Passkey,
    ) -> Result<webauthn_rs::prelude::AuthenticationResult, PasskeyError> {
        self.webauthn()?
            .finish_discoverable_authentication_v2(answer, state, passkey)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))
    }
}

/// The registration options, asking for a resident key: the library asks
/// for none by default (it fills security keys' small storage), but a
/// passkey that signs in without a typed name must be one.
fn require_resident_key(options: CreationChallengeResponse) -> serde_json::Value {
    let mut json = serde_json::to_value(options).expect("options serialise");
    if let Some(selection) = json
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|s| s.as_object_mut())
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    json
}

/// The WebAuthn user handle of a holder: their id's UUID.
pub fn user_handle(holder: Holder) -> Uuid {
    let text = match holder {
        Holder::Staff(id) => id.to_string(),
        Holder::Account(id) => id.to_string(),
    };
    Uuid::parse_str(&text).expect("ids are UUIDs")
}

/// The staff member a user handle names.
pub fn staff_of_handle(handle: Uuid) -> Option<StaffId> {
    StaffId::parse(&handle.to_string()).ok()
}

/// The portal account a user handle names.
pub fn account_of_handle(handle: Uuid) -> Option<AccountId> {
    AccountId::parse(&handle.to_string()).ok()
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SignIn,
    SecondStep,
    StepUp,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondStep => "second_step",
            Self::StepUp => "step_up",
        }
    }
}

/// The id of a ceremony waiting for the browser's answer.
pub fn parse_ceremony_id(raw: &str) -> Result<Uuid, InvalidValue> {
    Uuid::try_parse(raw).map_err(|_| {
        InvalidValue::new(
            "ceremony_id",
            "must be the ceremony_id the options came with",
        )
    })
}

/// Keeps a ceremony's state until its answer comes.
pub(crate) async fn begin(
    tx: &mut TenantTx,
    holder: Option<Holder>,
    purpose: Purpose,
    state: &impl serde::Serialize,
) -> Result<Uuid, StorageError> {
    let id = Uuid::now_v7();
    let now = Timestamp::now();
    let (staff, account) = match holder {
        Some(Holder::Staff(id)) => (Some(id.to_string()), None),
        Some(Holder::Account(id)) => (None, Some(id.to_string())),
        None => (None, None),
    };
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO passkey_ceremonies (tenant_id, id, staff_id, account_id, purpose, state, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.clone())
    .bind(id.to_string())
    .bind(staff)
    .bind(account)
    .bind(purpose.as_str())
    .bind(serde_json::to_string(state).expect("ceremony state serialises"))
    .bind(now.unix_millis())
    .bind(now.plus(CEREMONY_TTL).unix_millis())
    .execute(tx.conn())
    .await?;
    sqlx::query("DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND expires_at < $2")
        .bind(key)
        .bind(now.minus(CEREMONY_TTL).unix_millis())
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Uses up the live ceremony `id` of `purpose` for `holder` (`None` for a
/// sign-in): its state, or `None` when it is unknown, spent, expired, or
/// someone else's.
pub(crate) async fn take<S: serde::de::DeserializeOwned>(
    tx: &mut TenantTx,
    id: Uuid,
    holder: Option<Holder>,
    purpose: Purpose,
) -> Result<Option<S>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT staff_id, account_id, state FROM passkey_ceremonies
          WHERE tenant_id = $1 AND id = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4",
    )
    .bind(key.clone())
    .bind(id.to_string())
    .bind(purpose.as_str())
    .bind(Timestamp::now().unix_millis())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (staff, account) = (
        row.try_get::<Option<String>, _>(0)?,
        row.try_get::<Option<String>, _>(1)?,
    );
    let owner = match holder {
        Some(Holder::Staff(id)) => (Some(id.to_string()), None),
        Some(Holder::Account(id)) => (None, Some(id.to_string())),
        None => (None, None),
    };
    if (staff, account) != owner {
        return Ok(None);
    }
    let spent = sqlx::query(
        "UPDATE passkey_ceremonies SET used_at = $3 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    if spent.rows_affected() != 1 {
        return Ok(None);
    }
    let state: String = row.try_get(2)?;
    Ok(serde_json::from_str(&state).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clinic_reached_on_a_loopback_address_is_the_relying_party_localhost() {
        let rp = RelyingParty::for_base("http://127.0.0.1:8080/t/north", "North").unwrap();
        assert_eq!(rp.id(), "localhost");
        assert_eq!(rp.origin.as_str(), "http://localhost:8080/");
        let rp = RelyingParty::for_base("https://portal.north.example", "North").unwrap();
        assert_eq!(rp.id(), "portal.north.example");
        assert!(matches!(
            RelyingParty::for_base("http://10.0.0.5:8080", "North"),
            Err(PasskeyError::NoHostName)
        ));
    }

    #[test]
    fn registration_asks_for_a_discoverable_passkey_that_verifies_its_user() {
        let rp = RelyingParty::for_base("https://portal.north.example", "North").unwrap();
        let holder = Holder::Staff(StaffId::generate());
        let (options, _) = rp
            .start_registration(user_handle(holder), "mia@north.example", "Mia", &[])
            .unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "{options}");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "portal.north.example");
        let (sign_in, _) = rp.start_sign_in().unwrap();
        assert!(
            sign_in.get("mediation").is_none(),
            "a modal prompt: {sign_in}"
        );
        assert_eq!(
            staff_of_handle(user_handle(holder)),
            match holder {
                Holder::Staff(s) => Some(s),
                _ => None,
            }
        );
    }
}
