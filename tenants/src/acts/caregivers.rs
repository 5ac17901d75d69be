//! An adult patient shares their record: inviting a caregiver by email,
//! seeing who holds a proxy on it and who is invited, letting a caregiver
//! see confidential items or not, and ending a caregiver's access. Only
//! the patient's own account does any of this; a proxy cannot pass the
//! record on.

use serde_json::json;

use crate::acts;
use crate::acts::grants::{require_grant, tell_proxy_it_ended};
use crate::acts::redeem::CANCELLED_BY_PATIENT;
use crate::codes::store::{self as codes, CodeKind, CodeRecord, Invitation, NewCode};
use crate::domain::{
    AccessCodeId, CodeDelivery, EmailAddress, GrantId, PatientId, PlainCode, Timestamp,
};
use crate::door::{Caller, Passage};
use crate::error::DomainError;
use crate::family::{Relation, Stage};
use crate::outbox::{self, MailKind};
use crate::portal::grants::{self, EndedReason, GrantRecord, GrantView};
use crate::services::Services;
use crate::storage::{StorageError, TenantTx};

/// Invitations an account may send in a day: enough for a family, too few
/// to make the clinic's mail a way to reach strangers.
pub const INVITATIONS_PER_DAY: i64 = 5;
const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Who else sees a record, as its patient sees it.
#[derive(Debug)]
pub struct Sharing {
    /// Live proxies: parents and caregivers.
    pub proxies: Vec<GrantRecord>,
    /// Caregivers invited and not yet in.
    pub invitations: Vec<CodeRecord>,
    /// Whether the patient may invite (an adult's own account).
    pub may_invite: bool,
}

/// A caregiver just invited, with the code the mail carries.
#[derive(Debug)]
pub struct InvitationSent {
    pub code: CodeRecord,
    pub mail_id: String,
}

/// Refuses unless the caller's grant on `patient` is the patient's own.
async fn require_own(
    pass: &mut Passage<'_>,
    tx: &mut TenantTx,
    patient: PatientId,
) -> Result<GrantView, DomainError> {
    let grant = require_grant(pass, tx, patient).await?;
    if grant.relation != Relation::Own {
        pass.failure_reason("not_the_patient");
        return Err(DomainError::NotAllowed(
            "Only the patient decides who else sees their record.",
        ));
    }
    Ok(grant)
}

fn not_an_adult(pass: &mut Passage<'_>) -> DomainError {
    pass.failure_reason("not_an_adult");
    DomainError::NotAllowed(
        "Caregivers are for adult patients: a young person's record is shared with their parents \
         through the clinic.",
    )
}

/// The proxy `id` on `patient`, live, or not found.
async fn live_proxy(
    tx: &mut TenantTx,
    patient: PatientId,
    id: GrantId,
) -> Result<GrantRecord, DomainError> {
    grants::get(tx, id)
        .await?
        .filter(|g| g.patient_id == patient && g.relation != Relation::Own && g.is_live())
        .ok_or(DomainError::NotFound("person with access"))
}

impl Services {
    /// Who else sees the record, and who is invited.
    pub async fn portal_sharing(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Sharing, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_SHARING_READ,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            let own = require_own(&mut pass, &mut tx, patient).await?;
            let proxies = grants::for_patient(&mut tx, patient)
                .await?
                .into_iter()
                .filter(|g| g.relation != Relation::Own && g.is_live())
                .collect();
            let invitations =
                codes::waiting_invitations(&mut tx, patient, Timestamp::now()).await?;
            tx.commit().await?;
            Ok(Sharing {
                proxies,
                invitations,
                may_invite: own.stage == Stage::Adult,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Invites a caregiver: a caregiver's code goes to `email` through the
    /// outbox; whoever redeems it, into a new account or their own, holds
    /// the record as the patient's caregiver, seeing confidential items
    /// only if `sees_confidential`.
    pub async fn portal_invite_caregiver(
        &self,
        caller: &Caller,
        patient: PatientId,
        email: &str,
        sees_confidential: bool,
    ) -> Result<InvitationSent, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_CAREGIVER_INVITE,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let account = pass.account_id()?;
            let email = EmailAddress::parse(email)?;
            let mut tx = pass.write().await?;
            let own = require_own(&mut pass, &mut tx, patient).await?;
            if own.stage != Stage::Adult {
                return Err(not_an_adult(&mut pass));
            }
            let now = Timestamp::now();
            if codes::invitations_sent_since(&mut tx, account, now.minus(DAY)).await?
                >= INVITATIONS_PER_DAY
            {
                pass.failure_reason("invitation_budget_spent");
                return Err(DomainError::RateLimited { retry_after: DAY });
            }
            let tenant = pass.tenant();
            let expires_at = now.plus(tenant.settings.code_lifetime.duration());
            let mut attempts = 0;
            let (id, code) = loop {
                attempts += 1;
                let code = PlainCode::generate();
                let hash = self.code_key.hash(tenant.id, &code.canonical());
                let id = AccessCodeId::generate();
                let new = NewCode {
                    id,
                    kind: CodeKind::MedicalRecords,
                    patient_id: patient,
                    code_hash: &hash,
                    delivery: CodeDelivery::Email,
                    issued_by: None,
                    issued_at: now,
                    expires_at,
                    form_assignment_id: None,
                    relation: Relation::Caregiver,
                    invitation: Some(Invitation {
                        by: account,
                        email: email.as_str(),
                        sees_confidential,
                    }),
                };
                match codes::insert(&mut tx, &new).await {
                    Ok(()) => break (id, code),
                    Err(StorageError::UniqueViolation(_)) if attempts < 3 => continue,
                    Err(other) => return Err(other.into()),
                }
            };
            let mail_id = outbox::enqueue(
                &mut tx,
                MailKind::CaregiverInvitation,
                &email,
                Some(patient),
                outbox::with_sealed_secrets(
                    &self.code_key,
                    tenant.id,
                    json!({
                        "clinic_name": tenant.display_name.as_str(),
                        "patient_display_name": own.patient_name,
                        "code": code.display(),
                        "expires_at": expires_at.to_rfc3339(),
                    }),
                ),
            )
            .await?;
            pass.detail(format!("code={id} sees_confidential={sees_confidential}"));
            let record = codes::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("access code"))?;
            pass.commit(tx).await?;
            Ok(InvitationSent {
                code: record,
                mail_id,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Withdraws an invitation not yet used.
    pub async fn portal_cancel_invitation(
        &self,
        caller: &Caller,
        patient: PatientId,
        code: AccessCodeId,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_INVITATION_CANCEL,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            require_own(&mut pass, &mut tx, patient).await?;
            let now = Timestamp::now();
            let waiting = codes::waiting_invitations(&mut tx, patient, now).await?;
            if !waiting.iter().any(|c| c.id == code) {
                return Err(DomainError::NotFound("invitation"));
            }
            codes::revoke(&mut tx, code, None, CANCELLED_BY_PATIENT, now).await?;
            pass.detail(format!("code={code}"));
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Ends a caregiver's access. A parent's proxy is not the patient's to
    /// end: it ends when the patient comes of age, or by the clinic.
    pub async fn portal_end_proxy(
        &self,
        caller: &Caller,
        patient: PatientId,
        id: GrantId,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_PROXY_END,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let account = pass.account_id()?;
            let mut tx = pass.write().await?;
            require_own(&mut pass, &mut tx, patient).await?;
            let proxy = live_proxy(&mut tx, patient, id).await?;
            if proxy.relation != Relation::Caregiver {
                pass.failure_reason("parent_proxy");
                return Err(DomainError::NotAllowed(
                    "A parent's access ends when you come of age; until then, the clinic can end it.",
                ));
            }
            grants::end_by_patient(&mut tx, id, account).await?;
            tell_proxy_it_ended(&mut tx, pass.tenant(), &proxy, EndedReason::EndedByPatient).await?;
            pass.detail(format!("grant={id} account={}", proxy.account_id));
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// Lets a caregiver see items the clinic marked confidential, or not.
    pub async fn portal_set_proxy_confidential(
        &self,
        caller: &Caller,
        patient: PatientId,
        id: GrantId,
        sees: bool,
    ) -> Result<GrantRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_PROXY_CONFIDENTIAL,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            require_own(&mut pass, &mut tx, patient).await?;
            let proxy = live_proxy(&mut tx, patient, id).await?;
            if proxy.relation != Relation::Caregiver {
                pass.failure_reason("parent_proxy");
                return Err(DomainError::NotAllowed(
                    "Only a caregiver's view can be changed here.",
                ));
            }
            grants::set_sees_confidential(&mut tx, id, sees).await?;
            let updated = grants::get(&mut tx, id)
                .await?
                .ok_or(DomainError::NotFound("person with access"))?;
            pass.detail(format!("grant={id} sees_confidential={sees}"));
            pass.commit(tx).await?;
            Ok(updated)
        }
        .await;
        pass.finish(done).await
    }
}

/// Tells the patient, at their own confirmed accounts, that someone now
/// holds their record as a proxy: part of the redemption that made it.
pub(crate) async fn tell_patient_of_new_proxy(
    tx: &mut TenantTx,
    tenant: &crate::registry::Tenant,
    patient: PatientId,
    relation: Relation,
    proxy_login: &str,
) -> Result<(), DomainError> {
    for email in crate::family::store::own_account_emails(tx, patient).await? {
        outbox::enqueue(
            tx,
            MailKind::ProxyAdded,
            &email,
            Some(patient),
            json!({
                "clinic_name": tenant.display_name.as_str(),
                "relation": relation.as_str(),
                "proxy_login": proxy_login,
            }),
        )
        .await?;
    }
    Ok(())
}
