//! The sandbox against real components built from this repository's
//! sources (`plugins/build-fixtures.sh`): the examples do their jobs, and
//! each misbehaving plugin is stopped or refused for the right reason.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portico_plugins::model::{
    Answer, Branding, Detail, EmailAcceptance, MailContext, MailKind, PortalAccess, RecordFacts,
    Redemption, Setting,
};
use portico_plugins::{
    Capability, Decision, FailureKind, HookFamily, HookInput, HookOutput, Limits, Refusal, Sandbox,
    SandboxConfig, Version,
};

/// The fixtures: fresh builds when `PORTICO_PLUGIN_FIXTURES` names them
/// (as in `.ci/run`), else the committed ones.
fn fixture(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("PORTICO_PLUGIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).unwrap()
}

fn access_link_context() -> MailContext {
    MailContext {
        kind: MailKind::AccessLink,
        branding: Branding {
            clinic_name: "North <Clinic>".into(),
            primary_colour: "#7a1f5c".into(),
            accent_colour: "red;background:url(https://evil.example)".into(),
            logo_url: Some("https://north.example.org/logo.png".into()),
            reply_to: None,
        },
        patient_display_name: Some("Mia Wong".into()),
        link: Some("https://north.example.org/portal/register#code=apple-brave-cider-delta".into()),
        expires_at: Some("2026-11-28T10:00:00Z".into()),
        time_zone: None,
        locale: "en-GB".into(),
        settings: vec![Setting {
            name: "signature".into(),
            value: "Dr Ames & the front desk".into(),
        }],
        portal_url: None,
        details: Vec::new(),
    }
}

fn check_email(email: &str, refused: &str) -> HookInput {
    HookInput::CheckEmail(EmailAcceptance {
        email: email.into(),
        settings: vec![Setting {
            name: "refused_domains".into(),
            value: refused.into(),
        }],
    })
}

fn redemption(answers: &[(&str, &str)], date_of_birth: Option<&str>) -> HookInput {
    HookInput::CheckRedemption(Redemption {
        answers: answers
            .iter()
            .map(|(name, value)| Answer {
                name: (*name).into(),
                value: (*value).into(),
            })
            .collect(),
        facts: RecordFacts {
            date_of_birth: date_of_birth.map(Into::into),
            ..RecordFacts::default()
        },
        settings: vec![],
    })
}

fn decision(output: HookOutput) -> Decision {
    match output {
        HookOutput::Decision(d) => d,
        other => panic!("expected a decision, got {other:?}"),
    }
}

#[test]
fn the_branded_email_renders_the_access_link_in_the_clinics_design() {
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("branded-email")).unwrap();
    assert_eq!(plugin.family, HookFamily::EmailRendering);
    assert_eq!(plugin.version, Version::V1_0_0);

    let report = sandbox.call(&plugin, &HookInput::RenderEmail(access_link_context()));
    let HookOutput::Rendered(mail) = report.outcome.unwrap() else {
        panic!("expected a rendered mail")
    };
    assert_eq!(
        mail.subject,
        "North <Clinic>: your online records are ready"
    );
    assert!(mail.html.contains("North &lt;Clinic&gt;"), "{}", mail.html);
    assert!(!mail.html.contains("<Clinic>"));
    assert!(mail.html.contains("background:#7a1f5c"));
    assert!(
        !mail.html.contains("evil.example"),
        "a colour cannot smuggle CSS"
    );
    assert!(mail.html.contains(
        r#"href="https://north.example.org/portal/register#code=apple-brave-cider-delta""#
    ));
    assert!(mail.html.contains("until 2026-11-28"));
    assert!(mail.html.contains("Dr Ames &amp; the front desk"));
    assert!(
        mail.text
            .contains("https://north.example.org/portal/register#code=apple-brave-cider-delta")
    );
    assert_eq!(report.log.lines.len(), 1);
    assert_eq!(
        report.log.lines[0].message,
        "rendering the access link in en-GB"
    );
    assert!(report.fuel_used > 0);

    // Other kinds are declined, and Portico's own mail goes out instead.
    let mut reset = access_link_context();
    reset.kind = MailKind::PasswordReset;
    assert!(matches!(
        sandbox
            .call(&plugin, &HookInput::RenderEmail(reset))
            .outcome,
        Ok(HookOutput::RenderDeclined { .. })
    ));
}

#[test]
fn the_date_of_birth_rule_asks_then_checks() {
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("date-of-birth-check")).unwrap();
    assert_eq!(plugin.family, HookFamily::Verification);

    let first = decision(
        sandbox
            .call(&plugin, &redemption(&[], Some("1990-03-07")))
            .outcome
            .unwrap(),
    );
    let Decision::AskFor { fields } = first else {
        panic!("expected ask-for, got {first:?}")
    };
    assert_eq!(fields[0].name, "date_of_birth");
    assert_eq!(fields[0].kind, portico_plugins::model::InputKind::Date);

    let right = redemption(&[("date_of_birth", "1990-3-7")], Some("1990-03-07"));
    assert_eq!(
        decision(sandbox.call(&plugin, &right).outcome.unwrap()),
        Decision::Allow
    );

    let wrong = redemption(&[("date_of_birth", "1990-03-08")], Some("1990-03-07"));
    let report = sandbox.call(&plugin, &wrong);
    assert!(matches!(
        decision(report.outcome.unwrap()),
        Decision::Deny { reason } if reason.contains("does not match")
    ));
    assert_eq!(
        report.log.lines[0].message,
        "date of birth did not match the record"
    );

    let unknown = redemption(&[("date_of_birth", "1990-03-07")], None);
    assert!(matches!(
        decision(sandbox.call(&plugin, &unknown).outcome.unwrap()),
        Decision::Deny { .. }
    ));
}

#[test]
fn the_domain_rule_refuses_the_domains_the_clinic_lists() {
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("email-domain-rules")).unwrap();
    let refused = "gmail.com, Yahoo.com";
    let verdict = |input| decision(sandbox.call(&plugin, &input).outcome.unwrap());

    assert!(matches!(
        verdict(check_email("mia@GMAIL.com", refused)),
        Decision::Deny { reason } if reason.contains("gmail.com")
    ));
    assert!(matches!(
        verdict(check_email("mia@mail.yahoo.com", refused)),
        Decision::Deny { .. }
    ));
    assert_eq!(
        verdict(check_email("mia@notgmail.com", refused)),
        Decision::Allow
    );
    assert_eq!(verdict(check_email("mia@gmail.com", "")), Decision::Allow);

    let enabling = HookInput::CheckPortalAccess(PortalAccess {
        facts: RecordFacts {
            email: Some("family@yahoo.com".into()),
            ..RecordFacts::default()
        },
        settings: vec![Setting {
            name: "refused_domains".into(),
            value: refused.into(),
        }],
    });
    assert!(matches!(verdict(enabling), Decision::Deny { .. }));
}

#[test]
fn a_plugin_that_loops_forever_runs_out_of_fuel() {
    let sandbox = sandbox();
    let spin = sandbox.admit(&fixture("spin")).unwrap();
    let report = sandbox.call(&spin, &check_email("mia@example.org", ""));
    let failure = report.outcome.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Fuel, "{failure:?}");
    assert_eq!(report.fuel_used, Limits::VERIFICATION.fuel);
    assert_eq!(
        failure.detail,
        "the plugin used its whole budget of 10,000,000 instructions"
    );
}

#[test]
fn a_plugin_that_loops_forever_with_fuel_to_spare_hits_the_deadline() {
    let config = SandboxConfig {
        verification: Limits {
            fuel: u64::MAX / 2,
            ..Limits::VERIFICATION
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config).unwrap();
    let spin = sandbox.admit(&fixture("spin")).unwrap();
    let report = sandbox.call(&spin, &check_email("mia@example.org", ""));
    let failure = report.outcome.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(
        failure
            .detail
            .starts_with("the plugin ran past its time limit of ")
            && failure.detail.ends_with(" ms"),
        "{failure:?}"
    );
    assert!(
        report.elapsed >= Duration::from_millis(50),
        "{:?}",
        report.elapsed
    );
}

#[test]
fn a_plugin_that_grows_memory_without_end_is_stopped_at_its_limit() {
    let sandbox = sandbox();
    let hog = sandbox.admit(&fixture("hog")).unwrap();
    let failure = sandbox
        .call(&hog, &check_email("mia@example.org", ""))
        .outcome
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::Memory, "{failure:?}");
    assert!(
        failure
            .detail
            .starts_with("the plugin asked for more memory than its limit of "),
        "{failure:?}"
    );
}

#[test]
fn a_plugin_that_returns_huge_output_is_refused() {
    let sandbox = sandbox();
    let flood = sandbox.admit(&fixture("flood")).unwrap();
    let failure = sandbox
        .call(&flood, &HookInput::RenderEmail(access_link_context()))
        .outcome
        .unwrap_err();
    assert_eq!(failure.kind, FailureKind::BadOutput);
    assert!(failure.detail.contains("html"), "{}", failure.detail);
    assert!(failure.detail.contains("262144"), "{}", failure.detail);
}

#[test]
fn a_plugin_that_imports_files_or_sockets_is_refused_at_upload_with_the_import_named() {
    let err = sandbox().admit(&fixture("snoop")).unwrap_err();
    let Refusal::ForbiddenImports(imports) = &err else {
        panic!("expected forbidden imports, got {err:?}")
    };
    let named = |prefix: &str| {
        imports
            .iter()
            .find(|i| i.import.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} not named in {err}"))
    };
    assert_eq!(
        named("wasi:filesystem/").reason(),
        "plugins get no filesystem"
    );
    assert_eq!(named("wasi:sockets/").reason(), "plugins get no network");
    let message = err.to_string();
    assert!(
        message.contains(&named("wasi:filesystem/").import),
        "{message}"
    );
    assert_eq!(err.code(), "plugin_import_refused");
    // std::fs and std::net bring their clocks along; the author used
    // neither clock, and is told so.
    assert_eq!(
        named("wasi:clocks/wall-clock").came_with,
        Some(Capability::Files)
    );
    assert_eq!(
        named("wasi:clocks/monotonic-clock").came_with,
        Some(Capability::Network)
    );
    assert!(message.contains("files (std::fs): "), "{message}");
    assert!(message.contains("network (std::net): "), "{message}");
    assert!(!message.contains("clock (std::time"), "{message}");
}

#[test]
fn compiled_code_is_kept_once_per_admitted_component_and_never_for_refused_ones() {
    let sandbox = sandbox();
    assert!(sandbox.admit(&fixture("snoop")).is_err());
    assert_eq!(sandbox.compiled_components(), 0);
    sandbox.admit(&fixture("minimal")).unwrap();
    sandbox.admit(&fixture("minimal")).unwrap();
    assert_eq!(sandbox.compiled_components(), 1);
}

#[test]
fn a_plugin_that_traps_fails_with_its_log_kept() {
    let sandbox = sandbox();
    let crash = sandbox.admit(&fixture("crash")).unwrap();
    let report = sandbox.call(&crash, &redemption(&[], None));
    let failure = report.outcome.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Trap, "{failure:?}");
    assert_eq!(
        report.log.lines[0].message,
        "About to fail on purpose (Rule::Limits)"
    );
    // The panic's own words and place, not the environment read that
    // Rust's default panic hook would have tried first.
    assert!(
        failure
            .detail
            .starts_with("the plugin panicked at plugins/testing/examples/crash.rs:"),
        "{failure:?}"
    );
    assert!(
        failure
            .detail
            .ends_with(": index out of bounds: the len is 0 but the index is 3"),
        "{failure:?}"
    );
}

#[test]
fn malformed_files_are_refused_with_a_plain_reason() {
    let sandbox = sandbox();
    let good = fixture("minimal");
    assert_eq!(
        sandbox.admit(&good[..good.len() / 2]).unwrap_err().code(),
        "plugin_malformed"
    );
    assert_eq!(
        sandbox.admit(b"<html>not wasm</html>").unwrap_err(),
        Refusal::NotWasm
    );
    assert_eq!(sandbox.admit(b"").unwrap_err(), Refusal::Empty);
    // A core module (the wasm32-unknown-unknown kind) is not a component.
    let core = b"\0asm\x01\0\0\0";
    assert_eq!(sandbox.admit(core).unwrap_err(), Refusal::CoreModule);
    let small = Sandbox::new(SandboxConfig {
        max_component_bytes: 1000,
        ..SandboxConfig::default()
    })
    .unwrap();
    assert!(matches!(
        small.admit(&good).unwrap_err(),
        Refusal::TooLarge { max: 1000, .. }
    ));
}

#[test]
fn every_call_gets_a_fresh_instance() {
    let sandbox = sandbox();
    let counter = sandbox.admit(&fixture("counter")).unwrap();
    for _ in 0..3 {
        let seen = decision(
            sandbox
                .call(&counter, &check_email("a@example.org", ""))
                .outcome
                .unwrap(),
        );
        assert_eq!(
            seen,
            Decision::Deny {
                reason: "call 1".into()
            }
        );
    }
}

#[test]
fn calls_outside_the_plugins_family_or_limits_are_not_made() {
    let sandbox = sandbox();
    let rules = sandbox.admit(&fixture("email-domain-rules")).unwrap();
    let wrong = sandbox.call(&rules, &HookInput::RenderEmail(access_link_context()));
    assert_eq!(wrong.outcome.unwrap_err().kind, FailureKind::BadInput);
    let huge = sandbox.call(&rules, &check_email(&"x".repeat(20_000), ""));
    let failure = huge.outcome.unwrap_err();
    assert_eq!(failure.kind, FailureKind::BadInput);
    assert!(failure.detail.contains("over the limit"));
}

#[test]
fn a_runaway_plugin_does_not_hold_up_other_calls() {
    let config = SandboxConfig {
        verification: Limits {
            fuel: u64::MAX / 2,
            ..Limits::VERIFICATION
        },
        ..SandboxConfig::default()
    };
    let sandbox = Arc::new(Sandbox::new(config).unwrap());
    let spin = sandbox.admit(&fixture("spin")).unwrap();
    let minimal = sandbox.admit(&fixture("minimal")).unwrap();
    let runaway = {
        let sandbox = sandbox.clone();
        std::thread::spawn(move || sandbox.call(&spin, &check_email("a@example.org", "")))
    };
    let mut served = 0;
    while !runaway.is_finished() {
        let report = sandbox.call(&minimal, &check_email("b@example.org", ""));
        assert_eq!(decision(report.outcome.unwrap()), Decision::Allow);
        served += 1;
    }
    assert_eq!(
        runaway.join().unwrap().outcome.unwrap_err().kind,
        FailureKind::Timeout
    );
    assert!(served > 0, "other calls ran while the runaway did");
}

#[test]
fn the_sandbox_works_without_the_pooling_allocator() {
    let sandbox = Sandbox::new(SandboxConfig {
        pooling: false,
        ..SandboxConfig::default()
    })
    .unwrap();
    assert!(!sandbox.uses_pooling());
    let minimal = sandbox.admit(&fixture("minimal")).unwrap();
    let report = sandbox.call(&minimal, &check_email("a@example.org", ""));
    assert_eq!(decision(report.outcome.unwrap()), Decision::Allow);
}

#[test]
fn a_plugin_built_against_the_first_version_still_runs_beside_the_second() {
    let sandbox = sandbox();
    let old = sandbox.admit(&fixture("branded-email")).unwrap();
    let new = sandbox.admit(&fixture("portal_link")).unwrap();
    assert_eq!(old.version, Version::V1_0_0);
    assert_eq!(new.version, Version::V2_0_0);

    let mut context = access_link_context();
    context.portal_url = Some("https://north.example.org/portal/".into());
    let input = HookInput::RenderEmail(context);
    let Ok(HookOutput::Rendered(from_old)) = sandbox.call(&old, &input).outcome else {
        panic!("the 1.0.0 plugin renders")
    };
    assert!(from_old.html.contains("Set up my access"));
    let Ok(HookOutput::Rendered(from_new)) = sandbox.call(&new, &input).outcome else {
        panic!("the 2.0.0 plugin renders")
    };
    assert_eq!(
        from_new.text,
        "Log in at https://north.example.org/portal/\n"
    );
}

#[test]
fn a_familys_mail_reaches_a_third_version_plugin_with_its_details_and_older_ones_decline_it() {
    let sandbox = sandbox();
    let family = sandbox.admit(&fixture("family_mail")).unwrap();
    assert_eq!(family.version, Version::V3_0_0);
    let mut context = access_link_context();
    context.kind = MailKind::ProxyEnded;
    context.link = Some("https://north.example.org/portal/login".into());
    context.details = vec![
        Detail {
            name: "reason".into(),
            value: "aged-out".into(),
        },
        Detail {
            name: "adult-age".into(),
            value: "18".into(),
        },
    ];
    let input = HookInput::RenderEmail(context);
    let Ok(HookOutput::Rendered(mail)) = sandbox.call(&family, &input).outcome else {
        panic!("the 3.0.0 plugin renders a family's mail")
    };
    assert_eq!(mail.subject, "North <Clinic> (family plugin): proxy ended");
    assert!(
        mail.text.contains("reason=aged-out\nadult-age=18"),
        "{}",
        mail.text
    );

    // Built against 1.0.0 and 2.0.0, a plugin knows no such kind: it is
    // not called, and declines, so the host sends its own mail.
    for (name, version) in [
        ("branded-email", Version::V1_0_0),
        ("portal_link", Version::V2_0_0),
    ] {
        let older = sandbox.admit(&fixture(name)).unwrap();
        assert_eq!(older.version, version);
        let report = sandbox.call(&older, &input);
        let Ok(HookOutput::RenderDeclined { message }) = report.outcome else {
            panic!("{name} declines a newer kind: {:?}", report.outcome)
        };
        assert!(
            message.contains("newer than the interface version"),
            "{message}"
        );
    }
    // And the kinds every version knows still reach the older plugins.
    let old = sandbox.admit(&fixture("branded-email")).unwrap();
    assert!(matches!(
        sandbox
            .call(&old, &HookInput::RenderEmail(access_link_context()))
            .outcome,
        Ok(HookOutput::Rendered(_))
    ));
}

#[test]
fn a_fourth_version_plugin_declares_what_it_reads_and_takes() {
    use portico_plugins::{PatientFact, SettingType};
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("nosy")).unwrap();
    assert_eq!(plugin.version, Version::V4_0_0);
    let manifest = &plugin.manifest;
    assert!(manifest.is_declared());
    assert_eq!(manifest.facts(), [PatientFact::DateOfBirth]);
    let names: Vec<_> = manifest
        .settings()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["strictness", "max_tries"]);
    assert_eq!(
        manifest.settings()[1].kind,
        SettingType::WholeNumber { min: 1, max: 5 }
    );
    assert_eq!(manifest.settings()[0].default.as_deref(), Some("strict"));

    // An older component declared nothing, and reads what it always read.
    let old = sandbox.admit(&fixture("date-of-birth-check")).unwrap();
    assert!(!old.manifest.is_declared());
    assert_eq!(old.manifest.facts(), PatientFact::ALL);
}

#[test]
fn an_undeclared_fact_never_reaches_the_guest() {
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("nosy")).unwrap();
    let everything = RecordFacts {
        date_of_birth: Some("1990-03-07".into()),
        home_zip_code: Some("02139".into()),
        email: Some("mia@example.org".into()),
    };
    for input in [
        HookInput::CheckPortalAccess(PortalAccess {
            facts: everything.clone(),
            settings: vec![],
        }),
        HookInput::CheckRedemption(Redemption {
            answers: vec![],
            facts: everything.clone(),
            settings: vec![],
        }),
    ] {
        let report = sandbox.call(&plugin, &input);
        let Decision::Deny { reason } = decision(report.outcome.unwrap()) else {
            panic!("nosy refuses, naming what it saw")
        };
        assert_eq!(
            reason,
            r#"saw date_of_birth=Some("1990-03-07") home_zip_code=None email=None settings="#
        );
    }
}

#[test]
fn a_fourth_version_mail_gets_the_clinics_clock_and_no_undeclared_name() {
    let sandbox = sandbox();
    let plugin = sandbox.admit(&fixture("clock_mail")).unwrap();
    let mut context = access_link_context();
    context.expires_at = Some("2026-12-02T16:00:00Z".into());
    context.time_zone = Some("Europe/Berlin".into());
    context.settings = vec![Setting {
        name: "show_zone".into(),
        value: "yes".into(),
    }];
    let report = sandbox.call(&plugin, &HookInput::RenderEmail(context));
    let HookOutput::Rendered(mail) = report.outcome.unwrap() else {
        panic!("expected a rendered mail")
    };
    assert!(mail.text.contains("name=None\n"), "{}", mail.text);
    assert!(
        mail.text
            .contains("until=2 December 2026 at 17:00 CET (Europe/Berlin)"),
        "{}",
        mail.text
    );
}
