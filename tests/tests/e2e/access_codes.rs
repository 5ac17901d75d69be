//! Medical Records Access Codes: issued by a deliberate staff act, four
//! words, stored only as a keyed hash, single use, expiring, revocable.

use portico_tests::{
    TestApp, add_enabled_patient, add_patient, both_engines, expect_error, json_ok,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn issue(
    app: &TestApp,
    by: &portico_tests::Staff,
    patient: &str,
    body: Value,
) -> reqwest::Response {
    by.step_up(app).await;
    by.post(
        app,
        &format!("/api/v1/patients/{patient}/access-codes"),
        body,
    )
    .await
}

both_engines! {
    async fn staff_issue_a_four_word_code_with_its_access_link(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let patient = add_enabled_patient(&app, &desk, "Mia Wong", "mia@example.org").await;
        let resp = issue(&app, &desk, &patient, json!({})).await;
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let issued = json_ok(resp).await;
        let code = issued["code"].as_str().unwrap();
        let words: Vec<_> = code.split('-').collect();
        assert_eq!(words.len(), 4, "{code}");
        assert!(words.iter().all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        let link = issued["access_link"].as_str().unwrap();
        assert_eq!(link, format!("{}/t/north/portal/register#code={code}", app.address));
        let record = &issued["access_code"];
        assert_eq!(record["status"], "active");
        assert_eq!(record["delivery"], "email", "the clinic's default");
        assert_eq!(record["issued_by"], format!("staff:{}", desk.id));
        let issued_at = time::OffsetDateTime::parse(record["issued_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let expires_at = time::OffsetDateTime::parse(record["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!((expires_at - issued_at).whole_hours(), 120, "five days");

        // The database holds only the code's keyed hash.
        let canonical: String = code.chars().filter(char::is_ascii_alphabetic).collect();
        let tenant = app.services.find_tenant("north").await.unwrap();
        let expected = app.services.code_key.hash(tenant.id, &canonical);
        let mut conn = app.raw_connection().await;
        let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM access_codes").fetch_all(&mut conn).await.unwrap();
        assert_eq!(stored, [expected]);
        let listed = json_ok(desk.get(&app, &format!("/api/v1/patients/{patient}/access-codes")).await).await;
        assert!(!listed.to_string().contains(code));
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=code.issue").await).await;
        assert_eq!(audit["events"].as_array().unwrap().len(), 1);
        assert!(!audit.to_string().contains(code), "the audit trail never holds the code");
    }

    async fn a_clinic_may_shorten_the_lifetime_and_print_instead(app) {
        let owner = app.clinic_with_owner("north").await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"code_lifetime_hours": 24, "default_delivery": "print"})).await).await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let issued = json_ok(issue(&app, &owner, &patient, json!({})).await).await;
        assert_eq!(issued["access_code"]["delivery"], "print");
        let t = |k: &str| time::OffsetDateTime::parse(issued["access_code"][k].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!((t("expires_at") - t("issued_at")).whole_hours(), 24);
    }

    async fn a_new_code_cancels_the_previous_one_and_codes_can_be_revoked(app) {
        let owner = app.clinic_with_owner("north").await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let first = json_ok(issue(&app, &owner, &patient, json!({"delivery": "print"})).await).await;
        let second = json_ok(issue(&app, &owner, &patient, json!({"delivery": "email"})).await).await;
        assert_ne!(first["code"], second["code"]);
        let listed = json_ok(owner.get(&app, &format!("/api/v1/patients/{patient}/access-codes")).await).await;
        let statuses: Vec<_> = listed.as_array().unwrap().iter().map(|c| (c["status"].as_str().unwrap().to_owned(), c["revoke_reason"].as_str().map(str::to_owned))).collect();
        assert_eq!(statuses, [("active".to_owned(), None), ("revoked".to_owned(), Some("superseded".to_owned()))]);

        let id = second["access_code"]["id"].as_str().unwrap();
        let revoked = json_ok(owner.post(&app, &format!("/api/v1/access-codes/{id}/revoke"), json!({})).await).await;
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(revoked["revoked_by"], format!("staff:{}", owner.id));
        expect_error(owner.post(&app, &format!("/api/v1/access-codes/{id}/revoke"), json!({})).await, StatusCode::CONFLICT, "code_already_revoked").await;
        expect_error(owner.post(&app, "/api/v1/access-codes/not-an-id/revoke", json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn sending_an_access_link_needs_a_fresh_password_and_queues_the_mail(app) {
        let owner = app.clinic_with_owner("north").await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let path = format!("/api/v1/patients/{patient}/access-codes");
        expect_error(owner.post(&app, &path, json!({"delivery": "email"})).await, StatusCode::FORBIDDEN, "step_up_required").await;
        assert!(json_ok(owner.get(&app, &path).await).await.as_array().unwrap().is_empty(), "nothing issued");
        assert!(app.outbox("access_link", "mia@example.org").await.is_empty(), "nothing queued");
        // A printed code opens the record as well as a mailed one: it needs
        // the same confirmation.
        expect_error(owner.post(&app, &path, json!({"delivery": "print"})).await, StatusCode::FORBIDDEN, "step_up_required").await;

        owner.step_up(&app).await;
        json_ok(owner.post(&app, &path, json!({"delivery": "print"})).await).await;
        assert!(app.outbox("access_link", "mia@example.org").await.is_empty(), "a printed code sends no mail");
        let issued = json_ok(owner.post(&app, &path, json!({"delivery": "email"})).await).await;
        assert!(issued["mail_id"].is_string());
        let queued = app.outbox("access_link", "mia@example.org").await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0]["code"], issued["code"]);
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?action=code.issue&target=patient:{patient}")).await).await;
        let outcomes: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap().to_owned()).collect();
        assert_eq!(outcomes, ["success", "success", "denied", "denied"]);
    }

    async fn a_printed_handout_carries_the_words_and_is_audited(app) {
        let owner = app.clinic_with_owner("north").await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        owner.step_up(&app).await;
        let resp = owner.post(&app, &format!("/api/v1/patients/{patient}/access-codes/handout"), json!({})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let html = resp.text().await.unwrap();
        let words = html.split("<p class=\"handout-code\">").nth(1).unwrap().split('<').next().unwrap().trim().to_owned();
        assert_eq!(words.split(' ').count(), 4, "{words}");
        assert!(html.contains(&format!("{}/t/north/portal/register", app.address)));
        assert!(html.contains("Mia Wong") && html.contains("Clinic north"));
        assert!(html.contains(" UTC"), "the expiry is shown");
        // A Print button, wired by the console's own script.
        assert!(html.contains("id=\"print\"") && html.contains("src=\"/t/north/console/print.js\""), "{html}");
        let script = app.client.get(app.tenant_url("north", "/console/print.js")).send().await.unwrap();
        assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
        assert!(script.text().await.unwrap().contains("window.print()"));
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{patient}/access-codes")).await).await;
        assert_eq!(codes[0]["delivery"], "print");
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{patient}")).await).await;
        let actions: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        assert_eq!(actions[..2], ["code.print", "code.issue"]);
        // The words on paper redeem.
        let resp = app.redeem_new("north", &words, "mia@example.org", "mia's own passphrase").await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

    async fn codes_need_enabled_access_and_an_email_for_email_delivery(app) {
        let owner = app.clinic_with_owner("north").await;
        let disabled = add_patient(&app, &owner, "Off Line", "off@example.org").await;
        expect_error(issue(&app, &owner, &disabled, json!({})).await, StatusCode::CONFLICT, "portal_access_disabled").await;
        expect_error(issue(&app, &owner, &disabled, json!({"delivery": "pigeon"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_delivery").await;
        let auditor = app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        let enabled = add_enabled_patient(&app, &owner, "On Line", "on@example.org").await;
        expect_error(issue(&app, &auditor, &enabled, json!({})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        json_ok(auditor.get(&app, &format!("/api/v1/patients/{enabled}/access-codes")).await).await;
        expect_error(issue(&app, &owner, &uuid::Uuid::now_v7().to_string(), json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
        let listed = json_ok(owner.get(&app, &format!("/api/v1/patients/{disabled}/access-codes")).await).await;
        assert!(listed.as_array().unwrap().is_empty(), "refused requests issued nothing");
    }

    async fn disabling_portal_access_cancels_unused_codes(app) {
        let owner = app.clinic_with_owner("north").await;
        let patient = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        json_ok(issue(&app, &owner, &patient, json!({})).await).await;
        json_ok(owner.put(&app, &format!("/api/v1/patients/{patient}/portal-access"), json!({"enabled": false})).await).await;
        let listed = json_ok(owner.get(&app, &format!("/api/v1/patients/{patient}/access-codes")).await).await;
        assert_eq!(listed[0]["status"], "revoked");
        assert_eq!(listed[0]["revoke_reason"], "portal_access_disabled");
    }

    async fn the_follow_up_list_shows_unredeemed_codes_soonest_to_expire_first(app) {
        let owner = app.clinic_with_owner("north").await;
        let long_lived = add_enabled_patient(&app, &owner, "Later Larry", "larry@example.org").await;
        json_ok(issue(&app, &owner, &long_lived, json!({})).await).await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"code_lifetime_hours": 12})).await).await;
        let soon = add_enabled_patient(&app, &owner, "Soon Sally", "sally@example.org").await;
        json_ok(issue(&app, &owner, &soon, json!({})).await).await;
        let revoked = add_enabled_patient(&app, &owner, "Gone Gary", "gary@example.org").await;
        let r = json_ok(issue(&app, &owner, &revoked, json!({})).await).await;
        json_ok(owner.post(&app, &format!("/api/v1/access-codes/{}/revoke", r["access_code"]["id"].as_str().unwrap()), json!({})).await).await;

        let pending = json_ok(owner.get(&app, "/api/v1/access-codes/pending").await).await;
        let rows: Vec<_> = pending.as_array().unwrap().iter().map(|p| (p["patient_name"].as_str().unwrap().to_owned(), p["expires_soon"].as_bool().unwrap())).collect();
        assert_eq!(rows, [("Soon Sally".to_owned(), true), ("Later Larry".to_owned(), false)]);
    }
}
