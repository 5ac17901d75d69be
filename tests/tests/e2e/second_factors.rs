//! Two-step sign-in for staff: an authenticator app (TOTP) set up and
//! used at login, at step-up and for API tokens; recovery codes; the
//! clinic's requirement; an owner's reset; the cap on consecutive misses.

use portico_tests::{
    FIRST_PASSWORD, PASSWORD, Staff, TestApp, both_engines, clear_of_step_edge, expect_error,
    json_ok, totp_code, unix_now,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn audit_of(app: &TestApp, owner: &Staff, action: &str) -> Vec<Value> {
    let page = json_ok(
        owner
            .get(app, &format!("/api/v1/audit?action={action}&limit=100"))
            .await,
    )
    .await;
    page["events"].as_array().unwrap().clone()
}

fn staff_from(slug: &str, email: &str, body: &Value) -> Staff {
    Staff {
        slug: slug.into(),
        id: body["staff"]["id"].as_str().unwrap().into(),
        email: email.into(),
        token: body["token"].as_str().unwrap().into(),
    }
}

both_engines! {
    async fn an_authenticator_app_is_set_up_with_a_code_and_then_asked_at_every_login(app) {
        let owner = app.clinic_with_owner("north").await;
        clear_of_step_edge().await;
        let setup = json_ok(owner.post(&app, "/api/v1/auth/factors/totp", json!({"name": "Phone"})).await).await;
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let url = setup["otpauth_url"].as_str().unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&format!("secret={}", secret.replace(' ', ""))), "{url}");
        assert!(url.contains("issuer=Clinic%20north"), "the app lists the clinic: {url}");
        let confirm = format!("/api/v1/auth/factors/totp/{}/confirm", setup["factor_id"].as_str().unwrap());
        // Nothing counts until a code confirms it.
        assert_eq!(json_ok(owner.get(&app, "/api/v1/auth/factors").await).await["factors"], json!([]));
        let now = unix_now();
        for (wrong, why) in [(now - 60, "two steps old"), (now + 60, "two steps ahead")] {
            let resp = owner.post(&app, &confirm, json!({"code": totp_code(&secret, wrong)})).await;
            let body = expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
            assert_eq!(body["field"], "code", "{why}");
        }
        // The step before now still counts (a clock a little behind).
        let added = json_ok(owner.post(&app, &confirm, json!({"code": totp_code(&secret, now - 30)})).await).await;
        let codes = added["recovery_codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10, "a first factor comes with ten recovery codes");
        assert_eq!(added["factor"]["kind"], "totp");
        let listed = json_ok(owner.get(&app, "/api/v1/auth/factors").await).await;
        assert_eq!(listed["factors"].as_array().unwrap().len(), 1);
        assert_eq!(listed["recovery_codes_left"], 10);

        // A password alone no longer gives a token.
        let pending = app.pending_login("north", &owner.email).await;
        let resp = app.second_step("north", &pending, &totp_code(&secret, now - 60)).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        // The confirming code's step was spent: neither it nor the same
        // step's code again.
        let resp = app.second_step("north", &pending, &totp_code(&secret, now - 30)).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        // The next step (a clock a little ahead) counts, once.
        let next = totp_code(&secret, now + 30);
        let signed = json_ok(app.second_step("north", &pending, &next).await).await;
        let again = staff_from("north", &owner.email, &signed);
        json_ok(again.get(&app, "/api/v1/auth/me").await).await;
        // The pending login is spent, and the code with it.
        let resp = app.second_step("north", &pending, &next).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "login_expired").await;
        let pending = app.pending_login("north", &owner.email).await;
        let resp = app.second_step("north", &pending, &next).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;

        let added = audit_of(&app, &owner, "staff.factor_add").await;
        assert!(added.iter().any(|e| e["outcome"] == "success"), "{added:?}");
        assert!(added.iter().any(|e| e["reason"] == "wrong_code" && e["ip"].is_string()), "{added:?}");
        let steps = audit_of(&app, &owner, "staff.login_second_step").await;
        assert!(steps.iter().any(|e| e["outcome"] == "success" && e["reason"].as_str().unwrap().contains("method=totp")), "{steps:?}");
        assert!(steps.iter().filter(|e| e["outcome"] == "failure").count() >= 3, "{steps:?}");
        // No secret of the factor is in the trail.
        let trail = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await.to_string();
        assert!(!trail.contains(&secret.replace(' ', "")) && !trail.contains(&next));
    }

    async fn recovery_codes_sign_in_once_each_and_can_be_renewed(app) {
        let owner = app.clinic_with_owner("north").await;
        let original = owner.clone();
        let phone = app.enrol_totp(&owner, "Phone").await;
        let first = phone.recovery_codes[0].clone();
        let pending = app.pending_login("north", &owner.email).await;
        // Typed in capitals without the hyphen, as people do.
        let typed = first.replace('-', "").to_uppercase();
        let signed = json_ok(app.second_step("north", &pending, &typed).await).await;
        let owner = staff_from("north", &owner.email, &signed);
        assert_eq!(json_ok(owner.get(&app, "/api/v1/auth/factors").await).await["recovery_codes_left"], 9);
        let pending = app.pending_login("north", &owner.email).await;
        let resp = app.second_step("north", &pending, &first).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        let used = audit_of(&app, &owner, "staff.login_second_step").await;
        assert!(used.iter().any(|e| e["reason"].as_str().unwrap_or("").contains("method=recovery_code recovery_codes_left=9")), "{used:?}");
        assert!(used.iter().any(|e| e["reason"] == "wrong_recovery_code"), "{used:?}");
        // Not a recovery code's shape, not an app's: told which it must be.
        let resp = app.second_step("north", &pending, "12345").await;
        let body = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_code").await;
        assert_eq!(body["field"], "code");

        // The login that just used a recovery code counts as a step-up
        // made with a factor, for five minutes: a person who lost their
        // phone can replace it at once.
        json_ok(owner.post(&app, "/api/v1/auth/recovery-codes", json!({})).await).await;
        // Otherwise new codes need a fresh confirmation made with a factor:
        // the password alone is not enough.
        let resp = original.post(&app, "/api/v1/auth/recovery-codes", json!({})).await;
        expect_error(resp, StatusCode::FORBIDDEN, "step_up_required").await;
        original.step_up(&app).await;
        let resp = original.post(&app, "/api/v1/auth/recovery-codes", json!({})).await;
        expect_error(resp, StatusCode::FORBIDDEN, "second_factor_step_up_required").await;
        json_ok(original.post(&app, "/api/v1/auth/step-up", json!({"code": totp_code(&phone.secret, unix_now())})).await).await;
        let owner = original;
        let renewed = json_ok(owner.post(&app, "/api/v1/auth/recovery-codes", json!({})).await).await;
        let renewed: Vec<String> = renewed["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        assert_eq!(renewed.len(), 10);
        let pending = app.pending_login("north", &owner.email).await;
        let resp = app.second_step("north", &pending, &phone.recovery_codes[1]).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        json_ok(app.second_step("north", &pending, &renewed[0]).await).await;
    }

    async fn a_step_up_takes_a_code_in_place_of_the_password(app) {
        let owner = app.clinic_with_owner("north").await;
        let phone = app.enrol_totp(&owner, "Phone").await;
        let resp = owner.post(&app, "/api/v1/auth/step-up", json!({"code": "000000"})).await;
        expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        let resp = owner.post(&app, "/api/v1/auth/step-up", json!({"code": totp_code(&phone.secret, unix_now()), "password": PASSWORD})).await;
        let body = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(body["field"], "password");
        json_ok(owner.post(&app, "/api/v1/auth/step-up", json!({"code": totp_code(&phone.secret, unix_now())})).await).await;
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert!(me["step_up_valid_until"].is_string(), "{me}");
        // A second app now needs that step-up, and got it.
        let second = json_ok(owner.post(&app, "/api/v1/auth/factors/totp", json!({"name": "Tablet"})).await).await;
        assert!(second["secret"].is_string());
        let steps = audit_of(&app, &owner, "staff.step_up_second_factor").await;
        assert!(steps.iter().any(|e| e["outcome"] == "success"), "{steps:?}");
    }

    async fn adding_or_removing_a_factor_needs_a_fresh_step_up_once_one_exists(app) {
        let owner = app.clinic_with_owner("north").await;
        let phone = app.enrol_totp(&owner, "Phone").await;
        let resp = owner.post(&app, "/api/v1/auth/factors/totp", json!({"name": "Thief's phone"})).await;
        expect_error(resp, StatusCode::FORBIDDEN, "step_up_required").await;
        let resp = owner.send(&app, reqwest::Method::DELETE, "north", &format!("/api/v1/auth/factors/{}", phone.factor_id), None).await;
        expect_error(resp, StatusCode::FORBIDDEN, "step_up_required").await;
        // Renaming is harmless.
        let resp = owner.post(&app, &format!("/api/v1/auth/factors/{}/name", phone.factor_id), json!({"name": "Work phone"})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(json_ok(owner.get(&app, "/api/v1/auth/factors").await).await["factors"][0]["name"], "Work phone");
        owner.step_up(&app).await;
        let resp = owner.send(&app, reqwest::Method::DELETE, "north", &format!("/api/v1/auth/factors/{}", phone.factor_id), None).await;
        expect_error(resp, StatusCode::FORBIDDEN, "second_factor_step_up_required").await;
        json_ok(owner.post(&app, "/api/v1/auth/step-up", json!({"code": totp_code(&phone.secret, unix_now())})).await).await;
        let resp = owner.send(&app, reqwest::Method::DELETE, "north", &format!("/api/v1/auth/factors/{}", phone.factor_id), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // No factor left: the password alone signs in again, and the
        // recovery codes went with the last factor.
        let listed = json_ok(owner.get(&app, "/api/v1/auth/factors").await).await;
        assert_eq!(listed["factors"], json!([]));
        assert_eq!(listed["recovery_codes_left"], 0);
        app.login_bearer("north", &owner.email, PASSWORD).await;
        let removed = audit_of(&app, &owner, "staff.factor_remove").await;
        assert!(removed.iter().any(|e| e["outcome"] == "success"), "{removed:?}");
    }

    async fn a_clinic_that_requires_a_second_factor_leads_its_staff_to_set_one_up(app) {
        // As an operator creates a clinic: the requirement is on unless
        // asked otherwise.
        let resp = app.client.post(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token)
            .json(&json!({"slug": "south", "display_name": "South Clinic"})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let email = "owner@south.example.org";
        let resp = app.client.post(app.url("/api/operator/v1/tenants/south/owners")).bearer_auth(&app.operator_token)
            .json(&json!({"email": email, "display_name": "Owner", "password": FIRST_PASSWORD})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        app.choose_own_password("south", email).await;
        // Logged in with a password, and nothing opens but their own account.
        let owner = app.login_bearer("south", email, PASSWORD).await;
        let resp = owner.get(&app, "/api/v1/patients").await;
        let body = expect_error(resp, StatusCode::FORBIDDEN, "second_factor_setup_required").await;
        assert!(body["message"].as_str().unwrap().contains("authenticator app"), "{body}");
        json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        let phone = app.enrol_totp(&owner, "Phone").await;
        json_ok(owner.get(&app, "/api/v1/patients").await).await;
        let settings = json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await;
        assert_eq!(settings["staff_second_factor_required"], true, "{settings}");
        let denied = audit_of(&app, &owner, "patient.read").await;
        assert!(denied.iter().any(|e| e["reason"] == "second_factor_setup_required" && e["outcome"] == "denied"), "{denied:?}");
        // The last factor stays while the clinic requires one.
        json_ok(owner.post(&app, "/api/v1/auth/step-up", json!({"code": totp_code(&phone.secret, unix_now())})).await).await;
        let resp = owner.send(&app, reqwest::Method::DELETE, "south", &format!("/api/v1/auth/factors/{}", phone.factor_id), None).await;
        expect_error(resp, StatusCode::CONFLICT, "last_factor").await;
        // Turning the requirement off is a setting like any other.
        let resp = owner.patch(&app, "/api/v1/clinic/settings", json!({"staff_second_factor_required": false})).await;
        assert_eq!(json_ok(resp).await["staff_second_factor_required"], false);
    }

    async fn an_owner_resets_a_colleagues_factors_and_the_operator_an_owners(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        app.enrol_totp(&desk, "Phone").await;
        app.pending_login("north", &desk.email).await;
        let reset = format!("/api/v1/staff/{}/reset-second-factors", desk.id);
        let resp = owner.post(&app, &reset, json!({})).await;
        expect_error(resp, StatusCode::FORBIDDEN, "step_up_required").await;
        // A front desk may not reset anyone's.
        let other = app.add_staff(&owner, "other@north.example.org", &["front_desk"]).await;
        other.step_up(&app).await;
        let resp = other.post(&app, &reset, json!({})).await;
        expect_error(resp, StatusCode::FORBIDDEN, "permission_denied").await;
        owner.step_up(&app).await;
        let done = json_ok(owner.post(&app, &reset, json!({})).await).await;
        assert_eq!(done["factors_removed"], 1);
        // Their sessions ended; the password alone signs in again.
        let resp = desk.get(&app, "/api/v1/auth/me").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        app.login_bearer("north", &desk.email, PASSWORD).await;
        let staff = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        let row = staff.as_array().unwrap().iter().find(|s| s["id"] == desk.id.as_str()).unwrap().clone();
        assert_eq!(row["second_factors"], 0, "{row}");
        let resets = audit_of(&app, &owner, "staff.factors_reset").await;
        assert!(resets.iter().any(|e| e["outcome"] == "success" && e["reason"] == "factors_removed=1"), "{resets:?}");
        // Nobody resets their own.
        let resp = owner.post(&app, &format!("/api/v1/staff/{}/reset-second-factors", owner.id), json!({})).await;
        expect_error(resp, StatusCode::CONFLICT, "own_account").await;

        // An owner who lost their phone, with no other owner: the operator's
        // command line resets theirs.
        app.enrol_totp(&owner, "Phone").await;
        app.pending_login("north", &owner.email).await;
        let tenant = app.services.find_tenant("north").await.unwrap();
        let operator = portico_tenants::operators::Operator { name: "ops".into() };
        let caller = operator.caller(tenant, &portico_tenants::audit::ClientInfo::default());
        let email = portico_tenants::domain::EmailAddress::parse(&owner.email).unwrap();
        let removed = app.services.staff_factors_reset_by_operator(&caller, &email).await.unwrap();
        assert_eq!(removed, 1);
        let owner = app.login_bearer("north", &owner.email, PASSWORD).await;
        let resets = audit_of(&app, &owner, "staff.factors_reset_by_operator").await;
        assert!(resets.iter().any(|e| e["outcome"] == "success" && e["actor_kind"] == "operator" && e["actor_id"] == "ops"), "{resets:?}");
    }

    async fn a_pending_login_is_not_a_session_and_opens_only_its_own_kind(app) {
        let owner = app.clinic_with_owner("north").await;
        let phone = app.enrol_totp(&owner, "Phone").await;
        let pending = app.pending_login("north", &owner.email).await;
        let resp = app.client.get(app.tenant_url("north", "/api/v1/auth/me")).bearer_auth(&pending).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        // A bearer login's pending token does not finish a cookie login.
        let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/login/second-step"))
            .json(&json!({"pending_token": pending, "code": totp_code(&phone.secret, unix_now())})).send().await.unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED, "login_expired").await;
        // The cookie login asks for its own second step.
        let resp = app.try_login("north", "/api/v1/auth/login", &owner.email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert!(resp.headers().get("set-cookie").is_none(), "no session before the second step");
        let body: Value = resp.json().await.unwrap();
        let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/login/second-step"))
            .json(&json!({"pending_token": body["pending_token"], "code": totp_code(&phone.secret, unix_now())})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get("set-cookie").is_some());
        // Another clinic knows nothing of it.
        app.clinic_with_owner("south").await;
        let resp = app.client.post(app.tenant_url("south", "/api/v1/auth/tokens/second-step"))
            .json(&json!({"pending_token": pending, "code": totp_code(&phone.secret, unix_now() + 30)})).send().await.unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED, "login_expired").await;
    }

    async fn consecutive_wrong_codes_lock_the_account_until_an_owner_resets_it(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.login_max_failures_per_account = 50;
            c.login_max_failures_per_ip = 50;
            c.second_factor_max_consecutive_failures = 4;
        }).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let phone = app.enrol_totp(&desk, "Phone").await;
        let pending = app.pending_login("north", &desk.email).await;
        for _ in 0..4 {
            let resp = app.second_step("north", &pending, "000000").await;
            expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
        }
        // Locked, for the right code and a recovery code too.
        let resp = app.second_step("north", &pending, &totp_code(&phone.secret, unix_now())).await;
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        let resp = app.second_step("north", &pending, &phone.recovery_codes[0]).await;
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        owner.step_up(&app).await;
        json_ok(owner.post(&app, &format!("/api/v1/staff/{}/reset-second-factors", desk.id), json!({})).await).await;
        app.login_bearer("north", &desk.email, PASSWORD).await;
    }
}

mod passkeys {
    use super::*;
    use portico_tests::soft_passkey::SoftPasskey;

    async fn options(app: &TestApp, path: &str, body: Value) -> Value {
        let resp = app
            .client
            .post(app.tenant_url("north", path))
            .json(&body)
            .send()
            .await
            .unwrap();
        json_ok(resp).await
    }

    async fn sign_in(
        app: &TestApp,
        passkey: &mut SoftPasskey,
        pending: Option<&str>,
    ) -> reqwest::Response {
        let challenge = options(
            app,
            "/api/v1/auth/passkey-login/options",
            json!({"pending_token": pending}),
        )
        .await;
        let answer = passkey.sign(&challenge["options"]);
        app.client.post(app.tenant_url("north", "/api/v1/auth/passkey-login"))
            .json(&json!({"ceremony_id": challenge["ceremony_id"], "credential": answer, "pending_token": pending}))
            .send().await.unwrap()
    }

    both_engines! {
        async fn a_passkey_is_added_then_signs_in_alone_and_confirms_a_step_up(app) {
            let owner = app.clinic_with_owner("north").await;
            let options = json_ok(owner.post(&app, "/api/v1/auth/passkeys/options", json!({})).await).await;
            let public = &options["options"]["publicKey"];
            assert_eq!(public["rp"]["id"], "localhost", "{options}");
            assert_eq!(public["authenticatorSelection"]["residentKey"], "required");
            assert_eq!(public["authenticatorSelection"]["userVerification"], "required");
            let (passkey, answer) = SoftPasskey::register(&options["options"], &app.named_origin());
            let added = json_ok(owner.post(&app, "/api/v1/auth/passkeys", json!({"ceremony_id": options["ceremony_id"], "name": "Laptop", "credential": answer.clone()})).await).await;
            assert_eq!(added["factor"]["kind"], "passkey");
            assert_eq!(added["recovery_codes"].as_array().unwrap().len(), 10);
            // The ceremony is spent.
            let resp = owner.post(&app, "/api/v1/auth/passkeys", json!({"ceremony_id": options["ceremony_id"], "name": "Again", "credential": answer})).await;
            expect_error(resp, StatusCode::GONE, "ceremony_expired").await;
            let mut passkey = passkey;

            // The passkey alone signs in: no email, no password.
            let resp = sign_in(&app, &mut passkey, None).await;
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers().get("set-cookie").is_some());
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["staff"]["email"], owner.email.as_str());
            // With a password first, it is the second step.
            let resp = app.try_login("north", "/api/v1/auth/login", &owner.email, PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::ACCEPTED);
            let pending: Value = resp.json().await.unwrap();
            let resp = sign_in(&app, &mut passkey, pending["pending_token"].as_str()).await;
            assert_eq!(resp.status(), StatusCode::OK);

            // A passkey alone is a step-up.
            let challenge = json_ok(owner.post(&app, "/api/v1/auth/step-up/passkey/options", json!({})).await).await;
            let answer = passkey.sign(&challenge["options"]);
            json_ok(owner.post(&app, "/api/v1/auth/step-up/passkey", json!({"ceremony_id": challenge["ceremony_id"], "credential": answer})).await).await;
            assert!(json_ok(owner.get(&app, "/api/v1/auth/me").await).await["step_up_valid_until"].is_string());

            let audit = audit_of(&app, &owner, "staff.login_passkey").await;
            assert!(audit.iter().any(|e| e["outcome"] == "success" && e["reason"].as_str().unwrap().contains("method=passkey")), "{audit:?}");
            let added = audit_of(&app, &owner, "staff.passkey_add").await;
            assert!(added.iter().any(|e| e["outcome"] == "success"), "{added:?}");
        }

        async fn a_passkey_answer_for_another_site_or_another_challenge_is_refused(app) {
            let owner = app.clinic_with_owner("north").await;
            let mut passkey = app.enrol_passkey(&owner, "Laptop").await;
            // A phishing site relaying the challenge: the browser signs its
            // own origin, and the answer is refused and counted.
            let challenge = options(&app, "/api/v1/auth/passkey-login/options", json!({})).await;
            let relayed = passkey.at_origin("https://north-clinic.example.net").sign(&challenge["options"]);
            let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/passkey-login"))
                .json(&json!({"ceremony_id": challenge["ceremony_id"], "credential": relayed})).send().await.unwrap();
            expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
            passkey.at_origin(&app.named_origin());
            // An answer to one challenge does not answer another.
            let first = options(&app, "/api/v1/auth/passkey-login/options", json!({})).await;
            let second = options(&app, "/api/v1/auth/passkey-login/options", json!({})).await;
            let answer = passkey.sign(&first["options"]);
            let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/passkey-login"))
                .json(&json!({"ceremony_id": second["ceremony_id"], "credential": answer})).send().await.unwrap();
            expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
            // Not a credential at all: told what it must be.
            let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/passkey-login"))
                .json(&json!({"ceremony_id": first["ceremony_id"], "credential": {"id": 1}})).send().await.unwrap();
            let body = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_credential").await;
            assert_eq!(body["field"], "credential");
            // Another clinic's server knows no such passkey.
            let refused = audit_of(&app, &owner, "staff.login_passkey").await;
            assert!(refused.iter().any(|e| e["reason"] == "wrong_passkey" && e["ip"].is_string()), "{refused:?}");
            // After all that, the real answer still signs in.
            let resp = sign_in(&app, &mut passkey, None).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }

        async fn naming_a_colleague_with_a_forged_passkey_does_not_lock_them_out(app) {
            let owner = app.clinic_with_owner("north").await;
            let mut theirs = app.enrol_passkey(&owner, "Laptop").await;
            let forger = app.add_staff(&owner, "forger@north.example.org", &["front_desk"]).await;
            let mut forged = app.enrol_passkey(&forger, "Laptop").await;
            forged.claiming(&owner.id);
            // More misses than an account's limit (5), each refused, none
            // counted against the owner's account.
            for _ in 0..7 {
                let resp = sign_in(&app, &mut forged, None).await;
                expect_error(resp, StatusCode::UNAUTHORIZED, "wrong_code").await;
            }
            let resp = sign_in(&app, &mut theirs, None).await;
            assert_eq!(resp.status(), StatusCode::OK, "the owner is not locked out");
        }
    }
}
