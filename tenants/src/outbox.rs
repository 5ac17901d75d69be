//! Mail waiting to be sent. A mail is written here in the same transaction
//! as the act that causes it, so the act and its mail commit or vanish
//! together; a worker delivers it afterwards.

use crate::domain::{EmailAddress, PatientId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// The kinds of mail Portico sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    AccessLink,
    SmartformInvitation,
    EmailChangeNotice,
    PasswordReset,
    EmailVerification,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessLink => "access_link",
            Self::SmartformInvitation => "smartform_invitation",
            Self::EmailChangeNotice => "email_change_notice",
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }
}

/// Queues a mail in `tx`'s tenant. `payload` holds what the template needs.
pub async fn enqueue(
    tx: &mut TenantTx,
    kind: MailKind,
    recipient: &EmailAddress,
    patient: Option<PatientId>,
    payload: serde_json::Value,
) -> Result<String, StorageError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Timestamp::now().unix_millis();
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO outbox (tenant_id, id, kind, recipient, patient_id, payload, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    )
    .bind(key)
    .bind(id.clone())
    .bind(kind.as_str())
    .bind(recipient.as_str().to_owned())
    .bind(patient.map(|p| p.to_string()))
    .bind(payload.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A queued mail, as staff see it on a patient.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

pub async fn for_patient(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<QueuedMail>, StorageError> {
    use sqlx::Row;
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT id, kind, recipient, status, attempts, last_error, created_at FROM outbox
          WHERE tenant_id = $1 AND patient_id = $2 ORDER BY id DESC",
    )
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuedMail {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                recipient: r.try_get(2)?,
                status: r.try_get(3)?,
                attempts: r.try_get(4)?,
                last_error: r.try_get(5)?,
                created_at: Timestamp::from_unix_millis(r.try_get(6)?),
            })
        })
        .collect()
}
