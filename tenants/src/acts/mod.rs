//! Every act of the domain, with its guards, in one table. An act's name is
//! what the audit trail records. To add an act: declare it here, add it to
//! [`ALL`], and run it through [`Services::enter`](crate::Services::enter)
//! (see `door.rs`).

use crate::domain::{Action, Permission, Resource};
pub mod ages;
pub mod audit_ledger;
pub mod audit_trail;
pub mod caregivers;
pub mod clinic;
pub mod codes;
mod even_time;
pub mod factors;
pub mod forms;
pub mod grants;
pub mod mail;
pub mod passkeys;
pub mod patients;
pub mod platform;
mod plugin_rules;
pub use plugin_rules::RULE_FAILED;
pub mod plugins;
pub mod portal_account;
pub mod portal_factors;
pub mod portal_login;
pub mod records;
pub mod redeem;
pub mod refused;
pub mod roles;
pub mod staff;
pub mod staff_factors;
pub mod staff_passkeys;
pub mod words;

use crate::door::{Act, Guard, Secret};

const fn may(resource: Resource, action: Action) -> Permission {
    Permission::new(resource, action)
}

use Action::{Read, Write};
use Resource::*;

// Staff accounts.
pub const STAFF_LOGIN: Act =
    Act::guarded("staff.login", Guard::Anyone).checks(Secret::StaffPassword);
pub const STAFF_LOGOUT: Act = Act::guarded("staff.logout", Guard::Staff);
pub const STAFF_STEP_UP: Act =
    Act::guarded("staff.step_up", Guard::Staff).checks(Secret::StaffPassword);
pub const STAFF_PASSWORD_CHANGE: Act =
    Act::guarded("staff.password_change", Guard::Staff).checks(Secret::StaffPassword);
pub const STAFF_SELF: Act = Act::guarded("staff.self", Guard::Staff).reads();
pub const STAFF_LIST: Act = Act::staff("staff.list", may(Staff, Read)).reads();
pub const STAFF_CREATE: Act = Act::guarded(
    "staff.create",
    Guard::PermissionOrOperator(may(Staff, Write)),
);
pub const STAFF_PASSWORD_RESET: Act = Act::guarded("staff.password_reset", Guard::Operator);
pub const STAFF_DEACTIVATE: Act = Act::staff("staff.deactivate", may(Staff, Write));
pub const STAFF_REACTIVATE: Act = Act::staff("staff.reactivate", may(Staff, Write));

// Staff second factors.
/// The second step of a login whose password was right.
pub const STAFF_LOGIN_SECOND_STEP: Act =
    Act::guarded("staff.login_second_step", Guard::Anyone).checks(Secret::SecondFactor);
pub const STAFF_STEP_UP_SECOND_FACTOR: Act =
    Act::guarded("staff.step_up_second_factor", Guard::Staff).checks(Secret::SecondFactor);
pub const STAFF_FACTORS: Act = Act::guarded("staff.factors", Guard::Staff).reads();
/// Starting an authenticator-app enrolment adds nothing that counts until
/// a code confirms it, so only the confirmation is recorded.
pub const STAFF_TOTP_BEGIN: Act = Act::guarded("staff.totp_begin", Guard::Staff).quiet();
/// The same, by someone who already has a factor: a stolen session must
/// not be able to add the thief's own.
pub const STAFF_FACTOR_BEGIN_ANOTHER: Act =
    Act::guarded("staff.factor_begin_another", Guard::Staff)
        .quiet()
        .step_up();
/// Starting a passkey's registration; the passkey counts once the browser's
/// answer is verified (`staff.passkey_add`).
pub const STAFF_PASSKEY_BEGIN: Act = Act::guarded("staff.passkey_begin", Guard::Staff).quiet();
pub const STAFF_PASSKEY_ADD: Act = Act::guarded("staff.passkey_add", Guard::Staff);
/// A challenge for a passkey sign-in, or for a passkey at the second step
/// or a step-up: nothing is checked until the answer comes.
pub const STAFF_PASSKEY_CHALLENGE: Act =
    Act::guarded("staff.passkey_challenge", Guard::Anyone).quiet();
/// Signing in with a passkey alone: it proves both the device and, by its
/// PIN or fingerprint, the person.
pub const STAFF_LOGIN_PASSKEY: Act =
    Act::guarded("staff.login_passkey", Guard::Anyone).checks(Secret::SecondFactor);
pub const STAFF_FACTOR_ADD: Act =
    Act::guarded("staff.factor_add", Guard::Staff).checks(Secret::SecondFactor);
pub const STAFF_FACTOR_RENAME: Act = Act::guarded("staff.factor_rename", Guard::Staff);
pub const STAFF_FACTOR_REMOVE: Act = Act::guarded("staff.factor_remove", Guard::Staff).step_up();
pub const STAFF_RECOVERY_CODES_RENEW: Act =
    Act::guarded("staff.recovery_codes_renew", Guard::Staff).step_up();
/// An owner clears a colleague's factors (a lost phone).
pub const STAFF_FACTORS_RESET: Act = Act::staff("staff.factors_reset", may(Staff, Write)).step_up();
/// The operator's command line does it for an owner who has no one else.
pub const STAFF_FACTORS_RESET_BY_OPERATOR: Act =
    Act::guarded("staff.factors_reset_by_operator", Guard::Operator);

// Roles and permission rules.
pub const ROLES_READ: Act = Act::staff("roles.read", may(Roles, Read)).reads();
pub const ROLE_ASSIGN: Act = Act::staff("role.assign", may(Roles, Write));
pub const ROLE_UNASSIGN: Act = Act::staff("role.unassign", may(Roles, Write));
pub const POLICIES_READ: Act = Act::staff("policies.read", may(Policies, Read)).reads();
pub const POLICY_ADD: Act = Act::staff("policy.add", may(Policies, Write));
pub const POLICY_REMOVE: Act = Act::staff("policy.remove", may(Policies, Write));

// The clinic.
pub const SETTINGS_READ: Act = Act::staff("clinic.settings.read", may(Settings, Read)).reads();
pub const SETTINGS_UPDATE: Act = Act::staff("clinic.settings.update", may(Settings, Write));
/// A settings change that turns a two-step requirement off: a session
/// alone, stolen, must not lower the bar for everyone.
pub const SETTINGS_TWO_STEP_OFF: Act =
    Act::staff("clinic.settings.two_step_off", may(Settings, Write)).step_up();
/// A settings change that lets audit events go sooner: a session alone,
/// stolen, must not be able to erase the trail of what it did.
pub const SETTINGS_RETENTION_SHORTEN: Act =
    Act::staff("clinic.settings.retention_shorten", may(Settings, Write)).step_up();
pub const PORTAL_HOST_REQUEST: Act = Act::staff("clinic.portal_host.request", may(Settings, Write));
pub const AUDIT_READ: Act = Act::staff("audit.read", may(Audit, Read)).reads();
/// Recomputing the clinic's audit log from its events: by an auditor, or
/// by the platform's operators (`portico audit verify`).
/// Starting a clinic's audit log from its events so far (after the
/// upgrade that brought the ledger), at the server's start.
pub const AUDIT_LEDGER_START: Act = Act::guarded("audit.ledger_start", Guard::System).quiet();
pub const AUDIT_VERIFY: Act = Act::guarded(
    "audit.verify",
    Guard::PermissionOrOperator(may(Audit, Read)),
)
.reads();
/// Signing the clinic's tree head on request: by an auditor, or an
/// operator.
pub const AUDIT_HEAD_SIGN: Act = Act::guarded(
    "audit.head.sign",
    Guard::PermissionOrOperator(may(Audit, Read)),
);
/// The schedule's signing: quiet, or every hourly head would be followed
/// by an event it does not cover.
pub const AUDIT_HEAD_SIGN_SCHEDULED: Act =
    Act::guarded("audit.head.sign_scheduled", Guard::System).quiet();
/// Reading the log: events with their places, and the signed heads.
pub const AUDIT_LEDGER_READ: Act = Act::guarded(
    "audit.ledger.read",
    Guard::PermissionOrOperator(may(Audit, Read)),
)
.reads();
/// Inclusion and consistency proofs.
pub const AUDIT_PROOF: Act =
    Act::guarded("audit.proof", Guard::PermissionOrOperator(may(Audit, Read))).reads();
/// The log exported with what checks it, for offline verification.
pub const AUDIT_EXPORT: Act = Act::guarded(
    "audit.ledger.export",
    Guard::PermissionOrOperator(may(Audit, Read)),
)
.reads();
/// Retention's pruning; its event is written only when it removed
/// something (see [`AUDIT_PRUNE_NAME`]).
pub const AUDIT_PRUNE: Act = Act::guarded(AUDIT_PRUNE_NAME, Guard::System).quiet();
pub const AUDIT_PRUNE_NAME: &str = "audit.prune";
pub const MAIL_OF_PATIENT: Act = Act::staff("mail.read", may(Patients, Read)).reads();
pub const DEAD_MAIL: Act = Act::staff("mail.dead.read", may(Settings, Write)).reads();
pub const MAIL_RETRY: Act = Act::staff("mail.retry", may(Settings, Write));
/// The mail worker, delivering a clinic's queued mail: starting a try
/// (marking it `sending`) and recording its outcome.
pub const MAIL_DELIVER: Act = Act::guarded("mail.deliver", Guard::System).quiet();
/// The mail worker, asking the clinic's email plugin to render a mail; it
/// writes, as every plugin call is recorded.
pub const MAIL_RENDER: Act = Act::guarded("mail.render", Guard::System).quiet();
/// The birthday job, reading which parents' proxies it may have to act on.
pub const AGE_TRANSITIONS_READ: Act =
    Act::guarded("family.age_transitions.read", Guard::System).reads();
/// The birthday job, acting on one patient's birthday: a parent's view
/// narrowing (`limited`), or a parent's proxy ending (`adult`). Its audit
/// event is written by the act itself, only by the node whose claim of
/// the birthday won: a node that finds it made already did nothing.
pub const AGE_TRANSITION: Act = Act::guarded(AGE_TRANSITION_NAME, Guard::System).quiet();
pub const AGE_TRANSITION_NAME: &str = "family.age_transition";

// Patients.
pub const PATIENT_CREATE: Act = Act::staff("patient.create", may(Patients, Write));
pub const PATIENT_READ: Act = Act::staff("patient.read", may(Patients, Read)).reads();
pub const PATIENT_UPDATE: Act = Act::staff("patient.update", may(Patients, Write));
/// Changing where a patient's codes and notices go, once the patient has
/// (or had) portal access: a confirmed password, and the old address told.
pub const PATIENT_EMAIL_CHANGE: Act =
    Act::staff("patient.email_change", may(PortalSecurity, Write)).step_up();
pub const PATIENT_PORTAL_ENABLE: Act =
    Act::staff("patient.portal_access.enable", may(Patients, Write));
pub const PATIENT_PORTAL_DISABLE: Act =
    Act::staff("patient.portal_access.disable", may(Patients, Write));
pub const PATIENT_ARCHIVE: Act = Act::staff("patient.archive", may(Patients, Write));

// Access codes and the access they give.
/// Whatever the delivery: a printed code is as good as an emailed one,
/// so the staff member confirms their password for either.
pub const CODE_ISSUE: Act = Act::staff("code.issue", may(AccessCodes, Write)).step_up();
pub const CODE_PRINT: Act = Act::staff("code.print", may(AccessCodes, Write));
pub const CODE_REVOKE: Act = Act::staff("code.revoke", may(AccessCodes, Write));
pub const CODES_READ: Act = Act::staff("code.read", may(AccessCodes, Read)).reads();
pub const GRANTS_READ: Act = Act::staff("grant.read", may(AccessCodes, Read)).reads();
pub const GRANT_REVOKE: Act = Act::staff("grant.revoke", may(AccessCodes, Write));
pub const CODE_REDEEM: Act = Act::guarded("code.redeem", Guard::Anyone).checks(Secret::AccessCode);
/// A code looked at without being used, as the registration page opens:
/// a try like a redemption, counted against the same buckets.
pub const CODE_CHECK: Act = Act::guarded("code.check", Guard::Anyone).checks(Secret::AccessCode);

// What a record shares, staff side.
pub const RECORD_READ: Act = Act::staff("record.read", may(Records, Read)).reads();
pub const DOCUMENT_UPLOAD: Act = Act::staff("document.upload", may(Records, Write));
pub const DOCUMENT_DOWNLOAD: Act = Act::staff("document.download", may(Records, Read));
pub const DOCUMENT_WITHDRAW: Act = Act::staff("document.withdraw", may(Records, Write));
pub const NOTE_WRITE: Act = Act::staff("note.write", may(Records, Write));
pub const APPOINTMENT_BOOK: Act = Act::staff("appointment.book", may(Records, Write));
pub const APPOINTMENT_CANCEL: Act = Act::staff("appointment.cancel", may(Records, Write));
pub const MESSAGES_READ: Act = Act::staff("message.read", may(Records, Read));
pub const MESSAGE_SEND: Act = Act::staff("message.send", may(Records, Write));
pub const UNREAD_MESSAGES: Act = Act::staff("message.unread", may(Records, Read)).reads();

// SmartForms, staff side.
pub const FORM_CREATE: Act = Act::staff("form.create", may(Forms, Write));
pub const FORMS_READ: Act = Act::staff("form.read", may(Forms, Read)).reads();
pub const FORM_ASSIGN: Act = Act::staff("form.assign", may(Forms, Write));

// Plugins.
pub const PLUGIN_UPLOAD: Act = Act::staff("plugin.upload", may(Plugins, Write));
pub const PLUGINS_READ: Act = Act::staff("plugin.read", may(Plugins, Read)).reads();
pub const PLUGIN_ACTIVATE: Act = Act::staff("plugin.activate", may(Plugins, Write));
pub const PLUGIN_DEACTIVATE: Act = Act::staff("plugin.deactivate", may(Plugins, Write));
pub const PLUGIN_DELETE: Act = Act::staff("plugin.delete", may(Plugins, Write));
/// Writes: the run is kept as a call, marked dry.
pub const PLUGIN_DRY_RUN: Act = Act::staff("plugin.dry_run", may(Plugins, Write));

// The patient portal.
pub const PORTAL_LOGIN: Act =
    Act::guarded("portal.login", Guard::Anyone).checks(Secret::PortalPassword);
pub const PORTAL_LOGOUT: Act = Act::guarded("portal.logout", Guard::Patient);
pub const PORTAL_ME: Act = Act::guarded("portal.me", Guard::Patient).reads();
pub const PORTAL_SWITCH: Act = Act::guarded("portal.switch", Guard::Patient).quiet();
pub const PORTAL_REGISTER: Act = Act::guarded("portal.register", Guard::Anyone);
pub const PORTAL_EMAIL_VERIFY: Act =
    Act::guarded("portal.email_verify", Guard::Anyone).checks(Secret::EmailedToken);
/// Confirming a new address with the mailed link: `PORTAL_EMAIL_VERIFY`
/// becomes this once the token turns out to be for a change.
pub const PORTAL_EMAIL_CHANGE: Act =
    Act::guarded("portal.email_change", Guard::Anyone).checks(Secret::EmailedToken);
pub const PORTAL_PASSWORD_RESET_REQUEST: Act =
    Act::guarded("portal.password_reset.request", Guard::Anyone);
pub const PORTAL_PASSWORD_RESET: Act =
    Act::guarded("portal.password_reset", Guard::Anyone).checks(Secret::EmailedToken);
pub const PORTAL_PASSWORD_CHANGE: Act =
    Act::guarded("portal.password_change", Guard::Patient).checks(Secret::PortalPassword);
pub const PORTAL_LOGOUT_EVERYWHERE: Act = Act::guarded("portal.logout_everywhere", Guard::Patient);
pub const PORTAL_EMAIL_CHANGE_REQUEST: Act =
    Act::guarded("portal.email_change.request", Guard::Patient).checks(Secret::PortalPassword);
pub const PORTAL_RECORD_VIEW: Act = Act::guarded("portal.record.view", Guard::Patient);
pub const PORTAL_DOCUMENT_DOWNLOAD: Act = Act::guarded("portal.document.download", Guard::Patient);
pub const PORTAL_DOCUMENT_UPLOAD: Act = Act::guarded("portal.document.upload", Guard::Patient);
pub const PORTAL_MESSAGE_SEND: Act = Act::guarded("portal.message.send", Guard::Patient);
/// A patient reading who else sees their record, and who is invited.
pub const PORTAL_SHARING_READ: Act = Act::guarded("portal.sharing.read", Guard::Patient).reads();
/// An adult patient inviting a caregiver by email.
pub const PORTAL_CAREGIVER_INVITE: Act = Act::guarded("portal.caregiver.invite", Guard::Patient);
pub const PORTAL_INVITATION_CANCEL: Act =
    Act::guarded("portal.caregiver.invitation_cancel", Guard::Patient);
/// A patient ending a caregiver's access.
pub const PORTAL_PROXY_END: Act = Act::guarded("portal.proxy.end", Guard::Patient);
/// A patient letting a caregiver see confidential items, or not.
pub const PORTAL_PROXY_CONFIDENTIAL: Act =
    Act::guarded("portal.proxy.confidential", Guard::Patient);
pub const PORTAL_FORMS: Act = Act::guarded("portal.form.read", Guard::Patient).reads();
pub const PORTAL_FORM_ANSWER: Act = Act::guarded("form.submit", Guard::Patient);
/// Saving answers without handing the form in.
pub const PORTAL_FORM_SAVE: Act = Act::guarded("portal.form.save", Guard::Patient);

// A patient's two-step sign-in. Changing it asks for the password again:
// a session left open on a shared computer cannot add someone else's
// phone, nor turn the second step off.
pub const PORTAL_FACTORS: Act = Act::guarded("portal.factors", Guard::Patient).reads();
/// Nothing counts until a code from the app confirms it.
pub const PORTAL_TOTP_BEGIN: Act = Act::guarded("portal.totp_begin", Guard::Patient)
    .quiet()
    .checks(Secret::PortalPassword);
pub const PORTAL_FACTOR_ADD: Act =
    Act::guarded("portal.factor_add", Guard::Patient).checks(Secret::SecondFactor);
pub const PORTAL_PASSKEY_BEGIN: Act = Act::guarded("portal.passkey_begin", Guard::Patient)
    .quiet()
    .checks(Secret::PortalPassword);
pub const PORTAL_PASSKEY_ADD: Act = Act::guarded("portal.passkey_add", Guard::Patient);
/// Codes by email at each sign-in, on or off.
pub const PORTAL_EMAIL_SECOND_STEP: Act =
    Act::guarded("portal.email_second_step", Guard::Patient).checks(Secret::PortalPassword);
pub const PORTAL_FACTOR_REMOVE: Act =
    Act::guarded("portal.factor_remove", Guard::Patient).checks(Secret::PortalPassword);
pub const PORTAL_RECOVERY_CODES_RENEW: Act =
    Act::guarded("portal.recovery_codes_renew", Guard::Patient).checks(Secret::PortalPassword);
pub const PORTAL_TRUSTED_DEVICE_REVOKE: Act =
    Act::guarded("portal.trusted_device_revoke", Guard::Patient);
/// Mailing a sign-in code for a login waiting for its second step.
pub const PORTAL_LOGIN_EMAIL_CODE: Act = Act::guarded("portal.login_email_code", Guard::Anyone);
pub const PORTAL_LOGIN_SECOND_STEP: Act =
    Act::guarded("portal.login_second_step", Guard::Anyone).checks(Secret::SecondFactor);
/// A challenge for a passkey sign-in or second step; nothing is checked
/// until the answer comes.
pub const PORTAL_PASSKEY_CHALLENGE: Act =
    Act::guarded("portal.passkey_challenge", Guard::Anyone).quiet();
pub const PORTAL_LOGIN_PASSKEY: Act =
    Act::guarded("portal.login_passkey", Guard::Anyone).checks(Secret::SecondFactor);
/// Staff clear a patient's two-step sign-in (a lost phone, no recovery
/// code left): the permission that guards where a patient's access goes,
/// after a step-up, as for changing the patient's email.
pub const PORTAL_FACTORS_RESET: Act =
    Act::staff("portal.factors_reset", may(PortalSecurity, Write)).step_up();

/// A request refused before it reached an act (input that does not parse).
pub const REQUEST_REFUSED: Act = Act::guarded("request.refused", Guard::Anyone);

// The platform.
pub const TENANT_CREATE: Act = Act::guarded("tenant.create", Guard::Operator);
pub const TENANT_SUSPEND: Act = Act::guarded("tenant.suspend", Guard::Operator);
pub const TENANT_RESUME: Act = Act::guarded("tenant.resume", Guard::Operator);
pub const TENANT_CUSTOM_DOMAIN: Act = Act::guarded("tenant.custom_domain.set", Guard::Operator);

/// Every act, for the tests that walk them.
pub const ALL: &[&Act] = &[
    &STAFF_LOGIN,
    &STAFF_LOGOUT,
    &STAFF_STEP_UP,
    &STAFF_PASSWORD_CHANGE,
    &STAFF_SELF,
    &STAFF_LIST,
    &STAFF_CREATE,
    &STAFF_PASSWORD_RESET,
    &STAFF_DEACTIVATE,
    &STAFF_REACTIVATE,
    &STAFF_LOGIN_SECOND_STEP,
    &STAFF_STEP_UP_SECOND_FACTOR,
    &STAFF_FACTORS,
    &STAFF_TOTP_BEGIN,
    &STAFF_FACTOR_BEGIN_ANOTHER,
    &STAFF_PASSKEY_BEGIN,
    &STAFF_PASSKEY_ADD,
    &STAFF_PASSKEY_CHALLENGE,
    &STAFF_LOGIN_PASSKEY,
    &STAFF_FACTOR_ADD,
    &STAFF_FACTOR_RENAME,
    &STAFF_FACTOR_REMOVE,
    &STAFF_RECOVERY_CODES_RENEW,
    &STAFF_FACTORS_RESET,
    &STAFF_FACTORS_RESET_BY_OPERATOR,
    &ROLES_READ,
    &ROLE_ASSIGN,
    &ROLE_UNASSIGN,
    &POLICIES_READ,
    &POLICY_ADD,
    &POLICY_REMOVE,
    &SETTINGS_READ,
    &SETTINGS_UPDATE,
    &SETTINGS_TWO_STEP_OFF,
    &PORTAL_HOST_REQUEST,
    &AUDIT_READ,
    &AUDIT_VERIFY,
    &AUDIT_LEDGER_START,
    &AUDIT_HEAD_SIGN,
    &AUDIT_HEAD_SIGN_SCHEDULED,
    &AUDIT_LEDGER_READ,
    &AUDIT_PROOF,
    &AUDIT_EXPORT,
    &AUDIT_PRUNE,
    &SETTINGS_RETENTION_SHORTEN,
    &MAIL_OF_PATIENT,
    &DEAD_MAIL,
    &MAIL_RETRY,
    &MAIL_DELIVER,
    &AGE_TRANSITIONS_READ,
    &AGE_TRANSITION,
    &MAIL_RENDER,
    &PATIENT_CREATE,
    &PATIENT_READ,
    &PATIENT_UPDATE,
    &PATIENT_EMAIL_CHANGE,
    &PATIENT_PORTAL_ENABLE,
    &PATIENT_PORTAL_DISABLE,
    &PATIENT_ARCHIVE,
    &CODE_ISSUE,
    &CODE_PRINT,
    &CODE_REVOKE,
    &CODES_READ,
    &GRANTS_READ,
    &GRANT_REVOKE,
    &CODE_REDEEM,
    &CODE_CHECK,
    &RECORD_READ,
    &DOCUMENT_UPLOAD,
    &DOCUMENT_DOWNLOAD,
    &DOCUMENT_WITHDRAW,
    &NOTE_WRITE,
    &APPOINTMENT_BOOK,
    &APPOINTMENT_CANCEL,
    &MESSAGES_READ,
    &MESSAGE_SEND,
    &UNREAD_MESSAGES,
    &FORM_CREATE,
    &FORMS_READ,
    &FORM_ASSIGN,
    &PLUGIN_UPLOAD,
    &PLUGINS_READ,
    &PLUGIN_ACTIVATE,
    &PLUGIN_DEACTIVATE,
    &PLUGIN_DELETE,
    &PLUGIN_DRY_RUN,
    &PORTAL_LOGIN,
    &PORTAL_LOGOUT,
    &PORTAL_ME,
    &PORTAL_SWITCH,
    &PORTAL_PASSWORD_CHANGE,
    &PORTAL_LOGOUT_EVERYWHERE,
    &PORTAL_REGISTER,
    &PORTAL_EMAIL_VERIFY,
    &PORTAL_EMAIL_CHANGE,
    &PORTAL_PASSWORD_RESET_REQUEST,
    &PORTAL_PASSWORD_RESET,
    &PORTAL_EMAIL_CHANGE_REQUEST,
    &PORTAL_RECORD_VIEW,
    &PORTAL_DOCUMENT_DOWNLOAD,
    &PORTAL_DOCUMENT_UPLOAD,
    &PORTAL_MESSAGE_SEND,
    &PORTAL_SHARING_READ,
    &PORTAL_CAREGIVER_INVITE,
    &PORTAL_INVITATION_CANCEL,
    &PORTAL_PROXY_END,
    &PORTAL_PROXY_CONFIDENTIAL,
    &PORTAL_FORMS,
    &PORTAL_FORM_ANSWER,
    &PORTAL_FORM_SAVE,
    &PORTAL_FACTORS,
    &PORTAL_TOTP_BEGIN,
    &PORTAL_FACTOR_ADD,
    &PORTAL_PASSKEY_BEGIN,
    &PORTAL_PASSKEY_ADD,
    &PORTAL_EMAIL_SECOND_STEP,
    &PORTAL_FACTOR_REMOVE,
    &PORTAL_RECOVERY_CODES_RENEW,
    &PORTAL_TRUSTED_DEVICE_REVOKE,
    &PORTAL_LOGIN_EMAIL_CODE,
    &PORTAL_LOGIN_SECOND_STEP,
    &PORTAL_PASSKEY_CHALLENGE,
    &PORTAL_LOGIN_PASSKEY,
    &PORTAL_FACTORS_RESET,
    &REQUEST_REFUSED,
    &TENANT_CREATE,
    &TENANT_SUSPEND,
    &TENANT_RESUME,
    &TENANT_CUSTOM_DOMAIN,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_act_has_its_own_name() {
        let mut names: Vec<_> = ALL.iter().map(|a| a.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "two acts share an audit name");
    }

    #[test]
    fn acts_that_need_a_fresh_password_are_staff_acts() {
        for act in ALL.iter().filter(|a| a.step_up) {
            assert!(
                matches!(act.guard, Guard::Permission(_) | Guard::Staff),
                "{} demands a step-up but is not a staff act",
                act.name
            );
        }
    }
}
