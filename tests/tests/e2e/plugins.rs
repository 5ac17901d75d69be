//! A clinic's plugins, end to end over HTTP on both engines: the lifecycle
//! API, the verification rules at redemption, portal access and email
//! entry, mail rendered by the clinic's plugin, and what happens when a
//! plugin misbehaves. The components are built from the repository's own
//! sources (`plugins/build-fixtures.sh`).

use std::time::Duration;

use portico_tests::smtp::{SmtpSink, via_smtp};
use portico_tests::{
    TestApp, add_enabled_patient, add_patient, both_engines, expect_error, json_ok, plugin_fixture,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATIENT_PASSWORD: &str = "a patient's own passphrase";

async fn redeem(app: &TestApp, code: &str, email: &str, answers: Value) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", "/api/v1/portal/redeem"))
        .json(&json!({
            "code": code,
            "account": {"email": email, "password": PATIENT_PASSWORD},
            "answers": answers,
        }))
        .send()
        .await
        .unwrap()
}

/// A redemption that worked (201).
async fn redeemed(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn actions(audit: &Value) -> Vec<(String, String, String)> {
    audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

both_engines! {
    async fn a_clinic_uploads_activates_dry_runs_and_deletes_its_plugins(app) {
        let owner = app.clinic_with_owner("north").await;
        let first = json_ok(app.upload_plugin(&owner, "dob-check", plugin_fixture("date-of-birth-check")).await).await;
        assert_eq!(first["family"], "verification");
        assert_eq!(first["version"], 1);
        assert_eq!(first["interface_version"], "1.0.0");
        let second = json_ok(app.upload_plugin(&owner, "dob-check", plugin_fixture("date-of-birth-check")).await).await;
        assert_eq!(second["version"], 2);

        // Refused at upload, naming what is wrong; nothing is stored.
        let refused = expect_error(
            app.upload_plugin(&owner, "snoop", plugin_fixture("snoop")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "plugin_import_refused",
        ).await;
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("wasi:filesystem/"), "{message}");
        assert!(message.contains("wasi:sockets/"), "{message}");
        expect_error(app.upload_plugin(&owner, "junk", b"<html>".to_vec()).await, StatusCode::UNPROCESSABLE_ENTITY, "plugin_not_wasm").await;
        expect_error(app.upload_plugin(&owner, "Bad Name", plugin_fixture("minimal")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name").await;
        let listed = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

        // Staff without the plugins permission see nothing and change nothing.
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        expect_error(desk.get(&app, "/api/v1/plugins").await, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(app.upload_plugin(&desk, "x", plugin_fixture("minimal")).await, StatusCode::FORBIDDEN, "permission_denied").await;

        // A dry run shows output, log, fuel and time, and is kept as a call.
        let v1 = first["id"].as_str().unwrap();
        let run = json_ok(owner.post(&app, &format!("/api/v1/plugins/{v1}/dry-run"), json!({
            "hook": "check-redemption",
            "input": {"answers": [], "facts": {"date_of_birth": "1990-03-07"}},
        })).await).await;
        assert_eq!(run["outcome"], "ok", "{run}");
        assert_eq!(run["output"]["decision"], "ask_for");
        assert_eq!(run["output"]["fields"][0]["name"], "date_of_birth");
        assert!(run["fuel_used"].as_i64().unwrap() > 0);
        assert!(run["dry_run"].as_bool().unwrap());
        assert_eq!(run["answer"], "ask_for");
        // The share of its budget it used, against the budget it ran under.
        let (used, limit) = (run["fuel_used"].as_f64().unwrap(), run["fuel_limit"].as_f64().unwrap());
        assert!(limit >= 1_000_000.0, "{run}");
        let percent = run["fuel_percent"].as_f64().unwrap();
        assert!((percent - (used * 100.0 / limit)).abs() <= 0.006, "{percent} of {run}");
        assert_eq!(run["settings_from"], "none", "no settings in the input and nothing active");
        expect_error(owner.post(&app, &format!("/api/v1/plugins/{v1}/dry-run"), json!({
            "hook": "render-email", "input": {},
        })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        expect_error(owner.post(&app, &format!("/api/v1/plugins/{v1}/dry-run"), json!({
            "hook": "render", "input": {},
        })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_hook").await;
        let calls = json_ok(owner.get(&app, &format!("/api/v1/plugins/{v1}/calls")).await).await;
        assert_eq!(calls.as_array().unwrap().len(), 1);
        assert_eq!(calls[0]["dry_run"], true);
        assert_eq!(calls[0]["answer"], "ask_for");
        assert_eq!(calls[0]["fuel_limit"], run["fuel_limit"]);
        assert_eq!(calls[0]["fuel_percent"], run["fuel_percent"]);

        // One active version per family.
        let v2 = second["id"].as_str().unwrap();
        let active = json_ok(owner.post(&app, &format!("/api/v1/plugins/{v2}/activate"), json!({})).await).await;
        assert_eq!(active["family"], "verification");
        expect_error(owner.post(&app, &format!("/api/v1/plugins/{v1}/activate"), json!({"settings": {"Bad": "x"}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings").await;
        let listed = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        let active_ids: Vec<_> = listed.as_array().unwrap().iter().filter(|p| p.get("active").is_some()).map(|p| p["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(active_ids, [v2]);

        expect_error(owner.send(&app, reqwest::Method::DELETE, "north", &format!("/api/v1/plugins/{v2}"), None).await, StatusCode::CONFLICT, "plugin_active").await;
        let deleted = owner.send(&app, reqwest::Method::DELETE, "north", &format!("/api/v1/plugins/{v1}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let gone = owner.send(&app, reqwest::Method::DELETE, "north", "/api/v1/plugins/active/verification", None).await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
        expect_error(owner.send(&app, reqwest::Method::DELETE, "north", "/api/v1/plugins/active/verification", None).await, StatusCode::NOT_FOUND, "no_active_plugin").await;

        let audit = json_ok(owner.get(&app, "/api/v1/audit?limit=100").await).await;
        let seen = actions(&audit);
        for expected in [
            ("plugin.upload", "success"),
            ("plugin.upload", "failure"),
            ("plugin.activate", "success"),
            ("plugin.delete", "success"),
            ("plugin.deactivate", "success"),
        ] {
            assert!(seen.iter().any(|(a, o, _)| a == expected.0 && o == expected.1), "{expected:?} in {seen:?}");
        }
        assert!(seen.iter().any(|(a, _, r)| a == "plugin.upload" && r == "plugin_import_refused"));
    }

    async fn a_new_version_keeps_the_settings_and_dry_runs_use_them(app) {
        let owner = app.clinic_with_owner("north").await;
        let first = app.activate_plugin(&owner, "email-domain-rules", json!({"refused_domains": "gmail.com"})).await;
        let second = json_ok(app.upload_plugin(&owner, "email-domain-rules", plugin_fixture("email-domain-rules")).await).await;
        let second = second["id"].as_str().unwrap();
        assert_ne!(first, second);

        // A dry run of the new version, before it is active, without
        // settings: it gets what the active version runs with.
        let dry = |settings: Option<Value>| {
            let mut input = json!({"email": "mia@gmail.com"});
            if let Some(settings) = settings {
                input["settings"] = settings;
            }
            let (app, owner) = (&app, &owner);
            async move {
                json_ok(owner.post(app, &format!("/api/v1/plugins/{second}/dry-run"), json!({"hook": "check-email", "input": input})).await).await
            }
        };
        let run = dry(None).await;
        assert_eq!(run["settings_from"], "active", "{run}");
        assert_eq!(run["output"]["decision"], "deny", "the active refused_domains apply: {run}");
        let run = dry(Some(json!({"refused_domains": "yahoo.com"}))).await;
        assert_eq!(run["settings_from"], "input");
        assert_eq!(run["output"]["decision"], "allow", "{run}");
        let run = dry(Some(json!({}))).await;
        assert_eq!(run["settings_from"], "input", "an empty object is the input's own choice");
        assert_eq!(run["output"]["decision"], "allow");

        // Activating it without naming settings keeps them.
        let active = json_ok(owner.post(&app, &format!("/api/v1/plugins/{second}/activate"), json!({})).await).await;
        assert_eq!(active["plugin_id"], second);
        assert_eq!(active["settings"], json!({"refused_domains": "gmail.com"}), "{active}");
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=plugin.activate&limit=1").await).await;
        let detail = audit["events"][0]["reason"].as_str().unwrap_or_default().to_owned();
        assert!(detail.ends_with("settings=1 (kept) reads=all(undeclared)"), "{audit}");
        // Naming them replaces them; `{}` clears them.
        let changed = json_ok(owner.post(&app, &format!("/api/v1/plugins/{first}/activate"), json!({"settings": {"refused_domains": "yahoo.com"}})).await).await;
        assert_eq!(changed["settings"], json!({"refused_domains": "yahoo.com"}));
        let cleared = json_ok(owner.post(&app, &format!("/api/v1/plugins/{first}/activate"), json!({"settings": {}})).await).await;
        assert_eq!(cleared["settings"], json!({}));
    }

    async fn redemption_asks_for_the_date_of_birth_and_checks_it(app) {
        let owner = app.clinic_with_owner("north").await;
        let rule = app.activate_plugin(&owner, "date-of-birth-check", json!({})).await;
        // The harness's patients are born on 1980-05-17.
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;

        let asked = expect_error(redeem(&app, &code, "mia@example.org", json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "more_information_needed").await;
        assert_eq!(asked["fields"][0]["name"], "date_of_birth");
        assert_eq!(asked["fields"][0]["kind"], "date");
        assert_eq!(asked["fields"][0]["label"], "Your date of birth");

        let denied = expect_error(redeem(&app, &code, "mia@example.org", json!({"date_of_birth": "1980-05-18"})).await, StatusCode::FORBIDDEN, "verification_denied").await;
        assert!(denied["message"].as_str().unwrap().contains("does not match our records"));
        expect_error(redeem(&app, &code, "mia@example.org", json!({"date_of_birth": "x".repeat(501)})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_answers").await;

        // The code was not spent by the refusals.
        let done = redeemed(redeem(&app, &code, "mia@example.org", json!({"date_of_birth": "1980-5-17"})).await).await;
        assert_eq!(done["record"]["full_name"], "Mia Wong");

        // Every consultation is a call: enabling access, three redemption
        // tries, and the new account's address.
        let listed = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert_eq!(listed[0]["stats"]["calls"], 5, "{listed}");
        assert_eq!(listed[0]["stats"]["failures"], 0);
        // One refusal (the wrong date) and one question, counted apart
        // from failures.
        assert_eq!(listed[0]["stats"]["denied"], 1, "{listed}");
        assert_eq!(listed[0]["stats"]["asked"], 1, "{listed}");
        let peak = listed[0]["stats"]["peak_fuel_percent"].as_f64().unwrap();
        assert!(peak > 0.0 && peak < 100.0, "{listed}");
        assert!(listed[0]["stats"]["p50_us"].as_i64().unwrap() > 0);
        let calls = json_ok(owner.get(&app, &format!("/api/v1/plugins/{rule}/calls")).await).await;
        let hooks: Vec<_> = calls.as_array().unwrap().iter().map(|c| c["hook"].as_str().unwrap()).collect();
        assert_eq!(hooks, ["check-email", "check-redemption", "check-redemption", "check-redemption", "check-portal-access"]);
        assert_eq!(calls[2]["log"]["lines"][0]["message"], "date of birth did not match the record");

        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=code.redeem&limit=10").await).await;
        let reasons: Vec<_> = actions(&audit).into_iter().map(|(_, o, r)| format!("{o}:{r}")).collect();
        assert!(reasons.contains(&"failure:more_information_needed".to_owned()), "{reasons:?}");
        assert!(reasons.contains(&"failure:denied_by_clinic_rule".to_owned()), "{reasons:?}");
    }

    async fn the_registration_page_asks_for_what_the_clinics_rule_needs(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        app.activate_plugin(&owner, "date-of-birth-check", json!({})).await;
        let post = |fields: Vec<(&'static str, String)>| {
            let app = &app;
            async move {
                app.client.post(app.tenant_url("north", "/portal/register"))
                    .form(&fields)
                    .send().await.unwrap()
            }
        };
        let base = || vec![
            ("code", code.clone()),
            ("email", "mia@example.org".to_owned()),
            ("password", PATIENT_PASSWORD.to_owned()),
        ];
        let asked = post(base()).await;
        assert_eq!(asked.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = asked.text().await.unwrap();
        assert!(html.contains(r#"<label for="answer_date_of_birth">Your date of birth</label>"#), "{html}");
        assert!(html.contains(r#"type="date" autocomplete="bday""#), "{html}");
        assert!(html.contains(&format!(r#"value="{code}""#)), "the code stays in place");

        let mut wrong = base();
        wrong.push(("answer_date_of_birth", "1980-05-18".to_owned()));
        let refused = post(wrong).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let html = refused.text().await.unwrap();
        assert!(html.contains("does not match our records"), "{html}");
        assert!(html.contains(r#"value="1980-05-18""#), "the answer is kept to correct");

        let mut right = base();
        right.push(("answer_date_of_birth", "1980-05-17".to_owned()));
        let done = post(right).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
    }

    async fn a_failing_verification_plugin_fails_closed_and_admins_see_why(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        let crash = app.activate_plugin(&owner, "crash", json!({})).await;
        let denied = expect_error(redeem(&app, &code, "mia@example.org", json!({})).await, StatusCode::FORBIDDEN, "verification_denied").await;
        assert_eq!(denied["message"], portico_tenants::acts::RULE_FAILED);

        // A rule that fails also keeps portal access from being turned on.
        let sam = add_patient(&app, &owner, "Sam Lee", "sam@example.org").await;
        expect_error(owner.put(&app, &format!("/api/v1/patients/{sam}/portal-access"), json!({"enabled": true})).await, StatusCode::FORBIDDEN, "verification_denied").await;

        let failures = json_ok(owner.get(&app, &format!("/api/v1/plugins/{crash}/calls?failures_only=true")).await).await;
        assert_eq!(failures.as_array().unwrap().len(), 2, "{failures}");
        assert_eq!(failures[0]["outcome"], "trap", "{failures}");
        assert_eq!(failures[0]["hook"], "check-portal-access");
        assert_eq!(failures[1]["hook"], "check-redemption");
        assert_eq!(failures[1]["log"]["lines"][0]["message"], "About to fail on purpose (Rule::Limits)");
        let detail = failures[1]["detail"].as_str().unwrap();
        assert!(detail.starts_with("the plugin panicked at ") && detail.contains("index out of bounds"), "{detail}");
        let listed = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert_eq!(listed[0]["stats"]["failures"], 2);
        assert_eq!(listed[0]["stats"]["denied"], 0, "a broken rule is no refusal by the rule: {listed}");
        assert_eq!(listed[0]["stats"]["asked"], 0);
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=plugin.call").await).await;
        let (_, outcome, reason) = &actions(&audit)[0];
        assert_eq!(outcome, "failure");
        assert!(reason.starts_with("trap: the plugin panicked at "), "{reason}");
        // The refused redemption is the rule's failure, not the patient's
        // wrong answer: audited as such, and no guess counted against them.
        let refused = json_ok(owner.get(&app, "/api/v1/audit?action=code.redeem").await).await;
        let (_, outcome, reason) = &actions(&refused)[0];
        assert_eq!((outcome.as_str(), reason.as_str()), ("failure", "clinic_rule_failed"));
        let guesses: i64 = {
            let mut conn = app.raw_connection().await;
            sqlx::query_scalar("SELECT COUNT(*) FROM login_throttle WHERE failures > 0")
                .fetch_one(&mut conn).await.unwrap()
        };
        assert_eq!(guesses, 0, "a crashing rule is no guess by the patient");
    }

    async fn a_runaway_plugin_in_one_clinic_does_not_hold_up_another(app) {
        let north = app.clinic_with_owner("north").await;
        let south = app.clinic_with_owner("south").await;
        let mia = add_enabled_patient(&app, &north, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&north, &mia).await;
        let spin = app.activate_plugin(&north, "spin", json!({})).await;

        let (north_answer, south_answers) = tokio::join!(
            redeem(&app, &code, "mia@example.org", json!({})),
            async {
                let mut served = 0;
                for _ in 0..5 {
                    let resp = south.get(&app, "/api/v1/patients").await;
                    assert_eq!(resp.status(), StatusCode::OK);
                    served += 1;
                }
                served
            }
        );
        assert_eq!(south_answers, 5);
        expect_error(north_answer, StatusCode::FORBIDDEN, "verification_denied").await;
        let failures = json_ok(north.get(&app, &format!("/api/v1/plugins/{spin}/calls?failures_only=true")).await).await;
        let kind = failures[0]["outcome"].as_str().unwrap();
        assert!(kind == "fuel" || kind == "timeout", "{failures}");

        // South has no plugin: its codes redeem without questions.
        let sam = add_enabled_patient(&app, &south, "Sam Lee", "sam@example.org").await;
        let code = app.issue_code(&south, &sam).await;
        redeemed(app.redeem_new("south", &code, "sam@example.org", PATIENT_PASSWORD).await).await;
    }

    async fn portal_access_and_addresses_follow_the_clinics_domain_rule(app) {
        let owner = app.clinic_with_owner("north").await;
        app.activate_plugin(&owner, "email-domain-rules", json!({"refused_domains": "gmail.com, yahoo.com"})).await;

        let shared = add_patient(&app, &owner, "Family Inbox", "family@gmail.com").await;
        let refused = expect_error(
            owner.put(&app, &format!("/api/v1/patients/{shared}/portal-access"), json!({"enabled": true})).await,
            StatusCode::FORBIDDEN,
            "verification_denied",
        ).await;
        assert!(refused["message"].as_str().unwrap().contains("gmail.com"));
        let record = json_ok(owner.get(&app, &format!("/api/v1/patients/{shared}")).await).await;
        assert_eq!(record["portal_access"], "disabled", "nothing changed");

        let own = add_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let enabled = json_ok(owner.put(&app, &format!("/api/v1/patients/{own}/portal-access"), json!({"enabled": true})).await).await;
        assert_eq!(enabled["portal_access"], "enabled");

        let registering = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "someone@mail.yahoo.com", "password": PATIENT_PASSWORD}))
            .send().await.unwrap();
        expect_error(registering, StatusCode::UNPROCESSABLE_ENTITY, "email_not_accepted").await;
        let code = app.issue_code(&owner, &own).await;
        expect_error(redeem(&app, &code, "mia@gmail.com", json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "email_not_accepted").await;
        redeemed(redeem(&app, &code, "mia@example.org", json!({})).await).await;
    }

    async fn one_clinic_never_sees_or_runs_another_clinics_plugins(app) {
        let north = app.clinic_with_owner("north").await;
        let south = app.clinic_with_owner("south").await;
        let theirs = app.activate_plugin(&north, "date-of-birth-check", json!({})).await;
        assert!(json_ok(south.get(&app, "/api/v1/plugins").await).await.as_array().unwrap().is_empty());
        expect_error(south.post(&app, &format!("/api/v1/plugins/{theirs}/activate"), json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(south.post(&app, &format!("/api/v1/plugins/{theirs}/dry-run"), json!({"hook": "check-email", "input": {"email": "a@b.example"}})).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(south.get(&app, &format!("/api/v1/plugins/{theirs}/calls")).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(south.send(&app, reqwest::Method::DELETE, "south", &format!("/api/v1/plugins/{theirs}"), None).await, StatusCode::NOT_FOUND, "not_found").await;
        // North's token cannot reach south's plugins either.
        let resp = north.get_in(&app, "south", "/api/v1/plugins").await;
        assert!(matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{}", resp.status());
    }

    async fn a_plugin_declares_what_it_reads_and_activation_checks_its_settings(app) {
        let owner = app.clinic_with_owner("north").await;
        let uploaded = json_ok(app.upload_plugin(&owner, "nosy", plugin_fixture("nosy")).await).await;
        assert_eq!(uploaded["interface_version"], "4.0.0");
        let manifest = &uploaded["manifest"];
        assert_eq!(manifest["declared"], true);
        assert_eq!(manifest["reads"], json!(["date_of_birth"]));
        assert_eq!(manifest["settings"][0]["name"], "strictness");
        assert_eq!(manifest["settings"][0]["type"], "choice");
        assert_eq!(manifest["settings"][0]["choices"], json!(["lenient", "strict"]));
        assert_eq!(manifest["settings"][0]["default"], "strict");
        assert_eq!(manifest["settings"][1]["type"], "whole_number");
        assert_eq!(manifest["settings"][1]["min"], 1);
        assert_eq!(manifest["settings"][1]["max"], 5);
        let id = uploaded["id"].as_str().unwrap().to_owned();
        let activate = async |settings: Value| {
            owner.post(&app, &format!("/api/v1/plugins/{id}/activate"), json!({ "settings": settings })).await
        };

        // Each wrong setting is named, with what to write instead.
        for (settings, says) in [
            (json!({}), "settings: Tries before a refusal (max_tries) must be given; it has no default"),
            (json!({"max_tries": "9"}), "settings: Tries before a refusal (max_tries) must be a whole number from 1 to 5, written in digits"),
            (json!({"max_tries": "3", "strictness": "loose"}), "settings: How strict (strictness) must be one of: lenient, strict"),
            (json!({"max_tries": "3", "colour": "red"}), "settings: there is no setting colour; this plugin takes strictness, max_tries"),
        ] {
            let refused = expect_error(activate(settings).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings").await;
            assert_eq!(refused["field"], "settings", "{refused}");
            assert_eq!(refused["message"], says, "{refused}");
        }
        // Leaving the settings out keeps those in use; with nothing
        // active there are none to keep, and the required one is missing.
        let none_kept = expect_error(
            owner.post(&app, &format!("/api/v1/plugins/{id}/activate"), json!({})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
        ).await;
        assert_eq!(none_kept["message"], "settings: Tries before a refusal (max_tries) must be given; it has no default");
        let listed = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert!(listed[0].get("active").is_none(), "nothing was activated: {listed}");

        // Given right, the defaults are filled in and the values tidied.
        let active = json_ok(activate(json!({"max_tries": " 3 "})).await).await;
        assert_eq!(active["settings"], json!({"max_tries": "3", "strictness": "strict"}));

        // The rule is handed the date of birth and nothing else it did not
        // declare: its refusal repeats what reached it.
        let sam = add_patient(&app, &owner, "Sam Lee", "sam@example.org").await;
        let denied = expect_error(
            owner.put(&app, &format!("/api/v1/patients/{sam}/portal-access"), json!({"enabled": true})).await,
            StatusCode::FORBIDDEN,
            "verification_denied",
        ).await;
        assert_eq!(
            denied["message"],
            r#"saw date_of_birth=Some("1980-05-17") home_zip_code=None email=None settings=strictness=strict,max_tries=3"#
        );

        // The trail keeps what the clinic agreed to hand over.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=plugin.activate").await).await;
        let detail = audit["events"][0]["reason"].as_str().unwrap_or_default();
        assert!(detail.ends_with("settings=2 reads=date_of_birth"), "{audit}");
    }

    async fn a_fourth_version_mail_tells_the_expiry_on_the_clinics_clock(app) {
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        let owner = app.clinic_with_owner("north").await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"time_zone": "Europe/Berlin"})).await).await;
        let uploaded = json_ok(app.upload_plugin(&owner, "clock-mail", plugin_fixture("clock_mail")).await).await;
        assert_eq!(uploaded["manifest"]["reads"], json!([]));
        let id = uploaded["id"].as_str().unwrap();
        let active = json_ok(owner.post(&app, &format!("/api/v1/plugins/{id}/activate"), json!({"settings": {}})).await).await;
        assert_eq!(active["settings"], json!({"show_zone": "yes"}));
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        owner.step_up(&app).await;
        let issued = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({"delivery": "email"})).await).await;
        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        let mail = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
        let text = mail.body_text(0).unwrap().into_owned();
        assert_eq!(text.lines().next(), Some("name=None"), "the patient's name was not declared: {text}");
        // The code's expiry, as the clinic's clock in Berlin shows it.
        let expires: jiff::Timestamp = issued["access_code"]["expires_at"].as_str().unwrap().parse().unwrap();
        let berlin = expires.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
        let want = format!("until={} (Europe/Berlin)", berlin.strftime("%-d %B %Y at %H:%M %Z"));
        assert!(text.contains(&want), "{want} in {text}");
    }

    async fn mail_is_rendered_by_the_clinics_plugin_and_falls_back_when_it_fails(app) {
        let engine = app.engine;
        drop(app);
        let sink = SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, via_smtp(sink.port)).await else { return };
        let owner = app.clinic_with_owner("north").await;
        app.activate_plugin(&owner, "branded-email", json!({"signature": "Dr Ames & the front desk"})).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        owner.step_up(&app).await;
        let issued = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({"delivery": "email"})).await).await;
        let got = sink.wait_for(1, Duration::from_secs(10)).await;
        let mail = mail_parser::MessageParser::default().parse(&got[0].data).unwrap();
        assert_eq!(mail.subject(), Some("Clinic north: your online records are ready"));
        let html = mail.body_html(0).unwrap();
        assert!(html.contains("Dr Ames &amp; the front desk"), "{html}");
        assert!(mail.body_text(0).unwrap().contains(issued["access_link"].as_str().unwrap()));

        // A plugin whose output breaks the rules: the built-in mail goes out.
        let flood = app.activate_plugin(&owner, "flood", json!({})).await;
        let sam = add_enabled_patient(&app, &owner, "Sam Lee", "sam@example.org").await;
        owner.step_up(&app).await;
        json_ok(owner.post(&app, &format!("/api/v1/patients/{sam}/access-codes"), json!({"delivery": "email"})).await).await;
        let got = sink.wait_for(2, Duration::from_secs(10)).await;
        let mail = mail_parser::MessageParser::default().parse(&got[1].data).unwrap();
        assert_eq!(mail.subject(), Some("Your online access to your records at Clinic north"));
        let failures = json_ok(owner.get(&app, &format!("/api/v1/plugins/{flood}/calls?failures_only=true")).await).await;
        assert_eq!(failures[0]["outcome"], "bad_output", "{failures}");
        assert_eq!(failures[0]["hook"], "render-email");

        // A plugin built against interface 2.0.0 gets the portal's address.
        let newer = json_ok(app.upload_plugin(&owner, "portal-link", plugin_fixture("portal_link")).await).await;
        assert_eq!(newer["interface_version"], "2.0.0");
        let id = newer["id"].as_str().unwrap();
        json_ok(owner.post(&app, &format!("/api/v1/plugins/{id}/activate"), json!({})).await).await;
        let ada = add_enabled_patient(&app, &owner, "Ada Park", "ada@example.org").await;
        owner.step_up(&app).await;
        json_ok(owner.post(&app, &format!("/api/v1/patients/{ada}/access-codes"), json!({"delivery": "email"})).await).await;
        let got = sink.wait_for(3, Duration::from_secs(10)).await;
        let mail = mail_parser::MessageParser::default().parse(&got[2].data).unwrap();
        assert_eq!(mail.subject(), Some("Clinic north: your portal"));
        assert_eq!(
            mail.body_text(0).unwrap().trim(),
            format!("Log in at {}", app.tenant_url("north", "/portal/"))
        );
    }
}

#[tokio::test]
async fn uploads_larger_than_the_cap_are_refused_before_they_are_read() {
    let Some(app) = TestApp::spawn_with(portico_tests::Engine::Sqlite, |c| {
        c.plugins.max_component_bytes = 10_000;
    })
    .await
    else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let resp = app
        .upload_plugin(&owner, "big", vec![0u8; 2 * 1024 * 1024])
        .await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let resp = app
        .upload_plugin(&owner, "big", plugin_fixture("minimal"))
        .await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "plugin_too_large").await;
}
