//! The append-only audit trail. An event is written inside the transaction of
//! the act it records, so the act and its record commit or vanish together,
//! and takes its place in the clinic's Merkle log ([`crate::ledger`]) in
//! that same transaction.
//! The tables refuse UPDATE and DELETE (triggers on both engines, and no
//! privilege for the application role on PostgreSQL).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{AccountId, StaffId, Timestamp};
use crate::ledger::store::StoredEvent;
use crate::storage::{StorageError, TenantTx};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff(StaffId),
    /// A patient's portal account.
    Account(AccountId),
    Operator(String),
    /// Someone not (yet) authenticated, such as a failed login.
    Anonymous,
    System,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Self::Staff(_) => "staff",
            Self::Account(_) => "account",
            Self::Operator(_) => "operator",
            Self::Anonymous => "anonymous",
            Self::System => "system",
        }
    }

    fn id(&self) -> Option<String> {
        match self {
            Self::Staff(id) => Some(id.to_string()),
            Self::Account(id) => Some(id.to_string()),
            Self::Operator(name) => Some(name.clone()),
            Self::Anonymous | Self::System => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The act was attempted and failed (wrong password, locked out).
    Failure,
    /// The act was refused by the role model.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// Where a request came from, as far as the server can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// User agents are free text chosen by the client; keep them bounded.
    pub const MAX_USER_AGENT: usize = 512;

    pub fn new(ip: Option<String>, user_agent: Option<String>) -> Self {
        let user_agent = user_agent.map(|ua| ua.chars().take(Self::MAX_USER_AGENT).collect());
        Self { ip, user_agent }
    }
}

/// One thing that happened, about to be recorded.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: Actor,
    /// A stable dotted name such as `staff.login`.
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Why, in a word or two (`wrong_password`, `locked_out`).
    pub reason: Option<String>,
    pub client: &'a ClientInfo,
}

impl<'a> AuditEvent<'a> {
    pub fn success(actor: Actor, action: &'static str, client: &'a ClientInfo) -> Self {
        Self {
            actor,
            action,
            target: None,
            outcome: Outcome::Success,
            reason: None,
            client,
        }
    }

    pub fn failure(
        actor: Actor,
        action: &'static str,
        reason: impl Into<String>,
        client: &'a ClientInfo,
    ) -> Self {
        Self {
            actor,
            action,
            target: None,
            outcome: Outcome::Failure,
            reason: Some(reason.into()),
            client,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// Records `event` in the tenant `tx` is bound to, as part of `tx`.
pub async fn record(tx: &mut TenantTx, event: AuditEvent<'_>) -> Result<(), StorageError> {
    let stored = StoredEvent {
        id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Timestamp::now().unix_millis(),
        actor_kind: event.actor.kind().to_owned(),
        actor_id: event.actor.id(),
        action: event.action.to_owned(),
        target: event.target,
        outcome: event.outcome.as_str().to_owned(),
        reason: event.reason,
        ip: event.client.ip.clone(),
        user_agent: event.client.user_agent.clone(),
    };
    // Its place in the clinic's Merkle log, in the same transaction.
    if crate::ledger::appending() {
        crate::ledger::store::append(tx, &stored).await?;
    } else {
        crate::ledger::store::write_unlogged(tx, &stored).await?;
    }
    Ok(())
}

/// A recorded event, as read back.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: String,
    pub occurred_at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Narrows a query; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Any of these actions; `None` for every action. An empty list
    /// matches nothing (a typed action that names no act).
    pub actions: Option<Vec<String>>,
    pub actor_id: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Newest first, `limit` at a time; `before` is the id of the last event of
/// the previous page (ids are time-ordered UUIDv7).
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub limit: u32,
    pub before: Option<String>,
}

impl AuditPage {
    pub const MAX_LIMIT: u32 = 500;
}

pub async fn query(
    tx: &mut TenantTx,
    filter: &AuditFilter,
    page: &AuditPage,
) -> Result<Vec<AuditRecord>, StorageError> {
    // A NULL parameter switches its condition off, so one statement serves
    // every combination of filters; only the list of actions adds a
    // placeholder per name.
    let key = tx.tenant_key();
    let actions = filter.actions.as_deref();
    let mut sql = String::from(
        "SELECT id, occurred_at, actor_kind, actor_id, action, target, outcome, reason, ip, user_agent
           FROM audit_events
          WHERE tenant_id = $1
            AND ($2 IS NULL OR actor_id = $2)
            AND ($3 IS NULL OR target = $3)
            AND ($4 IS NULL OR outcome = $4)
            AND ($5 IS NULL OR occurred_at >= $5)
            AND ($6 IS NULL OR occurred_at < $6)
            AND ($7 IS NULL OR id < $7)",
    );
    match actions {
        None => {}
        Some([]) => sql.push_str(" AND 1 = 0"),
        Some(names) => {
            let places: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 9)).collect();
            sql.push_str(&format!(" AND action IN ({})", places.join(", ")));
        }
    }
    sql.push_str(" ORDER BY id DESC LIMIT $8");
    // Safe: the text is fixed but for numbered placeholders; every value
    // is bound.
    //
    // Not a cached prepared statement: planned with its values, each
    // `$n IS NULL OR …` that is off drops out of the plan, and the page's
    // cursor becomes a bound on the index scan rather than a filter over
    // every newer event (which a cached, value-blind plan may choose).
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .persistent(false)
        .bind(key)
        .bind(filter.actor_id.clone())
        .bind(filter.target.clone())
        .bind(filter.outcome.map(|o| o.as_str()))
        .bind(filter.since.map(Timestamp::unix_millis))
        .bind(filter.until.map(Timestamp::unix_millis))
        .bind(page.before.clone())
        .bind(i64::from(page.limit.clamp(1, AuditPage::MAX_LIMIT)));
    for name in actions.unwrap_or_default() {
        q = q.bind(name.clone());
    }
    let rows = q.fetch_all(tx.conn()).await?;
    rows.iter().map(record_from_row).collect()
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StorageError> {
    Ok(AuditRecord {
        id: row.try_get(0)?,
        occurred_at: Timestamp::from_unix_millis(row.try_get(1)?),
        actor_kind: row.try_get(2)?,
        actor_id: row.try_get(3)?,
        action: row.try_get(4)?,
        target: row.try_get(5)?,
        outcome: row.try_get(6)?,
        reason: row.try_get(7)?,
        ip: row.try_get(8)?,
        user_agent: row.try_get(9)?,
    })
}
