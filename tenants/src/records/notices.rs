//! Telling a record's holders that the clinic has put something new on it.
//! The mail says what kind of thing is waiting (a message, a document, a
//! note, an appointment) and where to log in; never what it says, nor
//! whose record it is, since mail passes through hands the portal's do
//! not.

use sqlx::Row;

use crate::domain::{DateOfBirth, EmailAddress, PatientId, Timestamp};
use crate::family::{Access, ClinicDay, Relation, View};
use crate::outbox::{self, MailKind};
use crate::storage::{StorageError, TenantTx};

/// While a notice about a record is this recent, further news on it is not
/// mailed again: a conversation of five replies is one mail, not five.
pub const QUIET_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    Message,
    Document,
    Note,
    Appointment,
}

impl News {
    /// Whether an account with `view` may be told of this news.
    fn seen_in(self, view: View) -> bool {
        match self {
            Self::Message => view.messages,
            Self::Document => view.documents,
            Self::Note => view.notes,
            Self::Appointment => view.appointments,
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Self::Message => "a new message from the clinic",
            Self::Document => "a new document",
            Self::Note => "a new note from the clinic",
            Self::Appointment => "a new appointment",
        }
    }
}

/// Queues a notice, in the act's transaction, to every account with a live
/// grant on `patient` whose view on `day` shows the news (a teenager's
/// parent hears nothing of a note, nor of anything confidential) and a
/// confirmed email address (an unconfirmed one may be a stranger's typo),
/// unless one went to that address about this record within the quiet
/// period. Returns how many were queued.
pub(crate) async fn tell_holders(
    tx: &mut TenantTx,
    patient: PatientId,
    news: News,
    confidential: bool,
    day: &ClinicDay,
) -> Result<usize, StorageError> {
    let key = tx.tenant_key();
    let since = Timestamp::now().minus(QUIET_PERIOD).unix_millis();
    let rows = sqlx::query(
        "SELECT a.email, g.relation, g.sees_confidential, p.date_of_birth
           FROM grants g
           JOIN portal_accounts a ON a.tenant_id = g.tenant_id AND a.id = g.account_id
           JOIN patients p ON p.tenant_id = g.tenant_id AND p.id = g.patient_id
          WHERE g.tenant_id = $1 AND g.patient_id = $2 AND g.revoked_at IS NULL
            AND a.email_verified_at IS NOT NULL
            AND p.portal_access = 'enabled' AND p.archived_at IS NULL
            AND NOT EXISTS (
                SELECT 1 FROM outbox o
                 WHERE o.tenant_id = g.tenant_id AND o.patient_id = g.patient_id
                   AND o.kind = $3 AND o.recipient = a.email AND o.created_at > $4)
          ORDER BY g.created_at, g.id",
    )
    .bind(key)
    .bind(patient.to_string())
    .bind(MailKind::RecordUpdate.as_str())
    .bind(since)
    .fetch_all(tx.conn())
    .await?;
    let corrupt = |e: crate::domain::InvalidValue| StorageError::Corrupt(e.to_string());
    let mut told = std::collections::HashSet::new();
    for row in rows {
        let relation = Relation::parse(&row.try_get::<String, _>(1)?).map_err(corrupt)?;
        let born = DateOfBirth::parse(&row.try_get::<String, _>(3)?).map_err(corrupt)?;
        let sees_confidential = row.try_get::<i64, _>(2)? == 1;
        let Access::Sees(view) = day.access(relation, born, sees_confidential) else {
            continue;
        };
        if !news.seen_in(view) || !view.shows(confidential) {
            continue;
        }
        let email: String = row.try_get(0)?;
        let email = EmailAddress::parse(&email).map_err(corrupt)?;
        if !told.insert(email.normalized()) {
            continue;
        }
        outbox::enqueue(
            tx,
            MailKind::RecordUpdate,
            &email,
            Some(patient),
            serde_json::json!({ "news": news.phrase() }),
        )
        .await?;
    }
    Ok(told.len())
}
