//! Refuses email addresses at domains the clinic lists in its
//! `refused_domains` setting (one per line, or separated by commas), such
//! as a shared family mailbox provider or a throwaway service. It applies
//! when an address is accepted and when portal access is enabled.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::settings;
use portico_plugin_sdk::verifier::{
    Decision, EmailAcceptance, Guest, PortalAccess, Redemption, Setting,
};

struct EmailDomainRules;

impl Guest for EmailDomainRules {
    fn check_redemption(_input: Redemption) -> Decision {
        Decision::Allow
    }

    fn check_portal_access(input: PortalAccess) -> Decision {
        match input.facts.email.as_deref() {
            Some(email) => check(email, &input.settings),
            None => Decision::Allow,
        }
    }

    fn check_email(input: EmailAcceptance) -> Decision {
        check(&input.email, &input.settings)
    }
}

fn check(email: &str, clinic_settings: &[Setting]) -> Decision {
    let refused = settings::list(clinic_settings, "refused_domains");
    match domain(email) {
        Some(domain) if refused.iter().any(|r| is_within(&domain, r)) => Decision::Deny(format!(
            "This clinic does not accept addresses at {domain}. Please use a personal email address."
        )),
        _ => Decision::Allow,
    }
}

fn domain(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim().trim_end_matches('.').to_lowercase())
}

/// `mail.example.com` is within `example.com`; `notexample.com` is not.
fn is_within(domain: &str, refused: &str) -> bool {
    domain == refused
        || domain
            .strip_suffix(refused)
            .is_some_and(|rest| rest.ends_with('.'))
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(EmailDomainRules);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_are_refused_with_their_parent_but_lookalikes_are_not() {
        assert!(is_within("mail.example.com", "example.com"));
        assert!(is_within("example.com", "example.com"));
        assert!(!is_within("notexample.com", "example.com"));
    }

    #[test]
    fn the_domain_is_read_case_blind() {
        assert_eq!(domain("Mia@Example.COM.").as_deref(), Some("example.com"));
        assert_eq!(domain("no-at-sign"), None);
    }
}
