//! Bad input gets a specific 4xx and changes nothing.

use portico_tests::{PASSWORD, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::json;

both_engines! {
    async fn each_kind_of_bad_body_gets_its_own_answer_and_changes_nothing(app) {
        let owner = app.clinic_with_owner("north").await;
        let url = app.tenant_url("north", "/api/v1/staff");
        let raw = |body: &'static str, content_type: &'static str| {
            app.client.post(&url).bearer_auth(&owner.token).header("content-type", content_type).body(body).send()
        };
        expect_error(raw("{\"email\": ", "application/json").await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
        expect_error(raw("", "application/json").await.unwrap(), StatusCode::BAD_REQUEST, "missing_body").await;
        expect_error(raw("email=a", "application/x-www-form-urlencoded").await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

        let post = |body: serde_json::Value| owner.post(&app, "/api/v1/staff", body);
        expect_error(post(json!({"email": 42, "display_name": "X", "password": PASSWORD, "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": "admin"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": [], "is_superuser": true})).await, StatusCode::UNPROCESSABLE_ENTITY, "unknown_field").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X".repeat(121), "password": PASSWORD, "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        expect_error(post(json!({"email": format!("{}@north.example.org", "x".repeat(300)), "display_name": "X", "password": PASSWORD, "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        for bad in ["not-an-email", "x@", "x@localhost", "two@@north.example.org"] {
            let body = expect_error(post(json!({"email": bad, "display_name": "X", "password": PASSWORD, "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
            assert_eq!(body["field"], "email");
        }
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "   ", "password": PASSWORD, "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X", "password": "short", "roles": []})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        expect_error(post(json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": ["Super Admin"]})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_role").await;

        let staff = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        assert_eq!(staff.as_array().unwrap().len(), 1, "no refused request created anyone");
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=staff.create").await).await;
        assert_eq!(audit["events"].as_array().unwrap().len(), 1, "only the owner's own creation is recorded");
    }

    async fn an_oversized_body_is_refused(app) {
        // A small limit keeps the whole body within the loopback socket's
        // buffers, so the client finishes sending before it reads the 413.
        let engine = app.engine;
        drop(app);
        let Some(app) = portico_tests::TestApp::spawn_with(engine, |c| c.max_body_bytes = 16 * 1024).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let big = "x".repeat(20 * 1024);
        let resp = app.client.post(app.tenant_url("north", "/api/v1/staff")).bearer_auth(&owner.token)
            .header("content-type", "application/json")
            .body(format!("{{\"email\": \"{big}\"}}"))
            .send().await.unwrap();
        expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        let staff = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        assert_eq!(staff.as_array().unwrap().len(), 1);
    }

    async fn a_login_with_bad_input_is_refused_before_any_work(app) {
        app.clinic_with_owner("north").await;
        let login = |body: serde_json::Value| app.client.post(app.tenant_url("north", "/api/v1/auth/login")).json(&body).send();
        expect_error(login(json!({"email": "owner@north.example.org"})).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        expect_error(login(json!({"email": "owner@north.example.org", "password": "x".repeat(257)})).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        expect_error(login(json!({"email": "nobody", "password": "x"})).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
    }
}
