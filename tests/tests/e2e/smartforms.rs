//! SmartForms: assigned by staff, delivered by code only when the patient's
//! account is unknown, and unlocking one form and nothing else.

use portico_tests::{
    Patient, add_enabled_patient, add_patient, both_engines, expect_error, json_ok,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "a patient's passphrase";

async fn intake_form(app: &portico_tests::TestApp, by: &portico_tests::Staff) -> Value {
    json_ok(
        by.post(
            app,
            "/api/v1/forms",
            json!({
                "title": "New patient intake",
                "questions": [
                    {"label": "Do you have any allergies?", "kind": "yes_no", "required": true},
                    {"label": "Which medicines do you take?", "kind": "long_text"},
                    {"label": "Date of your last check-up", "kind": "date"}
                ]
            }),
        )
        .await,
    )
    .await
}

both_engines! {
    async fn a_smartform_code_unlocks_one_form_and_nothing_else(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let form = intake_form(&app, &desk).await;
        assert_eq!(form["questions"][0]["id"], "q1");
        let forms = json_ok(desk.get(&app, "/api/v1/forms").await).await;
        assert_eq!(forms.as_array().unwrap().len(), 1);
        // The patient has no portal account: a code is issued and mailed
        // automatically, with no staff step.
        let patient = add_patient(&app, &desk, "Paula Form", "paula@example.org").await;
        let assigned = json_ok(desk.post(&app, &format!("/api/v1/patients/{patient}/forms"), json!({"form_id": form["id"]})).await).await;
        assert_eq!(assigned["delivered_by"], "code_emailed");
        assert!(assigned.get("code").is_none(), "a mailed code is not shown to staff");
        let mails = app.outbox("smartform_invitation", "paula@example.org").await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0]["form_title"], "New patient intake");
        let code = mails[0]["code"].as_str().unwrap().to_owned();

        // Redeeming it (with a new account) links only that form.
        let resp = app.redeem_new("north", &code, "paula@example.org", PW).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let p = Patient::from_response("north", resp).await;
        assert!(p.body.get("record").is_none(), "{}", p.body);
        assert_eq!(p.body["form"]["title"], "New patient intake");
        let assignment = p.body["form"]["assignment_id"].as_str().unwrap().to_owned();
        // It grants nothing else: no record, no record data.
        assert!(p.records(&app).await.is_empty());
        expect_error(p.get(&app, &format!("/api/v1/portal/records/{patient}")).await, StatusCode::NOT_FOUND, "not_found").await;
        let me = json_ok(p.get(&app, "/api/v1/portal/me").await).await;
        assert!(!me.to_string().contains("Paula Form"), "the account sees nothing of the record: {me}");
        let codes = json_ok(desk.get(&app, &format!("/api/v1/patients/{patient}/grants")).await).await;
        assert!(codes.as_array().unwrap().is_empty(), "no grant was made");

        // The patient fills it in, saves, and submits.
        let listed = json_ok(p.get(&app, "/api/v1/portal/forms").await).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let saved = json_ok(p.put_json(&app, &format!("/api/v1/portal/forms/{assignment}"), json!({"answers": {"q2": "None"}})).await).await;
        assert_eq!(saved["status"], "in_progress");
        let body = expect_error(p.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"), json!({"answers": {"q2": "None"}})).await, StatusCode::UNPROCESSABLE_ENTITY, "answers_missing").await;
        assert!(body["message"].as_str().unwrap().contains("q1"));
        expect_error(p.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"), json!({"answers": {"q1": "perhaps"}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_answers").await;
        expect_error(p.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"), json!({"answers": {"q9": "yes"}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_answers").await;
        let submitted = json_ok(p.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"), json!({"answers": {"q1": "yes", "q2": "Ibuprofen", "q3": "2026-01-15"}})).await).await;
        assert_eq!(submitted["status"], "submitted");
        expect_error(p.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"), json!({"answers": {"q1": "no"}})).await, StatusCode::CONFLICT, "form_already_submitted").await;

        // Staff see the submission.
        let seen = json_ok(desk.get(&app, &format!("/api/v1/patients/{patient}/forms")).await).await;
        assert_eq!(seen[0]["status"], "submitted");
        assert_eq!(seen[0]["answers"]["q2"], "Ibuprofen");
        // The audit trail has the automatic issue and the redemption.
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{patient}")).await).await;
        let actions: Vec<_> = audit["events"].as_array().unwrap().iter().rev().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
        // The attempt to open the record is there too, refused.
        assert_eq!(actions, ["patient.create", "code.issue", "form.assign", "code.redeem", "portal.record.view", "form.submit"]);
        let view = audit["events"].as_array().unwrap().iter().find(|e| e["action"] == "portal.record.view").unwrap();
        assert_eq!(view["outcome"], "failure");
    }

    async fn a_known_account_gets_the_form_with_no_code(app) {
        let owner = app.clinic_with_owner("north").await;
        let form = intake_form(&app, &owner).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let p = Patient::from_response("north", app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", PW).await).await;
        let assigned = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/forms"), json!({"form_id": form["id"]})).await).await;
        assert_eq!(assigned["delivered_by"], "account");
        assert!(app.outbox("smartform_invitation", "mia@example.org").await.is_empty(), "no code was sent");
        let listed = json_ok(p.get(&app, "/api/v1/portal/forms").await).await;
        assert_eq!(listed[0]["form"]["title"], "New patient intake");
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/access-codes")).await).await;
        assert_eq!(codes.as_array().unwrap().len(), 1, "only the medical records code");
    }

    async fn without_an_email_the_code_is_handed_over(app) {
        let owner = app.clinic_with_owner("north").await;
        let form = intake_form(&app, &owner).await;
        let patient = json_ok(owner.post(&app, "/api/v1/patients", json!({"full_name": "No Mail", "date_of_birth": "1960-06-06"})).await).await["id"].as_str().unwrap().to_owned();
        let assigned = json_ok(owner.post(&app, &format!("/api/v1/patients/{patient}/forms"), json!({"form_id": form["id"]})).await).await;
        assert_eq!(assigned["delivered_by"], "code_to_hand_over");
        assert_eq!(assigned["code"].as_str().unwrap().split('-').count(), 4);
        expect_error(owner.post(&app, &format!("/api/v1/patients/{patient}/forms"), json!({"form_id": uuid::Uuid::now_v7().to_string()})).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn forms_are_checked_when_defined(app) {
        let owner = app.clinic_with_owner("north").await;
        expect_error(owner.post(&app, "/api/v1/forms", json!({"title": "Empty", "questions": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_questions").await;
        expect_error(owner.post(&app, "/api/v1/forms", json!({"title": "Odd", "questions": [{"label": "Q", "kind": "essay"}]})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_questions").await;
        let auditor = app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        expect_error(auditor.post(&app, "/api/v1/forms", json!({"title": "T", "questions": [{"label": "Q", "kind": "text"}]})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        assert!(json_ok(owner.get(&app, "/api/v1/forms").await).await.as_array().unwrap().is_empty());
    }
}
