//! Health, the OpenAPI document, and the operator's tenant lifecycle,
//! including how a request finds its tenant.

use portico_tests::{TestApp, add_patient, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::json;

both_engines! {
    async fn health_and_readiness_answer(app) {
        let health = json_ok(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
        assert_eq!(health["status"], "ok");
        let ready = json_ok(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(ready["status"], "ready");
    }

    async fn openapi_document_and_browsable_ui_are_served(app) {
        let doc = json_ok(app.client.get(app.url("/api/openapi.json")).send().await.unwrap()).await;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for path in ["/v1/auth/login", "/v1/staff", "/v1/roles/policies", "/v1/audit", "/operator/v1/tenants"] {
            assert!(paths.contains_key(path), "{path} is documented");
        }
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert!(schemes.contains_key("BearerToken") && schemes.contains_key("SessionCookie"));
        let ui = app.client.get(app.url("/api/docs/")).send().await.unwrap();
        assert_eq!(ui.status(), StatusCode::OK);
        assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
        assert_eq!(doc["servers"][0]["url"], "/api");
    }

    async fn each_clinic_is_served_a_document_that_names_its_own_address(app) {
        let owner = app.clinic_with_owner("north").await;
        let doc = json_ok(app.client.get(app.url("/t/north/api/openapi.json")).send().await.unwrap()).await;
        assert_eq!(doc["servers"].as_array().unwrap().len(), 1, "{}", doc["servers"]);
        assert_eq!(doc["servers"][0]["url"], "/t/north/api");
        assert_eq!(doc["servers"][0]["description"], "Clinic north's API");
        // "Try it out" on the clinic's docs page calls the clinic.
        let page = app.client.get(app.url("/t/north/api/docs")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("\"/t/north/api\""), "the page's document names the clinic's server");
        assert!(!page.contains("__portico_api_server"), "no mark is left in the page");
        let server = doc["servers"][0]["url"].as_str().unwrap();
        let me = owner.get(&app, &format!("{}/v1/auth/me", server.trim_start_matches("/t/north"))).await;
        assert_eq!(me.status(), StatusCode::OK, "the documented server answers the clinic's calls");
        // Another clinic's document names that clinic, not this one.
        app.create_tenant("south").await;
        let south = json_ok(app.client.get(app.url("/t/south/api/openapi.json")).send().await.unwrap()).await;
        assert_eq!(south["servers"][0]["url"], "/t/south/api");
    }

    async fn every_response_carries_a_request_id_and_keeps_a_sane_one(app) {
        let resp = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "abc-123");
        let resp = app.client.get(app.url("/healthz")).header("x-request-id", "bad id\twith spaces").send().await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, "bad id\twith spaces");
        assert_eq!(id.len(), 32);
    }

    async fn operators_create_list_show_suspend_and_resume_tenants(app) {
        let created = app.create_tenant("north").await;
        assert_eq!(created["slug"], "north");
        assert_eq!(created["status"], "active");
        app.create_tenant("south").await;

        let op = |req: reqwest::RequestBuilder| req.bearer_auth(&app.operator_token);
        let list = json_ok(op(app.client.get(app.url("/api/operator/v1/tenants"))).send().await.unwrap()).await;
        let slugs: Vec<_> = list.as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap().to_owned()).collect();
        assert_eq!(slugs, ["north", "south"]);

        let shown = json_ok(op(app.client.get(app.url("/api/operator/v1/tenants/north"))).send().await.unwrap()).await;
        assert_eq!(shown["display_name"], "Clinic north");

        let owner = {
            let r = op(app.client.post(app.url("/api/operator/v1/tenants/north/owners")))
                .json(&json!({"email": "o@north.example.org", "display_name": "O", "password": portico_tests::FIRST_PASSWORD}))
                .send().await.unwrap();
            let created = json_ok(r).await;
            assert_eq!(created["must_change_password"], true, "an operator's choice is for the first login only");
            app.choose_own_password("north", "o@north.example.org").await
        };

        let suspended = json_ok(op(app.client.post(app.url("/api/operator/v1/tenants/north/suspend"))).send().await.unwrap()).await;
        assert_eq!(suspended["status"], "suspended");
        // Refused before any handler: even a valid session gets 403.
        expect_error(owner.get(&app, "/api/v1/staff").await, StatusCode::FORBIDDEN, "tenant_suspended").await;
        expect_error(
            app.try_login("north", "/api/v1/auth/tokens", "o@north.example.org", portico_tests::PASSWORD).await,
            StatusCode::FORBIDDEN,
            "tenant_suspended",
        ).await;
        // Other clinics are unaffected.
        assert_eq!(app.client.get(app.tenant_url("south", "/api/v1/staff")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

        json_ok(op(app.client.post(app.url("/api/operator/v1/tenants/north/resume"))).send().await.unwrap()).await;
        json_ok(owner.get(&app, "/api/v1/staff").await).await;

        expect_error(
            op(app.client.get(app.url("/api/operator/v1/tenants/nowhere"))).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ).await;
    }

    async fn the_operator_api_needs_an_operator_token(app) {
        let owner = app.clinic_with_owner("north").await;
        expect_error(
            app.client.get(app.url("/api/operator/v1/tenants")).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ).await;
        // A staff member's token is not an operator's.
        expect_error(
            app.client.get(app.url("/api/operator/v1/tenants")).bearer_auth(&owner.token).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_operator_token",
        ).await;
        expect_error(
            app.client.post(app.url("/api/operator/v1/tenants")).bearer_auth(&owner.token)
                .json(&json!({"slug": "evil", "display_name": "Evil"})).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_operator_token",
        ).await;
        let list = json_ok(app.client.get(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token).send().await.unwrap()).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "no tenant was created by the refused request");
    }

    async fn tenants_are_found_by_subdomain_custom_domain_and_path(app) {
        app.clinic_with_owner("north").await;
        let resp = app.client.post(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token)
            .json(&json!({"slug": "east", "display_name": "East", "custom_domain": "Portal.East-Clinic.org"}))
            .send().await.unwrap();
        assert_eq!(json_ok(resp).await["custom_domain"], "portal.east-clinic.org");

        let login = |host: &'static str, path: &'static str| {
            app.client.post(app.url(path)).header("host", host)
                .json(&json!({"email": "nobody@example.org", "password": "whatever"}))
                .send()
        };
        // Known tenant by subdomain: the login handler runs (401, not 404).
        expect_error(login("north.localhost:8080", "/api/v1/auth/login").await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        expect_error(login("portal.east-clinic.org", "/api/v1/auth/login").await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        expect_error(login("ghost.localhost", "/api/v1/auth/login").await.unwrap(), StatusCode::NOT_FOUND, "tenant_not_found").await;
        // The platform host has no tenant.
        expect_error(login("localhost", "/api/v1/auth/login").await.unwrap(), StatusCode::NOT_FOUND, "tenant_not_found").await;
        expect_error(
            app.client.post(app.tenant_url("ghost", "/api/v1/auth/login")).json(&json!({"email": "a@b.org", "password": "x"})).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        ).await;
        expect_error(
            app.client.get(app.tenant_url("Bad..Slug", "/api/v1/staff")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        ).await;
    }

    async fn a_clinics_own_host_serves_that_clinic_alone(app) {
        app.clinic_with_owner("north").await;
        let resp = app.client.post(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token)
            .json(&json!({"slug": "east", "display_name": "East", "custom_domain": "portal.east-clinic.org"}))
            .send().await.unwrap();
        json_ok(resp).await;
        let get = |host: &'static str, path: &'static str| {
            app.client.get(app.url(path)).header("host", host).bearer_auth(&app.operator_token).send()
        };
        // Another clinic's page under East's own domain, or its subdomain:
        // refused, not served.
        for host in ["portal.east-clinic.org", "east.localhost"] {
            expect_error(get(host, "/t/north/portal/register").await.unwrap(), StatusCode::NOT_FOUND, "no_such_endpoint").await;
            expect_error(get(host, "/api/operator/v1/tenants").await.unwrap(), StatusCode::NOT_FOUND, "no_such_endpoint").await;
        }
        // East's own pages on its host, and both on the platform's host.
        assert_eq!(get("portal.east-clinic.org", "/portal/register").await.unwrap().status(), StatusCode::OK);
        assert_eq!(get("localhost", "/t/north/portal/register").await.unwrap().status(), StatusCode::OK);
        json_ok(get("localhost", "/api/operator/v1/tenants").await.unwrap()).await;
    }

    async fn personal_data_is_never_cached_and_the_docs_are_never_framed(app) {
        let owner = app.clinic_with_owner("north").await;
        add_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        for path in ["/api/v1/patients", "/api/v1/auth/me", "/api/v1/audit", "/api/v1/staff"] {
            let resp = owner.get(&app, path).await;
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        }
        let refused = owner.get(&app, "/api/v1/patients/not-an-id").await;
        assert_eq!(refused.headers()["cache-control"], "no-store");
        let docs = app.client.get(app.url("/api/docs")).send().await.unwrap();
        let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(docs.headers().get("strict-transport-security").is_none(), "no HSTS over plain http");
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| c.public_url = Some("https://portal.example.org".into())).await else { return };
        let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
    }

    async fn tenant_slugs_are_unique_and_well_formed(app) {
        app.create_tenant("north").await;
        let create = |slug: &str| {
            app.client.post(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token)
                .json(&json!({"slug": slug, "display_name": "X"})).send()
        };
        expect_error(create("north").await.unwrap(), StatusCode::CONFLICT, "slug_taken").await;
        for bad in ["North", "no_rth", "n", "-north", "dr.who", "api", "über"] {
            let body = expect_error(create(bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_slug").await;
            assert_eq!(body["field"], "slug");
        }
        let too_long = "a".repeat(41);
        expect_error(create(&too_long).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        let list = json_ok(app.client.get(app.url("/api/operator/v1/tenants")).bearer_auth(&app.operator_token).send().await.unwrap()).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "refused slugs created nothing");
    }

    async fn unknown_routes_and_methods_get_json_errors(app) {
        expect_error(app.client.get(app.url("/nothing-here")).send().await.unwrap(), StatusCode::NOT_FOUND, "no_such_endpoint").await;
        app.create_tenant("north").await;
        expect_error(
            app.client.delete(app.tenant_url("north", "/api/v1/auth/login")).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ).await;
    }
}

#[tokio::test]
async fn the_sqlite_default_uses_a_wal_file_in_the_data_directory() {
    let app = TestApp::spawn(portico_tests::Engine::Sqlite).await.unwrap();
    app.create_tenant("north").await;
    let db = app.data_dir().join("portico.db");
    assert!(db.exists(), "the database is a file in the data directory");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

/// With the database away, readiness says so at once and requests are
/// refused quickly with 503 and `Retry-After`; when it is back, the pool
/// reconnects by itself. (A client deadline of a few seconds stands for
/// "fast": before, both waited ten seconds, and requests then answered 500.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_database_is_away_requests_fail_fast_and_recover() {
    let admin = portico_tests::postgres_admin_url();
    let target = admin
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let relay = portico_tests::relay::Relay::start(&target).await;
    let port = relay.port;
    let Some(app) = TestApp::spawn_with(portico_tests::Engine::Postgres, move |c| {
        c.database_url = c
            .database_url
            .take()
            .map(|u| u.replacen(&target, &format!("127.0.0.1:{port}"), 1));
        c.database_acquire_timeout_ms = 1_000;
    })
    .await
    else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let staff = || {
        quick
            .get(app.tenant_url("north", "/api/v1/staff"))
            .bearer_auth(&owner.token)
            .send()
    };
    assert_eq!(
        quick.get(app.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );

    relay.cut();
    let ready = quick
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readiness answers at once");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let refused = staff()
        .await
        .expect("a request is refused quickly, not left hanging");
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;

    relay.restore();
    let mut back = false;
    for _ in 0..50 {
        if staff().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(back, "the pool reconnects by itself");
}
