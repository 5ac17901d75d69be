//! The clinic console's pages over plain HTTP: login with a session cookie,
//! a landing page that shows each role only what it may use, and logout
//! guarded by the form's CSRF token.

use portico_tests::{PASSWORD, TestApp, both_engines};
use reqwest::StatusCode;

async fn form_login(app: &TestApp, slug: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.tenant_url(slug, "/console/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

fn cookie_of(resp: &reqwest::Response) -> String {
    resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn page(app: &TestApp, slug: &str, path: &str, cookie: &str) -> (StatusCode, String) {
    let resp = app
        .client
        .get(app.tenant_url(slug, path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

both_engines! {
    async fn staff_log_in_to_the_console_and_see_their_clinic(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;

        // Not logged in: the console sends you to its login page.
        let resp = app.client.get(app.tenant_url("north", "/console/")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/t/north/console/login");
        let resp = app.client.get(app.tenant_url("north", "/console/login")).send().await.unwrap();
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Clinic north") && html.contains("name=\"password\""));

        let wrong = form_login(&app, "north", &owner.email, "not the password").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let html = wrong.text().await.unwrap();
        assert!(html.contains("The email or password is not correct."));
        assert!(html.contains(&format!("value=\"{}\"", owner.email)), "the email stays filled in");

        let ok = form_login(&app, "north", &owner.email, PASSWORD).await;
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        assert_eq!(ok.headers()["location"], "/t/north/console/");
        let cookie = cookie_of(&ok);
        let (status, html) = page(&app, "north", "/console/", &cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Welcome, Owner"));
        assert!(html.contains("Find a patient") && html.contains("id=\"follow-up\"") && html.contains("id=\"inbox\""));
    }

    async fn each_role_sees_only_the_sections_it_may_use(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let resp = form_login(&app, "north", "desk@north.example.org", PASSWORD).await;
        let cookie = cookie_of(&resp);
        let (_, html) = page(&app, "north", "/console/", &cookie).await;
        assert!(html.contains("front_desk"));
        assert!(html.contains("href=\"/t/north/console/staff\""));
        assert!(html.contains("href=\"/t/north/console/follow-up\""));
        assert!(!html.contains("Audit trail"), "front desk sees no audit controls");
        assert!(!html.contains("Roles and permissions"));
    }

    async fn logging_out_needs_the_forms_csrf_token(app) {
        let owner = app.clinic_with_owner("north").await;
        let resp = form_login(&app, "north", &owner.email, PASSWORD).await;
        let cookie = cookie_of(&resp);
        let (_, html) = page(&app, "north", "/console/", &cookie).await;
        let csrf = html.split("name=\"csrf_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

        let forged = app.client.post(app.tenant_url("north", "/console/logout")).header("cookie", &cookie)
            .form(&[("csrf_token", "forged")]).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert_eq!(page(&app, "north", "/console/", &cookie).await.0, StatusCode::OK, "still logged in");

        let out = app.client.post(app.tenant_url("north", "/console/logout")).header("cookie", &cookie)
            .form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        assert_eq!(page(&app, "north", "/console/", &cookie).await.0, StatusCode::SEE_OTHER, "the old cookie is dead");
    }

    async fn a_login_form_posted_from_another_site_is_refused(app) {
        let owner = app.clinic_with_owner("north").await;
        let resp = app.client.post(app.tenant_url("north", "/console/login"))
            .header("origin", "https://evil.example.com")
            .form(&[("email", owner.email.as_str()), ("password", PASSWORD)])
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.headers().get("set-cookie").is_none());
    }
}
