//! Mail waiting to be sent. A mail is written here in the same transaction
//! as the act that causes it, so the act and its mail commit or vanish
//! together; a worker delivers it afterwards.
//!
//! Delivery is at least once. A mail's life in the worker: [`claim_due`]
//! leases it (the `mail_queue` row, across clinics); [`begin_attempt`]
//! marks it `sending` and counts the try, in a transaction of its own,
//! before a byte reaches the relay; [`record_delivery`] settles it `sent`
//! (or `pending` for a retry, or `dead`) in another short transaction as
//! soon as the relay has answered. A mail found still `sending` was cut off
//! between the two (a crash): the relay may or may not have it, so it is
//! sent again once its lease runs out. That repeat is the price of never
//! losing a mail; the worker keeps it small by holding few mails in flight,
//! and the mail's `Message-ID`, made from its id here, is the same on every
//! try, so mail clients fold a repeat into the first copy.

use crate::auth::CodeKey;
use crate::domain::{EmailAddress, PatientId, TenantId, Timestamp};
use crate::storage::{StorageError, TenantTx};

/// The kinds of mail Portico sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    AccessLink,
    SmartformInvitation,
    EmailChangeNotice,
    PasswordReset,
    EmailVerification,
    /// Something new on a record from the clinic; says what kind of thing,
    /// never what it says.
    RecordUpdate,
    /// Someone registered online with an address that already has an
    /// account: its owner is told, instead of the registrant being told
    /// the address is known.
    RegistrationAttempt,
    /// A six-digit code for a patient's second sign-in step.
    SignInCode,
    /// To a parent: the child reached the limited-view age, so the parent
    /// now sees less of the record.
    ProxyNarrowed,
    /// To a parent or caregiver: their access to a record ended (the
    /// patient came of age, the clinic revoked it, or the patient ended
    /// it).
    ProxyEnded,
    /// To a patient who came of age: their parents' access ended, and they
    /// decide who else sees their record.
    ComingOfAge,
    /// A patient's invitation to see their record as their caregiver, with
    /// the caregiver's code in its link.
    CaregiverInvitation,
    /// To a patient: someone now holds their record as a parent or
    /// caregiver.
    ProxyAdded,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessLink => "access_link",
            Self::SmartformInvitation => "smartform_invitation",
            Self::EmailChangeNotice => "email_change_notice",
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::RecordUpdate => "record_update",
            Self::RegistrationAttempt => "registration_attempt",
            Self::SignInCode => "sign_in_code",
            Self::ProxyNarrowed => "proxy_narrowed",
            Self::ProxyEnded => "proxy_ended",
            Self::ComingOfAge => "coming_of_age",
            Self::CaregiverInvitation => "caregiver_invitation",
            Self::ProxyAdded => "proxy_added",
        }
    }
}

/// The members of a payload that are one-time secrets: a code, a token.
const SECRET_MEMBERS: [&str; 2] = ["code", "token"];
/// Where a payload keeps them, sealed.
const SEALED: &str = "sealed";

/// `payload` with its one-time secrets (`code`, `token`) sealed under the
/// server's key, which is not in the database: no database file, its WAL
/// or its free pages included, ever holds a plain code or token, in any
/// state of the mail (queued, retried, dead, sent).
pub fn with_sealed_secrets(
    key: &CodeKey,
    tenant: TenantId,
    mut payload: serde_json::Value,
) -> serde_json::Value {
    let Some(members) = payload.as_object_mut() else {
        return payload;
    };
    let secrets: serde_json::Map<_, _> = SECRET_MEMBERS
        .iter()
        .filter_map(|m| members.remove(*m).map(|v| ((*m).to_owned(), v)))
        .collect();
    if !secrets.is_empty() {
        let sealed = key.seal(tenant, &serde_json::Value::Object(secrets));
        members.insert(SEALED.into(), sealed.into());
    }
    payload
}

/// Opens a payload's sealed secrets back into it, in memory, for
/// rendering; `None` when they cannot be opened (another key).
pub fn open_sealed_secrets(
    key: &CodeKey,
    tenant: TenantId,
    mut payload: serde_json::Value,
) -> Option<serde_json::Value> {
    let Some(members) = payload.as_object_mut() else {
        return Some(payload);
    };
    if let Some(sealed) = members.remove(SEALED) {
        let opened = key.unseal(tenant, sealed.as_str()?)?;
        for (name, value) in opened.as_object()? {
            members.insert(name.clone(), value.clone());
        }
    }
    Some(payload)
}

/// Queues a mail in `tx`'s tenant. `payload` holds what the template needs;
/// a code or token in it must have been sealed ([`with_sealed_secrets`]).
pub async fn enqueue(
    tx: &mut TenantTx,
    kind: MailKind,
    recipient: &EmailAddress,
    patient: Option<PatientId>,
    payload: serde_json::Value,
) -> Result<String, StorageError> {
    if SECRET_MEMBERS.iter().any(|m| payload.get(*m).is_some()) {
        return Err(StorageError::Corrupt(
            "a mail's code or token must be sealed before it is queued".into(),
        ));
    }
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
    sqlx::query("INSERT INTO mail_queue (tenant_id, mail_id, due_at) VALUES ($1, $2, $3)")
        .bind(tx.tenant_key())
        .bind(id.clone())
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

/// A mail taken from the queue for delivery.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub id: String,
    pub kind: MailKind,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// Tries before this one.
    pub attempts: i64,
    /// The try before this one was cut off before its outcome was recorded
    /// (the mail was still `sending`): the relay may already have it.
    pub interrupted: bool,
}

impl MailKind {
    /// Every kind, for what must handle each.
    pub const ALL: [Self; 13] = [
        Self::AccessLink,
        Self::SmartformInvitation,
        Self::EmailChangeNotice,
        Self::PasswordReset,
        Self::EmailVerification,
        Self::RecordUpdate,
        Self::RegistrationAttempt,
        Self::SignInCode,
        Self::ProxyNarrowed,
        Self::ProxyEnded,
        Self::ComingOfAge,
        Self::CaregiverInvitation,
        Self::ProxyAdded,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Claims up to `limit` due mails across tenants for `lease`; a crashed
/// worker's claims run out and are taken again. The worker claims one mail
/// per free slot and tries it at once, so the lease covers one try: it
/// must outlast one, or another worker sends the mail again while the
/// first is still at it. On PostgreSQL, `FOR UPDATE
/// SKIP LOCKED` lets several server processes claim side by side without
/// taking the same mail; on SQLite the write lock does.
pub async fn claim_due(
    db: &crate::storage::Database,
    limit: u32,
    lease: std::time::Duration,
) -> Result<Vec<(crate::domain::TenantId, String)>, StorageError> {
    use sqlx::Row;
    let now = Timestamp::now();
    let sql = match db.engine() {
        // Chosen once, in a materialised CTE: as an `IN (…)` subquery the
        // planner may run the LIMIT … SKIP LOCKED query again for each
        // row it joins, and claim more than `limit` (the scale benchmark
        // saw a worker handed more mails than it had room for).
        crate::storage::Engine::Postgres => {
            "WITH due AS MATERIALIZED (
                    SELECT tenant_id, mail_id FROM mail_queue
                     WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                     ORDER BY due_at LIMIT $3
                       FOR UPDATE SKIP LOCKED)
             UPDATE mail_queue m SET claimed_until = $2
               FROM due WHERE m.tenant_id = due.tenant_id AND m.mail_id = due.mail_id
             RETURNING m.tenant_id, m.mail_id"
        }
        crate::storage::Engine::Sqlite => {
            "UPDATE mail_queue SET claimed_until = $2
              WHERE (tenant_id, mail_id) IN (
                    SELECT tenant_id, mail_id FROM mail_queue
                     WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                     ORDER BY due_at LIMIT $3)
             RETURNING tenant_id, mail_id"
        }
    };
    let mut tx = db.platform_write().await?;
    let rows = sqlx::query(sql)
        .bind(now.unix_millis())
        .bind(now.plus(lease).unix_millis())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            let tenant = crate::domain::TenantId::parse(&r.try_get::<String, _>(0)?)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            Ok((tenant, r.try_get(1)?))
        })
        .collect()
}

/// The mail queue at a glance, across clinics.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    /// Mails waiting to be sent or tried again.
    pub waiting: i64,
    /// When the earliest of them was due.
    pub oldest_due: Option<Timestamp>,
}

/// Reads the queue's depth and its earliest due time; ids and counts only.
pub async fn backlog(db: &crate::storage::Database) -> Result<Backlog, StorageError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT COUNT(*), MIN(due_at) FROM mail_queue")
        .fetch_one(db.platform_pool())
        .await?;
    Ok(Backlog {
        waiting: row.try_get(0)?,
        oldest_due: row
            .try_get::<Option<i64>, _>(1)?
            .map(Timestamp::from_unix_millis),
    })
}

/// Starts a try of a claimed mail, before it goes to the relay: marks it
/// `sending` and counts the try, so a try cut off by a crash is counted
/// too, and the next one knows the relay may have the mail already. `None`
/// when the mail is no longer waiting (sent or given up meanwhile). Commit
/// `tx` before sending.
pub async fn begin_attempt(
    tx: &mut TenantTx,
    id: &str,
) -> Result<Option<OutgoingMail>, StorageError> {
    use sqlx::Row;
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT id, kind, recipient, payload, attempts, status FROM outbox
          WHERE tenant_id = $1 AND id = $2 AND status IN ('pending', 'sending')",
    )
    .bind(key.clone())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_owned())
    .execute(tx.conn())
    .await?;
    let kind: String = row.try_get(1)?;
    Ok(Some(OutgoingMail {
        id: row.try_get(0)?,
        kind: MailKind::parse(&kind)
            .ok_or_else(|| StorageError::Corrupt(format!("mail kind {kind:?}")))?,
        recipient: row.try_get(2)?,
        payload: serde_json::from_str(&row.try_get::<String, _>(3)?)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        attempts: row.try_get(4)?,
        interrupted: row.try_get::<String, _>(5)? == "sending",
    }))
}

/// What became of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent,
    /// Try again at the given time.
    Retry {
        error: String,
        at: Timestamp,
    },
    /// Given up: refused for good, or out of tries.
    Dead {
        error: String,
    },
}

/// Records the outcome of a try begun with [`begin_attempt`] (which
/// counted it). A sent mail's payload is cleared: the codes and tokens in
/// it have no business staying in the database. A mail already `sent` (by
/// another worker, when a lease ran out under a slow try) stays sent.
pub async fn record_delivery(
    tx: &mut TenantTx,
    id: &str,
    outcome: &Delivery,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    match outcome {
        Delivery::Sent => {
            sqlx::query(
                "UPDATE outbox SET status = 'sent', sent_at = $3, payload = '{}', last_error = NULL
                  WHERE tenant_id = $1 AND id = $2 AND status <> 'sent'",
            )
            .bind(key.clone())
            .bind(id.to_owned())
            .bind(now)
            .execute(tx.conn())
            .await?;
            dequeue(tx, id).await?;
        }
        Delivery::Retry { error, at } => {
            let waiting = sqlx::query(
                "UPDATE outbox SET status = 'pending', next_attempt_at = $3, last_error = $4
                  WHERE tenant_id = $1 AND id = $2 AND status = 'sending'",
            )
            .bind(key.clone())
            .bind(id.to_owned())
            .bind(at.unix_millis())
            .bind(error.clone())
            .execute(tx.conn())
            .await?;
            if waiting.rows_affected() == 0 {
                return Ok(());
            }
            sqlx::query("UPDATE mail_queue SET due_at = $3, claimed_until = NULL WHERE tenant_id = $1 AND mail_id = $2")
                .bind(key)
                .bind(id.to_owned())
                .bind(at.unix_millis())
                .execute(tx.conn())
                .await?;
        }
        Delivery::Dead { error } => {
            let given_up = sqlx::query(
                "UPDATE outbox SET status = 'dead', last_error = $3
                  WHERE tenant_id = $1 AND id = $2 AND status = 'sending'",
            )
            .bind(key)
            .bind(id.to_owned())
            .bind(error.clone())
            .execute(tx.conn())
            .await?;
            if given_up.rows_affected() == 0 {
                return Ok(());
            }
            dequeue(tx, id).await?;
        }
    }
    Ok(())
}

async fn dequeue(tx: &mut TenantTx, id: &str) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM mail_queue WHERE tenant_id = $1 AND mail_id = $2")
        .bind(tx.tenant_key())
        .bind(id.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub(crate) async fn dead(tx: &mut TenantTx) -> Result<Vec<QueuedMail>, StorageError> {
    use sqlx::Row;
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT id, kind, recipient, status, attempts, last_error, created_at FROM outbox
          WHERE tenant_id = $1 AND status = 'dead' ORDER BY id DESC LIMIT 500",
    )
    .bind(key)
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

pub(crate) async fn requeue(tx: &mut TenantTx, id: &str) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let done = sqlx::query(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3
          WHERE tenant_id = $1 AND id = $2 AND status = 'dead'",
    )
    .bind(key.clone())
    .bind(id.to_owned())
    .bind(now)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO mail_queue (tenant_id, mail_id, due_at) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(id.to_owned())
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(true)
}
