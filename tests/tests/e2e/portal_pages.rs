//! The registration page an access link opens: it loads its own script to
//! put the code from the link's fragment in place, works as a plain form,
//! and answers mix-ups on the page itself.

use portico_tests::{add_enabled_patient, both_engines};
use reqwest::StatusCode;

both_engines! {
    async fn the_username_is_asked_for_only_when_the_email_is_shared(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "family@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "family@example.org").await;
        app.redeem_new("north", &app.issue_code(&owner, &mia).await, "family@example.org", "mia's own passphrase").await;
        let code = app.issue_code(&owner, &leo).await;
        let post = |fields: Vec<(&'static str, String)>| app.client.post(app.tenant_url("north", "/portal/register")).form(&fields).send();
        let shared = post(vec![("code", code.clone()), ("email", "family@example.org".into()), ("password", "leo's own passphrase".into())]).await.unwrap();
        assert_eq!(shared.status(), StatusCode::CONFLICT);
        let html = shared.text().await.unwrap();
        assert!(html.contains("id=\"username\""), "now the username is asked for: {html}");
        let done = post(vec![("code", code), ("email", "family@example.org".into()), ("username", "leo".into()), ("password", "leo's own passphrase".into())]).await.unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
    }

    async fn forms_posted_from_another_site_are_refused_before_anything_happens(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        app.redeem_new("north", &code, "mia@example.org", "mia's own passphrase").await;
        let before = app.outbox("password_reset", "mia@example.org").await.len();
        // Another site's page posting our portal's forms: logging a visitor
        // into someone else's account, registering with a code, or mailing
        // reset links. The same posts from our own pages work.
        for (path, fields) in [
            ("/portal/login", vec![("login", "mia@example.org"), ("password", "mia's own passphrase")]),
            ("/portal/forgot-password", vec![("login", "mia@example.org")]),
            ("/portal/register", vec![("code", "a-b-c-d"), ("email", "x@example.org"), ("password", "a long passphrase here")]),
        ] {
            for (header, value) in [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")] {
                let resp = app.client.post(app.tenant_url("north", path)).header(header, value).form(&fields).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path} with {header}: {value}");
                assert!(resp.headers().get("set-cookie").is_none(), "{path}: no session");
                assert!(resp.text().await.unwrap().contains("cross_origin"));
            }
        }
        assert_eq!(app.outbox("password_reset", "mia@example.org").await.len(), before, "no reset mail was queued");
        let own = app.client.post(app.tenant_url("north", "/portal/login")).header("sec-fetch-site", "same-origin")
            .form(&[("login", "mia@example.org"), ("password", "mia's own passphrase")]).send().await.unwrap();
        assert_eq!(own.status(), StatusCode::SEE_OTHER);
        assert!(own.headers()["set-cookie"].to_str().unwrap().starts_with("portico_portal="));
    }

    async fn the_access_link_opens_a_registration_page_that_completes_the_account(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;

        let page = app.client.get(app.tenant_url("north", "/portal/register")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Clinic north"));
        assert!(html.contains("This is your own access code"));
        assert!(html.contains("printed handout"), "a handed-over code is explained too");
        assert!(html.contains("Already have an account?") && html.contains("href=\"/t/north/portal/login\""));
        assert!(!html.contains("id=\"username\""), "no username unless the email is shared");
        assert!(html.contains("src=\"/t/north/portal/assets/register.js\""));
        let script = app.client.get(app.tenant_url("north", "/portal/assets/register.js")).send().await.unwrap().text().await.unwrap();
        assert!(script.contains("location.hash") && script.contains("replaceState"));

        // Without JavaScript, the form posts the code typed in.
        let resp = app.client.post(app.tenant_url("north", "/portal/register"))
            .form(&[("code", code.as_str()), ("email", "mia@example.org"), ("password", "mia's own passphrase")])
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/t/north/portal/");
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let home = app.client.get(app.tenant_url("north", "/portal/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Mia Wong"), "{home}");

        // A used code is explained on the page, with what was typed kept.
        let again = app.client.post(app.tenant_url("north", "/portal/register"))
            .form(&[("code", code.as_str()), ("email", "someone@example.org"), ("password", "another passphrase")])
            .send().await.unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let html = again.text().await.unwrap();
        assert!(html.contains("already been used"));
        assert!(html.contains("value=\"someone@example.org\""));
        assert!(!html.contains("another passphrase"), "a password is never echoed back");

        // Opened directly, with nothing in the code field.
        let empty = app.client.post(app.tenant_url("north", "/portal/register"))
            .form(&[("code", ""), ("email", "x@example.org"), ("password", "another passphrase")])
            .send().await.unwrap();
        assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
        assert!(empty.text().await.unwrap().contains("Open the email from Clinic north"));
    }
}
