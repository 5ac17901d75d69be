use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, RbacApi};

use super::adapter::TenantAdapter;
use super::model::{MODEL, parse_role_subject, staff_subject};
use crate::domain::{Permission, RoleName, StaffId, TenantId};
use crate::error::DomainError;
use crate::registry::Tenant;
use crate::storage::Database;

/// One tenant's enforcer and the answers it has already given.
struct TenantPolicy {
    version: i64,
    enforcer: Enforcer,
    decisions: moka::sync::Cache<(StaffId, Permission), bool>,
}

/// Answers "may this staff member do this here?", from a per-tenant casbin
/// enforcer that is loaded on first use and reloaded when the tenant's
/// `policy_version` moves past the one it was loaded at. Because the version
/// is stored on the tenant row, a change made on one server node is seen by
/// the others as soon as they read the tenant again.
#[derive(Clone)]
pub struct Authorizer {
    db: Database,
    tenants: moka::future::Cache<TenantId, Arc<TenantPolicy>>,
}

impl Authorizer {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            tenants: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(30 * 60))
                .build(),
        }
    }

    async fn policy(&self, tenant: &Tenant) -> Result<Arc<TenantPolicy>, DomainError> {
        if let Some(p) = self.tenants.get(&tenant.id).await {
            if p.version >= tenant.policy_version {
                return Ok(p);
            }
            self.tenants.invalidate(&tenant.id).await;
        }
        let db = self.db.clone();
        let id = tenant.id;
        self.tenants
            .try_get_with(id, async move {
                let version = Arc::new(AtomicI64::new(-1));
                let model = DefaultModel::from_str(MODEL).await?;
                let adapter = TenantAdapter::new(db, id, version.clone());
                let enforcer = Enforcer::new(model, adapter).await?;
                Ok::<_, casbin::Error>(Arc::new(TenantPolicy {
                    version: version.load(Ordering::SeqCst),
                    enforcer,
                    decisions: moka::sync::Cache::new(4_096),
                }))
            })
            .await
            .map_err(|e: Arc<casbin::Error>| DomainError::Policy(e.to_string()))
    }

    /// True when `staff` holds `permission` in `tenant`. This is the door's
    /// first guard (`Services::enter`), public for the casbin benchmark
    /// only: no handler or page asks it, and `.ci/run` checks that.
    pub async fn is_allowed(
        &self,
        tenant: &Tenant,
        staff: StaffId,
        permission: Permission,
    ) -> Result<bool, DomainError> {
        let policy = self.policy(tenant).await?;
        if let Some(answer) = policy.decisions.get(&(staff, permission)) {
            return Ok(answer);
        }
        let answer = policy.enforcer.enforce((
            staff_subject(staff),
            tenant.id.to_string(),
            permission.resource.as_str(),
            permission.action.as_str(),
        ))?;
        policy.decisions.insert((staff, permission), answer);
        Ok(answer)
    }

    /// The roles `staff` holds in `tenant`.
    pub async fn roles_of(
        &self,
        tenant: &Tenant,
        staff: StaffId,
    ) -> Result<Vec<RoleName>, DomainError> {
        let policy = self.policy(tenant).await?;
        let domain = tenant.id.to_string();
        let mut roles: Vec<RoleName> = policy
            .enforcer
            .get_implicit_roles_for_user(&staff_subject(staff), Some(&domain))
            .iter()
            .filter_map(|s| parse_role_subject(s))
            .collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// Forgets what this node knows of `tenant`'s policies; used right after
    /// a change so that this node does not wait to read the new version.
    pub async fn invalidate(&self, tenant: TenantId) {
        self.tenants.invalidate(&tenant).await;
    }
}
