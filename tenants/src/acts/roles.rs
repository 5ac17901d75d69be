//! Changing a tenant's role assignments and policies. Each change is one
//! transaction: the rule, the tenant's new policy version, and the audit
//! event commit together.

use crate::acts;
use crate::domain::{Action, BuiltinRole, Permission, Resource, RoleName, StaffId};
use crate::door::{Act, Caller, Passage};
use crate::error::DomainError;
use crate::rbac::adapter::{StoredRule, delete_rule, insert_rule, load_rules};
use crate::rbac::model::{
    builtin_policies, parse_role_subject, parse_staff_subject, role_subject, staff_subject,
};
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

impl PolicyRule {
    pub fn permission(&self) -> crate::domain::Permission {
        crate::domain::Permission::new(self.resource, self.action)
    }
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
        caller: &Caller,
    ) -> Result<Vec<RoleAssignment>, DomainError> {
        let pass = self.enter(caller, &acts::ROLES_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
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
        .await;
        pass.finish(done).await
    }

    pub async fn list_policies(&self, caller: &Caller) -> Result<Vec<PolicyRule>, DomainError> {
        let pass = self.enter(caller, &acts::POLICIES_READ).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let rules = load_rules(&mut tx).await?;
            tx.commit().await?;
            Ok(rules)
        }
        .await;
        let rules = pass.finish(done).await?;
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
        caller: &Caller,
        staff_id: StaffId,
        role: &RoleName,
    ) -> Result<bool, DomainError> {
        let tenant = &caller.tenant;
        let target = format!("staff:{staff_id} role:{role}");
        self.change_rules(
            caller,
            &acts::ROLE_ASSIGN,
            role,
            target,
            async |tx: &mut TenantTx| {
                require_staff(tx, staff_id).await?;
                Ok(insert_rule(tx, &assignment_rule(tenant, staff_id, role)).await?)
            },
        )
        .await
    }

    /// Takes `role` away from `staff`. The last owner keeps theirs.
    pub async fn unassign_role(
        &self,
        caller: &Caller,
        staff_id: StaffId,
        role: &RoleName,
    ) -> Result<bool, DomainError> {
        let tenant = &caller.tenant;
        let target = format!("staff:{staff_id} role:{role}");
        self.change_rules(
            caller,
            &acts::ROLE_UNASSIGN,
            role,
            target,
            async |tx: &mut TenantTx| {
                require_staff(tx, staff_id).await?;
                if role.as_builtin() == Some(BuiltinRole::Owner) {
                    let owners = active_owners(tx).await?;
                    if owners.len() <= 1 && owners.contains(&staff_id) {
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
            },
        )
        .await
    }

    /// Grants `role` a permission in this tenant, on top of the built-ins.
    pub async fn add_policy(
        &self,
        caller: &Caller,
        role: &RoleName,
        resource: Resource,
        action: Action,
    ) -> Result<bool, DomainError> {
        let tenant = &caller.tenant;
        let target = format!("role:{role} {resource}:{action}");
        self.change_rules(
            caller,
            &acts::POLICY_ADD,
            role,
            target,
            async |tx: &mut TenantTx| {
                Ok(insert_rule(tx, &policy_rule(tenant, role, resource, action)).await?)
            },
        )
        .await
    }

    /// Removes a permission this tenant added. Built-in rules stay.
    pub async fn remove_policy(
        &self,
        caller: &Caller,
        role: &RoleName,
        resource: Resource,
        action: Action,
    ) -> Result<(), DomainError> {
        let tenant = &caller.tenant;
        let is_builtin = role
            .as_builtin()
            .is_some_and(|b| b.permissions().contains(&Permission::new(resource, action)));
        let target = format!("role:{role} {resource}:{action}");
        self.change_rules(caller, &acts::POLICY_REMOVE, role, target, async |tx: &mut TenantTx| {
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

    /// The one path for every change to a tenant's rules: through the door
    /// (permission), the owner guard, the change, the tenant's new policy
    /// version and the audit event in one transaction, then this node's
    /// cached enforcer dropped.
    async fn change_rules(
        &self,
        caller: &Caller,
        act: &'static Act,
        role: &RoleName,
        target: String,
        apply: impl AsyncFnOnce(&mut TenantTx) -> Result<bool, DomainError>,
    ) -> Result<bool, DomainError> {
        let mut pass = self.enter_about(caller, act, target).await?;
        let done = async {
            self.guard_owner_role(&pass, role).await?;
            let mut tx = pass.write().await?;
            let changed = apply(&mut tx).await?;
            if changed {
                registry::bump_policy_version(&mut tx).await?;
            }
            pass.commit(tx).await?;
            self.authz.invalidate(pass.tenant().id).await;
            Ok(changed)
        }
        .await;
        pass.finish(done).await
    }

    /// Only an owner may touch the owner role, so an admin cannot promote
    /// themselves or demote the clinic's owners. Operators may.
    pub(crate) async fn guard_owner_role(
        &self,
        pass: &Passage<'_>,
        role: &RoleName,
    ) -> Result<(), DomainError> {
        if role.as_builtin() != Some(BuiltinRole::Owner) {
            return Ok(());
        }
        let Some(staff) = pass.caller().staff() else {
            return Ok(());
        };
        let actor_roles = self.authz.roles_of(pass.tenant(), staff.staff_id()).await?;
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

/// The clinic's owners who may still log in, counted with every active
/// staff row locked: two owners taking the role (or the account) from each
/// other at the same moment cannot both see the other one still there.
pub(crate) async fn active_owners(tx: &mut TenantTx) -> Result<Vec<StaffId>, DomainError> {
    staff::lock_active(tx).await?;
    let mut owners = Vec::new();
    for rule in load_rules(tx).await? {
        let is_owner =
            rule.ptype == "g" && rule.values.get(1).map(String::as_str) == Some("role:owner");
        let Some(id) = rule
            .values
            .first()
            .and_then(|s| s.strip_prefix("staff:"))
            .and_then(|s| StaffId::parse(s).ok())
        else {
            continue;
        };
        if is_owner
            && let Some((member, _)) = staff::get_staff(tx, id).await?
            && member.status == crate::staff::StaffStatus::Active
        {
            owners.push(id);
        }
    }
    Ok(owners)
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
