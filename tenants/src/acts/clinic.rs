//! The clinic's own settings: reading them, changing them, asking for a
//! portal host of its own.

use crate::acts;
use crate::domain::{DisplayName, PortalHost, RetentionDays};
use crate::door::Caller;
use crate::error::DomainError;
use crate::registry::*;
use crate::services::Services;

impl Services {
    /// The clinic's name and settings, as the request found them, for
    /// staff whose role may read them.
    pub async fn clinic_settings(&self, caller: &Caller) -> Result<Tenant, DomainError> {
        let pass = self.enter(caller, &acts::SETTINGS_READ).await?;
        let tenant = pass.tenant().clone();
        pass.finish(Ok(tenant)).await
    }

    /// Changes the clinic's name and how it runs portal access.
    pub async fn update_tenant_settings(
        &self,
        caller: &Caller,
        display_name: &DisplayName,
        settings: &TenantSettings,
    ) -> Result<Tenant, DomainError> {
        let tenant = &caller.tenant;
        let mut pass = self
            .enter_about(
                caller,
                &acts::SETTINGS_UPDATE,
                format!("tenant:{}", tenant.slug),
            )
            .await?;
        let done = async {
            let was = &tenant.settings;
            if (was.staff_second_factor_required && !settings.staff_second_factor_required)
                || (was.patient_second_factor_required && !settings.patient_second_factor_required)
            {
                pass.escalate(&acts::SETTINGS_TWO_STEP_OFF).await?;
            }
            if shortens(was.audit_retention, settings.audit_retention) {
                pass.escalate(&acts::SETTINGS_RETENTION_SHORTEN).await?;
            }
            let mut tx = pass.write().await?;
            let updated = update_settings(&mut tx, display_name, settings).await?;
            let renamed = if tenant.display_name == *display_name {
                String::new()
            } else {
                format!(
                    " renamed from {:?} to {:?}",
                    tenant.display_name.as_str(),
                    display_name.as_str()
                )
            };
            let retention = settings
                .audit_retention
                .map_or("forever".to_owned(), |r| format!("{}d", r.days()));
            pass.detail(format!(
                "auto_enable_portal_access={} code_lifetime_secs={} default_delivery={} time_zone={} self_registration={} staff_second_factor_required={} patient_second_factor_required={} audit_retention={retention}{renamed}",
                settings.auto_enable_portal_access,
                settings.code_lifetime.as_secs(),
                settings.default_delivery,
                settings.time_zone,
                settings.self_registration,
                settings.staff_second_factor_required,
                settings.patient_second_factor_required,
            ));
            pass.commit(tx).await?;
            Ok(updated)
        }
        .await;
        pass.finish(done).await
    }

    /// Asks the platform's operators to connect the clinic's portal to
    /// `host` (or withdraws the request). Nothing changes for patients
    /// until an operator does.
    pub async fn request_portal_host(
        &self,
        caller: &Caller,
        host: Option<&PortalHost>,
    ) -> Result<Tenant, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_HOST_REQUEST,
                format!("tenant:{}", caller.tenant.slug),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let updated = set_host(&mut tx, HostColumn::Requested, host).await?;
            pass.detail(match host {
                Some(h) => format!("host={h}"),
                None => "request withdrawn".into(),
            });
            pass.commit(tx).await?;
            Ok(updated)
        }
        .await;
        pass.finish(done).await
    }
}

/// Whether a retention change lets events go sooner than before: from
/// forever to any limit, or to a shorter one.
fn shortens(was: Option<RetentionDays>, now: Option<RetentionDays>) -> bool {
    match (was, now) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(was), Some(now)) => now < was,
    }
}
