//! The one door: what every act gets from it, whichever act it is. A code
//! is never issued without a fresh password confirmation; every act that
//! checks a secret locks out like a login; every refused redemption is in
//! the audit trail with its reason and the client's address.

use portico_tenants::acts;
use portico_tenants::codes::PlainCode;
use portico_tests::{
    PASSWORD, Patient, Staff, TestApp, add_enabled_patient, both_engines, expect_error, json_ok,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WRONG: &str = "not the password at all";
const ACCOUNT_LIMIT: u32 = 3;
const ADDRESS_LIMIT: u32 = 4;

/// The audit events of `action` in the clinic, newest first.
async fn audit_of(app: &TestApp, owner: &Staff, action: &str) -> Vec<Value> {
    let page = json_ok(
        owner
            .get(app, &format!("/api/v1/audit?action={action}&limit=500"))
            .await,
    )
    .await;
    page["events"].as_array().unwrap().clone()
}

/// Who the throttle walk needs: each act gets its own account, so that no
/// lockout of one act's walk leaks into another's.
struct Cast {
    owner: Staff,
    stepper: Staff,
    changer: Staff,
    patient_email: String,
    mover: Patient,
    /// Has an authenticator app, for a step-up with a code.
    code_stepper: Staff,
    /// Halfway through a login: the password was right.
    pending_login: String,
    /// Halfway through setting up an authenticator app.
    enroller: Staff,
    enrolment: String,
    /// A passkey of the owner's, answering as a phishing site would.
    passkey: tokio::sync::Mutex<portico_tests::soft_passkey::SoftPasskey>,
    /// A patient halfway through setting up an authenticator app.
    portal_enroller: Patient,
    portal_enrolment: String,
    /// A patient's login waiting for its code by email.
    portal_pending: String,
    /// A patient's passkey, answering as a phishing site would.
    patient_passkey: tokio::sync::Mutex<portico_tests::soft_passkey::SoftPasskey>,
}

async fn cast(app: &TestApp) -> Cast {
    let owner = app.clinic_with_owner("north").await;
    let stepper = app
        .add_staff(&owner, "stepper@north.example.org", &["front_desk"])
        .await;
    let changer = app
        .add_staff(&owner, "changer@north.example.org", &["front_desk"])
        .await;
    let mut patients = Vec::new();
    for (name, email) in [
        ("Kay Keyholder", "kay@example.org"),
        ("Sam Stepper", "sam@example.org"),
        ("Pat Enroller", "pat@example.org"),
        ("Mia Wong", "mia@example.org"),
        ("Max Mover", "max@example.org"),
    ] {
        let id = add_enabled_patient(app, &owner, name, email).await;
        let code = app.issue_code(&owner, &id).await;
        let resp = app.redeem_new("north", &code, email, PASSWORD).await;
        patients.push(Patient::from_response("north", resp).await);
    }
    let mover = patients.pop().unwrap();
    patients.pop(); // Mia logs in by email and password only.
    let portal_enroller = patients.pop().unwrap();
    let setup = json_ok(
        portal_enroller
            .post(
                app,
                "/api/v1/portal/factors/totp",
                json!({"name": "Phone", "password": PASSWORD}),
            )
            .await,
    )
    .await;
    let portal_enrolment = setup["factor_id"].as_str().unwrap().to_owned();
    let stepper_patient = patients.pop().unwrap();
    let resp = stepper_patient
        .post(
            app,
            "/api/v1/portal/factors/email",
            json!({"enabled": true, "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .try_patient_login("north", "sam@example.org", PASSWORD)
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let portal_pending = resp.json::<Value>().await.unwrap()["pending_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let keyholder_patient = patients.pop().unwrap();
    let options = json_ok(
        keyholder_patient
            .post(
                app,
                "/api/v1/portal/factors/passkeys/options",
                json!({"password": PASSWORD}),
            )
            .await,
    )
    .await;
    let (mut patient_passkey, answer) = portico_tests::soft_passkey::SoftPasskey::register(
        &options["options"],
        &app.named_origin(),
    );
    json_ok(
        keyholder_patient
            .post(
                app,
                "/api/v1/portal/factors/passkeys",
                json!({"ceremony_id": options["ceremony_id"], "name": "Phone", "credential": answer}),
            )
            .await,
    )
    .await;
    patient_passkey.at_origin("https://north-clinic.example.net");
    let code_stepper = app
        .add_staff(&owner, "codes@north.example.org", &["front_desk"])
        .await;
    app.enrol_totp(&code_stepper, "Phone").await;
    let two_step = app
        .add_staff(&owner, "two-step@north.example.org", &["front_desk"])
        .await;
    app.enrol_totp(&two_step, "Phone").await;
    let pending_login = app.pending_login("north", &two_step.email).await;
    let enroller = app
        .add_staff(&owner, "enroller@north.example.org", &["front_desk"])
        .await;
    let keyholder = app
        .add_staff(&owner, "keyholder@north.example.org", &["front_desk"])
        .await;
    let mut passkey = app.enrol_passkey(&keyholder, "Laptop").await;
    passkey.at_origin("https://north-clinic.example.net");
    let setup = json_ok(
        enroller
            .post(app, "/api/v1/auth/factors/totp", json!({"name": "Phone"}))
            .await,
    )
    .await;
    Cast {
        owner,
        stepper,
        changer,
        patient_email: "mia@example.org".into(),
        mover,
        code_stepper,
        pending_login,
        enroller,
        enrolment: setup["factor_id"].as_str().unwrap().to_owned(),
        passkey: tokio::sync::Mutex::new(passkey),
        portal_enroller,
        portal_enrolment,
        portal_pending,
        patient_passkey: tokio::sync::Mutex::new(patient_passkey),
    }
}

/// One try of `act` with a wrong secret, from the address `ip`.
async fn wrong_secret(app: &TestApp, cast: &Cast, act: &str, ip: &str) -> reqwest::Response {
    let post = |path: &str, body: Value| {
        app.client
            .post(app.tenant_url("north", path))
            .header("x-forwarded-for", ip)
            .json(&body)
    };
    if let Some(tree) = match act {
        "staff.login_passkey" => Some("auth"),
        "portal.login_passkey" => Some("portal"),
        _ => None,
    } {
        let challenge = json_ok(
            post(&format!("/api/v1/{tree}/passkey-login/options"), json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let passkey = match tree {
            "auth" => &cast.passkey,
            _ => &cast.patient_passkey,
        };
        let answer = passkey.lock().await.sign(&challenge["options"]);
        return post(
            &format!("/api/v1/{tree}/passkey-login"),
            json!({"ceremony_id": challenge["ceremony_id"], "credential": answer}),
        )
        .send()
        .await
        .unwrap();
    }
    let as_mover = |path: &str, body: Value| {
        post(path, body)
            .header("cookie", &cast.mover.cookie)
            .header("x-csrf-token", &cast.mover.csrf)
    };
    let request = match act {
        "staff.login" => post(
            "/api/v1/auth/tokens",
            json!({"email": cast.owner.email, "password": WRONG}),
        ),
        "staff.step_up" => post("/api/v1/auth/step-up", json!({"password": WRONG}))
            .bearer_auth(&cast.stepper.token),
        "staff.password_change" => post(
            "/api/v1/auth/password",
            json!({"current_password": WRONG, "new_password": "a brand new password 7"}),
        )
        .bearer_auth(&cast.changer.token),
        "code.redeem" => post(
            "/api/v1/portal/redeem",
            json!({
                "code": PlainCode::generate().display(),
                "account": {"email": "guess@example.org", "password": "a long enough password 1"},
            }),
        ),
        "portal.login" => post(
            "/api/v1/portal/login",
            json!({"login": cast.patient_email, "password": WRONG}),
        ),
        "code.check" => app
            .client
            .post(app.tenant_url("north", "/portal/code-check"))
            .header("x-forwarded-for", ip)
            .form(&[("code", PlainCode::generate().display())]),
        // A changed address is confirmed through the same link page as a
        // new one; a wrong token is one miss of either.
        "portal.email_verify" | "portal.email_change" => post(
            "/api/v1/portal/verify-email",
            json!({"token": "x".repeat(43)}),
        ),
        "portal.password_reset" => post(
            "/api/v1/portal/password-reset/confirm",
            json!({"token": "y".repeat(43), "new_password": "a brand new password 7"}),
        ),
        "portal.password_change" => post(
            "/api/v1/portal/password",
            json!({"current_password": WRONG, "new_password": "a brand new password 8"}),
        )
        .header("cookie", &cast.mover.cookie)
        .header("x-csrf-token", &cast.mover.csrf),
        "portal.email_change.request" => post(
            "/api/v1/portal/email",
            json!({"new_email": "elsewhere@example.org", "password": WRONG}),
        )
        .header("cookie", &cast.mover.cookie)
        .header("x-csrf-token", &cast.mover.csrf),
        "portal.totp_begin" => as_mover(
            "/api/v1/portal/factors/totp",
            json!({"name": "Phone", "password": WRONG}),
        ),
        "portal.passkey_begin" => as_mover(
            "/api/v1/portal/factors/passkeys/options",
            json!({"password": WRONG}),
        ),
        "portal.email_second_step" => as_mover(
            "/api/v1/portal/factors/email",
            json!({"enabled": true, "password": WRONG}),
        ),
        "portal.factor_remove" => as_mover(
            "/api/v1/portal/factors/0192f0c8-0000-7000-8000-000000000000/remove",
            json!({"password": WRONG}),
        ),
        "portal.recovery_codes_renew" => {
            as_mover("/api/v1/portal/recovery-codes", json!({"password": WRONG}))
        }
        "portal.factor_add" => post(
            &format!(
                "/api/v1/portal/factors/totp/{}/confirm",
                cast.portal_enrolment
            ),
            json!({"code": "000000"}),
        )
        .header("cookie", &cast.portal_enroller.cookie)
        .header("x-csrf-token", &cast.portal_enroller.csrf),
        "portal.login_second_step" => post(
            "/api/v1/portal/login/second-step",
            json!({"pending_token": cast.portal_pending, "code": "000000"}),
        ),
        "staff.step_up_second_factor" => post("/api/v1/auth/step-up", json!({"code": "000000"}))
            .bearer_auth(&cast.code_stepper.token),
        "staff.login_second_step" => post(
            "/api/v1/auth/tokens/second-step",
            json!({"pending_token": cast.pending_login, "code": "000000"}),
        ),
        "staff.factor_add" => post(
            &format!("/api/v1/auth/factors/totp/{}/confirm", cast.enrolment),
            json!({"code": "000000"}),
        )
        .bearer_auth(&cast.enroller.token),
        other => panic!(
            "the act {other} checks a secret, and this test does not know how to try it: \
             add it to `wrong_secret`, so that its throttle is proven"
        ),
    };
    request.send().await.unwrap()
}

/// The same try with the right secret, where there is one to give.
async fn right_secret(
    app: &TestApp,
    cast: &Cast,
    act: &str,
    ip: &str,
) -> Option<reqwest::Response> {
    let post = |path: &str, body: Value| {
        app.client
            .post(app.tenant_url("north", path))
            .header("x-forwarded-for", ip)
            .json(&body)
    };
    let request = match act {
        "staff.login" => post(
            "/api/v1/auth/tokens",
            json!({"email": cast.owner.email, "password": PASSWORD}),
        ),
        "staff.step_up" => post("/api/v1/auth/step-up", json!({"password": PASSWORD}))
            .bearer_auth(&cast.stepper.token),
        "portal.login" => post(
            "/api/v1/portal/login",
            json!({"login": cast.patient_email, "password": PASSWORD}),
        ),
        _ => return None,
    };
    Some(request.send().await.unwrap())
}

async fn throttled_app(app: TestApp) -> Option<TestApp> {
    let engine = app.engine;
    drop(app);
    TestApp::spawn_with(engine, |c| {
        c.trust_proxy = true;
        c.login_max_failures_per_account = ACCOUNT_LIMIT;
        c.login_max_failures_per_ip = ADDRESS_LIMIT;
        c.redeem_max_failures_per_ip = ADDRESS_LIMIT;
    })
    .await
}

both_engines! {
    async fn every_act_that_checks_a_secret_locks_out_as_a_login_does(app) {
        let Some(app) = throttled_app(app).await else { return };
        let cast = cast(&app).await;
        let secret_acts: Vec<_> = acts::ALL.iter().filter(|a| a.secret.is_some()).collect();
        assert!(secret_acts.len() >= 8, "the walk covers every secret-checking act");
        for (i, act) in secret_acts.iter().enumerate() {
            // Each act from its own address, so one walk's address bucket
            // does not lock the next.
            let ip = format!("198.51.100.{}", i + 10);
            let mut locked_after = None;
            for attempt in 1..=ADDRESS_LIMIT + 2 {
                let resp = wrong_secret(&app, &cast, act.name, &ip).await;
                let status = resp.status();
                if status == StatusCode::TOO_MANY_REQUESTS {
                    assert!(resp.headers().contains_key("retry-after"), "{}: a lockout says when to come back", act.name);
                    locked_after = Some(attempt);
                    break;
                }
                assert!(status.is_client_error(), "{}: a wrong secret is refused, got {status}", act.name);
            }
            let locked_after = locked_after.unwrap_or_else(|| panic!("{} never locked out", act.name));
            assert!(locked_after <= ADDRESS_LIMIT + 1, "{} locked out only after {locked_after} tries", act.name);
            if let Some(resp) = right_secret(&app, &cast, act.name, &ip).await {
                assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{}: the lock holds for the right secret too", act.name);
            }
        }
        // The refusals name the address they came from. The account's
        // password is one credential with one lock: the password change
        // walks first and locks it, so the email change meets the lock.
        let mut refused = audit_of(&app, &cast.owner, "portal.password_change").await;
        refused.extend(audit_of(&app, &cast.owner, "portal.email_change.request").await);
        assert!(refused.iter().any(|e| e["outcome"] == "failure" && e["reason"] == "wrong_password" && e["ip"].as_str().unwrap_or("").starts_with("198.51.100.")), "{refused:?}");
        assert!(refused.iter().any(|e| e["reason"] == "locked_out"), "{refused:?}");
    }

    async fn a_step_up_miss_counts_against_the_same_account_as_its_login(app) {
        let Some(app) = throttled_app(app).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        // Misses at step-up, each from a different address...
        for i in 0..ACCOUNT_LIMIT {
            let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/step-up"))
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .bearer_auth(&desk.token)
                .json(&json!({"password": WRONG}))
                .send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        // ...lock the account's login, from yet another address.
        let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/tokens"))
            .header("x-forwarded-for", "203.0.113.99")
            .json(&json!({"email": desk.email, "password": PASSWORD}))
            .send().await.unwrap();
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }

    async fn any_access_code_needs_a_password_confirmation_from_the_last_minutes(app) {
        let owner = app.clinic_with_owner("north").await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        for (path, body) in [
            (format!("/api/v1/patients/{patient}/access-codes"), json!({"delivery": "print"})),
            (format!("/api/v1/patients/{patient}/access-codes"), json!({"delivery": "email"})),
            (format!("/api/v1/patients/{patient}/access-codes/handout"), json!({})),
        ] {
            let refused = expect_error(owner.post(&app, &path, body.clone()).await, StatusCode::FORBIDDEN, "step_up_required").await;
            assert!(refused.get("access_link").is_none() && refused.get("code").map(|c| c == "step_up_required").unwrap_or(false), "{refused}");
        }
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{patient}/access-codes")).await).await;
        assert_eq!(codes.as_array().unwrap().len(), 0, "nothing was issued");
        let denied = audit_of(&app, &owner, "code.issue").await;
        assert_eq!(denied.len(), 3, "{denied:?}");
        for event in &denied {
            assert_eq!(event["outcome"], "denied");
            assert_eq!(event["reason"], "step_up_required");
            assert_eq!(event["target"], format!("patient:{patient}"));
            assert!(event["ip"].is_string(), "{event}");
        }

        owner.step_up(&app).await;
        let printed = json_ok(owner.post(&app, &format!("/api/v1/patients/{patient}/access-codes"), json!({"delivery": "print"})).await).await;
        let link = printed["access_link"].as_str().unwrap();
        assert!(link.contains("/portal/register#code="), "{link}");
        let handout = owner.post(&app, &format!("/api/v1/patients/{patient}/access-codes/handout"), json!({})).await;
        assert_eq!(handout.status(), StatusCode::OK);
        assert!(handout.text().await.unwrap().contains("Mia Wong"));
    }

    async fn every_failed_redemption_is_audited_with_its_reason_and_address(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "family@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "family@example.org").await;
        let mia_code = app.issue_code(&owner, &mia).await;
        let leo_code = app.issue_code(&owner, &leo).await;
        assert!(app.redeem_new("north", &mia_code, "family@example.org", PASSWORD).await.status().is_success());

        let redeem = |body: Value| {
            app.client.post(app.tenant_url("north", "/api/v1/portal/redeem"))
                .header("user-agent", "door-test/1.0")
                .json(&body)
                .send()
        };
        // A password too short: refused before the code is looked at.
        expect_error(redeem(json!({"code": leo_code, "account": {"email": "leo@example.org", "password": "short"}})).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        // No account given, and no session.
        expect_error(redeem(json!({"code": leo_code})).await.unwrap(), StatusCode::BAD_REQUEST, "account_required").await;
        // A shared email with no username of its own.
        expect_error(redeem(json!({"code": leo_code, "account": {"email": "family@example.org", "password": "another good password 2"}})).await.unwrap(), StatusCode::CONFLICT, "username_required").await;
        // The code typed as the password.
        expect_error(redeem(json!({"code": leo_code, "account": {"email": "leo@example.org", "password": leo_code}})).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;

        let failures: Vec<Value> = audit_of(&app, &owner, "code.redeem").await.into_iter().filter(|e| e["outcome"] == "failure").collect();
        let reasons: Vec<&str> = failures.iter().map(|e| e["reason"].as_str().unwrap()).collect();
        for expected in ["invalid_new_password", "account_required", "username_required"] {
            assert!(reasons.contains(&expected), "{expected} missing from {reasons:?}");
        }
        assert_eq!(failures.len(), 4, "{reasons:?}");
        for event in &failures {
            assert!(event["ip"].is_string(), "{event}");
            assert_eq!(event["user_agent"], "door-test/1.0");
        }
        // Leo's code is still good after all that.
        let ok: Value = redeem(json!({"code": leo_code, "account": {"username": "leo.wong", "email": "family@example.org", "password": "another good password 2"}})).await.unwrap().json().await.unwrap();
        assert_eq!(ok["record"]["full_name"], "Leo Wong");
    }

    async fn a_request_refused_before_any_act_is_recorded_once(app) {
        let owner = app.clinic_with_owner("north").await;
        // Input the edge cannot read: recorded as a refused request, with
        // the answer's code and the address.
        expect_error(owner.post(&app, "/api/v1/patients", json!({"full_name": "Mia Wong", "date_of_birth": "1984-03-12", "email": "not an address"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
        let refused = app.client.post(app.tenant_url("north", "/api/v1/portal/redeem"))
            .header("content-type", "application/json")
            .body("{\"code\": ")
            .send().await.unwrap();
        assert!(refused.status().is_client_error());
        let events = audit_of(&app, &owner, "request.refused").await;
        let reasons: Vec<_> = events.iter().map(|e| e["reason"].as_str().unwrap().to_owned()).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(reasons.contains(&"invalid_email".to_owned()), "{reasons:?}");
        assert!(events.iter().all(|e| e["outcome"] == "failure" && e["ip"].is_string()), "{events:?}");
        let staff_one = events.iter().find(|e| e["reason"] == "invalid_email").unwrap();
        assert_eq!(staff_one["actor_id"], owner.id.as_str());
        assert!(staff_one["target"].as_str().unwrap().ends_with("/api/v1/patients"), "{staff_one}");

        // A refusal by an act is the door's to record, once.
        let patient = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        owner.step_up(&app).await;
        let issued = json_ok(owner.post(&app, &format!("/api/v1/patients/{patient}/access-codes"), json!({"delivery": "print"})).await).await;
        let id = issued["access_code"]["id"].as_str().unwrap();
        json_ok(owner.post(&app, &format!("/api/v1/access-codes/{id}/revoke"), json!({})).await).await;
        expect_error(owner.post(&app, &format!("/api/v1/access-codes/{id}/revoke"), json!({})).await, StatusCode::CONFLICT, "code_already_revoked").await;
        let revokes = audit_of(&app, &owner, "code.revoke").await;
        assert_eq!(revokes.len(), 2, "one success, one refusal: {revokes:?}");
        assert_eq!(audit_of(&app, &owner, "request.refused").await.len(), 2, "nothing more at the edge");
    }
}
