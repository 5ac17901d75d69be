//! Delivers the outbox: claims due mail across tenants, renders each in its
//! tenant, hands it to the transport, and records the outcome with retries
//! and exponential back-off. A relay that is down or slow only delays mail;
//! the acts that queued it have long since returned.
//!
//! # At least once, with few repeats
//!
//! No transport lets a mail be handed over and marked sent in one step: an
//! SMTP relay has the message from the final dot of DATA, and the worker
//! learns it only from the answer that follows. A process killed in
//! between leaves a mail the relay has and the database calls unsent; it is
//! sent again, because the other choice, marking it sent before handing it
//! over, would lose it instead. So the worker keeps the window small and
//! the repeat harmless:
//!
//! - **Few mails in flight.** At most [`MailWorker::MAX_IN_FLIGHT`] mails
//!   per process are between their claim and their recorded outcome, each
//!   claimed alone (one lease per mail, not a batch's) by a free slot, so
//!   a crash can repeat at most that many. A batch claimed and sent
//!   together had a whole batch in the window.
//! - **Recorded at once.** Each try is settled in its own short
//!   transaction as soon as the relay answers, not after its neighbours;
//!   recording a sent mail is retried for a moment, so a database that
//!   blinks does not turn a delivered mail into a repeat.
//! - **Marked before it goes.** A try begins by marking the mail `sending`
//!   and counting the try, committed before the relay sees it. A mail
//!   found still `sending` by the next try (after its lease ran out) was
//!   cut off with its outcome unknown: it is sent again, and the log says
//!   so. Counting before the try means tries cut off by crashes count
//!   towards `mail_max_attempts` like failed ones.
//! - **One `Message-ID`.** Every try of a mail carries
//!   `<{outbox id}@{sender's domain}>` ([`message_id`]), whatever node
//!   sends it, so mail clients fold a repeat into the first copy.
//!
//! The `files` transport writes each mail to `{outbox id}.eml` by rename,
//! so a repeat there replaces the first copy.
//!
//! A graceful stop claims nothing more and lets the mails in flight finish,
//! so only a crash repeats mail.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use portico_tenants::domain::{TenantId, Timestamp};
use portico_tenants::outbox::{self, Delivery, OutgoingMail};
use portico_tenants::registry::Tenant;
use portico_tenants::{Caller, DomainError};
use serde_json::Value;
use tokio::task::JoinSet;

use super::{
    Branding, MailContext, MailRenderer, MailTransport, SendError, build_message, message_id,
};
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
    /// How long a claim of one mail holds; longer than one try (render,
    /// send, record) can take, or another node sends it again meanwhile.
    pub lease: Duration,
}

impl MailWorker {
    /// How many mails one process has in flight at once: claimed, and not
    /// yet settled. A crash repeats at most this many. Each slot sends one
    /// mail at a time over a pooled connection, so this is also the
    /// throughput: about four mails per round trip of the relay.
    pub const MAX_IN_FLIGHT: usize = 4;
    /// How often, and how long apart, recording a sent mail is tried
    /// before it is left to be sent again after its lease.
    const RECORD_SENT_TRIES: u32 = 3;
    const RECORD_SENT_PAUSE: Duration = Duration::from_millis(500);

    /// Delivers until `stop` says so, then lets the mails in flight finish.
    /// Dropped instead (the process going down hard), it abandons them
    /// with itself; their leases run out and they are sent again.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let worker = Arc::new(self);
        let mut in_flight = JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            // Claim as many as there are free slots; fewer means the queue
            // has nothing more due, and the worker waits a poll.
            let free = Self::MAX_IN_FLIGHT.saturating_sub(in_flight.len());
            let mut idle = false;
            if free > 0 {
                match worker
                    .services
                    .claim_due_mail(free as u32, worker.lease)
                    .await
                {
                    Ok(claimed) => {
                        idle = claimed.len() < free;
                        for (tenant, id) in claimed {
                            let worker = worker.clone();
                            in_flight
                                .spawn(async move { worker.deliver_logged(tenant, &id).await });
                        }
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "claiming mail failed");
                        idle = true;
                    }
                }
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(err) = done {
                        tracing::error!(error = %err, "a mail delivery task failed");
                    }
                }
                _ = tokio::time::sleep(worker.poll), if idle => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver_logged(&self, tenant: TenantId, id: &str) {
        if let Err(err) = self.deliver(tenant, id).await {
            tracing::error!(error = %err, tenant = %tenant, mail = %id, "delivering mail failed");
        }
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
        let Some(mut mail) = services.mail_begin_attempt(&caller, id).await? else {
            return Ok(());
        };
        // Only the recipient's domain is logged: an address is personal data.
        let domain = mail
            .recipient
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default();
        let kind = mail.kind.as_str();
        if mail.interrupted {
            tracing::warn!(tenant = %tenant_id, mail = %id, kind, to_domain = domain,
                "a try of this mail was cut off with its outcome unknown; sending it again with the same Message-ID");
        }
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
        // Settled before anything else: until it is, a crash sends it again.
        let mut recorded = services.mail_record_delivery(&caller, id, &outcome).await;
        if matches!(outcome, Delivery::Sent) {
            for _ in 1..Self::RECORD_SENT_TRIES {
                if recorded.is_ok() {
                    break;
                }
                tokio::time::sleep(Self::RECORD_SENT_PAUSE).await;
                recorded = services.mail_record_delivery(&caller, id, &outcome).await;
            }
        }
        let counted = match &outcome {
            Delivery::Sent => "sent",
            Delivery::Retry { .. } => "retry",
            Delivery::Dead { .. } => "dead",
        };
        metrics::counter!("portico_mail_total", "kind" => kind, "outcome" => counted).increment(1);
        match &outcome {
            Delivery::Sent => {
                tracing::info!(tenant = %tenant_id, mail = %id, kind, to_domain = domain, "mail sent")
            }
            Delivery::Retry { error, .. } => {
                tracing::warn!(tenant = %tenant_id, mail = %id, kind, to_domain = domain, error = %error, "mail delayed")
            }
            Delivery::Dead { error } => {
                tracing::error!(tenant = %tenant_id, mail = %id, kind, to_domain = domain, error = %error, "mail dead")
            }
        }
        recorded
    }

    async fn send(&self, tenant: &Tenant, mail: &OutgoingMail) -> Result<(), SendError> {
        let context = self.context(tenant, mail);
        let rendered = self
            .renderer
            .render_for(tenant, &context)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        // The clinic's name on the platform's sending address: patients
        // see who writes, and the address stays one the platform's SPF and
        // DKIM cover.
        let sender = Mailbox::new(
            Some(tenant.display_name.as_str().to_owned()),
            self.from.email.clone(),
        );
        let message = build_message(
            &sender,
            context.branding.reply_to.as_deref(),
            &mail.recipient,
            message_id(&mail.id, &self.from),
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
            AccessLink | SmartformInvitation | CaregiverInvitation => {
                text("code").map(|c| links.access_link_to(tenant, &c, &mail.recipient))
            }
            EmailVerification => text("token").map(|t| links.email_verification(tenant, &t)),
            PasswordReset => text("token").map(|t| links.password_reset(tenant, &t)),
            EmailChangeNotice | SignInCode => None,
            RecordUpdate | RegistrationAttempt | ProxyNarrowed | ProxyEnded | ComingOfAge
            | ProxyAdded => Some(links.portal_login(tenant)),
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
