//! Mail as staff follow it (a patient's mail, dead mail, retries) and as
//! the mail worker settles it: `claim_due` picks mails across clinics; each
//! is then read and settled in its own clinic, through the door, with a
//! system caller.

use crate::acts;
use crate::domain::PatientId;
use crate::door::Caller;
use crate::error::DomainError;
use crate::outbox::*;
use crate::patients::get_patient;
use crate::services::Services;

impl Services {
    /// The mail sent (or waiting) about a patient, newest first.
    pub async fn mail_of_patient(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Vec<QueuedMail>, DomainError> {
        let pass = self
            .enter_about(caller, &acts::MAIL_OF_PATIENT, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            if get_patient(&mut tx, patient).await?.is_none() {
                return Err(DomainError::NotFound("patient"));
            }
            let mails = for_patient(&mut tx, patient).await?;
            tx.commit().await?;
            Ok(mails)
        }
        .await;
        pass.finish(done).await
    }

    /// Mail given up on, for the clinic's admins.
    pub async fn dead_mail(&self, caller: &Caller) -> Result<Vec<QueuedMail>, DomainError> {
        let pass = self.enter(caller, &acts::DEAD_MAIL).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let mails = dead(&mut tx).await?;
            tx.commit().await?;
            Ok(mails)
        }
        .await;
        pass.finish(done).await
    }

    /// Puts a dead mail back in the queue, for another full round of
    /// tries.
    pub async fn retry_mail(&self, caller: &Caller, id: &str) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::MAIL_RETRY, format!("mail:{id}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            if !requeue(&mut tx, id).await? {
                return Err(DomainError::NotFound("dead mail"));
            }
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }
}

impl Services {
    /// Starts a try of a claimed mail, if it is still waiting to go: marks
    /// it `sending` and counts the try, committed before it is sent.
    pub async fn mail_begin_attempt(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Option<OutgoingMail>, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::MAIL_DELIVER, format!("mail:{id}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let mail = begin_attempt(&mut tx, id).await?;
            pass.detail("outcome=sending");
            pass.commit(tx).await?;
            Ok(mail)
        }
        .await;
        pass.finish(done).await
    }

    /// Settles one delivery attempt of a claimed mail.
    pub async fn mail_record_delivery(
        &self,
        caller: &Caller,
        id: &str,
        outcome: &Delivery,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::MAIL_DELIVER, format!("mail:{id}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            record_delivery(&mut tx, id, outcome).await?;
            // The error text stays on the mail: it can quote the address.
            pass.detail(match outcome {
                Delivery::Sent => "outcome=sent",
                Delivery::Retry { .. } => "outcome=retry",
                Delivery::Dead { .. } => "outcome=dead",
            });
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }
}

impl Services {
    /// Claims up to `limit` due mails across every clinic for `lease`
    /// (the mail queue holds no clinic's data, only which mail is due).
    pub async fn claim_due_mail(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<(crate::domain::TenantId, String)>, DomainError> {
        Ok(claim_due(self.door.platform(), limit, lease).await?)
    }
}
