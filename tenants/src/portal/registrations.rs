//! Registrations made online without a code, waiting for their address to
//! be proven. They live apart from the clinic's accounts and patients, so
//! a stranger's registrations never reach the patient list, and they
//! expire: nothing unproven piles up.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::{PasswordHash, SecretToken};
use crate::domain::{
    DateOfBirth, DisplayName, EmailAddress, InvalidValue, PhoneNumber, Timestamp, Username, ZipCode,
};
use crate::storage::{StorageError, TenantTx};

/// How long a registration waits for its link to be followed: as long as
/// any emailed confirmation link lives.
pub(crate) const LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600);

/// The clinic's registration form, as the new patient filled it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatientForm {
    pub full_name: DisplayName,
    pub date_of_birth: DateOfBirth,
    pub phone: Option<PhoneNumber>,
    pub home_zip: ZipCode,
}

/// The form as stored: plain strings, parsed again on the way out.
#[derive(Serialize, Deserialize)]
struct StoredForm {
    full_name: String,
    date_of_birth: String,
    phone: Option<String>,
    home_zip: String,
}

impl NewPatientForm {
    fn to_stored(&self) -> String {
        serde_json::to_string(&StoredForm {
            full_name: self.full_name.to_string(),
            date_of_birth: self.date_of_birth.to_string(),
            phone: self.phone.as_ref().map(|p| p.as_str().to_owned()),
            home_zip: self.home_zip.as_str().to_owned(),
        })
        .expect("strings serialize")
    }

    fn from_stored(raw: &str) -> Result<Self, StorageError> {
        let corrupt = |e: InvalidValue| StorageError::Corrupt(e.to_string());
        let s: StoredForm =
            serde_json::from_str(raw).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(Self {
            full_name: DisplayName::parse("full_name", &s.full_name).map_err(corrupt)?,
            date_of_birth: DateOfBirth::parse(&s.date_of_birth).map_err(corrupt)?,
            phone: s
                .phone
                .map(|p| PhoneNumber::parse(&p))
                .transpose()
                .map_err(corrupt)?,
            home_zip: ZipCode::parse(&s.home_zip).map_err(corrupt)?,
        })
    }
}

/// A registration waiting for its link.
#[derive(Debug)]
pub(crate) struct PendingRegistration {
    pub email: EmailAddress,
    /// `None`: the account logs in with its email.
    pub username: Option<Username>,
    pub password_hash: PasswordHash,
    pub new_patient: Option<NewPatientForm>,
}

/// Files a registration; the token for its mailed link. An earlier
/// registration with the same address is replaced (its link stops
/// working), and expired ones are swept as new ones arrive.
pub(crate) async fn file(
    tx: &mut TenantTx,
    pending: &PendingRegistration,
) -> Result<SecretToken, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now();
    sqlx::query(
        "DELETE FROM pending_registrations
          WHERE tenant_id = $1 AND (expires_at <= $2 OR email_normalized = $3)",
    )
    .bind(key.clone())
    .bind(now.unix_millis())
    .bind(pending.email.normalized())
    .execute(tx.conn())
    .await?;
    let token = SecretToken::generate();
    sqlx::query(
        "INSERT INTO pending_registrations
            (tenant_id, id, email, email_normalized, username, password_hash, new_patient,
             token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(pending.email.as_str().to_owned())
    .bind(pending.email.normalized())
    .bind(pending.username.as_ref().map(|u| u.as_str().to_owned()))
    .bind(pending.password_hash.as_str().to_owned())
    .bind(pending.new_patient.as_ref().map(NewPatientForm::to_stored))
    .bind(token.hash())
    .bind(now.unix_millis())
    .bind(now.plus(LIFETIME).unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(token)
}

/// Takes the registration whose link this is, if it is live: it is gone
/// from the table afterwards, with every other one for the same address.
pub(crate) async fn take(
    tx: &mut TenantTx,
    token: &SecretToken,
) -> Result<Option<PendingRegistration>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT email, username, password_hash, new_patient, expires_at
           FROM pending_registrations WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(key.clone())
    .bind(token.hash())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |e: InvalidValue| StorageError::Corrupt(e.to_string());
    let email = EmailAddress::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?;
    sqlx::query("DELETE FROM pending_registrations WHERE tenant_id = $1 AND email_normalized = $2")
        .bind(key)
        .bind(email.normalized())
        .execute(tx.conn())
        .await?;
    if row.try_get::<i64, _>(4)? <= Timestamp::now().unix_millis() {
        return Ok(None);
    }
    Ok(Some(PendingRegistration {
        username: row
            .try_get::<Option<String>, _>(1)?
            .map(|u| Username::parse(&u))
            .transpose()
            .map_err(corrupt)?,
        password_hash: PasswordHash::from_stored(row.try_get(2)?),
        new_patient: row
            .try_get::<Option<String>, _>(3)?
            .map(|f| NewPatientForm::from_stored(&f))
            .transpose()?,
        email,
    }))
}
