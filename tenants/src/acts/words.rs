//! Each act as the audit trail shows it to a person: "Access code used",
//! not `code.redeem`. The trail stores the stable name; pages show these.

/// The act named `action` in words, or `None` for a name this build does
/// not know (an event written by a newer or older release).
pub fn in_words(action: &str) -> Option<&'static str> {
    Some(match action {
        "staff.login" => "Staff login",
        "staff.logout" => "Staff logout",
        "staff.step_up" => "Password confirmed for a sensitive act",
        "staff.password_change" => "Staff password changed",
        "staff.self" => "Own staff account viewed",
        "staff.list" => "Staff list viewed",
        "staff.create" => "Staff member added",
        "staff.password_reset" => "Staff password reset by an operator",
        "staff.deactivate" => "Staff member deactivated",
        "staff.reactivate" => "Staff member reactivated",
        "staff.login_second_step" => "Staff login: second step",
        "staff.step_up_second_factor" => "Second factor confirmed for a sensitive act",
        "staff.factors" => "Own sign-in methods viewed",
        "staff.totp_begin" => "Authenticator app setup started",
        "staff.factor_begin_another" => "Another second factor's setup started",
        "staff.passkey_begin" => "Passkey setup started",
        "staff.passkey_add" => "Passkey added",
        "staff.passkey_challenge" => "Passkey challenge given",
        "staff.login_passkey" => "Staff login with a passkey",
        "staff.factor_add" => "Second factor added",
        "staff.factor_rename" => "Second factor renamed",
        "staff.factor_remove" => "Second factor removed",
        "staff.recovery_codes_renew" => "New recovery codes made",
        "staff.factors_reset" => "Staff member's second factors reset by an owner",
        "staff.factors_reset_by_operator" => "Staff member's second factors reset by an operator",
        "roles.read" => "Role assignments viewed",
        "role.assign" => "Role given",
        "role.unassign" => "Role taken away",
        "policies.read" => "Permissions viewed",
        "policy.add" => "Permission given to a role",
        "policy.remove" => "Permission taken from a role",
        "clinic.settings.read" => "Clinic settings viewed",
        "clinic.settings.update" => "Clinic settings changed",
        "clinic.settings.two_step_off" => {
            "Clinic settings changed, a two-step requirement turned off"
        }
        "clinic.portal_host.request" => "Portal address requested",
        "audit.read" => "Audit trail read",
        "mail.read" => "Mail log viewed",
        "mail.dead.read" => "Undeliverable mail viewed",
        "mail.retry" => "Mail sent again",
        "mail.deliver" => "Mail delivered",
        "mail.render" => "Mail prepared",
        "family.age_transitions.read" => "Birthdays due looked up",
        "audit.verify" => "Audit trail verified",
        "audit.ledger_start" => "Audit log started from the events so far",
        "audit.head.sign" => "Audit log's tree head signed",
        "audit.head.sign_scheduled" => "Audit log's tree head signed on schedule",
        "audit.ledger.read" => "Audit log and signed heads read",
        "audit.proof" => "Audit log proof made",
        "audit.ledger.export" => "Audit log exported for verification",
        "clinic.settings.retention_shorten" => "Audit retention shortened",
        "audit.prune" => "Old audit events pruned (retention)",
        "family.age_transition" => "A parent's access changed on a birthday",
        "portal.sharing.read" => "Patient viewed who else sees their record",
        "portal.caregiver.invite" => "Patient invited a caregiver",
        "portal.caregiver.invitation_cancel" => "Patient cancelled a caregiver's invitation",
        "portal.proxy.end" => "Patient ended a caregiver's access",
        "portal.proxy.confidential" => "Patient changed what a caregiver sees",
        "patient.create" => "Patient added",
        "patient.read" => "Patient viewed",
        "patient.update" => "Patient details changed",
        "patient.email_change" => "Patient email changed",
        "patient.portal_access.enable" => "Portal access turned on",
        "patient.portal_access.disable" => "Portal access turned off",
        "patient.archive" => "Patient archived",
        "code.issue" => "Access code given",
        "code.print" => "Access code handout printed",
        "code.revoke" => "Access code cancelled",
        "code.read" => "Access codes viewed",
        "code.redeem" => "Access code used",
        "code.check" => "Access code checked before registering",
        "grant.read" => "Record access viewed",
        "grant.revoke" => "Record access revoked",
        "record.read" => "Shared record viewed by staff",
        "document.upload" => "Document shared",
        "document.download" => "Document downloaded by staff",
        "document.withdraw" => "Document withdrawn",
        "note.write" => "Note shared",
        "appointment.book" => "Appointment booked",
        "appointment.cancel" => "Appointment cancelled",
        "message.read" => "Messages read by staff",
        "message.send" => "Message sent by staff",
        "message.unread" => "Unread messages listed",
        "form.create" => "SmartForm created",
        "form.read" => "SmartForms viewed",
        "form.assign" => "SmartForm assigned",
        "form.submit" => "SmartForm submitted",
        "plugin.upload" => "Plugin uploaded",
        "plugin.read" => "Plugins viewed",
        "plugin.activate" => "Plugin activated",
        "plugin.deactivate" => "Plugin deactivated",
        "plugin.delete" => "Plugin removed",
        "plugin.dry_run" => "Plugin tried",
        "plugin.call" => "Plugin ran",
        "portal.login" => "Patient login",
        "portal.logout" => "Patient logout",
        "portal.me" => "Patient account viewed",
        "portal.switch" => "Patient switched records",
        "portal.password_change" => "Patient changed their password",
        "portal.logout_everywhere" => "Patient logged out everywhere",
        "portal.register" => "Online registration",
        "portal.email_verify" => "Patient email confirmed",
        "portal.email_change" => "Patient changed their email",
        "portal.email_change.request" => "Patient asked to change their email",
        "portal.password_reset.request" => "Patient asked for a password reset",
        "portal.password_reset" => "Patient password reset",
        "portal.record.view" => "Record viewed by the patient",
        "portal.document.download" => "Document downloaded by the patient",
        "portal.document.upload" => "Document uploaded by the patient",
        "portal.message.send" => "Message sent by the patient",
        "portal.form.read" => "SmartForm opened by the patient",
        "portal.form.save" => "SmartForm saved by the patient",
        "portal.factors" => "Patient's sign-in methods viewed",
        "portal.totp_begin" => "Patient's authenticator app setup started",
        "portal.factor_add" => "Patient's authenticator app added",
        "portal.passkey_begin" => "Patient's passkey setup started",
        "portal.passkey_add" => "Patient's passkey added",
        "portal.email_second_step" => "Patient's codes by email turned on or off",
        "portal.factor_remove" => "Patient's second factor removed",
        "portal.recovery_codes_renew" => "Patient's new recovery codes made",
        "portal.trusted_device_revoke" => "Patient stopped trusting a device",
        "portal.login_email_code" => "Sign-in code emailed to a patient",
        "portal.login_second_step" => "Patient login: second step",
        "portal.passkey_challenge" => "Patient passkey challenge given",
        "portal.login_passkey" => "Patient login with a passkey",
        "portal.factors_reset" => "Patient's two-step sign-in reset by staff",
        "request.refused" => "Request refused",
        "tenant.create" => "Clinic created",
        "tenant.suspend" => "Clinic suspended",
        "tenant.resume" => "Clinic resumed",
        "tenant.custom_domain.set" => "Portal address connected",
        _ => return None,
    })
}

/// Every action name whose name or words contain `typed`, ignoring case:
/// "password" finds every act about one, "code." every code act.
pub fn matching(typed: &str) -> Vec<&'static str> {
    let typed = typed.trim().to_lowercase();
    super::ALL
        .iter()
        .map(|act| act.name)
        // Recorded by the plugin host, not an act of the door.
        .chain(["plugin.call"])
        .filter(|name| {
            name.contains(&typed)
                || in_words(name).is_some_and(|w| w.to_lowercase().contains(&typed))
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_act_has_words() {
        let missing: Vec<_> = super::super::ALL
            .iter()
            .filter(|a| in_words(a.name).is_none())
            .map(|a| a.name)
            .collect();
        assert!(missing.is_empty(), "acts without words: {missing:?}");
    }

    #[test]
    fn a_part_of_the_name_or_the_words_finds_the_acts() {
        assert!(matching("redeem").contains(&"code.redeem"));
        assert!(matching("CODE USED").contains(&"code.redeem"));
        let password = matching("password");
        assert!(
            password.contains(&"staff.password_change")
                && password.contains(&"portal.password_reset")
        );
        assert!(!password.contains(&"code.redeem"));
        assert!(matching("no such act").is_empty());
    }
}
