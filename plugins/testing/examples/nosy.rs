//! A verification rule built against `portico:plugins@4.0.0` that declares
//! it reads only the date of birth, and takes two typed settings. Its
//! refusals repeat every fact and setting it was handed, so a test can see
//! that an undeclared fact never reaches it.

// Natively (the workspace's own test build) nothing is exported, so the
// plugin's code looks unused there.
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

use portico_plugin_sdk::v4::verifier::{
    Decision, EmailAcceptance, Guest, PatientFact, PluginManifest, PortalAccess, RecordFacts,
    Redemption, Setting, SettingSpec,
};

struct Nosy;

fn seen(facts: &RecordFacts, settings: &[Setting]) -> Decision {
    let settings: Vec<String> = settings
        .iter()
        .map(|s| format!("{}={}", s.name, s.value))
        .collect();
    Decision::Deny(format!(
        "saw date_of_birth={:?} home_zip_code={:?} email={:?} settings={}",
        facts.date_of_birth,
        facts.home_zip_code,
        facts.email,
        settings.join(",")
    ))
}

impl Guest for Nosy {
    fn describe() -> PluginManifest {
        PluginManifest::reading([PatientFact::DateOfBirth])
            .setting(
                SettingSpec::choice("strictness", "How strict", &["lenient", "strict"])
                    .described("Strict refuses on any doubt.")
                    .with_default("strict"),
            )
            .setting(SettingSpec::whole_number(
                "max_tries",
                "Tries before a refusal",
                1,
                5,
            ))
    }

    fn check_redemption(input: Redemption) -> Decision {
        seen(&input.facts, &input.settings)
    }

    fn check_portal_access(input: PortalAccess) -> Decision {
        seen(&input.facts, &input.settings)
    }

    fn check_email(_input: EmailAcceptance) -> Decision {
        Decision::Allow
    }
}

portico_plugin_sdk::export_verifier!(Nosy, v4);
