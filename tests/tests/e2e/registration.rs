//! Registering online without a code: nothing exists until the mailed link
//! proves the address; a known address is answered like any other and its
//! owner is told; budgets per client address, per clinic and per recipient;
//! and a clinic can turn it off.

use portico_tests::{TestApp, add_enabled_patient, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "my own portal passphrase";

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", "/api/v1/portal/register"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", "/api/v1/portal/verify-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

async fn accepted(resp: reqwest::Response) {
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// The token of the newest verification mail to `to`.
async fn verification_token(app: &TestApp, to: &str) -> String {
    let mails = app.outbox("email_verification", to).await;
    mails.last().expect("a verification mail")["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pending_registrations(app: &TestApp) -> i64 {
    let mut conn = app.raw_connection().await;
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pending_registrations")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

both_engines! {
    async fn nothing_exists_until_the_mailed_link_is_followed(app) {
        let owner = app.clinic_with_owner("north").await;
        accepted(register(&app, json!({"email": "newbie@example.org", "password": PASSWORD,
            "new_patient": {"full_name": "Nina Newbie", "date_of_birth": "1999-09-09", "home_zip": "10001"}})).await).await;
        // No account to log in to, no record in the clinic's list.
        expect_error(app.try_patient_login("north", "newbie@example.org", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let listed = json_ok(owner.get(&app, "/api/v1/patients?search=Newbie").await).await;
        assert!(!listed.to_string().contains("Nina"), "an unproven registration is no patient: {listed}");
        assert_eq!(pending_registrations(&app).await, 1);

        // Registering again replaces the first: its link stops working.
        accepted(register(&app, json!({"email": "newbie@example.org", "password": PASSWORD,
            "new_patient": {"full_name": "Nina Newbie", "date_of_birth": "1999-09-09", "home_zip": "10001"}})).await).await;
        let mails = app.outbox("email_verification", "newbie@example.org").await;
        assert_eq!(mails.len(), 2);
        let first = mails[0]["token"].as_str().unwrap().to_owned();
        expect_error(verify(&app, &first).await, StatusCode::GONE, "link_invalid").await;
        assert_eq!(pending_registrations(&app).await, 1);

        let second = mails[1]["token"].as_str().unwrap().to_owned();
        let verified = json_ok(verify(&app, &second).await).await;
        assert_eq!(verified["email_verified"], true);
        assert_eq!(pending_registrations(&app).await, 0);
        let patient = app.patient_login("north", "newbie@example.org", PASSWORD).await;
        assert_eq!(patient.records(&app).await, ["Nina Newbie"]);
        let listed = json_ok(owner.get(&app, "/api/v1/patients?search=Newbie").await).await;
        assert!(listed.to_string().contains("Nina Newbie"), "{listed}");
        assert!(listed.to_string().contains("\"enabled\""), "open without staff action: {listed}");
        // The link is spent.
        expect_error(verify(&app, &second).await, StatusCode::GONE, "link_invalid").await;
    }

    async fn an_account_made_without_a_form_waits_for_a_code(app) {
        let owner = app.clinic_with_owner("north").await;
        accepted(register(&app, json!({"email": "booker@example.org", "password": PASSWORD})).await).await;
        json_ok(verify(&app, &verification_token(&app, "booker@example.org").await).await).await;
        let patient = app.patient_login("north", "booker@example.org", PASSWORD).await;
        assert!(patient.records(&app).await.is_empty(), "no record without a code");
        let rec = add_enabled_patient(&app, &owner, "Booker Bee", "booker@example.org").await;
        json_ok(patient.post(&app, "/api/v1/portal/redeem", json!({"code": app.issue_code(&owner, &rec).await})).await).await;
        assert_eq!(patient.records(&app).await, ["Booker Bee"]);
    }

    async fn a_known_address_is_answered_alike_and_its_owner_is_told(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PASSWORD).await;

        let known = register(&app, json!({"email": "MIA@example.org", "password": "a stranger's passphrase"})).await;
        let unknown = register(&app, json!({"email": "nobody@example.org", "password": "a stranger's passphrase"})).await;
        assert_eq!(known.status(), unknown.status());
        assert_eq!(known.status(), StatusCode::ACCEPTED);
        assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
        // Spelled as the username it is, too.
        accepted(register(&app, json!({"email": "mia@example.org", "username": "mia@example.org", "password": "a stranger's passphrase"})).await).await;

        let told = app.outbox("registration_attempt", "MIA@example.org").await;
        assert_eq!(told.len(), 1, "the owner hears of it");
        assert!(app.outbox("email_verification", "MIA@example.org").await.is_empty(), "no way in for the stranger");
        assert_eq!(app.outbox("registration_attempt", "mia@example.org").await.len(), 1);
        assert_eq!(app.outbox("email_verification", "nobody@example.org").await.len(), 1);
        // The account is untouched: its own password still logs in.
        app.patient_login("north", "mia@example.org", PASSWORD).await;

        // A login name shaped like someone else's address is refused before
        // anything is looked up; a plain name in use is just taken.
        let body = expect_error(register(&app, json!({"email": "new@example.org", "username": "mia@example.org", "password": PASSWORD})).await,
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_username").await;
        assert_eq!(body["field"], "username");
        accepted(register(&app, json!({"email": "new@example.org", "username": "newbie", "password": PASSWORD})).await).await;
        json_ok(verify(&app, &verification_token(&app, "new@example.org").await).await).await;
        expect_error(register(&app, json!({"email": "other@example.org", "username": "NEWBIE", "password": PASSWORD})).await,
            StatusCode::CONFLICT, "username_taken").await;
    }

    async fn a_clinic_can_turn_online_registration_off(app) {
        let owner = app.clinic_with_owner("north").await;
        let settings = json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await;
        assert_eq!(settings["self_registration"], true, "on unless the clinic turns it off");
        let off = json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"self_registration": false})).await).await;
        assert_eq!(off["self_registration"], false);
        let body = expect_error(register(&app, json!({"email": "late@example.org", "password": PASSWORD})).await,
            StatusCode::FORBIDDEN, "registration_closed").await;
        assert!(body["message"].as_str().unwrap().contains("access code"), "{body}");
        assert!(app.outbox("email_verification", "late@example.org").await.is_empty());
        // A code still works.
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let resp = app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let trail = json_ok(owner.get(&app, "/api/v1/audit?action=portal.register").await).await;
        assert!(trail.to_string().contains("registration_closed"), "{trail}");
    }

    async fn registrations_are_budgeted_per_address_per_clinic_and_per_recipient(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.registration_max_per_address = 3;
            c.registration_max_per_clinic = 5;
            c.registration_mails_per_recipient = 2;
        }).await else { return };
        let owner = app.clinic_with_owner("north").await;
        // One recipient: two mails, then answered alike with none sent.
        for _ in 0..3 {
            accepted(register(&app, json!({"email": "target@example.org", "password": PASSWORD})).await).await;
        }
        assert_eq!(app.outbox("email_verification", "target@example.org").await.len(), 2);
        // The address's budget is spent.
        let refused = register(&app, json!({"email": "fourth@example.org", "password": PASSWORD})).await;
        assert!(refused.headers().contains_key("retry-after"));
        expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        assert!(app.outbox("email_verification", "fourth@example.org").await.is_empty());
        let trail = json_ok(owner.get(&app, "/api/v1/audit?action=portal.register").await).await;
        let text = trail.to_string();
        assert!(text.contains("registration_budget_spent") && text.contains("127.0.0.1"), "{trail}");
        assert!(text.contains("mail_withheld"), "{trail}");

        // Behind a proxy, other addresses have budgets of their own, until
        // the clinic's is spent.
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.trust_proxy = true;
            c.registration_max_per_address = 3;
            c.registration_max_per_clinic = 5;
        }).await else { return };
        app.clinic_with_owner("north").await;
        for i in 0..5 {
            let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"email": format!("p{i}@example.org"), "password": PASSWORD}))
                .send().await.unwrap();
            accepted(resp).await;
        }
        let resp = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .header("x-forwarded-for", "198.51.100.77")
            .json(&json!({"email": "p77@example.org", "password": PASSWORD}))
            .send().await.unwrap();
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }

    async fn unproven_registrations_expire_and_are_swept(app) {
        app.clinic_with_owner("north").await;
        accepted(register(&app, json!({"email": "slow@example.org", "password": PASSWORD})).await).await;
        let token = verification_token(&app, "slow@example.org").await;
        // Three days pass.
        let mut conn = app.raw_connection().await;
        sqlx::query("UPDATE pending_registrations SET expires_at = expires_at - 3 * 24 * 3600 * 1000")
            .execute(&mut conn).await.unwrap();
        expect_error(verify(&app, &token).await, StatusCode::GONE, "link_invalid").await;
        accepted(register(&app, json!({"email": "fresh@example.org", "password": PASSWORD})).await).await;
        accepted(register(&app, json!({"email": "slow2@example.org", "password": PASSWORD})).await).await;
        sqlx::query("UPDATE pending_registrations SET expires_at = 0 WHERE email = 'slow2@example.org'")
            .execute(&mut conn).await.unwrap();
        accepted(register(&app, json!({"email": "fresh2@example.org", "password": PASSWORD})).await).await;
        assert_eq!(pending_registrations(&app).await, 2, "expired ones are gone as new ones arrive");
    }
}
