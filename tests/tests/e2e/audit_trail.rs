//! The audit trail: what is recorded, who may read it, filters and pages,
//! and that nothing can rewrite it.

use portico_tests::{Engine, PASSWORD, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

both_engines! {
    async fn every_act_is_recorded_with_actor_target_client_and_outcome(app) {
        let owner = app.clinic_with_owner("north").await;
        let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/tokens"))
            .header("user-agent", "audit-test/1.0")
            .json(&json!({"email": owner.email, "password": "wrong password"}))
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;

        let page = json_ok(owner.get(&app, "/api/v1/audit").await).await;
        let events = page["events"].as_array().unwrap();
        let actions: Vec<_> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
        // Newest first.
        // The owner and the desk each chose their own password after the
        // first login.
        assert_eq!(actions, ["staff.password_change", "staff.login", "staff.create", "staff.login", "staff.password_change", "staff.login", "staff.create", "tenant.create"]);
        let failure = events.iter().find(|e| e["outcome"] == "failure").unwrap();
        assert_eq!(failure["ip"], "127.0.0.1");
        assert_eq!(failure["user_agent"], "audit-test/1.0");
        assert_eq!(failure["reason"], "wrong_password");
        assert_eq!(failure["target"], format!("staff:{}", owner.id));
        let created = events.iter().find(|e| e["action"] == "staff.create" && e["actor_kind"] == "staff").unwrap();
        assert_eq!(created["actor_id"], owner.id.as_str());
        assert_eq!(created["target"], format!("staff:{}", desk.id));
        let tenant_created = events.last().unwrap();
        assert_eq!(tenant_created["actor_kind"], "operator");
        assert_eq!(tenant_created["actor_id"], "test-operator");
    }

    async fn the_trail_is_filtered_and_paged(app) {
        let owner = app.clinic_with_owner("north").await;
        for _ in 0..3 {
            app.try_login("north", "/api/v1/auth/tokens", &owner.email, "wrong password").await;
        }
        let failures = json_ok(owner.get(&app, "/api/v1/audit?action=staff.login&outcome=failure").await).await;
        assert_eq!(failures["events"].as_array().unwrap().len(), 3);

        let mut seen = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let path = match &before {
                Some(b) => format!("/api/v1/audit?limit=2&before={b}"),
                None => "/api/v1/audit?limit=2".into(),
            };
            let page = json_ok(owner.get(&app, &path).await).await;
            let events = page["events"].as_array().unwrap();
            assert!(events.len() <= 2);
            seen.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
            match page["next_before"].as_str() {
                Some(next) => before = Some(next.to_owned()),
                None => break,
            }
        }
        let all = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await;
        let all: Vec<_> = all["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(seen, all, "paging visits every event once, in order");

        let future = json_ok(owner.get(&app, "/api/v1/audit?since=2999-01-01T00:00:00Z").await).await;
        assert!(future["events"].as_array().unwrap().is_empty());
        let by_actor = json_ok(owner.get(&app, &format!("/api/v1/audit?actor={}", owner.id)).await).await;
        assert!(by_actor["events"].as_array().unwrap().iter().all(|e| e["actor_id"] == owner.id.as_str()));

        expect_error(owner.get(&app, "/api/v1/audit?since=yesterday").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        expect_error(owner.get(&app, "/api/v1/audit?outcome=maybe").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        expect_error(owner.get(&app, "/api/v1/audit?limit=0").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        expect_error(owner.get(&app, "/api/v1/audit?limit=100000").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }

    async fn the_trail_cannot_be_rewritten(app) {
        let _owner = app.clinic_with_owner("north").await;
        let update = "UPDATE audit_events SET outcome = 'success'";
        let delete = "DELETE FROM audit_events";
        match app.engine {
            Engine::Sqlite => {
                let url = format!("sqlite://{}", app.data_dir().join("portico.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let err = sqlx::query(update).execute(&mut conn).await.unwrap_err();
                assert!(err.to_string().contains("append-only"), "{err}");
                let err = sqlx::query(delete).execute(&mut conn).await.unwrap_err();
                assert!(err.to_string().contains("append-only"), "{err}");
            }
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(app.database_url.as_deref().unwrap()).await.unwrap();
                // Even the owner of the table is refused, by the trigger.
                let err = sqlx::query(update).execute(&mut conn).await.unwrap_err();
                assert!(err.to_string().contains("append-only"), "{err}");
                // The application's role has no privilege to try.
                sqlx::query("SET ROLE portico_app").execute(&mut conn).await.unwrap();
                let err = sqlx::query(delete).execute(&mut conn).await.unwrap_err();
                assert!(err.to_string().contains("permission denied"), "{err}");
            }
        }
    }
}

#[tokio::test]
async fn only_roles_allowed_to_read_the_trail_can() {
    let app = portico_tests::TestApp::spawn(Engine::Sqlite).await.unwrap();
    let owner = app.clinic_with_owner("north").await;
    let desk = app
        .add_staff(&owner, "desk@north.example.org", &["front_desk"])
        .await;
    let auditor = app
        .add_staff(&owner, "audit@north.example.org", &["auditor"])
        .await;
    expect_error(
        desk.get(&app, "/api/v1/audit").await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    json_ok(auditor.get(&app, "/api/v1/audit").await).await;
    let _ = PASSWORD;
}
