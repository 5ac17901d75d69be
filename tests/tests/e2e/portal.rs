//! The patient's side of portal access: redeeming codes into accounts and
//! grants, logging in with the password only, families, revocation, the
//! helpful answers to every mix-up, and the limits on guessing.

use portico_tests::{Patient, TestApp, add_enabled_patient, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::json;

const PATIENT_PASSWORD: &str = "my own portal passphrase";

both_engines! {
    async fn the_whole_story_from_code_to_revocation(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let mia = add_enabled_patient(&app, &desk, "Mia Wong", "mia@example.org").await;
        let leo = add_enabled_patient(&app, &desk, "Leo Wong", "mia@example.org").await;

        // 1. Staff issues a code.
        let code = app.issue_code(&desk, &mia).await;
        // 2. The patient redeems it and registers, choosing a password.
        let resp = app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let patient = Patient::from_response("north", resp).await;
        assert_eq!(patient.body["record"]["full_name"], "Mia Wong");
        assert_eq!(patient.body["account"]["email_verified"], true, "the code came to this very address");
        assert_eq!(patient.body["verification_sent"], false);
        assert_eq!(patient.records(&app).await, ["Mia Wong"]);
        let out = patient.post(&app, "/api/v1/portal/logout", json!({})).await;
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        expect_error(patient.get(&app, "/api/v1/portal/me").await, StatusCode::UNAUTHORIZED, "invalid_session").await;

        // 3. Later, the password alone logs in; no code is asked.
        let patient = app.patient_login("north", "mia@example.org", PATIENT_PASSWORD).await;
        assert_eq!(patient.body["records"].as_array().unwrap().len(), 1);

        // 4. The parent redeems a second record's code into the same account.
        let second = app.issue_code(&desk, &leo).await;
        let added = json_ok(patient.post(&app, "/api/v1/portal/redeem", json!({"code": second.to_uppercase().replace('-', " ")})).await).await;
        assert_eq!(added["record"]["full_name"], "Leo Wong");
        assert_eq!(patient.records(&app).await, ["Leo Wong", "Mia Wong"]);
        let me = json_ok(patient.get(&app, "/api/v1/portal/me").await).await;
        assert_eq!(me["active_record"], leo.as_str(), "the newly added record is shown");
        json_ok(patient.post(&app, &format!("/api/v1/portal/records/{mia}/select"), json!({})).await).await;
        assert_eq!(json_ok(patient.get(&app, "/api/v1/portal/me").await).await["active_record"], mia.as_str());
        json_ok(patient.get(&app, &format!("/api/v1/portal/records/{leo}")).await).await;

        // 5. Staff revokes one grant; the very next request no longer shows it.
        let grants = json_ok(desk.get(&app, &format!("/api/v1/patients/{leo}/grants")).await).await;
        assert_eq!(grants.as_array().unwrap().len(), 1);
        assert_eq!(grants[0]["username"], "mia@example.org");
        let grant = grants[0]["id"].as_str().unwrap();
        let revoked = json_ok(desk.post(&app, &format!("/api/v1/grants/{grant}/revoke"), json!({})).await).await;
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(revoked["revoked_by"], format!("staff:{}", desk.id));
        expect_error(patient.get(&app, &format!("/api/v1/portal/records/{leo}")).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(patient.records(&app).await, ["Mia Wong"]);
        expect_error(patient.post(&app, &format!("/api/v1/portal/records/{leo}/select"), json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(desk.post(&app, &format!("/api/v1/grants/{grant}/revoke"), json!({})).await, StatusCode::CONFLICT, "grant_already_revoked").await;

        // 6. The audit trail holds every step.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await;
        let steps: Vec<(String, String)> = audit["events"].as_array().unwrap().iter().rev()
            .map(|e| (e["action"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned()))
            .filter(|(a, _)| a.starts_with("code.") || a.starts_with("portal.") || a.starts_with("grant."))
            .collect();
        let expected: Vec<(String, String)> = [
            ("code.issue", "success"), ("code.redeem", "success"), ("portal.logout", "success"),
            ("portal.login", "success"), ("code.issue", "success"), ("code.redeem", "success"),
            ("portal.record.view", "success"), ("grant.revoke", "success"), ("portal.record.view", "failure"),
            // Refused acts are on the trail too: switching to the revoked
            // record, and revoking it a second time.
            ("portal.switch", "failure"), ("grant.revoke", "failure"),
        ].iter().map(|(a, o)| (a.to_string(), o.to_string())).collect();
        assert_eq!(steps, expected);
        let redeem = audit["events"].as_array().unwrap().iter().find(|e| e["action"] == "code.redeem").unwrap();
        assert_eq!(redeem["ip"], "127.0.0.1");
        assert!(redeem["user_agent"].is_string());
        assert!(!audit.to_string().contains(&code) && !audit.to_string().contains(PATIENT_PASSWORD));
    }

    async fn every_mix_up_gets_its_own_helpful_answer(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let shared = &app;
        let redeem = |code: String| async move { shared.redeem_new("north", &code, "someone@example.org", PATIENT_PASSWORD).await };

        let body = expect_error(redeem("   ".into()).await, StatusCode::BAD_REQUEST, "code_missing").await;
        assert!(body["message"].as_str().unwrap().contains("Open the email from Clinic north"), "{body}");
        expect_error(redeem("hunter2".into()).await, StatusCode::UNPROCESSABLE_ENTITY, "code_malformed").await;
        expect_error(redeem("abacus abacus abacus abacus".into()).await, StatusCode::NOT_FOUND, "code_not_found").await;

        let expired = app.issue_code(&owner, &mia).await;
        app.execute("UPDATE access_codes SET issued_at = issued_at - 864000000, expires_at = expires_at - 864000000").await;
        let body = expect_error(redeem(expired).await, StatusCode::GONE, "code_expired").await;
        assert!(body["message"].as_str().unwrap().contains("Ask Clinic north for a new one"));

        owner.step_up(&app).await;
        let revoked = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({})).await).await;
        json_ok(owner.post(&app, &format!("/api/v1/access-codes/{}/revoke", revoked["access_code"]["id"].as_str().unwrap()), json!({})).await).await;
        expect_error(redeem(revoked["code"].as_str().unwrap().into()).await, StatusCode::GONE, "code_revoked").await;

        // A code replaced by a newer one says so, rather than "cancelled".
        let older = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({})).await).await;
        json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({})).await).await;
        let body = expect_error(redeem(older["code"].as_str().unwrap().into()).await, StatusCode::GONE, "code_replaced").await;
        assert!(body["message"].as_str().unwrap().contains("newer access code"), "{body}");

        let used = app.issue_code(&owner, &mia).await;
        Patient::from_response("north", app.redeem_new("north", &used, "mia@example.org", PATIENT_PASSWORD).await).await;
        let body = expect_error(redeem(used.clone()).await, StatusCode::CONFLICT, "code_already_used").await;
        assert!(body["message"].as_str().unwrap().contains("password you chose"));

        // The code typed into the password field at login.
        let body = expect_error(app.try_patient_login("north", "mia@example.org", &used).await, StatusCode::UNAUTHORIZED, "code_is_not_a_password").await;
        assert!(body["message"].as_str().unwrap().contains("looks like your access code"));
        assert!(body["message"].as_str().unwrap().len() < 200, "short and calm");
        expect_error(app.try_patient_login("north", "mia@example.org", &used.replace('-', " ").to_uppercase()).await, StatusCode::UNAUTHORIZED, "code_is_not_a_password").await;
        expect_error(app.try_patient_login("north", "mia@example.org", "simply wrong password").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

        // A record whose portal access is off.
        let off = add_enabled_patient(&app, &owner, "Off Line", "off@example.org").await;
        let code = app.issue_code(&owner, &off).await;
        app.execute(&format!("UPDATE patients SET portal_access = 'disabled' WHERE id = '{off}'")).await;
        expect_error(redeem(code).await, StatusCode::FORBIDDEN, "portal_access_disabled").await;

        // Every attempt is in the trail with its reason.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=code.redeem&limit=500").await).await;
        let reasons: Vec<String> = audit["events"].as_array().unwrap().iter().rev()
            .map(|e| if e["outcome"] == "success" { "success".to_owned() } else { e["reason"].as_str().unwrap().to_owned() })
            .collect();
        assert_eq!(reasons, ["empty_code", "malformed_code", "unknown_code", "expired", "revoked", "replaced", "success", "already_used", "portal_access_disabled"]);
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=portal.login&outcome=failure").await).await;
        assert!(audit["events"].as_array().unwrap().iter().any(|e| e["reason"] == "code_as_password"));
    }

    async fn guessing_codes_is_locked_out_per_address(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        for _ in 0..10 {
            expect_error(app.redeem_new("north", "abacus abacus abacus abacus", "x@example.org", PATIENT_PASSWORD).await, StatusCode::NOT_FOUND, "code_not_found").await;
        }
        let resp = app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD).await;
        assert!(resp.headers().contains_key("retry-after"));
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let listed = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/access-codes")).await).await;
        assert_eq!(listed[0]["status"], "active", "a locked-out attempt redeems nothing");
    }

    async fn a_clinic_under_a_guessing_attack_asks_for_a_date_of_birth_not_for_patience(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.trust_proxy = true;
            c.redeem_max_failures_per_ip = 10;
            c.redeem_max_failures_per_tenant = 40;
        }).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        let redeem_from = |from: &'static str, body: serde_json::Value| {
            app.client.post(app.tenant_url("north", "/api/v1/portal/redeem"))
                .header("x-forwarded-for", from)
                .json(&body)
                .send()
        };
        // The attack: 4 addresses x 10 guesses fill the clinic's bucket.
        for from in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"] {
            for _ in 0..10 {
                let guess = json!({"code": "abacus abacus abacus abacus", "account": {"email": "x@example.org", "password": PATIENT_PASSWORD}});
                expect_error(redeem_from(from, guess).await.unwrap(), StatusCode::NOT_FOUND, "code_not_found").await;
            }
        }
        // A real patient from a fresh address is not locked out: asked for
        // a second proof instead.
        let mine = |answers: serde_json::Value| json!({"code": code, "answers": answers, "account": {"email": "mia@example.org", "password": PATIENT_PASSWORD}});
        let asked = expect_error(redeem_from("198.51.100.9", mine(json!({}))).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "more_information_needed").await;
        assert_eq!(asked["fields"][0]["name"], "date_of_birth", "{asked}");
        assert_eq!(asked["fields"][0]["kind"], "date");
        // A wrong date is answered as a wrong code would be.
        let wrong = expect_error(redeem_from("198.51.100.9", mine(json!({"date_of_birth": "1980-05-18"}))).await.unwrap(), StatusCode::NOT_FOUND, "code_not_found").await;
        let unknown = expect_error(redeem_from("198.51.100.10", json!({"code": "abacus abacus abacus abacus", "answers": {"date_of_birth": "1980-05-17"},
            "account": {"email": "x@example.org", "password": PATIENT_PASSWORD}})).await.unwrap(), StatusCode::NOT_FOUND, "code_not_found").await;
        assert_eq!(wrong["message"], unknown["message"]);
        assert_eq!(json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/access-codes")).await).await[0]["status"], "active");
        // With the right one, the patient gets in.
        let resp = redeem_from("198.51.100.9", mine(json!({"date_of_birth": "1980-05-17"}))).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(Patient::from_response("north", resp).await.body["record"]["full_name"], "Mia Wong");
        // The guessers' own addresses stay locked, with or without a date.
        let locked = redeem_from("203.0.113.1", json!({"code": "abacus abacus abacus abacus", "answers": {"date_of_birth": "1980-05-17"},
            "account": {"email": "x@example.org", "password": PATIENT_PASSWORD}})).await.unwrap();
        expect_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let trail = json_ok(owner.get(&app, "/api/v1/audit?action=code.redeem&limit=100").await).await.to_string();
        assert!(trail.contains("second_proof_required") && trail.contains("no_match_with_birth_date"), "{trail}");
        // The console's page asks for it too.
        let other = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        let page = app.client.post(app.tenant_url("north", "/portal/register"))
            .header("x-forwarded-for", "198.51.100.11")
            .form(&[("code", app.issue_code(&owner, &other).await.as_str()), ("email", "leo@example.org"), ("password", PATIENT_PASSWORD)])
            .send().await.unwrap();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.text().await.unwrap().contains("name=\"answer_date_of_birth\""));
    }

    async fn one_address_cannot_spend_every_clinics_budget_in_turn(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.trust_proxy = true;
            c.across_clinics_max_failures_per_address = 15;
        }).await else { return };
        let guesser = "203.0.113.5";
        let redeem_at = |slug: &'static str, from: &'static str, code: String| {
            app.client.post(app.tenant_url(slug, "/api/v1/portal/redeem"))
                .header("x-forwarded-for", from)
                .json(&json!({"code": code, "account": {"email": "x@example.org", "password": PATIENT_PASSWORD}}))
                .send()
        };
        // Five wrong codes at each of three clinics: within each clinic's
        // own budget for one address (10), but 15 in all.
        for slug in ["north", "south", "east"] {
            app.clinic_with_owner(slug).await;
            for _ in 0..5 {
                expect_error(redeem_at(slug, guesser, "abacus abacus abacus abacus".into()).await.unwrap(), StatusCode::NOT_FOUND, "code_not_found").await;
            }
        }
        // A fourth clinic refuses that address, even with a real code, and
        // even a login.
        let west = app.clinic_with_owner("west").await;
        let mia = add_enabled_patient(&app, &west, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&west, &mia).await;
        let refused = redeem_at("west", guesser, code.clone()).await.unwrap();
        assert!(refused.headers().contains_key("retry-after"));
        expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let login = app.client.post(app.tenant_url("west", "/api/v1/portal/login")).header("x-forwarded-for", guesser)
            .json(&json!({"login": "anyone@example.org", "password": "anything at all"})).send().await.unwrap();
        expect_error(login, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let trail = json_ok(west.get(&app, "/api/v1/audit?action=code.redeem").await).await.to_string();
        assert!(trail.contains("locked_out_across_clinics") && trail.contains(guesser), "{trail}");
        // Another address is not held back.
        let resp = app.client.post(app.tenant_url("west", "/api/v1/portal/redeem"))
            .header("x-forwarded-for", "198.51.100.20")
            .json(&json!({"code": code, "account": {"email": "mia@example.org", "password": PATIENT_PASSWORD}}))
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

    async fn the_code_is_never_accepted_as_a_password(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        // Redeeming, typed as it was given, with spaces, or run together.
        for typed in [code.clone(), code.replace('-', " "), code.replace('-', "").to_uppercase()] {
            let body = expect_error(app.redeem_new("north", &code, "mia@example.org", &typed).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
            assert!(body["message"].as_str().unwrap().contains("not a password"), "{body}");
            assert_eq!(body["field"], "account.password", "named as the request names it");
        }
        // The page refuses it too, and keeps the code for a second try.
        let page = app.client.post(app.tenant_url("north", "/portal/register"))
            .form(&[("code", code.as_str()), ("email", "mia@example.org"), ("password", code.as_str())])
            .send().await.unwrap();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.text().await.unwrap().contains("not a password"));
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/access-codes")).await).await;
        assert_eq!(codes[0]["status"], "active", "nothing was used up");
        // Registering online without a code.
        let body = expect_error(app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "other@example.org", "password": code})).send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        assert_eq!(body["field"], "password");
        // A password reset.
        Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD).await).await;
        let asked = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset")).json(&json!({"login": "mia@example.org"})).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        let token = app.outbox("password_reset", "mia@example.org").await[0]["token"].as_str().unwrap().to_owned();
        let set = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset/confirm"))
            .json(&json!({"token": token, "new_password": code})).send().await.unwrap();
        expect_error(set, StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        // And the code never logs in.
        expect_error(app.try_patient_login("north", "mia@example.org", &code).await, StatusCode::UNAUTHORIZED, "code_is_not_a_password").await;
        app.patient_login("north", "mia@example.org", PATIENT_PASSWORD).await;
    }

    async fn disabling_portal_access_suspends_grants_until_enabled_again(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        let patient = Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD).await).await;
        // A code waiting for someone else in the family is cancelled with
        // it, and the answer says so.
        let waiting = app.issue_code(&owner, &mia).await;
        let off = json_ok(owner.put(&app, &format!("/api/v1/patients/{mia}/portal-access"), json!({"enabled": false})).await).await;
        assert_eq!(off["portal_access"], "disabled");
        assert_eq!(off["codes_cancelled"], 1, "{off}");
        let again = json_ok(owner.put(&app, &format!("/api/v1/patients/{mia}/portal-access"), json!({"enabled": false})).await).await;
        assert_eq!(again["codes_cancelled"], 0);
        expect_error(app.redeem_new("north", &waiting, "sister@example.org", PATIENT_PASSWORD).await, StatusCode::GONE, "code_revoked").await;
        assert!(patient.records(&app).await.is_empty());
        expect_error(patient.get(&app, &format!("/api/v1/portal/records/{mia}")).await, StatusCode::NOT_FOUND, "not_found").await;
        json_ok(owner.put(&app, &format!("/api/v1/patients/{mia}/portal-access"), json!({"enabled": true})).await).await;
        assert_eq!(patient.records(&app).await, ["Mia Wong"]);
    }

    async fn family_members_sharing_an_email_each_have_an_account(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "family@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "family@example.org").await;
        Patient::from_response("north", app.redeem_new("north", &app.issue_code(&owner, &mia).await, "family@example.org", PATIENT_PASSWORD).await).await;
        // The second person cannot take the same login name...
        let body = expect_error(app.redeem_new("north", &app.issue_code(&owner, &leo).await, "family@example.org", "leo's own passphrase").await, StatusCode::CONFLICT, "username_required").await;
        assert!(body["message"].as_str().unwrap().contains("username"));
        // ... and picks a username of their own (the code is still unused).
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{leo}/access-codes")).await).await;
        assert_eq!(codes[0]["status"], "active");
        let code = app.issue_code(&owner, &leo).await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/redeem"))
            .json(&json!({"code": code, "account": {"username": "leo", "email": "family@example.org", "password": "leo's own passphrase"}}))
            .send().await.unwrap();
        Patient::from_response("north", resp).await;

        // The email logs in the first account that used it; the others log
        // in by username, as the refusal tells them. One password check
        // either way, so the time taken does not count the accounts.
        assert_eq!(app.patient_login("north", "family@example.org", PATIENT_PASSWORD).await.body["records"][0]["full_name"], "Mia Wong");
        let body = expect_error(app.try_patient_login("north", "family@example.org", "leo's own passphrase").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert!(body["message"].as_str().unwrap().contains("username"), "{body}");
        assert!(!body.to_string().contains("leo") && !body.to_string().contains("Leo"), "no account is named");
        assert_eq!(app.patient_login("north", "LEO", "leo's own passphrase").await.body["account"]["username"], "leo");
        // A wrong password, and an unknown address, are answered alike.
        let wrong = expect_error(app.try_patient_login("north", "family@example.org", "not anyone's password").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let nobody = expect_error(app.try_patient_login("north", "nobody@example.org", "not anyone's password").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(wrong, nobody);
    }

    async fn a_patient_changes_their_email_after_confirming_the_new_one(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let patient = Patient::from_response("north", app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PATIENT_PASSWORD).await).await;
        expect_error(patient.post(&app, "/api/v1/portal/email", json!({"new_email": "mia@new.example.org", "password": "wrong"})).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let long = format!("{}@example.org", "m".repeat(60));
        let body = expect_error(patient.post(&app, "/api/v1/portal/email", json!({"new_email": long, "password": PATIENT_PASSWORD})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
        assert_eq!(body["field"], "new_email");
        let resp = patient.post(&app, "/api/v1/portal/email", json!({"new_email": "mia@new.example.org", "password": PATIENT_PASSWORD})).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(json_ok(patient.get(&app, "/api/v1/portal/me").await).await["account"]["email"], "mia@example.org", "not until confirmed");
        let notice = app.outbox("email_change_notice", "mia@example.org").await;
        assert_eq!(notice.len(), 1, "the old address is told");
        // A reset link mailed to the old address meanwhile.
        let asked = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset")).json(&json!({"login": "mia@example.org"})).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::ACCEPTED);
        let reset = app.outbox("password_reset", "mia@example.org").await[0]["token"].as_str().unwrap().to_owned();
        let token = app.outbox("email_verification", "mia@new.example.org").await[0]["token"].as_str().unwrap().to_owned();
        json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap()).await;
        let me = json_ok(patient.get(&app, "/api/v1/portal/me").await).await;
        assert_eq!(me["account"]["email"], "mia@new.example.org");
        assert_eq!(me["account"]["username"], "mia@new.example.org", "a login name that was the old address follows it");
        app.patient_login("north", "mia@new.example.org", PATIENT_PASSWORD).await;
        expect_error(app.try_patient_login("north", "mia@example.org", PATIENT_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        // The old address's reset link died with it.
        let stale = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset/confirm"))
            .json(&json!({"token": reset, "new_password": "someone else's passphrase"})).send().await.unwrap();
        expect_error(stale, StatusCode::GONE, "link_invalid").await;
    }

    async fn portal_requests_with_the_cookie_need_the_csrf_token(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let patient = Patient::from_response("north", app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PATIENT_PASSWORD).await).await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/logout")).header("cookie", &patient.cookie).send().await.unwrap();
        expect_error(resp, StatusCode::FORBIDDEN, "csrf_token_missing").await;
        json_ok(patient.get(&app, "/api/v1/portal/me").await).await;
    }
}

#[tokio::test]
async fn a_staff_token_is_not_a_portal_session() {
    let app = TestApp::spawn(portico_tests::Engine::Sqlite).await.unwrap();
    let owner = app.clinic_with_owner("north").await;
    expect_error(
        owner.get(&app, "/api/v1/portal/me").await,
        StatusCode::UNAUTHORIZED,
        "invalid_session",
    )
    .await;
}
