//! The pages the portal's emailed links open: confirming an email address
//! and choosing a new password, and the page that asks for a reset link.
//! Every link in a mail leads to a page that exists and works without a
//! script (the token can be pasted).

use portico_tests::{TestApp, add_enabled_patient, both_engines};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "a patient's long passphrase";

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.tenant_url("north", path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

both_engines! {
    async fn the_links_in_portal_mail_open_pages_that_finish_the_job(app) {
        let owner = app.clinic_with_owner("north").await;
        // A self-registration mails a verification link.
        let registered = app.client.post(app.tenant_url("north", "/api/v1/portal/register"))
            .json(&json!({"email": "nina@example.org", "password": PASSWORD,
                          "new_patient": {"full_name": "Nina New", "date_of_birth": "1990-01-01", "home_zip": "10001"}}))
            .send().await.unwrap();
        assert_eq!(registered.status(), StatusCode::ACCEPTED);
        let token = app.outbox("email_verification", "nina@example.org").await[0]["token"].as_str().unwrap().to_owned();
        let page = app.client.get(app.tenant_url("north", "/portal/verify-email")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("assets/link.js"));
        let done = post_form(&app, "/portal/verify-email", &[("token", &token)]).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert!(done.text().await.unwrap().contains("your email address is confirmed"));
        let again = post_form(&app, "/portal/verify-email", &[("token", &token)]).await;
        assert_eq!(again.status(), StatusCode::GONE);
        assert!(again.text().await.unwrap().contains("expired or was already used"));

        // Forgotten password: the same answer for any login; the link's page
        // sets the new password, and the old one stops working.
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        app.redeem_new("north", &code, "mia@example.org", PASSWORD).await;
        for login in ["mia@example.org", "ghost@example.org"] {
            let asked = post_form(&app, "/portal/forgot-password", &[("login", login)]).await;
            assert_eq!(asked.status(), StatusCode::OK);
            assert!(asked.text().await.unwrap().contains("If that is an account here"));
        }
        assert!(app.outbox("password_reset", "ghost@example.org").await.is_empty());
        let token = app.outbox("password_reset", "mia@example.org").await[0]["token"].as_str().unwrap().to_owned();
        let weak = post_form(&app, "/portal/reset-password", &[("token", &token), ("new_password", "short")]).await;
        assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = weak.text().await.unwrap();
        assert!(html.contains(&format!("value=\"{token}\"")), "the token stays for the next try");
        let set = post_form(&app, "/portal/reset-password", &[("token", &token), ("new_password", "a brand new long passphrase")]).await;
        assert_eq!(set.status(), StatusCode::SEE_OTHER);
        assert_eq!(set.headers()["location"], "/t/north/portal/login?done=password_reset");
        let old = post_form(&app, "/portal/login", &[("login", "mia@example.org"), ("password", PASSWORD)]).await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        let new = post_form(&app, "/portal/login", &[("login", "mia@example.org"), ("password", "a brand new long passphrase")]).await;
        assert_eq!(new.status(), StatusCode::SEE_OTHER);
        let reused = post_form(&app, "/portal/reset-password", &[("token", &token), ("new_password", "yet another long passphrase")]).await;
        assert_eq!(reused.status(), StatusCode::GONE);
    }
}
