//! A casbin adapter over Portico's own storage, so policies live in the same
//! database (SQLite or PostgreSQL) as everything else, under the tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use casbin::{Adapter, Filter, Model};
use sqlx::Row;

use super::model::builtin_policies;
use crate::domain::TenantId;
use crate::storage::{Database, StorageError, TenantTx};

/// Loads one tenant's policies (plus the shared built-ins) and writes
/// changes back to that tenant's rows only.
pub(crate) struct TenantAdapter {
    db: Database,
    tenant: TenantId,
    /// The tenant's `policy_version` as read in the same transaction as the
    /// rules, so a cached enforcer knows exactly which version it holds.
    loaded_version: Arc<AtomicI64>,
}

impl TenantAdapter {
    pub(crate) fn new(db: Database, tenant: TenantId, loaded_version: Arc<AtomicI64>) -> Self {
        Self {
            db,
            tenant,
            loaded_version,
        }
    }
}

fn adapter_error(err: StorageError) -> casbin::Error {
    casbin::Error::AdapterError(casbin::error::AdapterError(Box::new(err)))
}

/// One stored rule: its `ptype` and up to six values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRule {
    pub ptype: String,
    pub values: Vec<String>,
}

pub(crate) async fn load_rules(tx: &mut TenantTx) -> Result<Vec<StoredRule>, StorageError> {
    let key = tx.tenant_key();
    let rows = sqlx::query(
        "SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rules WHERE tenant_id = $1 ORDER BY ptype, v0, v1, v2, v3",
    )
    .bind(key)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let mut values = Vec::with_capacity(6);
            for i in 1..=6 {
                values.push(row.try_get::<String, _>(i)?);
            }
            while values.last().is_some_and(String::is_empty) {
                values.pop();
            }
            Ok(StoredRule {
                ptype: row.try_get(0)?,
                values,
            })
        })
        .collect()
}

pub(crate) async fn insert_rule(
    tx: &mut TenantTx,
    rule: &StoredRule,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let v = |i: usize| rule.values.get(i).cloned().unwrap_or_default();
    let done = sqlx::query(
        "INSERT INTO casbin_rules (tenant_id, id, ptype, v0, v1, v2, v3, v4, v5)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, ptype, v0, v1, v2, v3, v4, v5) DO NOTHING",
    )
    .bind(key)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(rule.ptype.clone())
    .bind(v(0))
    .bind(v(1))
    .bind(v(2))
    .bind(v(3))
    .bind(v(4))
    .bind(v(5))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn delete_rule(
    tx: &mut TenantTx,
    rule: &StoredRule,
) -> Result<bool, StorageError> {
    let key = tx.tenant_key();
    let v = |i: usize| rule.values.get(i).cloned().unwrap_or_default();
    let done = sqlx::query(
        "DELETE FROM casbin_rules WHERE tenant_id = $1 AND ptype = $2
           AND v0 = $3 AND v1 = $4 AND v2 = $5 AND v3 = $6 AND v4 = $7 AND v5 = $8",
    )
    .bind(key)
    .bind(rule.ptype.clone())
    .bind(v(0))
    .bind(v(1))
    .bind(v(2))
    .bind(v(3))
    .bind(v(4))
    .bind(v(5))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

impl TenantAdapter {
    /// A rule may only name this adapter's tenant as its domain.
    fn owned_rule(
        &self,
        sec: &str,
        ptype: &str,
        values: Vec<String>,
    ) -> casbin::Result<StoredRule> {
        let tenant = self.tenant.to_string();
        let domain_index = if sec == "p" { 1 } else { 2 };
        if values.get(domain_index) != Some(&tenant) || values.len() > 6 {
            return Err(casbin::Error::AdapterError(casbin::error::AdapterError(
                "a tenant's adapter only stores rules of that tenant's domain".into(),
            )));
        }
        Ok(StoredRule {
            ptype: ptype.to_owned(),
            values,
        })
    }
}

#[async_trait]
impl Adapter for TenantAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        for rule in builtin_policies() {
            m.add_policy("p", "p", rule);
        }
        let mut tx = self
            .db
            .tenant_read(self.tenant)
            .await
            .map_err(adapter_error)?;
        let version: i64 = sqlx::query("SELECT policy_version FROM tenants WHERE id = $1")
            .bind(self.tenant.to_string())
            .fetch_one(tx.conn())
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| adapter_error(e.into()))?;
        let rules = load_rules(&mut tx).await.map_err(adapter_error)?;
        tx.commit().await.map_err(adapter_error)?;
        for rule in rules {
            let sec = if rule.ptype.starts_with('g') {
                "g"
            } else {
                "p"
            };
            m.add_policy(sec, &rule.ptype, rule.values);
        }
        self.loaded_version.store(version, Ordering::SeqCst);
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        _f: Filter<'a>,
    ) -> casbin::Result<()> {
        // The adapter is already bound to one tenant.
        self.load_policy(m).await
    }

    async fn save_policy(&mut self, _m: &mut dyn Model) -> casbin::Result<()> {
        // Rules are written one change at a time, with their audit events;
        // a wholesale save would bypass both.
        Err(casbin::Error::AdapterError(casbin::error::AdapterError(
            "save_policy is not supported; change rules through Services".into(),
        )))
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        Err(casbin::Error::AdapterError(casbin::error::AdapterError(
            "clear_policy is not supported".into(),
        )))
    }

    fn is_filtered(&self) -> bool {
        // The adapter holds one tenant's rules, which for its enforcer is the
        // whole policy; casbin skips the initial load of a filtered adapter.
        false
    }

    async fn add_policy(
        &mut self,
        sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.add_policies(sec, ptype, vec![rule]).await
    }

    async fn add_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let rules = rules
            .into_iter()
            .map(|r| self.owned_rule(sec, ptype, r))
            .collect::<casbin::Result<Vec<_>>>()?;
        let mut tx = self
            .db
            .tenant_write(self.tenant)
            .await
            .map_err(adapter_error)?;
        let mut any = false;
        for rule in &rules {
            any |= insert_rule(&mut tx, rule).await.map_err(adapter_error)?;
        }
        tx.commit().await.map_err(adapter_error)?;
        Ok(any)
    }

    async fn remove_policy(
        &mut self,
        sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.remove_policies(sec, ptype, vec![rule]).await
    }

    async fn remove_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let rules = rules
            .into_iter()
            .map(|r| self.owned_rule(sec, ptype, r))
            .collect::<casbin::Result<Vec<_>>>()?;
        let mut tx = self
            .db
            .tenant_write(self.tenant)
            .await
            .map_err(adapter_error)?;
        let mut any = false;
        for rule in &rules {
            any |= delete_rule(&mut tx, rule).await.map_err(adapter_error)?;
        }
        tx.commit().await.map_err(adapter_error)?;
        Ok(any)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        _ptype: &str,
        _field_index: usize,
        _field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        Err(casbin::Error::AdapterError(casbin::error::AdapterError(
            "remove_filtered_policy is not supported".into(),
        )))
    }
}
