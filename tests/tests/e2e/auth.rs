//! Staff authentication: cookies and CSRF, bearer tokens, logout, expiry,
//! password change, step-up, and the failed-login limits.

use portico_tests::{PASSWORD, TestApp, both_engines, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Logs in with the cookie flow; returns the cookie pair and CSRF token.
async fn cookie_login(
    app: &TestApp,
    slug: &str,
    email: &str,
) -> (String, String, reqwest::header::HeaderMap) {
    let resp = app
        .try_login(slug, "/api/v1/auth/login", email, PASSWORD)
        .await;
    let headers = resp.headers().clone();
    let body = json_ok(resp).await;
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    (
        pair,
        body["csrf_token"].as_str().unwrap().to_owned(),
        headers,
    )
}

both_engines! {
    async fn a_cookie_session_is_http_only_same_site_and_scoped_to_the_clinic(app) {
        let owner = app.clinic_with_owner("north").await;
        let (cookie, _csrf, headers) = cookie_login(&app, "north", &owner.email).await;
        let set_cookie = headers["set-cookie"].to_str().unwrap();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        assert!(set_cookie.contains("Path=/t/north"), "{set_cookie}");
        assert!(!set_cookie.contains("Secure"), "plain HTTP on loopback gets no Secure flag: {set_cookie}");
        let me = json_ok(app.client.get(app.tenant_url("north", "/api/v1/auth/me")).header("cookie", &cookie).send().await.unwrap()).await;
        assert_eq!(me["staff"]["email"], owner.email.as_str());
        assert_eq!(me["roles"], json!(["owner"]));
        assert_eq!(me["session_kind"], "cookie");
    }

    async fn behind_tls_the_cookie_is_secure(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| c.public_url = Some("https://portal.example.org".into())).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let (_, _, headers) = cookie_login(&app, "north", &owner.email).await;
        assert!(headers["set-cookie"].to_str().unwrap().contains("; Secure"));
    }

    async fn cookie_sessions_need_the_csrf_token_to_change_anything(app) {
        let owner = app.clinic_with_owner("north").await;
        let (cookie, csrf, _) = cookie_login(&app, "north", &owner.email).await;
        let add = |token: Option<&str>, email: &str| {
            let mut req = app.client.post(app.tenant_url("north", "/api/v1/staff")).header("cookie", &cookie)
                .json(&json!({"email": email, "display_name": "Desk", "password": PASSWORD, "roles": ["front_desk"]}));
            if let Some(t) = token { req = req.header("x-csrf-token", t); }
            req.send()
        };
        expect_error(add(None, "a@north.example.org").await.unwrap(), StatusCode::FORBIDDEN, "csrf_token_missing").await;
        expect_error(add(Some("forged"), "b@north.example.org").await.unwrap(), StatusCode::FORBIDDEN, "csrf_token_invalid").await;
        let staff = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        assert_eq!(staff.as_array().unwrap().len(), 1, "refused requests added nobody");
        json_ok(add(Some(&csrf), "c@north.example.org").await.unwrap()).await;
        // Reading needs no token.
        json_ok(app.client.get(app.tenant_url("north", "/api/v1/staff")).header("cookie", &cookie).send().await.unwrap()).await;
    }

    async fn bearer_tokens_work_and_end_at_logout(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["session_kind"], "bearer");
        assert!(me.get("csrf_token").is_none(), "left out, not null: {me}");
        let resp = owner.post(&app, "/api/v1/auth/logout", json!({})).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        expect_error(owner.get(&app, "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED, "invalid_session").await;
        expect_error(
            app.client.get(app.tenant_url("north", "/api/v1/auth/me")).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ).await;
        expect_error(
            app.client.get(app.tenant_url("north", "/api/v1/auth/me")).header("authorization", "Basic abc").send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_authorization",
        ).await;
    }

    async fn an_unknown_email_and_a_wrong_password_get_the_same_answer(app) {
        let owner = app.clinic_with_owner("north").await;
        let unknown = app.try_login("north", "/api/v1/auth/login", "ghost@north.example.org", PASSWORD).await;
        let wrong = app.try_login("north", "/api/v1/auth/login", &owner.email, "not the password at all").await;
        assert_eq!(unknown.status(), wrong.status());
        let (u, w): (Value, Value) = (unknown.json().await.unwrap(), wrong.json().await.unwrap());
        assert_eq!(u, w, "the answers must not tell the two apart");
        assert_eq!(u["code"], "invalid_credentials");
        // The audit trail knows the difference; the client does not.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=staff.login&outcome=failure").await).await;
        let reasons: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap().to_owned()).collect();
        assert!(reasons.contains(&"unknown_account".to_owned()) && reasons.contains(&"wrong_password".to_owned()), "{reasons:?}");
    }

    async fn repeated_failures_lock_the_account_even_for_the_right_password(app) {
        let owner = app.clinic_with_owner("north").await;
        for _ in 0..5 {
            expect_error(app.try_login("north", "/api/v1/auth/tokens", &owner.email, "wrong wrong wrong").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        let resp = app.try_login("north", "/api/v1/auth/tokens", &owner.email, PASSWORD).await;
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after > 0 && retry_after <= 300, "{retry_after}");
        expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        // An unknown account locks the same way, so locking reveals nothing.
        for _ in 0..5 {
            app.try_login("north", "/api/v1/auth/tokens", "ghost@north.example.org", "x").await;
        }
        expect_error(app.try_login("north", "/api/v1/auth/tokens", "ghost@north.example.org", "x").await, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
        // The existing session still works: the lock is on logging in.
        json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
    }

    async fn one_address_failing_across_many_accounts_is_locked_out(app) {
        app.clinic_with_owner("north").await;
        for i in 0..20 {
            let email = format!("guess{i}@north.example.org");
            expect_error(app.try_login("north", "/api/v1/auth/tokens", &email, "x").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        expect_error(
            app.try_login("north", "/api/v1/auth/tokens", "owner@north.example.org", PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
        ).await;
    }

    async fn changing_the_password_ends_other_sessions(app) {
        let owner = app.clinic_with_owner("north").await;
        let other = app.login_bearer("north", &owner.email, PASSWORD).await;
        expect_error(
            owner.post(&app, "/api/v1/auth/password", json!({"current_password": "wrong", "new_password": "a much better passphrase"})).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ).await;
        expect_error(
            owner.post(&app, "/api/v1/auth/password", json!({"current_password": PASSWORD, "new_password": "short"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_password",
        ).await;
        expect_error(
            owner.post(&app, "/api/v1/auth/password", json!({"current_password": PASSWORD, "new_password": PASSWORD})).await,
            StatusCode::CONFLICT,
            "password_unchanged",
        ).await;
        let resp = owner.post(&app, "/api/v1/auth/password", json!({"current_password": PASSWORD, "new_password": "a much better passphrase"})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        expect_error(other.get(&app, "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED, "invalid_session").await;
        expect_error(app.try_login("north", "/api/v1/auth/tokens", &owner.email, PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        app.login_bearer("north", &owner.email, "a much better passphrase").await;
    }

    async fn step_up_confirms_the_password_for_a_few_minutes(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert!(me.get("step_up_valid_until").is_none(), "left out, not null: {me}");
        expect_error(owner.post(&app, "/api/v1/auth/step-up", json!({"password": "nope"})).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert!(me.get("step_up_valid_until").is_none(), "a failed confirmation grants nothing");
        let done = json_ok(owner.post(&app, "/api/v1/auth/step-up", json!({"password": PASSWORD})).await).await;
        let me = json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        assert_eq!(me["step_up_valid_until"], done["valid_until"]);
        // Another session of the same person is not stepped up.
        let other = app.login_bearer("north", &owner.email, PASSWORD).await;
        assert!(json_ok(other.get(&app, "/api/v1/auth/me").await).await.get("step_up_valid_until").is_none());
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=staff.step_up").await).await;
        let outcomes: Vec<_> = audit["events"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap().to_owned()).collect();
        assert_eq!(outcomes, ["success", "failure"]);
    }

    async fn an_expired_session_is_told_so(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| { c.bearer_token_secs = 1; }).await else { return };
        let owner = app.clinic_with_owner("north").await;
        json_ok(owner.get(&app, "/api/v1/auth/me").await).await;
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        expect_error(owner.get(&app, "/api/v1/auth/me").await, StatusCode::UNAUTHORIZED, "session_expired").await;
        expect_error(owner.post(&app, "/api/v1/staff", json!({"email": "x@north.example.org", "display_name": "X", "password": PASSWORD, "roles": []})).await, StatusCode::UNAUTHORIZED, "session_expired").await;
    }

    async fn behind_a_proxy_the_address_is_the_one_the_proxy_saw(app) {
        let engine = app.engine;
        drop(app);
        let Some(app) = TestApp::spawn_with(engine, |c| {
            c.trust_proxy = true;
            c.login_max_failures_per_ip = 3;
            c.login_max_failures_per_account = 100;
        }).await else { return };
        let owner = app.clinic_with_owner("north").await;
        // A guesser writes a fresh address on every try; our proxy appends
        // the one it saw. Only that one counts, and only that one is on the
        // trail.
        let mut statuses = Vec::new();
        for i in 0..5 {
            let resp = app.client.post(app.tenant_url("north", "/api/v1/auth/tokens"))
                .header("x-forwarded-for", format!("10.9.8.{i}, 203.0.113.9"))
                .json(&json!({"email": format!("nobody{i}@north.example.org"), "password": "wrong password 1"}))
                .send().await.unwrap();
            statuses.push(resp.status().as_u16());
        }
        assert_eq!(statuses, [401, 401, 401, 429, 429], "the real address locked after three");
        let trail = json_ok(owner.get(&app, "/api/v1/audit?action=staff.login&outcome=failure").await).await;
        let ips: Vec<_> = trail["events"].as_array().unwrap().iter().map(|e| e["ip"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ips.len(), 5);
        assert!(ips.iter().all(|ip| ip == "203.0.113.9"), "{ips:?}");
    }
}
