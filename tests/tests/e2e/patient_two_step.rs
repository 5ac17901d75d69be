//! Two-step sign-in for patients: codes by email (expiry, single use, the
//! throttle), an authenticator app with recovery codes, a passkey that
//! signs in alone, trusted devices, and the clinic's requirement.

use portico_tests::soft_passkey::SoftPasskey;
use portico_tests::{
    Patient, Staff, TestApp, add_enabled_patient, both_engines, clear_of_step_edge, expect_error,
    json_ok, totp_code, unix_now,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATIENT_PASSWORD: &str = "patient-password-123";

/// A clinic, its owner, a patient who set up their account from an
/// emailed code (so their address is proven), and the record's id.
async fn patient_of(app: &TestApp, email: &str) -> (Staff, Patient, String) {
    let owner = app.clinic_with_owner("north").await;
    let patient = add_enabled_patient(app, &owner, "Mia Wong", email).await;
    let code = app.issue_code(&owner, &patient).await;
    let resp = app
        .redeem_new("north", &code, email, PATIENT_PASSWORD)
        .await;
    (owner, Patient::from_response("north", resp).await, patient)
}

/// The password step; its answer (`202` with a pending token, or `200`).
async fn password_step(app: &TestApp, email: &str, device: Option<&str>) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", "/api/v1/portal/login"))
        .json(
            &json!({"login": email, "password": PATIENT_PASSWORD, "trusted_device_token": device}),
        )
        .send()
        .await
        .unwrap()
}

async fn pending_of(app: &TestApp, email: &str) -> Value {
    let resp = password_step(app, email, None).await;
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "a second step is asked"
    );
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no session cookie before the second step"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("csrf_token").is_none(), "no session yet: {body}");
    assert!(body["pending_token"].is_string(), "{body}");
    body
}

async fn second_step(app: &TestApp, pending: &Value, code: &str, trust: bool) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", "/api/v1/portal/login/second-step"))
        .json(&json!({"pending_token": pending["pending_token"], "code": code, "trust_device": trust}))
        .send()
        .await
        .unwrap()
}

/// The newest sign-in code mailed to `email`.
async fn mailed_code(app: &TestApp, email: &str) -> String {
    let sent = app.outbox("sign_in_code", email).await;
    let last = sent.last().expect("a sign-in code was mailed");
    last["code"].as_str().unwrap().to_owned()
}

async fn audit_of(app: &TestApp, owner: &Staff, action: &str) -> Vec<Value> {
    let page = json_ok(
        owner
            .get(app, &format!("/api/v1/audit?action={action}&limit=100"))
            .await,
    )
    .await;
    page["events"].as_array().unwrap().clone()
}

async fn email_codes_on(app: &TestApp, patient: &Patient) {
    let resp = patient
        .post(
            app,
            "/api/v1/portal/factors/email",
            json!({"enabled": true, "password": PATIENT_PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

both_engines! {
    async fn codes_by_email_are_asked_at_each_sign_in_work_once_and_expire(app) {
        let email = "mia@example.org";
        let (owner, patient, _) = patient_of(&app, email).await;
        // Turning it on asks for the password again.
        let resp = patient
            .post(&app, "/api/v1/portal/factors/email", json!({"enabled": true, "password": "not-my-password"}))
            .await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        email_codes_on(&app, &patient).await;
        let mine = json_ok(patient.get(&app, "/api/v1/portal/factors").await).await;
        assert_eq!(mine["email_codes"], true);
        assert_eq!(mine["factors"], json!([]));

        // The password alone opens no session; the code is mailed at once,
        // email being the only way.
        let pending = pending_of(&app, email).await;
        assert_eq!(pending["methods"], json!(["email_code"]));
        assert_eq!(pending["email_code_sent"], true);
        assert_eq!(pending["email_hint"], "m•••@example.org");
        let code = mailed_code(&app, email).await;
        assert_eq!(code.len(), 6);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let resp = second_step(&app, &pending, wrong, false).await;
        let body = expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        assert_eq!(body["field"], "code");
        let signed = Patient::from_response("north", second_step(&app, &pending, &code, false).await).await;
        json_ok(signed.get(&app, "/api/v1/portal/me").await).await;
        // Used: neither the login nor the code works again.
        let resp = second_step(&app, &pending, &code, false).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "login_expired").await;
        let again = pending_of(&app, email).await;
        let resp = second_step(&app, &again, &code, false).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;

        // A code past its ten minutes is refused.
        let fresh = mailed_code(&app, email).await;
        app.execute("UPDATE email_sign_in_codes SET expires_at = 0 WHERE used_at IS NULL").await;
        let resp = second_step(&app, &again, &fresh, false).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        // A new one on request works; it replaces the one before.
        let sent = json_ok(
            app.client.post(app.tenant_url("north", "/api/v1/portal/login/email-code"))
                .json(&json!({"pending_token": again["pending_token"]})).send().await.unwrap(),
        ).await;
        assert_eq!(sent["sent_to"], "m•••@example.org");
        let newest = mailed_code(&app, email).await;
        Patient::from_response("north", second_step(&app, &again, &newest, false).await).await;

        // Three wrong tries spend a code, even before the throttle does.
        let third = pending_of(&app, email).await;
        let code = mailed_code(&app, email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..3 {
            expect_error(second_step(&app, &third, wrong, false).await, StatusCode::UNAUTHORIZED, "wrong_code").await;
        }
        expect_error(second_step(&app, &third, &code, false).await, StatusCode::UNAUTHORIZED, "wrong_code").await;

        // Every use and miss is in the trail with the address; no code is.
        let steps = audit_of(&app, &owner, "portal.login_second_step").await;
        assert!(steps.iter().any(|e| e["outcome"] == "success" && e["reason"] == "method=email_code"), "{steps:?}");
        assert!(steps.iter().any(|e| e["reason"] == "wrong_code" && e["ip"].is_string()), "{steps:?}");
        let trail = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await;
        for event in trail["events"].as_array().unwrap() {
            let reason = event["reason"].as_str().unwrap_or_default();
            assert!(!reason.contains(&newest) && !reason.contains(&code), "{event}");
        }
    }

    async fn the_mail_budget_and_the_throttle_bound_codes_by_email(app) {
        let email = "mia@example.org";
        let (_owner, patient, _) = patient_of(&app, email).await;
        email_codes_on(&app, &patient).await;
        let pending = pending_of(&app, email).await; // one code sent
        let ask = || async {
            app.client.post(app.tenant_url("north", "/api/v1/portal/login/email-code"))
                .json(&json!({"pending_token": pending["pending_token"]})).send().await.unwrap()
        };
        for _ in 0..4 {
            json_ok(ask().await).await;
        }
        // Five codes in 15 minutes is the most one account is mailed.
        expect_error(ask().await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        assert_eq!(app.outbox("sign_in_code", email).await.len(), 5);
    }

    async fn wrong_codes_lock_the_patients_account_like_wrong_passwords(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.login_max_failures_per_account = 2;
            c.login_max_failures_per_ip = 50;
        }).await else { return };
        let email = "mia@example.org";
        let (owner, patient, _) = patient_of(&app, email).await;
        email_codes_on(&app, &patient).await;
        let pending = pending_of(&app, email).await;
        let code = mailed_code(&app, email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..2 {
            expect_error(second_step(&app, &pending, wrong, false).await, StatusCode::UNAUTHORIZED, "wrong_code").await;
        }
        // The account's bucket is full: even the right code waits.
        expect_error(second_step(&app, &pending, &code, false).await, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let steps = audit_of(&app, &owner, "portal.login_second_step").await;
        assert!(steps.iter().any(|e| e["reason"] == "locked_out" && e["ip"].is_string()), "{steps:?}");
    }

    async fn an_authenticator_app_and_recovery_codes_guard_a_patients_sign_in(app) {
        let email = "mia@example.org";
        let (owner, patient, _) = patient_of(&app, email).await;
        let elsewhere = app.patient_login("north", email, PATIENT_PASSWORD).await;
        clear_of_step_edge().await;
        let resp = patient.post(&app, "/api/v1/portal/factors/totp", json!({"name": "Phone", "password": "wrong-password"})).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let setup = json_ok(patient.post(&app, "/api/v1/portal/factors/totp", json!({"name": "Phone", "password": PATIENT_PASSWORD})).await).await;
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let confirm = format!("/api/v1/portal/factors/totp/{}/confirm", setup["factor_id"].as_str().unwrap());
        let now = unix_now();
        expect_error(patient.post(&app, &confirm, json!({"code": totp_code(&secret, now - 60)})).await, StatusCode::UNAUTHORIZED, "wrong_code").await;
        let added = json_ok(patient.post(&app, &confirm, json!({"code": totp_code(&secret, now - 30)})).await).await;
        let recovery: Vec<String> = added["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        assert_eq!(recovery.len(), 10);
        // The first factor ends every other session: each must now have
        // passed the second step.
        assert_eq!(elsewhere.get(&app, "/api/v1/portal/me").await.status(), StatusCode::UNAUTHORIZED);
        json_ok(patient.get(&app, "/api/v1/portal/me").await).await;

        let pending = pending_of(&app, email).await;
        assert_eq!(pending["methods"], json!(["totp", "recovery_code"]));
        assert_eq!(pending["email_code_sent"], false, "no mail when the app is the way");
        // A used step is not accepted twice; the next step is, once.
        expect_error(second_step(&app, &pending, &totp_code(&secret, now - 30), false).await, StatusCode::UNAUTHORIZED, "wrong_code").await;
        Patient::from_response("north", second_step(&app, &pending, &totp_code(&secret, now + 30), false).await).await;
        // A recovery code works once.
        let pending = pending_of(&app, email).await;
        Patient::from_response("north", second_step(&app, &pending, &recovery[0].to_uppercase(), false).await).await;
        let pending = pending_of(&app, email).await;
        expect_error(second_step(&app, &pending, &recovery[0], false).await, StatusCode::UNAUTHORIZED, "wrong_code").await;
        // Codes by email were not chosen: none is sent for this login.
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/login/email-code"))
            .json(&json!({"pending_token": pending["pending_token"]})).send().await.unwrap();
        expect_error(resp, StatusCode::CONFLICT, "email_codes_off").await;

        let mine = json_ok(patient.get(&app, "/api/v1/portal/factors").await).await;
        assert_eq!(mine["recovery_codes_left"], 9);
        let factor = mine["factors"][0]["id"].as_str().unwrap().to_owned();
        // Removing it asks for the password; the recovery codes go with it.
        let resp = patient.post(&app, &format!("/api/v1/portal/factors/{factor}/remove"), json!({"password": "wrong-password"})).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let resp = patient.post(&app, &format!("/api/v1/portal/factors/{factor}/remove"), json!({"password": PATIENT_PASSWORD})).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let mine = json_ok(patient.get(&app, "/api/v1/portal/factors").await).await;
        assert_eq!((mine["factors"].clone(), mine["recovery_codes_left"].clone()), (json!([]), json!(0)));
        let resp = password_step(&app, email, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "the password alone again");

        let added = audit_of(&app, &owner, "portal.factor_add").await;
        assert!(added.iter().any(|e| e["outcome"] == "success"));
        assert!(added.iter().any(|e| e["reason"] == "wrong_code" && e["ip"].is_string()));
        let removed = audit_of(&app, &owner, "portal.factor_remove").await;
        assert!(removed.iter().any(|e| e["outcome"] == "success" && e["reason"] == "kind=totp"), "{removed:?}");
        let trail = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await.to_string();
        assert!(!trail.contains(&secret.replace(' ', "")) && !trail.contains(&recovery[1]));
    }

    async fn a_trusted_device_skips_the_second_step_until_revoked_or_the_password_changes(app) {
        let email = "mia@example.org";
        let (_owner, patient, _) = patient_of(&app, email).await;
        email_codes_on(&app, &patient).await;
        let pending = pending_of(&app, email).await;
        let code = mailed_code(&app, email).await;
        let resp = second_step(&app, &pending, &code, true).await;
        let trusted = Patient::from_response("north", resp).await;
        let token = trusted.body["trusted_device_token"].as_str().unwrap().to_owned();
        // With the device's token, the password alone signs in.
        let resp = password_step(&app, email, Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // A made-up token is no device.
        let resp = password_step(&app, email, Some("not-a-device-token-at-all-000000000000000")).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let mine = json_ok(trusted.get(&app, "/api/v1/portal/factors").await).await;
        let devices = mine["trusted_devices"].as_array().unwrap();
        assert_eq!(devices.len(), 1, "{mine}");
        assert!(devices[0]["last_used_at"].is_string());
        // Revoked from the account: the second step is asked again.
        let id = devices[0]["id"].as_str().unwrap();
        let resp = app.client.delete(app.tenant_url("north", &format!("/api/v1/portal/trusted-devices/{id}")))
            .header("cookie", &trusted.cookie).header("x-csrf-token", &trusted.csrf).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(password_step(&app, email, Some(&token)).await.status(), StatusCode::ACCEPTED);

        // Trusted again, then a new password ends every trust.
        let pending = pending_of(&app, email).await;
        let code = mailed_code(&app, email).await;
        let again = Patient::from_response("north", second_step(&app, &pending, &code, true).await).await;
        let token = again.body["trusted_device_token"].as_str().unwrap().to_owned();
        assert_eq!(password_step(&app, email, Some(&token)).await.status(), StatusCode::OK);
        let resp = again.post(&app, "/api/v1/portal/password", json!({"current_password": PATIENT_PASSWORD, "new_password": "another-long-password-9"})).await;
        assert!(resp.status().is_success(), "{}", resp.status());
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/login"))
            .json(&json!({"login": email, "password": "another-long-password-9", "trusted_device_token": token}))
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED, "the old trust ended with the old password");
    }

    async fn staff_reset_a_patients_two_step_sign_in_when_the_phone_is_lost(app) {
        let email = "mia@example.org";
        let (owner, patient, mia) = patient_of(&app, email).await;
        clear_of_step_edge().await;
        let setup = json_ok(patient.post(&app, "/api/v1/portal/factors/totp", json!({"name": "Phone", "password": PATIENT_PASSWORD})).await).await;
        let confirm = format!("/api/v1/portal/factors/totp/{}/confirm", setup["factor_id"].as_str().unwrap());
        json_ok(patient.post(&app, &confirm, json!({"code": totp_code(setup["secret"].as_str().unwrap(), unix_now() - 30)})).await).await;
        email_codes_on(&app, &patient).await;
        assert_eq!(password_step(&app, email, None).await.status(), StatusCode::ACCEPTED);

        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/grants")).await).await;
        let grant = grants[0]["id"].as_str().unwrap().to_owned();
        let reset = format!("/api/v1/grants/{grant}/reset-second-factors");
        // The front desk may not; an owner needs a fresh confirmation.
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        desk.step_up(&app).await;
        expect_error(desk.post(&app, &reset, json!({})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        let fresh = app.login_bearer("north", &owner.email, portico_tests::PASSWORD).await;
        expect_error(fresh.post(&app, &reset, json!({})).await, StatusCode::FORBIDDEN, "step_up_required").await;
        owner.step_up(&app).await;
        let done = json_ok(owner.post(&app, &reset, json!({})).await).await;
        assert_eq!(done["factors_removed"], 1);

        // Her sessions ended; the password alone signs her in again.
        assert_eq!(patient.get(&app, "/api/v1/portal/me").await.status(), StatusCode::UNAUTHORIZED);
        let signed = Patient::from_response("north", password_step(&app, email, None).await).await;
        let mine = json_ok(signed.get(&app, "/api/v1/portal/factors").await).await;
        assert_eq!((mine["factors"].clone(), mine["email_codes"].clone(), mine["recovery_codes_left"].clone()), (json!([]), json!(false), json!(0)));
        let trail = audit_of(&app, &owner, "portal.factors_reset").await;
        assert!(trail.iter().any(|e| e["outcome"] == "success" && e["target"] == format!("patient:{mia}") && e["reason"].as_str().unwrap().contains("factors_removed=1")), "{trail:?}");
        assert!(trail.iter().any(|e| e["outcome"] == "denied"), "{trail:?}");
    }

    async fn a_clinic_can_require_a_second_step_of_every_patient(app) {
        let email = "mia@example.org";
        let (owner, _patient, _) = patient_of(&app, email).await;
        assert_eq!(password_step(&app, email, None).await.status(), StatusCode::OK);
        let settings = json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"patient_second_factor_required": true})).await).await;
        assert_eq!(settings["patient_second_factor_required"], true);
        // Nothing set up: a code by email, sent at once.
        let pending = pending_of(&app, email).await;
        assert_eq!(pending["methods"], json!(["email_code"]));
        assert_eq!(pending["email_code_sent"], true);
        let code = mailed_code(&app, email).await;
        let signed = Patient::from_response("north", second_step(&app, &pending, &code, false).await).await;
        let mine = json_ok(signed.get(&app, "/api/v1/portal/factors").await).await;
        assert_eq!((mine["required_by_clinic"].clone(), mine["email_codes"].clone(), mine["email_codes_chosen"].clone()), (json!(true), json!(true), json!(false)));
        // Turning it off needs a fresh confirmation: a stolen session alone
        // must not lower the bar for every patient.
        let fresh = app.login_bearer("north", &owner.email, portico_tests::PASSWORD).await;
        let off = json!({"patient_second_factor_required": false});
        expect_error(fresh.patch(&app, "/api/v1/clinic/settings", off.clone()).await, StatusCode::FORBIDDEN, "step_up_required").await;
        fresh.step_up(&app).await;
        let settings = json_ok(fresh.patch(&app, "/api/v1/clinic/settings", off).await).await;
        assert_eq!(settings["patient_second_factor_required"], false);
        assert_eq!(password_step(&app, email, None).await.status(), StatusCode::OK);
        let lowered = audit_of(&app, &owner, "clinic.settings.two_step_off").await;
        assert!(lowered.iter().any(|e| e["outcome"] == "denied") && lowered.iter().any(|e| e["outcome"] == "success"), "{lowered:?}");
        let changed = audit_of(&app, &owner, "clinic.settings.update").await;
        assert!(changed.iter().any(|e| e["reason"].as_str().unwrap_or("").contains("patient_second_factor_required=true")), "{changed:?}");
    }
}

mod passkeys {
    use super::*;

    async fn options(app: &TestApp, body: Value) -> Value {
        let resp = app
            .client
            .post(app.tenant_url("north", "/api/v1/portal/passkey-login/options"))
            .json(&body)
            .send()
            .await
            .unwrap();
        json_ok(resp).await
    }

    async fn sign_in(
        app: &TestApp,
        passkey: &mut SoftPasskey,
        pending: Option<&Value>,
    ) -> reqwest::Response {
        let pending = pending.map(|p| p["pending_token"].clone());
        let challenge = options(app, json!({"pending_token": pending})).await;
        let answer = passkey.sign(&challenge["options"]);
        app.client.post(app.tenant_url("north", "/api/v1/portal/passkey-login"))
            .json(&json!({"ceremony_id": challenge["ceremony_id"], "credential": answer, "pending_token": pending}))
            .send().await.unwrap()
    }

    both_engines! {
        async fn a_patient_passkey_signs_in_without_a_password(app) {
            let email = "mia@example.org";
            let (owner, patient, _) = patient_of(&app, email).await;
            let resp = patient.post(&app, "/api/v1/portal/factors/passkeys/options", json!({"password": "wrong-password"})).await;
            expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
            let options = json_ok(patient.post(&app, "/api/v1/portal/factors/passkeys/options", json!({"password": PATIENT_PASSWORD})).await).await;
            let public = &options["options"]["publicKey"];
            assert_eq!(public["authenticatorSelection"]["residentKey"], "required");
            assert_eq!(public["authenticatorSelection"]["userVerification"], "required");
            let (mut passkey, answer) = SoftPasskey::register(&options["options"], &app.named_origin());
            let added = json_ok(patient.post(&app, "/api/v1/portal/factors/passkeys", json!({"ceremony_id": options["ceremony_id"], "name": "Phone", "credential": answer})).await).await;
            assert_eq!(added["factor"]["kind"], "passkey");
            assert_eq!(added["recovery_codes"].as_array().unwrap().len(), 10);

            // The passkey alone: no login name, no password.
            let signed = Patient::from_response("north", sign_in(&app, &mut passkey, None).await).await;
            assert_eq!(signed.body["account"]["email"], email);
            assert_eq!(signed.body["records"].as_array().unwrap().len(), 1);
            // After a password, the passkey is the second step.
            let pending = pending_of(&app, email).await;
            assert_eq!(pending["methods"], json!(["passkey", "recovery_code"]));
            Patient::from_response("north", sign_in(&app, &mut passkey, Some(&pending)).await).await;
            let used = audit_of(&app, &owner, "portal.login_passkey").await;
            assert!(used.iter().any(|e| e["outcome"] == "success" && e["reason"].as_str().unwrap().starts_with("method=passkey")), "{used:?}");
        }
    }
}
