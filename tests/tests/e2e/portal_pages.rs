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
                assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a page, not JSON");
                assert!(resp.text().await.unwrap().contains("This form must be sent from the clinic&#x27;s own page."));
            }
        }
        assert_eq!(app.outbox("password_reset", "mia@example.org").await.len(), before, "no reset mail was queued");
        let own = app.client.post(app.tenant_url("north", "/portal/login")).header("sec-fetch-site", "same-origin")
            .form(&[("login", "mia@example.org"), ("password", "mia's own passphrase")]).send().await.unwrap();
        assert_eq!(own.status(), StatusCode::SEE_OTHER);
        assert!(own.headers()["set-cookie"].to_str().unwrap().starts_with("portico_portal="));
    }

    async fn unknown_addresses_and_refusals_are_pages_in_the_clinics_layout(app) {
        let owner = app.clinic_with_owner("north").await;
        for path in ["/portal/no-such-page", "/portal/records/not-an-id/documents/x", "/console/no-such-page"] {
            let resp = app.client.get(app.tenant_url("north", path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
            assert!(resp.headers().contains_key("content-security-policy"), "{path}");
            let html = resp.text().await.unwrap();
            assert!(html.contains("This page does not exist") && html.contains("Clinic north"), "{path}: {html}");
            assert!(!html.contains("\"code\""), "{path}: no JSON");
        }
        // A page's own script asking for JSON still gets JSON.
        let resp = app.client.post(app.tenant_url("north", "/portal/code-check")).header("accept", "application/json")
            .header("sec-fetch-site", "same-origin").form(&[("code", "not four words")]).send().await.unwrap();
        assert!(resp.status().is_client_error());
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        // The API answers programs in JSON, as before.
        let resp = owner.get(&app, "/api/v1/no-such-thing").await;
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    }

    async fn a_shared_text_document_reads_as_a_page_and_downloads_as_a_file(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", "mia's own passphrase").await;
        let doc = portico_tests::json_ok(owner.post_form(&app, &format!("/api/v1/patients/{mia}/documents"),
            portico_tests::file_form(&[("title", "Care plan")], Some(("plan.txt", b"Walk <30> minutes a day.\nDrink water.\n".to_vec())))).await).await;
        let login = app.client.post(app.tenant_url("north", "/portal/login")).header("sec-fetch-site", "same-origin")
            .form(&[("login", "mia@example.org"), ("password", "mia's own passphrase")]).send().await.unwrap();
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let path = format!("/portal/records/{mia}/documents/{}", doc["id"].as_str().unwrap());
        let shown = app.client.get(app.tenant_url("north", &path)).header("cookie", &cookie).send().await.unwrap();
        assert!(shown.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = shown.text().await.unwrap();
        assert!(html.contains("<h1>Care plan</h1>") && html.contains("Walk &lt;30&gt; minutes a day."), "{html}");
        assert!(html.contains("class=\"document-text\"") && html.contains("Clinic north"));
        let file = app.client.get(app.tenant_url("north", &format!("{path}?download=1"))).header("cookie", &cookie).send().await.unwrap();
        assert!(file.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(file.text().await.unwrap(), "Walk <30> minutes a day.\nDrink water.\n");
    }

    async fn the_account_page_changes_the_password_and_email_and_logs_out_everywhere(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        app.redeem_new("north", &code, "mia@example.org", "mia's own passphrase").await;
        let log_in = |password: &'static str| {
            let app = &app;
            async move {
                let resp = app.client.post(app.tenant_url("north", "/portal/login")).header("sec-fetch-site", "same-origin")
                    .form(&[("login", "mia@example.org"), ("password", password)]).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login with {password}");
                resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
            }
        };
        let get = |cookie: String, path: &'static str| {
            let app = &app;
            async move {
                let resp = app.client.get(app.tenant_url("north", path)).header("cookie", cookie).send().await.unwrap();
                (resp.status(), resp.text().await.unwrap())
            }
        };
        let post = |cookie: String, path: &'static str, fields: Vec<(&'static str, String)>| {
            let app = &app;
            async move {
                app.client.post(app.tenant_url("north", path)).header("cookie", cookie).header("sec-fetch-site", "same-origin")
                    .form(&fields).send().await.unwrap()
            }
        };
        let phone = log_in("mia's own passphrase").await;
        let laptop = log_in("mia's own passphrase").await;
        let (status, home) = get(laptop.clone(), "/portal/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(home.contains("href=\"/t/north/portal/account\""), "the header leads to the account");
        let (_, page) = get(laptop.clone(), "/portal/account").await;
        assert!(page.contains("<dd>mia@example.org") && page.contains("Log out everywhere"), "{page}");
        let csrf = {
            let marker = "name=\"csrf_token\" value=\"";
            let start = page.find(marker).unwrap() + marker.len();
            page[start..start + page[start..].find('"').unwrap()].to_owned()
        };
        // Wrong current password, and the access code as the new one: refused in words.
        let wrong = post(laptop.clone(), "/portal/account/password", vec![
            ("csrf_token", csrf.clone()), ("current_password", "not it at all".into()), ("new_password", "a fresh passphrase".into()),
        ]).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.text().await.unwrap().contains("That is not your current password."));
        let as_code = post(laptop.clone(), "/portal/account/password", vec![
            ("csrf_token", csrf.clone()), ("current_password", "mia's own passphrase".into()), ("new_password", code.clone()),
        ]).await;
        assert_eq!(as_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(as_code.text().await.unwrap().contains("the access code is not a password"));
        let changed = post(laptop.clone(), "/portal/account/password", vec![
            ("csrf_token", csrf.clone()), ("current_password", "mia's own passphrase".into()), ("new_password", "a fresh passphrase".into()),
        ]).await;
        assert_eq!(changed.status(), StatusCode::SEE_OTHER);
        assert_eq!(get(phone.clone(), "/portal/").await.0, StatusCode::SEE_OTHER, "the phone's session ended");
        let (_, page) = get(laptop.clone(), "/portal/account?done=password_changed").await;
        assert!(page.contains("Password changed."));
        // A new address waits for its link; the old one is told.
        let asked = post(laptop.clone(), "/portal/account/email", vec![
            ("csrf_token", csrf.clone()), ("new_email", "mia.wong@example.net".into()), ("password", "a fresh passphrase".into()),
        ]).await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.outbox("email_verification", "mia.wong@example.net").await.len(), 1);
        assert_eq!(app.outbox("email_change_notice", "mia@example.org").await.len(), 1);
        // Log out everywhere: this session too.
        let phone = log_in("a fresh passphrase").await;
        let out = post(laptop.clone(), "/portal/account/logout-everywhere", vec![("csrf_token", csrf.clone())]).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(out.headers()["location"], "/t/north/portal/login?done=logged_out_everywhere");
        for cookie in [laptop, phone] {
            assert_eq!(get(cookie, "/portal/").await.0, StatusCode::SEE_OTHER);
        }
    }

    async fn what_the_clinic_shares_is_marked_new_until_opened(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", "mia's own passphrase").await;
        let doc = portico_tests::json_ok(owner.post_form(&app, &format!("/api/v1/patients/{mia}/documents"),
            portico_tests::file_form(&[("title", "Results")], Some(("results.txt", b"All fine.".to_vec())))).await).await;
        portico_tests::json_ok(owner.post_form(&app, &format!("/api/v1/patients/{mia}/messages"),
            portico_tests::file_form(&[("body", "Your results are in.")], None)).await).await;
        let login = app.client.post(app.tenant_url("north", "/portal/login")).header("sec-fetch-site", "same-origin")
            .form(&[("login", "mia@example.org"), ("password", "mia's own passphrase")]).send().await.unwrap();
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let home = || async { app.client.get(app.tenant_url("north", "/portal/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap() };
        let first = home().await;
        assert_eq!(first.matches("<span class=\"new\">New</span>").count(), 2, "the document and the message: {first}");
        let second = home().await;
        assert_eq!(second.matches("<span class=\"new\">New</span>").count(), 1, "the message was seen; the document is not opened yet");
        // The clinic opening its own file does not open it for the patient.
        let staff_read = owner.get(&app, &format!("/api/v1/patients/{mia}/documents/{}/content", doc["id"].as_str().unwrap())).await;
        assert!(staff_read.status().is_success());
        assert_eq!(home().await.matches("<span class=\"new\">New</span>").count(), 1, "still new to the patient");
        app.client.get(app.tenant_url("north", &format!("/portal/records/{mia}/documents/{}", doc["id"].as_str().unwrap())))
            .header("cookie", &cookie).send().await.unwrap();
        assert!(!home().await.contains("class=\"new\""), "opened");
        // A message sent is confirmed next to the thread, and the warning sits above Send.
        let page = home().await;
        let csrf = {
            let marker = "name=\"csrf_token\" value=\"";
            let start = page.find(marker).unwrap() + marker.len();
            page[start..start + page[start..].find('"').unwrap()].to_owned()
        };
        let sent = app.client.post(app.tenant_url("north", &format!("/portal/records/{mia}/messages"))).header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .multipart(portico_tests::file_form(&[("csrf_token", csrf.as_str()), ("body", "Thank you!")], None)).send().await.unwrap();
        assert_eq!(sent.headers()["location"], "/t/north/portal/?done=message_sent#messages");
        let after = app.client.get(app.tenant_url("north", "/portal/?done=message_sent")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let thread = &after[after.find("id=\"messages\"").unwrap()..];
        assert!(thread.contains("id=\"message-sent\""), "the notice is in the messages card");
        assert!(thread.find("id=\"not-urgent\"").unwrap() < thread.find(">Send message</button>").unwrap());
        // The clinic's own uploads of the patient are not new to the patient.
        let mine = portico_tests::Patient::from_response("north", app.client.post(app.tenant_url("north", "/api/v1/portal/login"))
            .json(&serde_json::json!({"login": "mia@example.org", "password": "mia's own passphrase"})).send().await.unwrap()).await;
        portico_tests::json_ok(mine.post_form(&app, &format!("/api/v1/portal/records/{mia}/documents"),
            portico_tests::file_form(&[], Some(("diary.txt", b"Mon: fine".to_vec())))).await).await;
        assert!(!home().await.contains("class=\"new\""), "her own file is not new to her");
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
