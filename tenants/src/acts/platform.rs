//! What the platform's operators do: clinics, their status and hosts,
//! their first owner.

use sqlx::Row;

use crate::acts;
use crate::audit::ClientInfo;
use crate::audit::{self, Actor, AuditEvent};
use crate::auth::SecretToken;
use crate::domain::{
    BuiltinRole, DisplayName, EmailAddress, NewPassword, PortalHost, RoleName, Slug, TenantId,
    Timestamp,
};
use crate::error::DomainError;
use crate::operators::*;
use crate::registry::{self, Tenant, TenantStatus};
use crate::services::Services;
use crate::staff::StaffMember;
use crate::storage::StorageError;

impl Services {
    /// Creates a named operator token and returns it; only its hash is kept.
    pub async fn create_operator_token(&self, name: &str) -> Result<SecretToken, DomainError> {
        let name = DisplayName::parse("name", name)?;
        let token = SecretToken::generate();
        sqlx::query(
            "INSERT INTO operator_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(name.as_str().to_owned())
        .bind(token.hash())
        .bind(Timestamp::now().unix_millis())
        .execute(self.door.platform().platform_pool())
        .await
        .map_err(|e| match StorageError::from(e) {
            StorageError::UniqueViolation(_) => DomainError::Conflict {
                code: "operator_exists",
                message: "an operator token with this name already exists".into(),
            },
            other => other.into(),
        })?;
        Ok(token)
    }

    pub async fn authenticate_operator(
        &self,
        token: &SecretToken,
    ) -> Result<Operator, DomainError> {
        let row = sqlx::query(
            "SELECT name FROM operator_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token.hash())
        .fetch_optional(self.door.platform().platform_pool())
        .await
        .map_err(StorageError::from)?;
        match row {
            Some(row) => Ok(Operator {
                name: row.try_get(0).map_err(StorageError::from)?,
            }),
            None => Err(DomainError::InvalidToken),
        }
    }

    pub async fn create_tenant(
        &self,
        operator: &Operator,
        slug: &Slug,
        display_name: &DisplayName,
        custom_domain: Option<&str>,
        staff_second_factor_required: bool,
        client: &ClientInfo,
    ) -> Result<Tenant, DomainError> {
        let custom_domain = custom_domain
            .map(|d| PortalHost::parse("custom_domain", d))
            .transpose()?;
        let id = TenantId::generate();
        let mut tx = self.door.founding_tx(id).await?;
        let tenant = registry::insert(
            &mut tx,
            slug,
            display_name,
            custom_domain.as_ref(),
            staff_second_factor_required,
        )
        .await
        .map_err(|e| match e {
            StorageError::UniqueViolation(what) if what.contains("domain") => domain_taken(),
            StorageError::UniqueViolation(_) => DomainError::Conflict {
                code: "slug_taken",
                message: format!("the slug {slug:?} is already taken"),
            },
            other => other.into(),
        })?;
        audit::record(
            &mut tx,
            AuditEvent::success(
                Actor::Operator(operator.name.clone()),
                "tenant.create",
                client,
            )
            .target(format!("tenant:{}", tenant.slug))
            .reason(format!(
                "staff_second_factor_required={staff_second_factor_required}"
            )),
        )
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, DomainError> {
        Ok(registry::list(self.door.platform()).await?)
    }

    pub async fn find_tenant(&self, slug: &str) -> Result<Tenant, DomainError> {
        registry::find_by_slug(self.door.platform(), slug)
            .await?
            .ok_or(DomainError::NotFound("tenant"))
    }

    pub async fn find_tenant_by_domain(&self, host: &str) -> Result<Option<Tenant>, DomainError> {
        Ok(registry::find_by_domain(self.door.platform(), host).await?)
    }

    /// A clinic by its id, for work that carries only the id (the mail
    /// worker's claims).
    pub async fn find_tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, DomainError> {
        Ok(registry::find_by_id(self.door.platform(), id).await?)
    }

    pub async fn find_tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, DomainError> {
        Ok(registry::find_by_slug(self.door.platform(), slug).await?)
    }

    pub async fn set_tenant_status(
        &self,
        operator: &Operator,
        slug: &str,
        status: TenantStatus,
        client: &ClientInfo,
    ) -> Result<Tenant, DomainError> {
        let caller = operator.caller(self.find_tenant(slug).await?, client);
        let act = match status {
            TenantStatus::Active => &acts::TENANT_RESUME,
            TenantStatus::Suspended => &acts::TENANT_SUSPEND,
        };
        let target = format!("tenant:{}", caller.tenant.slug);
        let mut pass = self.enter_about(&caller, act, target).await?;
        let done = async {
            let mut tx = pass.write().await?;
            let updated = registry::set_status(&mut tx, status).await?;
            pass.commit(tx).await?;
            Ok(updated)
        }
        .await;
        pass.finish(done).await
    }

    /// Connects a clinic's portal to a host of its own, or (`None`) back
    /// to its address under the platform's domain. The clinic asks for a
    /// host in its settings; an operator connects it once the clinic's DNS
    /// and the certificate are in place, because a host claimed without
    /// proof could serve one clinic's portal on another's name.
    pub async fn set_tenant_custom_domain(
        &self,
        operator: &Operator,
        slug: &str,
        host: Option<&PortalHost>,
        client: &ClientInfo,
    ) -> Result<Tenant, DomainError> {
        let caller = operator.caller(self.find_tenant(slug).await?, client);
        let target = format!("tenant:{}", caller.tenant.slug);
        let mut pass = self
            .enter_about(&caller, &acts::TENANT_CUSTOM_DOMAIN, target)
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let updated = registry::set_host(&mut tx, registry::HostColumn::Connected, host)
                .await
                .map_err(|e| match e {
                    StorageError::UniqueViolation(_) => domain_taken(),
                    other => other.into(),
                })?;
            pass.detail(match host {
                Some(h) => format!("host={h}"),
                None => "host removed".into(),
            });
            pass.commit(tx).await?;
            Ok(updated)
        }
        .await;
        pass.finish(done).await
    }

    /// Creates a tenant's owner. Used by operators to hand a new clinic over.
    pub async fn create_owner(
        &self,
        operator: &Operator,
        tenant: &Tenant,
        email: &EmailAddress,
        display_name: &DisplayName,
        password: &NewPassword,
        client: &ClientInfo,
    ) -> Result<StaffMember, DomainError> {
        let caller = operator.caller(tenant.clone(), client);
        self.staff_create(
            &caller,
            email,
            display_name,
            password,
            &[RoleName::builtin(BuiltinRole::Owner)],
        )
        .await
    }
}
