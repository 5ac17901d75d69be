//! Nothing crosses from one clinic to another: a staff member of clinic A
//! tries every staff endpoint against clinic B and B's resources, and B is
//! left exactly as it was, with nothing of it revealed. On PostgreSQL,
//! row-level security holds even for a query that forgets its tenant.

use portico_tests::{Engine, Staff, TestApp, both_engines, json_ok};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

/// Everything an owner of B can see of B.
async fn snapshot(app: &TestApp, b_owner: &Staff) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/staff",
        "/api/v1/roles/assignments",
        "/api/v1/roles/policies",
        "/api/v1/clinic",
    ] {
        out.push(json_ok(b_owner.get(app, path).await).await);
    }
    let audit = json_ok(b_owner.get(app, "/api/v1/audit?limit=500").await).await;
    // The snapshot reads themselves are not audited, so the trail is stable.
    out.push(audit["events"].clone());
    out
}

both_engines! {
    async fn staff_of_one_clinic_can_neither_touch_nor_see_another(app) {
        let a = app.clinic_with_owner("alpha").await;
        let b = app.clinic_with_owner("bravo").await;
        let b_desk = app.add_staff(&b, "desk@bravo.example.org", &["front_desk"]).await;
        let b_patient = portico_tests::add_enabled_patient(&app, &b, "Bea Bravo", "bea@bravo.example.org").await;
        b.step_up(&app).await;
        let b_code = json_ok(b.post(&app, &format!("/api/v1/patients/{b_patient}/access-codes"), json!({})).await).await;
        let b_code_id = b_code["access_code"]["id"].as_str().unwrap().to_owned();
        let b_other = portico_tests::add_enabled_patient(&app, &b, "Bo Bravo", "bo@bravo.example.org").await;
        let b_redeemed = app.issue_code(&b, &b_other).await;
        portico_tests::Patient::from_response("bravo", app.redeem_new("bravo", &b_redeemed, "bo@bravo.example.org", "bo's portal passphrase").await).await;
        let b_grant = json_ok(b.get(&app, &format!("/api/v1/patients/{b_other}/grants")).await).await[0]["id"].as_str().unwrap().to_owned();
        let b_form = json_ok(b.post(&app, "/api/v1/forms", json!({"title": "Bravo intake", "questions": [{"label": "Q", "kind": "text"}]})).await).await["id"].as_str().unwrap().to_owned();
        json_ok(b.post(&app, &format!("/api/v1/patients/{b_patient}/forms"), json!({"form_id": b_form})).await).await;
        let before = snapshot(&app, &b).await;

        let new_staff = json!({"email": "mole@alpha.example.org", "display_name": "Mole", "password": portico_tests::PASSWORD, "roles": ["owner"]});
        let policy = json!({"role": "front_desk", "resource": "audit", "action": "read"});
        let endpoints: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, "/api/v1/auth/me".into(), None),
            (Method::POST, "/api/v1/auth/logout".into(), Some(json!({}))),
            (Method::POST, "/api/v1/auth/step-up".into(), Some(json!({"password": portico_tests::PASSWORD}))),
            (Method::POST, "/api/v1/auth/password".into(), Some(json!({"current_password": portico_tests::PASSWORD, "new_password": "taken over by alpha"}))),
            (Method::GET, "/api/v1/clinic".into(), None),
            (Method::GET, "/api/v1/staff".into(), None),
            (Method::POST, "/api/v1/staff".into(), Some(new_staff.clone())),
            (Method::GET, format!("/api/v1/staff/{}", b_desk.id), None),
            (Method::GET, "/api/v1/roles/assignments".into(), None),
            (Method::PUT, format!("/api/v1/roles/assignments/{}/admin", b_desk.id), None),
            (Method::DELETE, format!("/api/v1/roles/assignments/{}/owner", b.id), None),
            (Method::GET, "/api/v1/roles/policies".into(), None),
            (Method::POST, "/api/v1/roles/policies".into(), Some(policy.clone())),
            (Method::DELETE, "/api/v1/roles/policies/front_desk/audit/read".into(), None),
            (Method::GET, "/api/v1/audit".into(), None),
            (Method::GET, "/api/v1/clinic/settings".into(), None),
            (Method::PATCH, "/api/v1/clinic/settings".into(), Some(json!({"code_lifetime_hours": 1}))),
            (Method::GET, "/api/v1/patients".into(), None),
            (Method::POST, "/api/v1/patients".into(), Some(json!({"full_name": "Mole", "date_of_birth": "1990-01-01"}))),
            (Method::GET, format!("/api/v1/patients/{b_patient}"), None),
            (Method::PATCH, format!("/api/v1/patients/{b_patient}"), Some(json!({"full_name": "Renamed"}))),
            (Method::DELETE, format!("/api/v1/patients/{b_patient}"), None),
            (Method::PUT, format!("/api/v1/patients/{b_patient}/portal-access"), Some(json!({"enabled": false}))),
            (Method::POST, format!("/api/v1/patients/{b_patient}/access-codes"), Some(json!({}))),
            (Method::GET, format!("/api/v1/patients/{b_patient}/access-codes"), None),
            (Method::POST, format!("/api/v1/access-codes/{b_code_id}/revoke"), Some(json!({}))),
            (Method::GET, "/api/v1/access-codes/pending".into(), None),
            (Method::GET, format!("/api/v1/patients/{b_other}/grants"), None),
            (Method::POST, format!("/api/v1/grants/{b_grant}/revoke"), Some(json!({}))),
            (Method::GET, "/api/v1/forms".into(), None),
            (Method::POST, "/api/v1/forms".into(), Some(json!({"title": "Mole", "questions": [{"label": "Q", "kind": "text"}]}))),
            (Method::GET, format!("/api/v1/patients/{b_patient}/forms"), None),
            (Method::POST, format!("/api/v1/patients/{b_patient}/forms"), Some(json!({"form_id": b_form}))),
        ];

        for (method, path, body) in &endpoints {
            // A's token at B's address: not a session of B.
            let resp = a.send(&app, method.clone(), "bravo", path, body.clone()).await;
            let status = resp.status();
            let text = resp.text().await.unwrap();
            assert!(
                matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{method} /t/bravo{path} with alpha's token answered {status}: {text}"
            );
            assert!(!text.contains(&b.id) && !text.contains("bravo.example.org"), "{method} {path} revealed B: {text}");
        }

        // A's token at A's address, naming B's staff: not found here. (A
        // confirms the password first, so that sensitive acts get as far as
        // looking the record up.)
        a.step_up(&app).await;
        for (method, path) in [
            (Method::GET, format!("/api/v1/staff/{}", b_desk.id)),
            (Method::GET, format!("/api/v1/staff/{}", b.id)),
            (Method::PUT, format!("/api/v1/roles/assignments/{}/admin", b_desk.id)),
            (Method::DELETE, format!("/api/v1/roles/assignments/{}/owner", b.id)),
            (Method::DELETE, format!("/api/v1/roles/assignments/{}/front_desk", b_desk.id)),
            (Method::GET, format!("/api/v1/patients/{b_patient}")),
            (Method::PATCH, format!("/api/v1/patients/{b_patient}")),
            (Method::DELETE, format!("/api/v1/patients/{b_patient}")),
            (Method::PUT, format!("/api/v1/patients/{b_patient}/portal-access")),
            (Method::POST, format!("/api/v1/patients/{b_patient}/access-codes")),
            (Method::GET, format!("/api/v1/patients/{b_patient}/access-codes")),
            (Method::POST, format!("/api/v1/access-codes/{b_code_id}/revoke")),
            (Method::GET, format!("/api/v1/patients/{b_other}/grants")),
            (Method::POST, format!("/api/v1/grants/{b_grant}/revoke")),
            (Method::GET, format!("/api/v1/patients/{b_patient}/forms")),
        ] {
            let body = match method {
                Method::PATCH => Some(json!({"full_name": "Renamed"})),
                Method::PUT => Some(json!({"enabled": false})),
                Method::POST => Some(json!({})),
                _ => None,
            };
            let resp = a.send(&app, method.clone(), "alpha", &path, body).await;
            let status = resp.status();
            let text = resp.text().await.unwrap();
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} /t/alpha{path}: {text}");
            assert!(!text.contains("bravo"), "{text}");
        }

        // B is exactly as it was, and B's people still work.
        assert_eq!(snapshot(&app, &b).await, before);
        json_ok(b_desk.get(&app, "/api/v1/staff").await).await;
        app.login_bearer("bravo", &b.email, portico_tests::PASSWORD).await;
        // A's own listings show none of B.
        let a_staff = json_ok(a.get(&app, "/api/v1/staff").await).await;
        assert_eq!(a_staff.as_array().unwrap().len(), 1);
        let a_patients = json_ok(a.get(&app, "/api/v1/patients").await).await;
        assert!(a_patients["patients"].as_array().unwrap().is_empty());
        assert!(json_ok(a.get(&app, "/api/v1/access-codes/pending").await).await.as_array().unwrap().is_empty());
        // And B's code still stands.
        let b_codes = json_ok(b.get(&app, &format!("/api/v1/patients/{b_patient}/access-codes")).await).await;
        assert_eq!(b_codes[0]["status"], "active");
    }

    async fn a_patient_of_one_clinic_has_nothing_at_another(app) {
        let a = app.clinic_with_owner("alpha").await;
        let b = app.clinic_with_owner("bravo").await;
        let a_patient = portico_tests::add_enabled_patient(&app, &a, "Ann Alpha", "ann@example.org").await;
        let b_patient = portico_tests::add_enabled_patient(&app, &b, "Ann Bravo", "ann@example.org").await;
        // A code of clinic A means nothing at clinic B, even for the same person.
        let a_code = app.issue_code(&a, &a_patient).await;
        portico_tests::expect_error(app.redeem_new("bravo", &a_code, "ann@example.org", "ann's portal passphrase").await, StatusCode::NOT_FOUND, "code_not_found").await;
        let patient = portico_tests::Patient::from_response("alpha", app.redeem_new("alpha", &a_code, "ann@example.org", "ann's portal passphrase").await).await;
        // Her session at A is nothing at B, and B's record is not hers.
        let at_b = app.client.get(app.tenant_url("bravo", "/api/v1/portal/me")).header("cookie", &patient.cookie).send().await.unwrap();
        assert_eq!(at_b.status(), StatusCode::UNAUTHORIZED);
        portico_tests::expect_error(patient.get(&app, &format!("/api/v1/portal/records/{b_patient}")).await, StatusCode::NOT_FOUND, "not_found").await;
        portico_tests::expect_error(app.try_patient_login("bravo", "ann@example.org", "ann's portal passphrase").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(patient.records(&app).await, ["Ann Alpha"]);
        // Nor can her account see or touch B's forms.
        let b_form = json_ok(b.post(&app, "/api/v1/forms", json!({"title": "Bravo intake", "questions": [{"label": "Q", "kind": "text"}]})).await).await["id"].as_str().unwrap().to_owned();
        let assigned = json_ok(b.post(&app, &format!("/api/v1/patients/{b_patient}/forms"), json!({"form_id": b_form})).await).await;
        let b_assignment = assigned["assignment"]["id"].as_str().unwrap();
        portico_tests::expect_error(patient.get(&app, &format!("/api/v1/portal/forms/{b_assignment}")).await, StatusCode::NOT_FOUND, "not_found").await;
        portico_tests::expect_error(patient.post(&app, &format!("/api/v1/portal/forms/{b_assignment}/submit"), json!({"answers": {}})).await, StatusCode::NOT_FOUND, "not_found").await;
        assert!(json_ok(patient.get(&app, "/api/v1/portal/forms").await).await.as_array().unwrap().is_empty());
        // Nor share B's record, nor learn who holds it: every family
        // endpoint answers as for a record that is not hers.
        let b_code = app.issue_code(&b, &b_patient).await;
        let b_holder = portico_tests::Patient::from_response("bravo", app.redeem_new("bravo", &b_code, "ann@example.org", "ann's portal passphrase").await).await;
        json_ok(b_holder.post(&app, &format!("/api/v1/portal/records/{b_patient}/caregivers"), json!({"email": "friend@example.org"})).await).await;
        let b_sharing = json_ok(b_holder.get(&app, &format!("/api/v1/portal/records/{b_patient}/sharing")).await).await;
        let b_invitation = b_sharing["invitations"][0]["id"].as_str().unwrap().to_owned();
        let fake_proxy = uuid::Uuid::now_v7();
        for (method, path, body) in [
            (reqwest::Method::GET, format!("/api/v1/portal/records/{b_patient}/sharing"), None),
            (reqwest::Method::GET, format!("/api/v1/portal/records/{b_patient}/shared"), None),
            (reqwest::Method::POST, format!("/api/v1/portal/records/{b_patient}/caregivers"), Some(json!({"email": "mole@example.org"}))),
            (reqwest::Method::POST, format!("/api/v1/portal/records/{b_patient}/caregiver-invitations/{b_invitation}/cancel"), Some(json!({}))),
            (reqwest::Method::POST, format!("/api/v1/portal/records/{b_patient}/proxies/{fake_proxy}/end"), Some(json!({}))),
            (reqwest::Method::PUT, format!("/api/v1/portal/records/{b_patient}/proxies/{fake_proxy}"), Some(json!({"sees_confidential": true}))),
        ] {
            let mut request = app.client.request(method.clone(), app.tenant_url("alpha", &path)).header("cookie", &patient.cookie).header("x-csrf-token", &patient.csrf);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
        let still = json_ok(b_holder.get(&app, &format!("/api/v1/portal/records/{b_patient}/sharing")).await).await;
        assert_eq!(still["invitations"].as_array().unwrap().len(), 1, "B's invitation stands");
    }

    async fn a_session_cookie_of_one_clinic_is_nothing_at_another(app) {
        let a = app.clinic_with_owner("alpha").await;
        app.clinic_with_owner("bravo").await;
        let resp = app.try_login("alpha", "/api/v1/auth/login", &a.email, portico_tests::PASSWORD).await;
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let resp = app.client.get(app.tenant_url("bravo", "/api/v1/staff")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        // Same email, other clinic: a separate account that does not exist.
        portico_tests::expect_error(
            app.try_login("bravo", "/api/v1/auth/tokens", &a.email, portico_tests::PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ).await;
    }
}

/// A transaction on `conn` whose row-level security is set to `tenant`.
async fn as_tenant<'c>(
    conn: &'c mut sqlx::PgConnection,
    tenant: &str,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('portico.tenant_id', $1, true)")
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

#[tokio::test]
async fn postgres_row_level_security_is_a_second_wall() {
    let Some(app) = TestApp::spawn(Engine::Postgres).await else {
        return;
    };
    let a = app.clinic_with_owner("alpha").await;
    let b = app.clinic_with_owner("bravo").await;
    app.add_staff(&b, "desk@bravo.example.org", &["front_desk"])
        .await;
    let tenant_id = |slug: &str| {
        let services = app.services.clone();
        let slug = slug.to_owned();
        async move { services.find_tenant(&slug).await.unwrap().id.to_string() }
    };
    let (a_id, b_id) = (tenant_id("alpha").await, tenant_id("bravo").await);

    let mut conn = sqlx::PgConnection::connect(app.database_url.as_deref().unwrap())
        .await
        .unwrap();
    sqlx::query("SET ROLE portico_app")
        .execute(&mut conn)
        .await
        .unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);

    // A query with no tenant filter and no tenant set sees nothing at all.
    assert_eq!(
        count("SELECT count(*) FROM staff")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM audit_events")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        0
    );

    let mut tx = as_tenant(&mut conn, &a_id).await;
    // Still no filter: only alpha's single owner is visible.
    assert_eq!(
        count("SELECT count(*) FROM staff")
            .fetch_one(&mut *tx)
            .await
            .unwrap(),
        1
    );
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM staff WHERE tenant_id = $1")
        .bind(&b_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(found, 0, "bravo's rows are invisible while alpha is set");
    // Writing a row for another tenant is refused.
    let err = sqlx::query(
        "INSERT INTO casbin_rules (tenant_id, id, ptype, v0, v1, v2) VALUES ($1, 'x', 'g', 'staff:x', 'role:owner', $1)",
    )
    .bind(&b_id)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    let mut tx = as_tenant(&mut conn, &a_id).await;
    // The list of audit heads due is read across clinics by the hourly job
    // (ids and times only), but a clinic's transaction marks and clears
    // its own row alone.
    let cleared = sqlx::query("UPDATE audit_heads_due SET grown = 0 WHERE tenant_id = $1")
        .bind(&b_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        cleared.rows_affected(),
        0,
        "bravo's mark is out of alpha's reach"
    );
    let err = sqlx::query("INSERT INTO audit_heads_due (tenant_id, grown) VALUES ($1, 0)")
        .bind(&b_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // Every table that holds a tenant's rows has the wall, forced. The mail
    // queue is the one platform table: ids and due times only, read across
    // tenants by the delivery worker (see its migration). The list of audit
    // heads due has the wall for writes (above).
    let unwalled: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
           AND c.relname <> 'mail_queue'
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        unwalled.is_empty(),
        "tables without forced RLS: {unwalled:?}"
    );

    // And the server's own role is the one without BYPASSRLS.
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'portico_app'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
    let _ = a;
}
