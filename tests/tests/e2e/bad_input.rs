//! Bad input gets a specific 4xx and changes nothing.

use portico_tests::{PASSWORD, add_patient, both_engines, expect_error, file_form, json_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A refusal in plain words: it names `field`, says nothing of Rust or
/// OpenAPI types or of a parser, and does not repeat what was sent.
fn plain(body: &Value, field: Option<&str>, sent: &str) -> String {
    let message = body["message"].as_str().unwrap().to_owned();
    assert_eq!(body["field"].as_str(), field, "{body}");
    for internal in [
        "Request\"",
        "Expected input type",
        "failed to parse",
        "verification failed",
        "occurred while",
        "maxLength",
        "integer_",
    ] {
        assert!(!message.contains(internal), "{internal:?} in {message:?}");
    }
    if !sent.is_empty() {
        assert!(
            !message.contains(sent),
            "the message repeats what was sent: {message}"
        );
        assert!(
            !body.to_string().contains(sent),
            "the answer repeats what was sent: {body}"
        );
    }
    message
}

/// The first line a raw HTTP/1.1 request gets back, and the whole answer.
async fn raw_request(app: &portico_tests::TestApp, head: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    (answer.lines().next().unwrap_or_default().to_owned(), answer)
}

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

    async fn each_refused_field_is_named_and_explained_in_plain_words(app) {
        let owner = app.clinic_with_owner("north").await;
        let secret = "Zebra-Quartz-".repeat(10);
        let post = |path: &'static str, body: Value| owner.post(&app, path, body);

        // Too long, the wrong type, missing, unknown: each names its field.
        let body = expect_error(post("/api/v1/patients", json!({"full_name": secret, "date_of_birth": "1980-05-17"})).await, StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        assert_eq!(plain(&body, Some("full_name"), &secret), "full_name is too long: use at most 120 characters");
        let body = expect_error(post("/api/v1/patients", json!({"full_name": 123456789, "date_of_birth": "1980-05-17"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, Some("full_name"), "123456789"), "full_name must be text");
        let body = expect_error(post("/api/v1/patients", json!({"full_name": "Mia Wong"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, Some("date_of_birth"), ""), "date_of_birth is required");
        let body = expect_error(post("/api/v1/patients", json!({"full_name": "Mia Wong", "date_of_birth": "1980-05-17", "nickname": secret})).await, StatusCode::UNPROCESSABLE_ENTITY, "unknown_field").await;
        let message = plain(&body, Some("nickname"), &secret);
        assert!(message.starts_with("nickname is not a field of this request; it takes full_name, date_of_birth"), "{message}");
        let body = expect_error(post("/api/v1/staff", json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": "admin"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, Some("roles"), "admin"), "roles must be a list");
        let body = expect_error(owner.patch(&app, "/api/v1/clinic/settings", json!({"code_lifetime_hours": -3})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, Some("code_lifetime_hours"), "-3"), "code_lifetime_hours must be a whole number from 0 to 4294967295");
        let body = expect_error(post("/api/v1/access-codes/pending", json!({})).await, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        plain(&body, None, "");

        // Nested fields and list items are named by their path.
        let body = expect_error(post("/api/v1/forms", json!({"title": "Intake", "questions": [{"label": "Allergies", "kind": "text"}, {"label": false, "kind": "text"}]})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, Some("questions[1].label"), ""), "questions[1].label must be text");
        let register = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "new@example.org", "password": PASSWORD, "new_patient": {"full_name": "Nina", "date_of_birth": "1999-09-09", "home_zip": secret}}))
            .send().await.unwrap();
        let body = expect_error(register, StatusCode::UNPROCESSABLE_ENTITY, "value_too_long").await;
        assert_eq!(plain(&body, Some("new_patient.home_zip"), &secret), "new_patient.home_zip is too long: use at most 10 characters");

        // Parameters, a form without its file, a body that is not JSON.
        let body = expect_error(owner.get(&app, "/api/v1/patients?limit=999").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(plain(&body, Some("limit"), "999"), "limit must be at most 200");
        let body = expect_error(owner.get(&app, "/api/v1/patients?limit=lots").await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(plain(&body, Some("limit"), "lots"), "limit must be a whole number");
        let body = expect_error(owner.get(&app, &format!("/api/v1/patients?search={secret}")).await, StatusCode::BAD_REQUEST, "invalid_parameter").await;
        assert_eq!(plain(&body, Some("search"), &secret), "search is too long: use at most 120 characters");
        let patient = add_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let body = expect_error(owner.post_form(&app, &format!("/api/v1/patients/{patient}/documents"), file_form(&[("title", "Lab results")], None)).await, StatusCode::BAD_REQUEST, "invalid_body").await;
        assert_eq!(plain(&body, Some("file"), ""), "file is required");
        let raw = |body: Vec<u8>| app.client.post(app.tenant_url("north", "/api/v1/patients")).bearer_auth(&owner.token)
            .header("content-type", "application/json").body(body).send();
        let body = expect_error(raw(format!("{{\"full_name\": \"{secret}").into_bytes()).await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
        assert!(plain(&body, None, &secret).starts_with("the body is not valid JSON (UTF-8 text): it ends too early at line 1"), "{body}");
        let body = expect_error(raw(b"{\"full_name\": \"Mia \xff\xfe\", \"date_of_birth\": \"1980-05-17\"}".to_vec()).await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
        plain(&body, None, "");
        let body = expect_error(raw(b"[1, 2]".to_vec()).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(plain(&body, None, ""), "the body must be an object of named fields");
        let body = expect_error(app.client.post(app.tenant_url("north", "/api/v1/patients")).bearer_auth(&owner.token).body("full_name=Mia").send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        plain(&body, None, "Mia");
        let listed = json_ok(owner.get(&app, "/api/v1/patients").await).await;
        assert_eq!(listed["patients"].as_array().unwrap().len(), 1, "only the one good request created a patient");
    }

    async fn invalid_utf8_in_a_request_is_refused_and_the_server_stays_up(app) {
        let owner = app.clinic_with_owner("north").await;
        // Raw bytes that are not UTF-8 in the request line: hyper refuses the
        // line before any of our code runs, with a bare 400 (docs/security.md).
        let host = app.address.trim_start_matches("http://").to_owned();
        let mut head = b"GET /t/north/api/v1/patients/\xff\xfe HTTP/1.1\r\nHost: ".to_vec();
        head.extend_from_slice(host.as_bytes());
        head.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let (status, _) = raw_request(&app, &head).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        // Escaped, the same bytes reach us: served (a query is decoded with
        // replacement characters) or refused, in JSON either way.
        for path in ["/api/v1/patients/%FF%FE", "/api/v1/patients?search=%FF%FE", "/api/v1/audit?action=%C3%28"] {
            let resp = owner.get(&app, path).await;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if status.is_client_error() {
                assert!(body["code"].is_string() && body["message"].is_string(), "{path}: {body}");
                plain(&body, body["field"].as_str(), "");
            } else {
                assert_eq!(status, StatusCode::OK, "{path}: {body}");
                assert!(body.is_object(), "{path}: {body}");
            }
        }
        // And the server goes on serving.
        assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
        json_ok(owner.get(&app, "/api/v1/patients").await).await;
    }
}
