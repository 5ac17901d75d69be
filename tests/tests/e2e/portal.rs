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
        assert!(body["message"].as_str().unwrap().contains("not a password"));
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

    async fn disabling_portal_access_suspends_grants_until_enabled_again(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        let patient = Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD).await).await;
        json_ok(owner.put(&app, &format!("/api/v1/patients/{mia}/portal-access"), json!({"enabled": false})).await).await;
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

        // The email logs in whichever account the password belongs to.
        assert_eq!(app.patient_login("north", "family@example.org", PATIENT_PASSWORD).await.body["records"][0]["full_name"], "Mia Wong");
        assert_eq!(app.patient_login("north", "family@example.org", "leo's own passphrase").await.body["records"][0]["full_name"], "Leo Wong");
        assert_eq!(app.patient_login("north", "LEO", "leo's own passphrase").await.body["account"]["username"], "leo");

        // With the same password on both, the email alone is ambiguous.
        let code = app.issue_code(&owner, &add_enabled_patient(&app, &owner, "Ann Wong", "family@example.org").await).await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/redeem"))
            .json(&json!({"code": code, "account": {"username": "ann", "email": "family@example.org", "password": PATIENT_PASSWORD}}))
            .send().await.unwrap();
        Patient::from_response("north", resp).await;
        let body = expect_error(app.try_patient_login("north", "family@example.org", PATIENT_PASSWORD).await, StatusCode::UNAUTHORIZED, "username_required").await;
        assert!(!body.to_string().contains("ann") && !body.to_string().contains("leo"), "no account is named");
        // A wrong password says nothing about how many accounts there are.
        expect_error(app.try_patient_login("north", "family@example.org", "not anyone's password").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        expect_error(app.try_patient_login("north", "nobody@example.org", "not anyone's password").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    async fn registering_without_a_code_gives_limited_access_until_verified_and_redeemed(app) {
        let owner = app.clinic_with_owner("north").await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "booker@example.org", "password": PATIENT_PASSWORD}))
            .send().await.unwrap();
        let registered = json_ok(resp).await;
        assert_eq!(registered["account"]["email_verified"], false);
        let patient = app.patient_login("north", "booker@example.org", PATIENT_PASSWORD).await;
        assert!(patient.records(&app).await.is_empty(), "no record without a code");

        let mails = app.outbox("email_verification", "booker@example.org").await;
        assert_eq!(mails.len(), 1);
        let token = mails[0]["token"].as_str().unwrap();
        let verified = json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap()).await;
        assert_eq!(verified["email_verified"], true);
        expect_error(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap(), StatusCode::GONE, "link_invalid").await;

        // Redeeming a code while logged in is how it gets a record.
        let rec = add_enabled_patient(&app, &owner, "Booker Bee", "booker@example.org").await;
        json_ok(patient.post(&app, "/api/v1/portal/redeem", json!({"code": app.issue_code(&owner, &rec).await})).await).await;
        assert_eq!(patient.records(&app).await, ["Booker Bee"]);
    }

    async fn a_new_patients_record_opens_when_the_email_is_verified(app) {
        let owner = app.clinic_with_owner("north").await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "newbie@example.org", "password": PATIENT_PASSWORD,
                          "new_patient": {"full_name": "Nina Newbie", "date_of_birth": "1999-09-09", "home_zip": "10001"}}))
            .send().await.unwrap();
        let registered = json_ok(resp).await;
        let record = registered["patient_id"].as_str().unwrap().to_owned();
        let staff_view = json_ok(owner.get(&app, &format!("/api/v1/patients/{record}")).await).await;
        assert_eq!(staff_view["portal_access"], "disabled", "pending until the email is verified");
        let patient = app.patient_login("north", "newbie@example.org", PATIENT_PASSWORD).await;
        assert!(patient.records(&app).await.is_empty());

        let token = app.outbox("email_verification", "newbie@example.org").await[0]["token"].as_str().unwrap().to_owned();
        json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap()).await;
        assert_eq!(json_ok(owner.get(&app, &format!("/api/v1/patients/{record}")).await).await["portal_access"], "enabled", "no staff action needed");
        assert_eq!(patient.records(&app).await, ["Nina Newbie"]);
    }

    async fn an_unverified_registration_is_enabled_by_staff_then_reset_by_the_patient(app) {
        let owner = app.clinic_with_owner("north").await;
        let registered = json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "slow@example.org", "password": PATIENT_PASSWORD,
                          "new_patient": {"full_name": "Sam Slow", "date_of_birth": "1970-07-07", "home_zip": "10001"}}))
            .send().await.unwrap()).await;
        let record = registered["patient_id"].as_str().unwrap().to_owned();
        // Never verified: staff turns access on by hand.
        json_ok(owner.put(&app, &format!("/api/v1/patients/{record}/portal-access"), json!({"enabled": true})).await).await;
        // The patient forgot the password and resets it by email.
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset")).json(&json!({"login": "slow@example.org"})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let unknown = app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset")).json(&json!({"login": "ghost@example.org"})).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::ACCEPTED, "the same answer for an unknown address");
        let token = app.outbox("password_reset", "slow@example.org").await[0]["token"].as_str().unwrap().to_owned();
        assert!(app.outbox("password_reset", "ghost@example.org").await.is_empty());
        let confirm = |pw: &'static str| app.client.post(app.tenant_url("north", "/api/v1/portal/password-reset/confirm")).json(&json!({"token": token, "new_password": pw})).send();
        expect_error(confirm("short").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        let account = json_ok(confirm("a freshly reset passphrase").await.unwrap()).await;
        assert_eq!(account["email_verified"], true, "the reset link proved the address");
        expect_error(confirm("another passphrase entirely").await.unwrap(), StatusCode::GONE, "link_invalid").await;
        expect_error(app.try_patient_login("north", "slow@example.org", PATIENT_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let patient = app.patient_login("north", "slow@example.org", "a freshly reset passphrase").await;
        assert_eq!(patient.records(&app).await, ["Sam Slow"]);
    }

    async fn a_patient_changes_their_email_after_confirming_the_new_one(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let patient = Patient::from_response("north", app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PATIENT_PASSWORD).await).await;
        expect_error(patient.post(&app, "/api/v1/portal/email", json!({"new_email": "mia@new.example.org", "password": "wrong"})).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let resp = patient.post(&app, "/api/v1/portal/email", json!({"new_email": "mia@new.example.org", "password": PATIENT_PASSWORD})).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(json_ok(patient.get(&app, "/api/v1/portal/me").await).await["account"]["email"], "mia@example.org", "not until confirmed");
        let notice = app.outbox("email_change_notice", "mia@example.org").await;
        assert_eq!(notice.len(), 1, "the old address is told");
        let token = app.outbox("email_verification", "mia@new.example.org").await[0]["token"].as_str().unwrap().to_owned();
        json_ok(app.client.post(app.tenant_url("north", "/api/v1/portal/verify-email")).json(&json!({"token": token})).send().await.unwrap()).await;
        assert_eq!(json_ok(patient.get(&app, "/api/v1/portal/me").await).await["account"]["email"], "mia@new.example.org");
        app.patient_login("north", "mia@new.example.org", PATIENT_PASSWORD).await;
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
