//! Changing a tenant's role assignments and policies. Each change is one
//! transaction: the rule, the tenant's new policy version, and the audit
//! event commit together.

use super::adapter::{StoredRule, delete_rule, insert_rule, load_rules};
use super::model::{
    builtin_policies, parse_role_subject, parse_staff_subject, role_subject, staff_subject,
};
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::domain::{Action, BuiltinRole, Permission, Resource, RoleName, StaffId};
use crate::error::DomainError;
use crate::registry::{self, Tenant};
use crate::services::Services;
use crate::staff;
use crate::storage::TenantTx;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub staff_id: StaffId,
    pub role: RoleName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub role: RoleName,
    pub resource: Resource,
    pub action: Action,
    /// Built-in rules are the platform's and cannot be removed by a tenant.
    pub builtin: bool,
}

fn assignment_rule(tenant: &Tenant, staff: StaffId, role: &RoleName) -> StoredRule {
    StoredRule {
        ptype: "g".into(),
        values: vec![
            staff_subject(staff),
            role_subject(role),
            tenant.id.to_string(),
        ],
    }
}

fn policy_rule(tenant: &Tenant, role: &RoleName, resource: Resource, action: Action) -> StoredRule {
    StoredRule {
        ptype: "p".into(),
        values: vec![
            role_subject(role),
            tenant.id.to_string(),
            resource.as_str().into(),
            action.as_str().into(),
        ],
    }
}

impl Services {
    pub async fn list_role_assignments(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<RoleAssignment>, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let rules = load_rules(&mut tx).await?;
        tx.commit().await?;
        Ok(rules
            .into_iter()
            .filter(|r| r.ptype == "g")
            .filter_map(|r| {
                Some(RoleAssignment {
                    staff_id: parse_staff_subject(r.values.first()?)?,
                    role: parse_role_subject(r.values.get(1)?)?,
                })
            })
            .collect())
    }

    pub async fn list_policies(&self, tenant: &Tenant) -> Result<Vec<PolicyRule>, DomainError> {
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let rules = load_rules(&mut tx).await?;
        tx.commit().await?;
        let parse = |values: &[String], builtin: bool| -> Option<PolicyRule> {
            Some(PolicyRule {
                role: parse_role_subject(values.first()?)?,
                resource: Resource::parse(values.get(2)?).ok()?,
                action: Action::parse(values.get(3)?).ok()?,
                builtin,
            })
        };
        let builtin = builtin_policies();
        Ok(builtin
            .iter()
            .filter_map(|v| parse(v, true))
            .chain(
                rules
                    .iter()
                    .filter(|r| r.ptype == "p")
                    .filter_map(|r| parse(&r.values, false)),
            )
            .collect())
    }

    /// Gives `role` to `staff`. Only an owner may hand out `owner`.
    pub async fn assign_role(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        staff_id: StaffId,
        role: &RoleName,
        client: &ClientInfo,
    ) -> Result<bool, DomainError> {
        let change = RuleChange {
            needs: Permission::new(Resource::Roles, Action::Write),
            role,
            audit_action: "role.assign",
            target: format!("staff:{staff_id} role:{role}"),
        };
        self.change_rules(tenant, actor, change, client, async |tx: &mut TenantTx| {
            require_staff(tx, staff_id).await?;
            Ok(insert_rule(tx, &assignment_rule(tenant, staff_id, role)).await?)
        })
        .await
    }

    /// Takes `role` away from `staff`. The last owner keeps theirs.
    pub async fn unassign_role(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        staff_id: StaffId,
        role: &RoleName,
        client: &ClientInfo,
    ) -> Result<bool, DomainError> {
        let change = RuleChange {
            needs: Permission::new(Resource::Roles, Action::Write),
            role,
            audit_action: "role.unassign",
            target: format!("staff:{staff_id} role:{role}"),
        };
        self.change_rules(tenant, actor, change, client, async |tx: &mut TenantTx| {
            require_staff(tx, staff_id).await?;
            if role.as_builtin() == Some(BuiltinRole::Owner) {
                let owners = load_rules(tx)
                    .await?
                    .into_iter()
                    .filter(|r| {
                        r.ptype == "g" && r.values.get(1).map(String::as_str) == Some("role:owner")
                    })
                    .count();
                if owners <= 1 {
                    return Err(DomainError::Conflict {
                        code: "last_owner",
                        message:
                            "a clinic must keep at least one owner; make someone else owner first"
                                .into(),
                    });
                }
            }
            if !delete_rule(tx, &assignment_rule(tenant, staff_id, role)).await? {
                return Err(DomainError::NotFound("role assignment"));
            }
            Ok(true)
        })
        .await
    }

    /// Grants `role` a permission in this tenant, on top of the built-ins.
    pub async fn add_policy(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        role: &RoleName,
        resource: Resource,
        action: Action,
        client: &ClientInfo,
    ) -> Result<bool, DomainError> {
        let change = RuleChange {
            needs: Permission::new(Resource::Policies, Action::Write),
            role,
            audit_action: "policy.add",
            target: format!("role:{role} {resource}:{action}"),
        };
        self.change_rules(tenant, actor, change, client, async |tx: &mut TenantTx| {
            Ok(insert_rule(tx, &policy_rule(tenant, role, resource, action)).await?)
        })
        .await
    }

    /// Removes a permission this tenant added. Built-in rules stay.
    pub async fn remove_policy(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        role: &RoleName,
        resource: Resource,
        action: Action,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let is_builtin = role
            .as_builtin()
            .is_some_and(|b| b.permissions().contains(&Permission::new(resource, action)));
        let change = RuleChange {
            needs: Permission::new(Resource::Policies, Action::Write),
            role,
            audit_action: "policy.remove",
            target: format!("role:{role} {resource}:{action}"),
        };
        self.change_rules(tenant, actor, change, client, async |tx: &mut TenantTx| {
            if is_builtin {
                return Err(DomainError::Conflict {
                    code: "builtin_policy",
                    message: format!(
                        "{role} may {action} {resource} on every clinic; built-in permissions cannot be removed"
                    ),
                });
            }
            if !delete_rule(tx, &policy_rule(tenant, role, resource, action)).await? {
                return Err(DomainError::NotFound("policy"));
            }
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    /// The one path for every change to a tenant's rules: check the
    /// permission and the owner guard, make the change, bump the tenant's
    /// policy version, record the audit event, commit, and drop this node's
    /// cached enforcer.
    async fn change_rules(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        change: RuleChange<'_>,
        client: &ClientInfo,
        apply: impl AsyncFnOnce(&mut TenantTx) -> Result<bool, DomainError>,
    ) -> Result<bool, DomainError> {
        self.authz.require(tenant, actor, change.needs).await?;
        self.guard_owner_role(tenant, actor, change.role).await?;
        let mut tx = self.db.tenant_write(tenant.id).await?;
        let changed = apply(&mut tx).await?;
        if changed {
            registry::bump_policy_version(&mut tx).await?;
        }
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(actor), change.audit_action, client)
                .target(change.target),
        )
        .await?;
        tx.commit().await?;
        self.authz.invalidate(tenant.id).await;
        Ok(changed)
    }

    /// Only an owner may touch the owner role, so an admin cannot promote
    /// themselves or demote the clinic's owners.
    pub(crate) async fn guard_owner_role(
        &self,
        tenant: &Tenant,
        actor: StaffId,
        role: &RoleName,
    ) -> Result<(), DomainError> {
        if role.as_builtin() != Some(BuiltinRole::Owner) {
            return Ok(());
        }
        let actor_roles = self.authz.roles_of(tenant, actor).await?;
        if actor_roles
            .iter()
            .any(|r| r.as_builtin() == Some(BuiltinRole::Owner))
        {
            Ok(())
        } else {
            Err(DomainError::NotAllowed(
                "only an owner can change the owner role",
            ))
        }
    }
}

/// What a rule change is, for its checks and its audit event.
struct RuleChange<'a> {
    needs: Permission,
    role: &'a RoleName,
    audit_action: &'static str,
    target: String,
}

async fn require_staff(tx: &mut TenantTx, id: StaffId) -> Result<(), DomainError> {
    match staff::get_staff(tx, id).await? {
        Some(_) => Ok(()),
        None => Err(DomainError::NotFound("staff member")),
    }
}

/// Writes a role assignment during setup (first owner, demo clinic), inside
/// the caller's transaction.
pub(crate) async fn assign_in_tx(
    tx: &mut TenantTx,
    tenant: &Tenant,
    staff_id: StaffId,
    role: &RoleName,
) -> Result<(), DomainError> {
    insert_rule(tx, &assignment_rule(tenant, staff_id, role)).await?;
    registry::bump_policy_version(tx).await?;
    Ok(())
}
