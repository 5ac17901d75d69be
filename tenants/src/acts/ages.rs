//! The birthday job: when a child reaches the clinic's limited-view age,
//! their parents are told their view has narrowed; when they come of age,
//! every parent's proxy ends, and both sides are told.
//!
//! What a proxy *sees* never waits for this job: views are worked out on
//! each request from the day's date. The job makes the change durable and
//! tells people, exactly once per patient and birthday, across restarts
//! and across nodes: it first inserts the transition's row, unique per
//! patient, and only the transaction whose insert wins ends grants and
//! queues mail, in that same transaction.

use std::collections::BTreeMap;

use serde_json::json;

use crate::acts;
use crate::audit::{Actor, AuditEvent};
use crate::domain::{EmailAddress, PatientId, Timestamp};
use crate::door::Caller;
use crate::error::DomainError;
use crate::family::store::{self, ParentProxy, Transition};
use crate::family::{ClinicDay, Stage, birthday};
use crate::outbox::{self, MailKind};
use crate::patients::get_patient;
use crate::registry::{self, TenantStatus};
use crate::services::Services;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AgeTransitions {
    /// Patients whose parents' view narrowed.
    pub narrowed: usize,
    /// Patients who came of age.
    pub came_of_age: usize,
    /// Parents' proxies ended.
    pub proxies_ended: u64,
    /// Clinics whose run failed (logged; the next run tries again).
    pub failed_clinics: usize,
}

impl Services {
    /// Runs the birthday job for every active clinic as of `now`. The
    /// server calls it every few minutes with the real time; tests call it
    /// with the instant they choose.
    pub async fn run_age_transitions(&self, now: Timestamp) -> Result<AgeTransitions, DomainError> {
        let mut done = AgeTransitions::default();
        for tenant in registry::list(self.door.platform()).await? {
            if tenant.status != TenantStatus::Active {
                continue;
            }
            let id = tenant.id;
            match self.age_transitions_of(&Caller::system(tenant), now).await {
                Ok(of) => {
                    done.narrowed += of.narrowed;
                    done.came_of_age += of.came_of_age;
                    done.proxies_ended += of.proxies_ended;
                }
                Err(err) => {
                    tracing::error!(tenant = %id, error = %err, "the birthday job failed for a clinic");
                    done.failed_clinics += 1;
                }
            }
        }
        Ok(done)
    }

    async fn age_transitions_of(
        &self,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<AgeTransitions, DomainError> {
        let pass = self.enter(caller, &acts::AGE_TRANSITIONS_READ).await?;
        let listed = async {
            let mut tx = pass.read().await?;
            let proxies = store::live_parent_proxies(&mut tx).await?;
            tx.commit().await?;
            Ok(proxies)
        }
        .await;
        let proxies = pass.finish(listed).await?;
        let day = caller.tenant.settings.day_at(now);
        let mut by_patient: BTreeMap<PatientId, Vec<ParentProxy>> = BTreeMap::new();
        for proxy in proxies {
            by_patient.entry(proxy.patient).or_default().push(proxy);
        }
        let mut done = AgeTransitions::default();
        for (patient, proxies) in by_patient {
            let born = proxies[0].born;
            match day.stage_of(born) {
                Stage::Child => {}
                Stage::Adult => {
                    if let Some(ended) = self.come_of_age(caller, patient, &proxies, now).await? {
                        done.came_of_age += 1;
                        done.proxies_ended += ended;
                    }
                }
                Stage::Teen if proxies[0].narrowed => {}
                Stage::Teen => {
                    // Only a parent who held the record before the
                    // birthday saw more than they do now.
                    let narrowed_on = birthday(born.date(), day.rules.limited_from());
                    let before: Vec<&ParentProxy> = proxies
                        .iter()
                        .filter(|p| {
                            caller.tenant.settings.time_zone.local_date(p.created_at) < narrowed_on
                        })
                        .collect();
                    if !before.is_empty()
                        && self.narrow(caller, patient, &before, &day, now).await?
                    {
                        done.narrowed += 1;
                    }
                }
            }
        }
        Ok(done)
    }

    /// A parent's view of `patient` narrows: tell each parent who saw
    /// more. Returns whether this call made the transition.
    async fn narrow(
        &self,
        caller: &Caller,
        patient: PatientId,
        proxies: &[&ParentProxy],
        day: &ClinicDay,
        now: Timestamp,
    ) -> Result<bool, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::AGE_TRANSITION, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            if !store::claim_transition(&mut tx, patient, Transition::Limited, now).await? {
                // Another node, or an earlier run, made it.
                return Ok(false);
            }
            let clinic = pass.tenant().display_name.as_str();
            for proxy in proxies {
                let Some(email) = &proxy.email else { continue };
                outbox::enqueue(
                    &mut tx,
                    MailKind::ProxyNarrowed,
                    email,
                    Some(patient),
                    json!({
                        "clinic_name": clinic,
                        "limited_from": day.rules.limited_from(),
                        "adult_age": day.rules.adult_at(),
                    }),
                )
                .await?;
            }
            record(
                &mut tx,
                patient,
                format!("transition=limited parents={}", proxies.len()),
            )
            .await?;
            pass.commit(tx).await?;
            Ok(true)
        }
        .await;
        pass.finish(done).await
    }

    /// `patient` comes of age: every parent's proxy ends; each parent and
    /// the patient are told. Returns the proxies ended, or `None` when the
    /// transition had been made already.
    async fn come_of_age(
        &self,
        caller: &Caller,
        patient: PatientId,
        proxies: &[ParentProxy],
        now: Timestamp,
    ) -> Result<Option<u64>, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::AGE_TRANSITION, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            if !store::claim_transition(&mut tx, patient, Transition::Adult, now).await? {
                return Ok(None);
            }
            let ended = store::end_parent_proxies(&mut tx, patient, now).await?;
            let tenant = pass.tenant();
            let clinic = tenant.display_name.as_str();
            let adult_age = tenant.settings.age_rules.adult_at();
            let parents: Vec<&EmailAddress> =
                proxies.iter().filter_map(|p| p.email.as_ref()).collect();
            for email in &parents {
                outbox::enqueue(
                    &mut tx,
                    MailKind::ProxyEnded,
                    email,
                    Some(patient),
                    json!({"clinic_name": clinic, "reason": "aged_out", "adult_age": adult_age}),
                )
                .await?;
            }
            // The patient hears it at their own accounts; failing those, at
            // the address on file, unless that is a parent's.
            let mut theirs = store::own_account_emails(&mut tx, patient).await?;
            if theirs.is_empty() {
                let on_file = get_patient(&mut tx, patient).await?.and_then(|p| p.email);
                theirs.extend(
                    on_file.filter(|e| parents.iter().all(|p| p.normalized() != e.normalized())),
                );
            }
            for email in &theirs {
                outbox::enqueue(
                    &mut tx,
                    MailKind::ComingOfAge,
                    email,
                    Some(patient),
                    json!({
                        "clinic_name": clinic,
                        "patient_display_name": proxies[0].patient_name,
                        "adult_age": adult_age,
                        "parents_ended": ended,
                    }),
                )
                .await?;
            }
            record(
                &mut tx,
                patient,
                format!("transition=adult parents_ended={ended}"),
            )
            .await?;
            pass.commit(tx).await?;
            Ok(Some(ended))
        }
        .await;
        pass.finish(done).await
    }
}

/// The transition's audit event, in its own transaction: written only by
/// the run that made it.
async fn record(
    tx: &mut crate::storage::TenantTx,
    patient: PatientId,
    detail: String,
) -> Result<(), DomainError> {
    let client = crate::audit::ClientInfo::default();
    let event = AuditEvent::success(Actor::System, acts::AGE_TRANSITION_NAME, &client)
        .target(format!("patient:{patient}"))
        .reason(detail);
    crate::audit::record(tx, event).await?;
    Ok(())
}
