use sqlx::Row;
use sqlx::any::AnyRow;

use super::PatientQuery;
use crate::domain::{
    DateOfBirth, DisplayName, EmailAddress, PatientId, PhoneNumber, Timestamp, ZipCode,
};
use crate::storage::{StorageError, TenantTx};

/// Whether the patient may use the clinic's portal. While disabled, every
/// grant to the record is suspended: its holders see nothing of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalAccess {
    Enabled,
    Disabled,
}

impl PortalAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub id: PatientId,
    pub full_name: DisplayName,
    pub date_of_birth: DateOfBirth,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub home_zip: Option<ZipCode>,
    pub portal_access: PortalAccess,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, full_name, date_of_birth, email, phone, home_zip, portal_access, created_at, updated_at"
    };
}

fn from_row(row: &AnyRow) -> Result<PatientRecord, StorageError> {
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let opt = |i: usize| row.try_get::<Option<String>, _>(i);
    Ok(PatientRecord {
        id: PatientId::parse(&row.try_get::<String, _>(0)?).map_err(corrupt)?,
        full_name: DisplayName::parse("full_name", &row.try_get::<String, _>(1)?)
            .map_err(corrupt)?,
        date_of_birth: DateOfBirth::parse(&row.try_get::<String, _>(2)?).map_err(corrupt)?,
        email: opt(3)?
            .map(|e| EmailAddress::parse(&e))
            .transpose()
            .map_err(corrupt)?,
        phone: opt(4)?
            .map(|p| PhoneNumber::parse(&p))
            .transpose()
            .map_err(corrupt)?,
        home_zip: opt(5)?
            .map(|z| ZipCode::parse(&z))
            .transpose()
            .map_err(corrupt)?,
        portal_access: match row.try_get::<String, _>(6)?.as_str() {
            "enabled" => PortalAccess::Enabled,
            _ => PortalAccess::Disabled,
        },
        created_at: Timestamp::from_unix_millis(row.try_get(7)?),
        updated_at: Timestamp::from_unix_millis(row.try_get(8)?),
    })
}

pub(crate) async fn insert(tx: &mut TenantTx, p: &PatientRecord) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "INSERT INTO patients (tenant_id, id, full_name, name_search, date_of_birth, email, email_normalized, phone, home_zip, portal_access, created_at, updated_at,
                               portal_opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, CASE WHEN $10 = 'enabled' THEN $11 END)",
    )
    .bind(key)
    .bind(p.id.to_string())
    .bind(p.full_name.as_str().to_owned())
    .bind(p.full_name.as_str().to_lowercase())
    .bind(p.date_of_birth.to_string())
    .bind(p.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(p.email.as_ref().map(EmailAddress::normalized))
    .bind(p.phone.as_ref().map(|x| x.as_str().to_owned()))
    .bind(p.home_zip.as_ref().map(|x| x.as_str().to_owned()))
    .bind(p.portal_access.as_str())
    .bind(p.created_at.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub(crate) async fn update(tx: &mut TenantTx, p: &PatientRecord) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE patients SET full_name = $3, name_search = $4, date_of_birth = $5, email = $6, email_normalized = $7,
                phone = $8, home_zip = $9, portal_access = $10, updated_at = $11,
                portal_opened_at = COALESCE(portal_opened_at, CASE WHEN $10 = 'enabled' THEN $11 END)
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(p.id.to_string())
    .bind(p.full_name.as_str().to_owned())
    .bind(p.full_name.as_str().to_lowercase())
    .bind(p.date_of_birth.to_string())
    .bind(p.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(p.email.as_ref().map(EmailAddress::normalized))
    .bind(p.phone.as_ref().map(|x| x.as_str().to_owned()))
    .bind(p.home_zip.as_ref().map(|x| x.as_str().to_owned()))
    .bind(p.portal_access.as_str())
    .bind(p.updated_at.unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A record that is not archived.
pub(crate) async fn get(
    tx: &mut TenantTx,
    id: PatientId,
) -> Result<Option<PatientRecord>, StorageError> {
    let key = tx.tenant_key();
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM patients WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL"
    ))
    .bind(key)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records the query finds, alphabetically by name, `limit` after the
/// name-and-id `after`.
pub(crate) async fn search(
    tx: &mut TenantTx,
    query: &PatientQuery,
    limit: u32,
    after: Option<&str>,
) -> Result<Vec<PatientRecord>, StorageError> {
    let key = tx.tenant_key();
    // What was typed is matched literally: LIKE's wildcards are escaped.
    let contains = |t: &str| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    };
    let mut sql = String::from(concat!(
        "SELECT ",
        columns!(),
        " FROM patients WHERE tenant_id = $1 AND archived_at IS NULL"
    ));
    let mut binds: Vec<String> = Vec::new();
    let mut clause = |sql: &mut String, condition: &str, value: String| {
        binds.push(value);
        let n = binds.len() + 1;
        sql.push_str(" AND ");
        sql.push_str(&condition.replace('?', &format!("${n}")));
    };
    match query {
        PatientQuery::Everyone => {}
        PatientQuery::Name(words) => {
            for word in words {
                clause(&mut sql, "name_search LIKE ? ESCAPE '\\'", contains(word));
            }
        }
        PatientQuery::BirthDate(date) => clause(&mut sql, "date_of_birth = ?", date.to_string()),
        PatientQuery::Email(part) => {
            clause(
                &mut sql,
                "email_normalized LIKE ? ESCAPE '\\'",
                contains(part),
            );
        }
        PatientQuery::Phone(digits) => clause(
            &mut sql,
            // The number as it was written, less its punctuation.
            "REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), '+', '') LIKE ?",
            contains(digits),
        ),
    }
    if let Some(after) = after {
        clause(&mut sql, "name_search || ' ' || id > ?", after.to_owned());
    }
    sql.push_str(&format!(
        " ORDER BY name_search, id LIMIT ${}",
        binds.len() + 2
    ));
    // Safe: the text is built only from the fixed fragments above; every
    // typed value is a bound parameter.
    //
    // Not a cached prepared statement: PostgreSQL plans a cached one
    // without its values after a few runs, and a plan that cannot see the
    // fragment walks every patient of the clinic in name order instead of
    // asking the trigram index (15 ms against 2 to 6 for a clinic of
    // 20,000; docs/performance.md). Planning it each time costs far less.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .persistent(false)
        .bind(key);
    for value in binds {
        q = q.bind(value);
    }
    let rows = q.bind(i64::from(limit)).fetch_all(tx.conn()).await?;
    rows.iter().map(from_row).collect()
}

pub(crate) async fn archive(tx: &mut TenantTx, id: PatientId) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let now = Timestamp::now().unix_millis();
    let done = sqlx::query(
        "UPDATE patients SET archived_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A record created by a patient's own registration, linked to the account.
pub(crate) async fn insert_registered(
    tx: &mut TenantTx,
    p: &PatientRecord,
    account: crate::domain::AccountId,
) -> Result<(), StorageError> {
    insert(tx, p).await?;
    let key = tx.tenant_key();
    sqlx::query("UPDATE patients SET registered_by_account = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(key)
        .bind(p.id.to_string())
        .bind(account.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records the account registered itself.
pub(crate) async fn registered_by(
    tx: &mut TenantTx,
    account: crate::domain::AccountId,
) -> Result<Vec<PatientRecord>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM patients WHERE tenant_id = $1 AND registered_by_account = $2 AND archived_at IS NULL"
    ))
    .bind(key)
    .bind(account.to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The account that registered this record, if a patient did.
pub(crate) async fn registering_account(
    tx: &mut TenantTx,
    id: PatientId,
) -> Result<Option<crate::domain::AccountId>, StorageError> {
    let key = tx.tenant_key();
    let row =
        sqlx::query("SELECT registered_by_account FROM patients WHERE tenant_id = $1 AND id = $2")
            .bind(key)
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(match row {
        Some(r) => r
            .try_get::<Option<String>, _>(0)?
            .map(|a| crate::domain::AccountId::parse(&a))
            .transpose()
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        None => None,
    })
}

pub(crate) async fn set_access(
    tx: &mut TenantTx,
    id: PatientId,
    access: PortalAccess,
) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query(
        "UPDATE patients SET portal_access = $3, updated_at = $4,
                portal_opened_at = COALESCE(portal_opened_at, CASE WHEN $3 = 'enabled' THEN $4 END)
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(key)
    .bind(id.to_string())
    .bind(access.as_str())
    .bind(Timestamp::now().unix_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Why a change of the record's email must be guarded as a change of
/// where the patient's access goes, if it must: portal access is or was
/// ever on, an account holds or once held the record, or a code was ever
/// issued for it. Turning portal access off does not lift this: otherwise
/// turning it off, changing the address and turning it on again would
/// send the next code, unguarded, wherever the address now points.
pub(crate) async fn portal_tie(
    tx: &mut TenantTx,
    p: &PatientRecord,
) -> Result<Option<&'static str>, StorageError> {
    if p.portal_access == PortalAccess::Enabled {
        return Ok(Some("portal_enabled"));
    }
    let key = tx.tenant_key();
    let opened = sqlx::query(
        "SELECT 1 FROM patients WHERE tenant_id = $1 AND id = $2 AND portal_opened_at IS NOT NULL",
    )
    .bind(key.clone())
    .bind(p.id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    if opened.is_some() {
        return Ok(Some("portal_was_enabled"));
    }
    let granted =
        sqlx::query("SELECT 1 FROM grants WHERE tenant_id = $1 AND patient_id = $2 LIMIT 1")
            .bind(key.clone())
            .bind(p.id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    if granted.is_some() {
        return Ok(Some("portal_account"));
    }
    let issued =
        sqlx::query("SELECT 1 FROM access_codes WHERE tenant_id = $1 AND patient_id = $2 LIMIT 1")
            .bind(key)
            .bind(p.id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(issued.is_some().then_some("access_code_issued"))
}
