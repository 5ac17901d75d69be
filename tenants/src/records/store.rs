//! SQL for what a record shares. Every query names the tenant; the
//! `TenantTx` it runs on cannot exist without one.

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{AppointmentRequest, MediaType, Upload, WrittenText};
use crate::domain::{
    AccountId, AppointmentId, DocumentId, MessageId, NoteId, PatientId, StaffId, Timestamp,
};
use crate::storage::{StorageError, TenantTx};

/// Which side of the conversation wrote or gave something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Clinic,
    Patient,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Clinic => "staff",
            Self::Patient => "account",
        }
    }

    fn parse(raw: &str) -> Result<Self, StorageError> {
        match raw {
            "staff" => Ok(Self::Clinic),
            "account" => Ok(Self::Patient),
            other => Err(StorageError::Corrupt(format!("unknown side {other:?}"))),
        }
    }
}

/// Who wrote or gave something, with the name shown beside it then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub side: Side,
    pub id: String,
    pub name: String,
}

impl Author {
    /// A staff member, named as the clinic knows them now.
    pub(crate) async fn staff(tx: &mut TenantTx, id: StaffId) -> Result<Self, StorageError> {
        let key = tx.tenant_key();
        let name: String =
            sqlx::query_scalar("SELECT display_name FROM staff WHERE tenant_id = $1 AND id = $2")
                .bind(key)
                .bind(id.to_string())
                .fetch_one(tx.conn())
                .await?;
        Ok(Self {
            side: Side::Clinic,
            id: id.to_string(),
            name,
        })
    }

    /// A portal account, named by its username: a parent writing on a
    /// child's record is the parent.
    pub(crate) async fn account(tx: &mut TenantTx, id: AccountId) -> Result<Self, StorageError> {
        let key = tx.tenant_key();
        let name: String = sqlx::query_scalar(
            "SELECT username FROM portal_accounts WHERE tenant_id = $1 AND id = $2",
        )
        .bind(key)
        .bind(id.to_string())
        .fetch_one(tx.conn())
        .await?;
        Ok(Self {
            side: Side::Patient,
            id: id.to_string(),
            name,
        })
    }
}

fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

fn timestamp(row: &AnyRow, index: usize) -> Result<Option<Timestamp>, StorageError> {
    Ok(row
        .try_get::<Option<i64>, _>(index)?
        .map(Timestamp::from_unix_millis))
}

// ---------------------------------------------------------------- documents

#[derive(Debug, Clone)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub patient_id: PatientId,
    pub title: String,
    pub file_name: String,
    pub media_type: MediaType,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Author,
    pub uploaded_at: Timestamp,
    pub message_id: Option<MessageId>,
    pub withdrawn_at: Option<Timestamp>,
    /// When the patient's side first opened it; `None` while it is new to
    /// them.
    pub opened_at: Option<Timestamp>,
    /// Hidden from a teenager's parents, and from caregivers the patient
    /// has not allowed to see such items.
    pub confidential: bool,
}

macro_rules! document_columns {
    () => {
        "id, patient_id, title, file_name, media_type, size_bytes, sha256, uploaded_by_kind, uploaded_by_id, uploaded_by_name, uploaded_at, message_id, withdrawn_at, opened_at, confidential"
    };
}

fn document_from_row(row: &AnyRow) -> Result<DocumentRecord, StorageError> {
    Ok(DocumentRecord {
        id: DocumentId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        title: row.try_get(2)?,
        file_name: row.try_get(3)?,
        media_type: MediaType::parse(&row.try_get::<String, _>(4)?).map_err(corrupt)?,
        size_bytes: row.try_get(5)?,
        sha256: row.try_get(6)?,
        uploaded_by: Author {
            side: Side::parse(&row.try_get::<String, _>(7)?)?,
            id: row.try_get(8)?,
            name: row.try_get(9)?,
        },
        uploaded_at: Timestamp::from_unix_millis(row.try_get(10)?),
        message_id: row
            .try_get::<Option<String>, _>(11)?
            .map(|m| MessageId::parse(&m).map_err(corrupt))
            .transpose()?,
        withdrawn_at: timestamp(row, 12)?,
        opened_at: timestamp(row, 13)?,
        confidential: row.try_get::<i64, _>(14)? == 1,
    })
}

pub(crate) async fn insert_document(
    tx: &mut TenantTx,
    patient: PatientId,
    title: &str,
    upload: &Upload,
    by: &Author,
    message: Option<MessageId>,
    confidential: bool,
) -> Result<DocumentRecord, StorageError> {
    let key = tx.tenant_key();
    let id = DocumentId::generate();
    let sha256 = hex::encode(Sha256::digest(upload.bytes()));
    sqlx::query(
        "INSERT INTO documents (tenant_id, id, patient_id, title, file_name, media_type, size_bytes, sha256,
                                uploaded_by_kind, uploaded_by_id, uploaded_by_name, uploaded_at, message_id, opened_at, confidential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 -- What the patient's side sent is not new to them.
                 CASE WHEN $9 = 'account' THEN $12 END, $14)",
    )
    .bind(key.clone())
    .bind(id.to_string())
    .bind(patient.to_string())
    .bind(title.to_owned())
    .bind(upload.file_name().as_str().to_owned())
    .bind(upload.media_type().as_str())
    .bind(upload.bytes().len() as i64)
    .bind(sha256)
    .bind(by.side.as_str())
    .bind(by.id.clone())
    .bind(by.name.clone())
    .bind(Timestamp::now().unix_millis())
    .bind(message.map(|m| m.to_string()))
    .bind(i64::from(confidential))
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO document_contents (tenant_id, document_id, bytes) VALUES ($1, $2, $3)",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(upload.bytes().to_vec())
    .execute(tx.conn())
    .await?;
    document(tx, id)
        .await?
        .ok_or_else(|| corrupt("a document vanished in its own transaction"))
}

pub(crate) async fn document(
    tx: &mut TenantTx,
    id: DocumentId,
) -> Result<Option<DocumentRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        document_columns!(),
        " FROM documents WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(document_from_row).transpose()
}

/// A record's documents, newest first, withdrawn ones included (the caller
/// decides who may see those).
pub(crate) async fn documents_of(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<DocumentRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        document_columns!(),
        " FROM documents WHERE tenant_id = $1 AND patient_id = $2 ORDER BY uploaded_at DESC, id DESC"
    ))
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(document_from_row).collect()
}

pub(crate) async fn document_bytes(
    tx: &mut TenantTx,
    id: DocumentId,
) -> Result<Vec<u8>, StorageError> {
    let key = tx.tenant_key();
    let bytes: Vec<u8> = sqlx::query_scalar(
        "SELECT bytes FROM document_contents WHERE tenant_id = $1 AND document_id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(bytes)
}

/// Marks a document withdrawn; false if it already was.
pub(crate) async fn withdraw_document(
    tx: &mut TenantTx,
    id: DocumentId,
    by: StaffId,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE documents SET withdrawn_at = $3, withdrawn_by = $4
          WHERE tenant_id = $1 AND id = $2 AND withdrawn_at IS NULL",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(Timestamp::now().unix_millis())
    .bind(format!("staff:{by}"))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

// -------------------------------------------------------------------- notes

#[derive(Debug, Clone)]
pub struct NoteRecord {
    pub id: NoteId,
    pub patient_id: PatientId,
    pub body: String,
    pub author_name: String,
    pub written_at: Timestamp,
    pub confidential: bool,
}

fn note_from_row(row: &AnyRow) -> Result<NoteRecord, StorageError> {
    Ok(NoteRecord {
        id: NoteId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        body: row.try_get(2)?,
        author_name: row.try_get(3)?,
        written_at: Timestamp::from_unix_millis(row.try_get(4)?),
        confidential: row.try_get::<i64, _>(5)? == 1,
    })
}

pub(crate) async fn insert_note(
    tx: &mut TenantTx,
    patient: PatientId,
    body: &WrittenText,
    by: &Author,
    confidential: bool,
) -> Result<NoteRecord, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "INSERT INTO notes (tenant_id, id, patient_id, body, author_id, author_name, written_at, confidential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, patient_id, body, author_name, written_at, confidential",
    )
    .bind(key)
    .bind(NoteId::generate().to_string())
    .bind(patient.to_string())
    .bind(body.as_str().to_owned())
    .bind(by.id.clone())
    .bind(by.name.clone())
    .bind(Timestamp::now().unix_millis())
    .bind(i64::from(confidential))
    .fetch_one(tx.conn())
    .await?;
    note_from_row(&row)
}

/// One note of `patient`, if it is theirs.
pub(crate) async fn note(
    tx: &mut TenantTx,
    patient: PatientId,
    id: NoteId,
) -> Result<Option<NoteRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT id, patient_id, body, author_name, written_at, confidential FROM notes
          WHERE tenant_id = $1 AND patient_id = $2 AND id = $3",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(note_from_row).transpose()
}

pub(crate) async fn notes_of(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<NoteRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT id, patient_id, body, author_name, written_at, confidential FROM notes
          WHERE tenant_id = $1 AND patient_id = $2 ORDER BY written_at DESC, id DESC",
    )
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(note_from_row).collect()
}

// ------------------------------------------------------------- appointments

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStatus {
    Scheduled,
    Cancelled,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppointmentRecord {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub starts_at: Timestamp,
    pub duration_minutes: i64,
    pub with_whom: String,
    pub location: String,
    pub reason: Option<String>,
    pub status: AppointmentStatus,
    pub booked_at: Timestamp,
    pub confidential: bool,
}

macro_rules! appointment_columns {
    () => {
        "id, patient_id, starts_at, duration_minutes, with_whom, location, reason, status, booked_at, confidential"
    };
}

fn appointment_from_row(row: &AnyRow) -> Result<AppointmentRecord, StorageError> {
    Ok(AppointmentRecord {
        id: AppointmentId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        starts_at: Timestamp::from_unix_millis(row.try_get(2)?),
        duration_minutes: row.try_get(3)?,
        with_whom: row.try_get(4)?,
        location: row.try_get(5)?,
        reason: row.try_get(6)?,
        status: match row.try_get::<String, _>(7)?.as_str() {
            "scheduled" => AppointmentStatus::Scheduled,
            "cancelled" => AppointmentStatus::Cancelled,
            other => return Err(corrupt(format!("unknown appointment status {other:?}"))),
        },
        booked_at: Timestamp::from_unix_millis(row.try_get(8)?),
        confidential: row.try_get::<i64, _>(9)? == 1,
    })
}

pub(crate) async fn insert_appointment(
    tx: &mut TenantTx,
    patient: PatientId,
    request: &AppointmentRequest,
    by: StaffId,
) -> Result<AppointmentRecord, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "INSERT INTO appointments (tenant_id, id, patient_id, starts_at, duration_minutes, with_whom, location, reason, status, booked_by, booked_at, confidential)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9, $10, $11) RETURNING ",
        appointment_columns!()
    ))
    .bind(key)
    .bind(AppointmentId::generate().to_string())
    .bind(patient.to_string())
    .bind(request.starts_at.unix_millis())
    .bind(i64::from(request.duration_minutes))
    .bind(request.with_whom.as_str().to_owned())
    .bind(request.location.as_str().to_owned())
    .bind(request.reason.as_ref().map(|r| r.as_str().to_owned()))
    .bind(format!("staff:{by}"))
    .bind(Timestamp::now().unix_millis())
    .bind(i64::from(request.confidential))
    .fetch_one(tx.conn())
    .await?;
    appointment_from_row(&row)
}

/// A record's appointments in time order.
pub(crate) async fn appointments_of(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<AppointmentRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        appointment_columns!(),
        " FROM appointments WHERE tenant_id = $1 AND patient_id = $2 ORDER BY starts_at, id"
    ))
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(appointment_from_row).collect()
}

/// Cancels a scheduled appointment of `patient`; false if there is none.
pub(crate) async fn cancel_appointment(
    tx: &mut TenantTx,
    patient: PatientId,
    id: AppointmentId,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let done = sqlx::query(
        "UPDATE appointments SET status = 'cancelled'
          WHERE tenant_id = $1 AND patient_id = $2 AND id = $3 AND status = 'scheduled'",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(id.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

// ----------------------------------------------------------------- messages

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: MessageId,
    pub patient_id: PatientId,
    pub from: Author,
    pub body: String,
    pub sent_at: Timestamp,
    /// When the other side first read it.
    pub read_at: Option<Timestamp>,
    pub attachments: Vec<DocumentRecord>,
}

fn message_from_row(row: &AnyRow) -> Result<MessageRecord, StorageError> {
    Ok(MessageRecord {
        id: MessageId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        from: Author {
            side: Side::parse(&row.try_get::<String, _>(2)?)?,
            id: row.try_get(3)?,
            name: row.try_get(4)?,
        },
        body: row.try_get(5)?,
        sent_at: Timestamp::from_unix_millis(row.try_get(6)?),
        read_at: timestamp(row, 7)?,
        attachments: Vec::new(),
    })
}

pub(crate) async fn insert_message(
    tx: &mut TenantTx,
    patient: PatientId,
    body: &WrittenText,
    from: &Author,
) -> Result<MessageId, StorageError> {
    let key = tx.tenant_key();
    let id = MessageId::generate();
    sqlx::query(
        "INSERT INTO messages (tenant_id, id, patient_id, sender_kind, sender_id, sender_name, body, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(patient.to_string())
    .bind(from.side.as_str())
    .bind(from.id.clone())
    .bind(from.name.clone())
    .bind(body.as_str().to_owned())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A record's conversation, oldest first, each message with its
/// attachments.
pub(crate) async fn messages_of(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<MessageRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT id, patient_id, sender_kind, sender_id, sender_name, body, sent_at, read_at FROM messages
          WHERE tenant_id = $1 AND patient_id = $2 ORDER BY sent_at, id",
    )
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    let mut messages = rows
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let mut attached = documents_of(tx, patient).await?;
    attached.retain(|d| d.message_id.is_some());
    for message in &mut messages {
        message.attachments = attached
            .iter()
            .filter(|d| d.message_id == Some(message.id))
            .cloned()
            .collect();
    }
    Ok(messages)
}

/// Marks as read what the other side sent on this record. Returns how many
/// messages were new.
/// Marks a document opened by the patient's side, the first time only.
pub(crate) async fn mark_opened(
    tx: &mut TenantTx,
    document: DocumentId,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE documents SET opened_at = $3 WHERE tenant_id = $1 AND id = $2 AND opened_at IS NULL")
        .bind(key)
        .bind(document.to_string())
        .bind(Timestamp::now().unix_millis())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub(crate) async fn mark_read(
    tx: &mut TenantTx,
    patient: PatientId,
    reader: Side,
) -> Result<u64, StorageError> {
    let key = tx.tenant_key();
    let sent_by = match reader {
        Side::Clinic => Side::Patient,
        Side::Patient => Side::Clinic,
    };
    let done = sqlx::query(
        "UPDATE messages SET read_at = $4
          WHERE tenant_id = $1 AND patient_id = $2 AND sender_kind = $3 AND read_at IS NULL",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(sent_by.as_str())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// A record whose patient wrote and nobody at the clinic has read yet.
#[derive(Debug, Clone)]
pub struct UnreadThread {
    pub patient: PatientId,
    pub patient_name: String,
    pub unread: i64,
    /// When the oldest unread message was sent.
    pub waiting_since: Timestamp,
}

/// How many messages from patients the clinic has not read, per record,
/// the longest waiting first.
pub(crate) async fn unread_by_clinic(tx: &mut TenantTx) -> Result<Vec<UnreadThread>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT m.patient_id, p.full_name, COUNT(*), MIN(m.sent_at) FROM messages m
           JOIN patients p ON p.tenant_id = m.tenant_id AND p.id = m.patient_id
          WHERE m.tenant_id = $1 AND m.sender_kind = 'account' AND m.read_at IS NULL
            AND p.archived_at IS NULL
          GROUP BY m.patient_id, p.full_name ORDER BY MIN(m.sent_at)",
    )
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UnreadThread {
                patient: PatientId::parse(&r.try_get::<String, _>(0)?).map_err(corrupt)?,
                patient_name: r.try_get(1)?,
                unread: r.try_get(2)?,
                waiting_since: Timestamp::from_unix_millis(r.try_get(3)?),
            })
        })
        .collect()
}
