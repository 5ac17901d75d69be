//! Before a code is redeemed, the patient must give the date of birth on
//! the record. The first try asks for it; a wrong answer is refused without
//! saying what the record holds.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::settings;
use portico_plugin_sdk::verifier::{
    self, Decision, EmailAcceptance, FieldRequest, Guest, InputKind, LogLevel, PortalAccess,
    Redemption,
};

const FIELD: &str = "date_of_birth";

struct DateOfBirthCheck;

impl Guest for DateOfBirthCheck {
    fn check_redemption(input: Redemption) -> Decision {
        let Some(answer) = settings::get(&input.answers, FIELD) else {
            return Decision::AskFor(vec![FieldRequest {
                name: FIELD.into(),
                label: "Your date of birth".into(),
                kind: InputKind::Date,
            }]);
        };
        let Some(on_record) = input.facts.date_of_birth.as_deref() else {
            verifier::log(
                LogLevel::Warn,
                "the record has no date of birth; the clinic must add one",
            );
            return Decision::Deny(
                "We could not check your details. Please contact the clinic.".into(),
            );
        };
        if same_day(answer, on_record) {
            Decision::Allow
        } else {
            verifier::log(LogLevel::Info, "date of birth did not match the record");
            Decision::Deny(
                "That date of birth does not match our records. Check it and try again.".into(),
            )
        }
    }

    fn check_portal_access(_input: PortalAccess) -> Decision {
        Decision::Allow
    }

    fn check_email(_input: EmailAcceptance) -> Decision {
        Decision::Allow
    }
}

/// Dates compare as calendar days, whatever the zero padding:
/// `1990-3-7` is `1990-03-07`.
fn same_day(answer: &str, on_record: &str) -> bool {
    match (parse(answer), parse(on_record)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn parse(date: &str) -> Option<(u32, u32, u32)> {
    let mut parts = date.trim().splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((year, month, day))
}

// Exported only in the wasm32 build: a native build (the workspace's tests)
// cannot link the interface's export names into a shared library.
#[cfg(target_family = "wasm")]
portico_plugin_sdk::export_verifier!(DateOfBirthCheck);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_as_calendar_days() {
        assert!(same_day("1990-3-7", "1990-03-07"));
        assert!(!same_day("1990-03-08", "1990-03-07"));
        assert!(!same_day("07/03/1990", "1990-03-07"));
        assert!(!same_day("1990-13-01", "1990-13-01"));
    }
}
