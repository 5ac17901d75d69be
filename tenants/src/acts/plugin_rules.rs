//! What the rest of the domain asks of a clinic's active plugins: to render
//! a mail, and to rule on a redemption, on enabling portal access, or on an
//! email address.
//!
//! Every call is recorded for the clinic's admins. A failure is audited
//! with its reason; a failed rendering falls back to the built-in mail, a
//! failed verification denies (fails closed) with a generic message.
//!
//! The helpers run inside an act, with its passage: the call is recorded
//! in a transaction of its own, so it stays on file when the act is then
//! refused.

use portico_plugins::model::{
    Answer, EmailAcceptance, FieldRequest, InputKind, MailContext, PortalAccess, RecordFacts,
    RenderedMail,
};
use portico_plugins::{CallReport, Decision, HookFamily, HookInput, HookOutput};

use crate::acts;
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::coherence::Subject;
use crate::domain::{AskedField, AskedKind, EmailAddress, GivenAnswer};
use crate::door::{Caller, Passage};
use crate::error::{DomainError, RefusalKind};
use crate::patients::PatientRecord;
use crate::plugins::store::{self, Activation};
use crate::services::Services;

/// A verification rule's ruling, ready for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused, with a message for the person in front of the screen.
    Deny(String),
    /// Ask for these fields, then try again.
    AskFor(Vec<AskedField>),
    /// The rule itself failed (it panicked, ran out of its budget, or
    /// answered with something that is not a decision): refused all the
    /// same, since a rule that cannot run must not let anyone through,
    /// but recorded as the plugin's failure, not as the patient's.
    Failed,
}

/// The one place the plugin interface's questions become the domain's.
fn asked(fields: Vec<FieldRequest>) -> Vec<AskedField> {
    fields
        .into_iter()
        .map(|f| AskedField {
            name: f.name,
            label: f.label,
            kind: match f.kind {
                InputKind::Date => AskedKind::Date,
                InputKind::Text => AskedKind::Text,
                InputKind::ZipCode => AskedKind::ZipCode,
            },
        })
        .collect()
}

/// And the patient's answers, the other way.
pub(crate) fn answers_for_plugin(given: Vec<GivenAnswer>) -> Vec<Answer> {
    given
        .into_iter()
        .map(|a| Answer {
            name: a.name,
            value: a.value,
        })
        .collect()
}

/// What a patient reads when the clinic's rule itself failed.
pub const RULE_FAILED: &str =
    "We could not complete this check right now. Please try again later or contact the clinic.";

/// What a rule may know of a record to check answers against it.
pub(crate) fn facts_of(patient: &PatientRecord) -> RecordFacts {
    RecordFacts {
        date_of_birth: Some(patient.date_of_birth.to_string()),
        home_zip_code: patient.home_zip.as_ref().map(|z| z.as_str().to_owned()),
        email: patient.email.as_ref().map(|e| e.as_str().to_owned()),
    }
}

impl Verdict {
    /// The error to answer with when the verdict is not `Allow`.
    pub(crate) fn into_error(self, code: &'static str) -> Option<DomainError> {
        match self {
            Verdict::Allow => None,
            Verdict::Deny(reason) => {
                Some(DomainError::refused(RefusalKind::Forbidden, code, reason))
            }
            Verdict::AskFor(fields) => Some(DomainError::MoreInformationNeeded(fields)),
            Verdict::Failed => Some(DomainError::refused(
                RefusalKind::Forbidden,
                code,
                RULE_FAILED,
            )),
        }
    }

    /// The audit reason of a verdict that is not `Allow`.
    pub(crate) fn audit_reason(&self) -> &'static str {
        match self {
            Verdict::Allow => "allowed_by_clinic_rule",
            Verdict::Deny(_) => "denied_by_clinic_rule",
            Verdict::AskFor(_) => "more_information_needed",
            Verdict::Failed => "clinic_rule_failed",
        }
    }
}

impl Services {
    async fn active_plugin(
        &self,
        pass: &Passage<'_>,
        family: HookFamily,
    ) -> Result<Option<Activation>, DomainError> {
        let key = (pass.tenant().id, family);
        if let Some(active) = self.active_plugins.get(&key) {
            return Ok(active);
        }
        let stamp = self.active_plugins.stamp();
        let mut tx = pass.read().await?;
        let active = store::activation(&mut tx, family).await?;
        tx.commit().await?;
        self.active_plugins
            .insert(key, active.clone(), stamp, vec![Subject::Plugins(key.0)]);
        Ok(active)
    }

    /// Runs the clinic's active plugin of `input`'s family, if any, and
    /// records the call, for the act `pass` is in. `None` when the clinic
    /// has none active.
    async fn consult(
        &self,
        pass: &Passage<'_>,
        input: HookInput,
    ) -> Result<Option<CallReport>, DomainError> {
        let hook = input.hook();
        let Some(active) = self.active_plugin(pass, hook.family()).await? else {
            return Ok(None);
        };
        let report = match self.load_plugin(pass, active.plugin_id).await {
            Ok(Some(plugin)) => {
                let input = input.with_settings(active.settings.as_slice().to_vec());
                self.plugins.call(plugin, input).await
            }
            Ok(None) => return Ok(None),
            Err(err) => CallReport {
                outcome: Err(portico_plugins::Failure {
                    kind: portico_plugins::FailureKind::Trap,
                    detail: err.to_string(),
                }),
                log: Default::default(),
                fuel_used: 0,
                fuel_limit: self.plugins.fuel_limit(hook.family()),
                elapsed: Default::default(),
            },
        };
        // Recorded whatever becomes of the act: a call happened.
        let mut tx = pass.write().await?;
        let call_id = store::insert_call(&mut tx, active.plugin_id, hook, &report, false).await?;
        if let Err(failure) = &report.outcome {
            audit::record(
                &mut tx,
                AuditEvent::failure(
                    Actor::System,
                    "plugin.call",
                    format!("{}: {}", failure.kind.as_str(), failure.detail),
                    &ClientInfo::default(),
                )
                .target(format!(
                    "plugin:{} call:{call_id} hook:{hook}",
                    active.plugin_id
                )),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(report))
    }

    /// Rules on `input` with the clinic's active verification plugin.
    /// Allows when there is none; denies, with a generic message, when it
    /// fails.
    pub(crate) async fn verify_with_plugin(
        &self,
        pass: &Passage<'_>,
        input: HookInput,
    ) -> Result<Verdict, DomainError> {
        Ok(match self.consult(pass, input).await? {
            None => Verdict::Allow,
            Some(report) => match report.outcome {
                Ok(HookOutput::Decision(Decision::Allow)) => Verdict::Allow,
                Ok(HookOutput::Decision(Decision::Deny { reason })) => Verdict::Deny(reason),
                Ok(HookOutput::Decision(Decision::AskFor { fields })) => {
                    Verdict::AskFor(asked(fields))
                }
                Ok(_) | Err(_) => Verdict::Failed,
            },
        })
    }

    /// Refuses `email` when the clinic's rule does; the act's refusal is
    /// then recorded with `email_refused_by_clinic_rule`.
    pub(crate) async fn accept_email(
        &self,
        pass: &mut Passage<'_>,
        email: &EmailAddress,
    ) -> Result<(), DomainError> {
        let verdict = self
            .verify_with_plugin(
                pass,
                HookInput::CheckEmail(EmailAcceptance {
                    email: email.as_str().to_owned(),
                    settings: Vec::new(),
                }),
            )
            .await?;
        let message = match verdict {
            Verdict::Allow => return Ok(()),
            Verdict::Deny(reason) => {
                pass.failure_reason("email_refused_by_clinic_rule");
                reason
            }
            // An address has nothing more to ask about.
            Verdict::AskFor(_) => {
                pass.failure_reason("email_refused_by_clinic_rule");
                RULE_FAILED.to_owned()
            }
            Verdict::Failed => {
                pass.failure_reason(Verdict::Failed.audit_reason());
                RULE_FAILED.to_owned()
            }
        };
        Err(DomainError::refused(
            RefusalKind::Malformed,
            "email_not_accepted",
            message,
        ))
    }

    /// The clinic's rule on turning portal access on for `patient`.
    pub(crate) async fn rule_on_portal_access(
        &self,
        pass: &Passage<'_>,
        patient: &PatientRecord,
    ) -> Result<Verdict, DomainError> {
        self.verify_with_plugin(
            pass,
            HookInput::CheckPortalAccess(PortalAccess {
                facts: facts_of(patient),
                settings: Vec::new(),
            }),
        )
        .await
    }

    /// Renders a mail with the clinic's active email plugin, for the mail
    /// worker (`caller` is the system, in the mail's clinic). `None` means
    /// send the built-in mail: no plugin, it declined, or it failed.
    pub async fn render_with_plugin(
        &self,
        caller: &Caller,
        context: MailContext,
    ) -> Result<Option<RenderedMail>, DomainError> {
        let mut pass = self.enter(caller, &acts::MAIL_RENDER).await?;
        let done = async {
            let rendered = match self.consult(&pass, HookInput::RenderEmail(context)).await? {
                Some(CallReport {
                    outcome: Ok(HookOutput::Rendered(mail)),
                    ..
                }) => Some(mail),
                _ => None,
            };
            pass.detail(if rendered.is_some() {
                "by=plugin"
            } else {
                "by=builtin"
            });
            let tx = pass.write().await?;
            pass.commit(tx).await?;
            Ok(rendered)
        }
        .await;
        pass.finish(done).await
    }
}
