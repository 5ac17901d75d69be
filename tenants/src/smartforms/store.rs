use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{Answers, Question};
use crate::domain::{AccountId, DisplayName, PatientId, Timestamp};
use crate::storage::{StorageError, TenantTx};

#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    pub title: DisplayName,
    pub questions: Vec<Question>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStatus {
    Assigned,
    InProgress,
    Submitted,
}

impl AssignmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::InProgress => "in_progress",
            Self::Submitted => "submitted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AssignmentRecord {
    pub id: String,
    pub form: Form,
    pub patient_id: PatientId,
    pub account_id: Option<AccountId>,
    pub status: AssignmentStatus,
    pub answers: Answers,
    pub assigned_by: Option<String>,
    pub assigned_at: Timestamp,
    pub submitted_at: Option<Timestamp>,
}

fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

fn form_from_row(row: &AnyRow, offset: usize) -> Result<Form, StorageError> {
    Ok(Form {
        id: row.try_get(offset)?,
        title: DisplayName::parse("title", &row.try_get::<String, _>(offset + 1)?)
            .map_err(corrupt)?,
        questions: serde_json::from_str(&row.try_get::<String, _>(offset + 2)?).map_err(corrupt)?,
        created_at: Timestamp::from_unix_millis(row.try_get(offset + 3)?),
    })
}

pub(crate) async fn insert_form(
    tx: &mut TenantTx,
    title: &DisplayName,
    questions: &[Question],
    created_by: &str,
) -> Result<Form, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "INSERT INTO forms (tenant_id, id, title, questions, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, title, questions, created_at",
    )
    .bind(key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(title.as_str().to_owned())
    .bind(serde_json::to_string(questions).map_err(corrupt)?)
    .bind(created_by.to_owned())
    .bind(Timestamp::now().unix_millis())
    .fetch_one(tx.conn())
    .await?;
    form_from_row(&row, 0)
}

pub(crate) async fn forms(tx: &mut TenantTx) -> Result<Vec<Form>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query("SELECT id, title, questions, created_at FROM forms WHERE tenant_id = $1 ORDER BY title, id")
        .bind(key)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(|r| form_from_row(r, 0)).collect()
}

pub(crate) async fn form(tx: &mut TenantTx, id: &str) -> Result<Option<Form>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(
        "SELECT id, title, questions, created_at FROM forms WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(|r| form_from_row(r, 0)).transpose()
}

pub(crate) async fn insert_assignment(
    tx: &mut TenantTx,
    id: &str,
    form: &Form,
    patient: PatientId,
    account: Option<AccountId>,
    assigned_by: &str,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    sqlx::query(
        "INSERT INTO form_assignments (tenant_id, id, form_id, patient_id, account_id, status, answers, assigned_by, assigned_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'assigned', '{}', $6, $7, $7)",
    )
    .bind(key)
    .bind(id.to_owned())
    .bind(form.id.clone())
    .bind(patient.to_string())
    .bind(account.map(|a| a.to_string()))
    .bind(assigned_by.to_owned())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

macro_rules! assignment_select {
    ($where:literal) => {
        concat!(
            "SELECT a.id, a.patient_id, a.account_id, a.status, a.answers, a.assigned_by, a.assigned_at, a.submitted_at,
                    f.id, f.title, f.questions, f.created_at
               FROM form_assignments a JOIN forms f ON f.tenant_id = a.tenant_id AND f.id = a.form_id
              WHERE a.tenant_id = $1 AND ",
            $where
        )
    };
}

fn assignment_from_row(row: &AnyRow) -> Result<AssignmentRecord, StorageError> {
    Ok(AssignmentRecord {
        id: row.try_get(0)?,
        patient_id: PatientId::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?,
        account_id: row
            .try_get::<Option<String>, _>(2)?
            .map(|a| AccountId::parse(&a))
            .transpose()
            .map_err(corrupt)?,
        status: match row.try_get::<String, _>(3)?.as_str() {
            "submitted" => AssignmentStatus::Submitted,
            "in_progress" => AssignmentStatus::InProgress,
            _ => AssignmentStatus::Assigned,
        },
        answers: serde_json::from_str(&row.try_get::<String, _>(4)?).map_err(corrupt)?,
        assigned_by: row.try_get(5)?,
        assigned_at: Timestamp::from_unix_millis(row.try_get(6)?),
        submitted_at: row
            .try_get::<Option<i64>, _>(7)?
            .map(Timestamp::from_unix_millis),
        form: form_from_row(row, 8)?,
    })
}

pub(crate) async fn assignment(
    tx: &mut TenantTx,
    id: &str,
) -> Result<Option<AssignmentRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(assignment_select!("a.id = $2"))
        .bind(key)
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(assignment_from_row).transpose()
}

pub(crate) async fn assignments_of_patient(
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<Vec<AssignmentRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        assignment_select!("a.patient_id = $2"),
        " ORDER BY a.assigned_at DESC, a.id DESC"
    ))
    .bind(key)
    .bind(patient.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(assignment_from_row).collect()
}

pub(crate) async fn assignments_of_account(
    tx: &mut TenantTx,
    account: AccountId,
) -> Result<Vec<AssignmentRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        assignment_select!("a.account_id = $2"),
        " ORDER BY a.assigned_at DESC, a.id DESC"
    ))
    .bind(key)
    .bind(account.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(assignment_from_row).collect()
}

/// The assignment a SmartForm code unlocks.
pub(crate) async fn assignment_for_code(
    tx: &mut TenantTx,
    code_id: &str,
) -> Result<Option<AssignmentRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(assignment_select!(
        "a.id = (SELECT c.form_assignment_id FROM access_codes c WHERE c.tenant_id = $1 AND c.id = $2)"
    ))
    .bind(key)
    .bind(code_id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(assignment_from_row).transpose()
}

/// Connects an assignment to the account that will fill it in.
pub(crate) async fn link_account(
    tx: &mut TenantTx,
    assignment: &str,
    account: AccountId,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("UPDATE form_assignments SET account_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(key)
        .bind(assignment.to_owned())
        .bind(account.to_string())
        .bind(Timestamp::now().unix_millis())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub(crate) async fn save_answers(
    tx: &mut TenantTx,
    assignment: &str,
    answers: &Answers,
    submit: bool,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let done = sqlx::query(
        "UPDATE form_assignments SET answers = $3, status = $4, updated_at = $5, submitted_at = $6
          WHERE tenant_id = $1 AND id = $2 AND status <> 'submitted'",
    )
    .bind(key)
    .bind(assignment.to_owned())
    .bind(serde_json::to_string(answers).map_err(corrupt)?)
    .bind(if submit { "submitted" } else { "in_progress" })
    .bind(now)
    .bind(submit.then_some(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
