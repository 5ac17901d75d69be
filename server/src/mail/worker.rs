//! Delivers the outbox: claims due mail across tenants, renders each in its
//! tenant, hands it to the transport, and records the outcome with retries
//! and exponential back-off. A relay that is down or slow only delays mail;
//! the acts that queued it have long since returned.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use portico_tenants::domain::{TenantId, Timestamp};
use portico_tenants::outbox::{self, Delivery, OutgoingMail};
use portico_tenants::registry::Tenant;
use portico_tenants::{Caller, DomainError};
use serde_json::Value;

use super::{Branding, MailContext, MailRenderer, MailTransport, SendError, build_message};
use portico_tenants::Services;
use portico_web::Links;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// The first wait; each further one doubles, up to `max_backoff`.
    pub base: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    fn wait_after(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        self.base.saturating_mul(factor).min(self.max_backoff)
    }
}

pub struct MailWorker {
    pub services: Services,
    /// The addresses mails link to.
    pub links: Links,
    pub transport: MailTransport,
    pub renderer: Arc<dyn MailRenderer>,
    pub from: Mailbox,
    pub retry: RetryPolicy,
    pub poll: Duration,
    /// How long a claim holds; longer than a send can take.
    pub lease: Duration,
}

const BATCH: u32 = 16;

impl MailWorker {
    /// Delivers until `stop` says so.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let handled = match self.tick().await {
                Ok(n) => n,
                Err(err) => {
                    tracing::error!(error = %err, "claiming mail failed");
                    0
                }
            };
            if handled == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => return,
                }
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One round: claims a batch and delivers it. Returns how many mails
    /// it handled.
    pub async fn tick(&self) -> Result<usize, DomainError> {
        let claimed = self.services.claim_due_mail(BATCH, self.lease).await?;
        let n = claimed.len();
        let deliveries = claimed.into_iter().map(|(tenant, id)| async move {
            if let Err(err) = self.deliver(tenant, &id).await {
                tracing::error!(error = %err, tenant = %tenant, mail = %id, "delivering mail failed");
            }
        });
        futures_util::future::join_all(deliveries).await;
        Ok(n)
    }

    async fn deliver(&self, tenant_id: TenantId, id: &str) -> Result<(), DomainError> {
        let services = &self.services;
        let tenant = services
            .find_tenant_by_id(tenant_id)
            .await?
            .ok_or(DomainError::NotFound("tenant"))?;
        // The worker reads and records mail through the door, as the
        // system of the mail's own clinic.
        let caller = Caller::system(tenant);
        let Some(mut mail) = services.mail_load(&caller, id).await? else {
            return Ok(());
        };
        // The code or token is sealed in the database; it is opened here,
        // in memory, for this one rendering.
        let opened = outbox::open_sealed_secrets(
            &services.code_key,
            tenant_id,
            std::mem::take(&mut mail.payload),
        );
        let sent = match opened {
            Some(payload) => {
                mail.payload = payload;
                self.send(&caller.tenant, &mail).await
            }
            None => Err(SendError::Permanent(
                "its code or token was sealed under another key; the mail cannot be sent".into(),
            )),
        };
        let outcome = match sent {
            Ok(()) => Delivery::Sent,
            Err(SendError::Permanent(error)) => Delivery::Dead { error },
            Err(SendError::Transient(error)) => {
                let attempts = mail.attempts as u32 + 1;
                if attempts >= self.retry.max_attempts {
                    Delivery::Dead {
                        error: format!("gave up after {attempts} tries: {error}"),
                    }
                } else {
                    Delivery::Retry {
                        error,
                        at: Timestamp::now().plus(self.retry.wait_after(attempts)),
                    }
                }
            }
        };
        // Only the recipient's domain is logged: an address is personal data.
        let domain = mail
            .recipient
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("");
        match &outcome {
            Delivery::Sent => {
                tracing::info!(tenant = %tenant_id, mail = %id, kind = mail.kind.as_str(), to_domain = domain, "mail sent")
            }
            Delivery::Retry { error, .. } => {
                tracing::warn!(tenant = %tenant_id, mail = %id, kind = mail.kind.as_str(), to_domain = domain, error = %error, "mail delayed")
            }
            Delivery::Dead { error } => {
                tracing::error!(tenant = %tenant_id, mail = %id, kind = mail.kind.as_str(), to_domain = domain, error = %error, "mail dead")
            }
        }
        services.mail_record_delivery(&caller, id, &outcome).await
    }

    async fn send(&self, tenant: &Tenant, mail: &OutgoingMail) -> Result<(), SendError> {
        let context = self.context(tenant, mail);
        let rendered = self
            .renderer
            .render_for(tenant, &context)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        let message = build_message(
            &self.from,
            context.branding.reply_to.as_deref(),
            &mail.recipient,
            &rendered,
        )?;
        self.transport.send(message, &mail.id).await
    }

    fn context(&self, tenant: &Tenant, mail: &OutgoingMail) -> MailContext {
        use portico_tenants::outbox::MailKind::*;
        let p = &mail.payload;
        let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let links = &self.links;
        let link = match mail.kind {
            AccessLink | SmartformInvitation => text("code").map(|c| links.access_link(tenant, &c)),
            EmailVerification => text("token").map(|t| links.email_verification(tenant, &t)),
            PasswordReset => text("token").map(|t| links.password_reset(tenant, &t)),
            EmailChangeNotice => None,
            RecordUpdate | RegistrationAttempt => Some(links.portal_login(tenant)),
        };
        let expires_at = match mail.kind {
            PasswordReset => Some("one hour after it was sent".to_owned()),
            _ => text("expires_at")
                .and_then(|e| Timestamp::parse_rfc3339(&e))
                .map(|t| tenant.settings.time_zone.human(t)),
        };
        MailContext {
            kind: mail.kind,
            branding: Branding::of(tenant),
            patient_display_name: text("patient_display_name")
                .or_else(|| text("username"))
                .unwrap_or_else(|| "there".into()),
            link,
            expires_at,
            locale: "en".into(),
            details: p.clone(),
            expires_at_rfc3339: text("expires_at"),
            portal_url: Some(links.portal(tenant, "/")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
        };
        assert_eq!(p.wait_after(1), Duration::from_secs(30));
        assert_eq!(p.wait_after(2), Duration::from_secs(60));
        assert_eq!(p.wait_after(4), Duration::from_secs(240));
        assert_eq!(p.wait_after(12), Duration::from_secs(3600));
    }
}
