//! The whole journey in a real browser: a receptionist in the clinic
//! console sends an access link and shares a document and a note; the
//! patient follows the emailed link, sets a password, sees them, logs out
//! and back in with the password alone, adds a family member's record and
//! switches to it; the receptionist revokes that grant and the patient's
//! next page load no longer shows it; and each mix-up gets its own page.
//!
//! The screenshots in `docs/screenshots/` come from this test
//! (`CAPTURE_SCREENSHOTS=1`).

use std::time::Duration;

use portico_tests::browser::Browser;
use portico_tests::smtp::{SmtpSink, via_smtp};
use portico_tests::{Engine, PASSWORD, TestApp, add_enabled_patient, json_ok};
use serde_json::json;
use thirtyfour::prelude::*;

const PATIENT_PASSWORD: &str = "mia chose this long passphrase";

/// Opens an access link for `code` and tries to set up an account with it.
async fn register_with(browser: &Browser, app: &TestApp, code: &str) {
    let link = format!(
        "{}#code={code}",
        app.tenant_url("north", "/portal/register")
    );
    browser.driver.goto(&link).await.unwrap();
    browser.fill("email", "someone@example.org").await;
    browser.fill("password", "another long passphrase").await;
    browser.click("#register button[type=submit]").await;
}

/// Opens the link of `code` and waits for what the page says of it before
/// anything is filled in.
async fn told_on_opening(browser: &Browser, app: &TestApp, code: &str) -> String {
    let link = format!(
        "{}#code={code}",
        app.tenant_url("north", "/portal/register")
    );
    browser.driver.goto(&link).await.unwrap();
    for _ in 0..50 {
        let alert = browser.driver.find(By::Id("code-refused")).await.unwrap();
        let text = alert.text().await.unwrap();
        if !text.is_empty() && alert.is_displayed().await.unwrap() {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page said nothing of the code {code}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_share_and_a_family_follows_the_link_in_a_browser() {
    let sink = SmtpSink::start().await;
    let Some(app) = TestApp::spawn_with(Engine::Sqlite, via_smtp(sink.port)).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let desk = app
        .add_staff(&owner, "desk@north.example.org", &["front_desk"])
        .await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    let leo = add_enabled_patient(&app, &owner, "Leo Wong", "mia@example.org").await;
    add_enabled_patient(&app, &owner, "Ada Lovelace", "ada@example.org").await;
    let console = app.tenant_url("north", "/console");

    // The receptionist logs in to the console and finds Mia.
    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", "desk@north.example.org").await;
    browser.fill("password", PASSWORD).await;
    browser.checkpoint("console-login").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/console/").await;
    driver.goto(&format!("{console}/patients")).await.unwrap();
    browser.fill("search", "mia").await;
    browser.click("form[role=search] button").await;
    let list = browser.main_text().await;
    assert!(
        list.contains("Mia Wong") && !list.contains("Ada Lovelace"),
        "{list}"
    );
    browser.checkpoint("console-patients").await;
    browser.click("table a").await;
    browser
        .wait_for_path(&format!("/t/north/console/patients/{mia}"))
        .await;

    // Sending the link shows the address and asks for her own password.
    browser.click("a.button").await;
    let confirm = browser.main_text().await;
    assert!(confirm.contains("mia@example.org"), "{confirm}");
    browser.fill("password", "not my password").await;
    browser.click("main form button[type=submit]").await;
    assert!(
        browser
            .main_text()
            .await
            .contains("That is not your password. Nothing was sent.")
    );
    assert!(sink.received().is_empty(), "a wrong password sends nothing");
    browser.fill("password", PASSWORD).await;
    browser.checkpoint("console-send-link").await;
    browser.click("main form button[type=submit]").await;
    let access = browser.main_text().await;
    assert!(access.contains("Access link queued"), "{access}");
    assert!(
        access.contains("active") && access.contains("email"),
        "{access}"
    );

    // She shares a document and a note on the "shared" tab.
    driver
        .goto(&format!("{console}/patients/{mia}?tab=shared"))
        .await
        .unwrap();
    let scan = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    std::fs::write(scan.path(), b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n").unwrap();
    driver
        .find(By::Id("doc-file"))
        .await
        .unwrap()
        .send_keys(scan.path().to_str().unwrap())
        .await
        .unwrap();
    browser.fill("doc-title", "Blood test results").await;
    browser.click("#documents form button[type=submit]").await;
    assert!(
        browser
            .main_text()
            .await
            .contains("Document shared with the patient.")
    );
    browser
        .fill("note-body", "Your results look good. Keep drinking water.")
        .await;
    browser.click("#notes form button[type=submit]").await;
    let shared = browser.main_text().await;
    assert!(
        shared.contains("Blood test results") && shared.contains("Keep drinking water"),
        "{shared}"
    );
    browser.checkpoint("console-patient-shared").await;
    driver
        .goto(&format!("{console}/patients/{mia}?tab=access"))
        .await
        .unwrap();
    browser.checkpoint("console-patient-access").await;

    // The mail arrives; the patient follows its button.
    let mail = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mail[0].to, ["mia@example.org"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(&mail[0].data)
        .unwrap();
    let link = portico_tests::smtp::button_link(&parsed.body_html(0).unwrap());
    driver.delete_all_cookies().await.unwrap();
    driver.goto(&link).await.unwrap();
    let code = browser.field_value("code").await;
    assert_eq!(code.split('-').count(), 4, "the code is in place: {code}");
    browser.fill("email", "mia@example.org").await;
    // Strength feedback as she types; her code is not a password.
    browser.fill("password", &code).await;
    let said = |b: &Browser| {
        let b = b.driver.clone();
        async move {
            b.find(By::Id("password-strength"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(said(&browser).await.contains("That is your access code"));
    browser.fill("password", "short").await;
    assert_eq!(said(&browser).await, "Too short: 7 more characters.");
    browser.fill("password", PATIENT_PASSWORD).await;
    assert_eq!(said(&browser).await, "Strong.");
    browser.checkpoint("portal-register").await;
    browser.click("#register button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;
    let home = browser.main_text().await;
    assert!(home.contains("Mia Wong"), "{home}");
    assert!(
        home.contains("Blood test results"),
        "the document is there: {home}"
    );
    assert!(
        home.contains("Keep drinking water"),
        "the note is there: {home}"
    );
    browser.checkpoint("portal-record").await;
    // The document opens.
    let href = driver
        .find(By::Css("#documents .items a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let pdf = app
        .client
        .get(app.url(&href))
        .header(
            "cookie",
            format!(
                "portico_portal={}",
                driver
                    .get_named_cookie("portico_portal")
                    .await
                    .unwrap()
                    .value
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-1.7"));

    // Logging out and in again takes the password alone.
    browser.click("header form button").await;
    browser.wait_for_path("/t/north/portal/login").await;
    assert!(browser.main_text().await.contains("You have logged out."));
    browser.fill("login", "mia@example.org").await;
    browser.fill("password", PATIENT_PASSWORD).await;
    browser.checkpoint("portal-login").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;
    assert!(browser.main_text().await.contains("Blood test results"));

    // A second code, for her son, added from the home page; she switches.
    let second = app.issue_code(&owner, &leo).await;
    browser.fill("code", &second).await;
    browser.click("form[action$='/redeem'] button").await;
    let home = browser.main_text().await;
    assert!(home.contains("Record added"), "{home}");
    let options = driver.find_all(By::Css("#patient option")).await.unwrap();
    assert_eq!(options.len(), 2, "the family switcher lists both records");
    driver
        .find(By::Css(format!("#patient option[value='{leo}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click(".switcher button").await;
    assert_eq!(
        driver
            .find(By::Id("record-name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Leo Wong"
    );
    browser.checkpoint("portal-family-switcher").await;

    // The clinic revokes the grant to Leo's record; the next page load no
    // longer shows it.
    let grants = json_ok(
        desk.get(&app, &format!("/api/v1/patients/{leo}/grants"))
            .await,
    )
    .await;
    let grant = grants[0]["id"].as_str().unwrap();
    json_ok(
        desk.post(&app, &format!("/api/v1/grants/{grant}/revoke"), json!({}))
            .await,
    )
    .await;
    driver.refresh().await.unwrap();
    let home = browser.main_text().await;
    assert!(!home.contains("Leo Wong"), "{home}");
    assert_eq!(
        driver
            .find(By::Id("record-name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Mia Wong"
    );
    assert!(
        driver
            .find_all(By::Css("#patient"))
            .await
            .unwrap()
            .is_empty(),
        "one record: no switcher"
    );

    // The patient writes to the clinic with a file; the clinic sees it.
    browser
        .fill("message-body", "Thank you! Here is my insurance card.")
        .await;
    let card = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(
        card.path(),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89",
    )
    .unwrap();
    driver
        .find(By::Id("message-file"))
        .await
        .unwrap()
        .send_keys(card.path().to_str().unwrap())
        .await
        .unwrap();
    browser.click("#messages form button[type=submit]").await;
    assert!(browser.main_text().await.contains("Message sent."));
    let unread = json_ok(desk.get(&app, "/api/v1/messages/unread").await).await;
    assert_eq!(unread[0]["patient_id"], mia.as_str());

    // A SmartForm assigned to her appears on her home page; she fills it
    // in, misses a required answer, and hands it in.
    let form = json_ok(
        owner
            .post(
                &app,
                "/api/v1/forms",
                json!({"title": "Before your visit", "questions": [
                    {"label": "Any allergies?", "kind": "yes_no", "required": true},
                    {"label": "What medicines do you take?", "kind": "long_text", "required": false},
                ]}),
            )
            .await,
    )
    .await;
    let assigned = json_ok(
        owner
            .post(
                &app,
                &format!("/api/v1/patients/{mia}/forms"),
                json!({"form_id": form["id"]}),
            )
            .await,
    )
    .await;
    assert_eq!(assigned["delivered_by"], "account");
    driver.refresh().await.unwrap();
    browser.click("#forms a").await;
    browser.fill("answer_q2", "Vitamin D").await;
    browser.click("button[value=submit]").await;
    let refused = browser.main_text().await;
    assert!(
        refused.contains("Any allergies?")
            && refused.contains("Please answer every required question"),
        "{refused}"
    );
    assert_eq!(
        browser.field_value("answer_q2").await,
        "Vitamin D",
        "what was typed stays"
    );
    browser.choose("input[name=answer_q1][value=no]").await;
    browser.checkpoint("portal-smartform").await;
    browser.click("button[value=submit]").await;
    assert!(
        browser
            .main_text()
            .await
            .contains("Thank you. Clinic north has your answers.")
    );
    let answers = json_ok(
        owner
            .get(&app, &format!("/api/v1/patients/{mia}/forms"))
            .await,
    )
    .await;
    assert_eq!(answers[0]["status"], "submitted");
    assert_eq!(answers[0]["answers"]["q1"], "no");
    assert_eq!(answers[0]["answers"]["q2"], "Vitamin D");
    driver
        .goto(&app.tenant_url("north", "/portal/"))
        .await
        .unwrap();

    // Phone-sized, the record page still reads top to bottom.
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    browser.checkpoint("portal-record-phone").await;
    // The account page, from the name in the header, on the phone too.
    browser.click("header a.who").await;
    assert!(browser.main_text().await.contains("Log out everywhere"));
    browser.checkpoint("portal-account-phone").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    driver
        .goto(&app.tenant_url("north", "/portal/"))
        .await
        .unwrap();

    // The mix-ups. Opened directly, with no code: the page says where the
    // code comes from.
    browser.click("header form button").await;
    driver
        .goto(&app.tenant_url("north", "/portal/register"))
        .await
        .unwrap();
    assert_eq!(browser.field_value("code").await, "");
    let help = driver
        .find(By::Id("code-help"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(help.contains("open the link in the email"), "{help}");
    browser.checkpoint("portal-register-no-code").await;
    // A used code.
    register_with(&browser, &app, &code).await;
    let used = browser.main_text().await;
    assert!(used.to_lowercase().contains("already been used"), "{used}");
    // A revoked code.
    let revoked = app.issue_code(&owner, &mia).await;
    let codes = json_ok(
        owner
            .get(&app, &format!("/api/v1/patients/{mia}/access-codes"))
            .await,
    )
    .await;
    let active = codes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "active")
        .unwrap();
    json_ok(
        owner
            .post(
                &app,
                &format!(
                    "/api/v1/access-codes/{}/revoke",
                    active["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await,
    )
    .await;
    // Opened from its link, the page tells at once, before the form.
    let told = told_on_opening(&browser, &app, &revoked).await;
    assert!(told.contains("cancelled"), "{told}");
    // A code replaced by a newer one says so.
    let older = app.issue_code(&owner, &mia).await;
    app.issue_code(&owner, &mia).await;
    let told = told_on_opening(&browser, &app, &older).await;
    assert!(told.contains("newer access code"), "{told}");
    browser.checkpoint("portal-register-replaced-code").await;
    register_with(&browser, &app, &revoked).await;
    let cancelled = browser.main_text().await;
    assert!(
        cancelled.to_lowercase().contains("cancelled")
            || cancelled.to_lowercase().contains("revoked"),
        "{cancelled}"
    );
    browser.checkpoint("portal-register-revoked-code").await;
    // An expired code.
    let expired = app.issue_code(&owner, &mia).await;
    app.execute(
        "UPDATE access_codes SET expires_at = 1 WHERE redeemed_at IS NULL AND revoked_at IS NULL",
    )
    .await;
    register_with(&browser, &app, &expired).await;
    let late = browser.main_text().await;
    assert!(
        late.to_lowercase().contains("expired") && late.contains("new one"),
        "{late}"
    );
    // A code typed as a password at login.
    driver
        .goto(&app.tenant_url("north", "/portal/login"))
        .await
        .unwrap();
    browser.fill("login", "mia@example.org").await;
    browser.fill("password", &code.replace('-', " ")).await;
    browser.click("main form button[type=submit]").await;
    let mixed = browser.main_text().await;
    assert!(mixed.contains("looks like your access code"), "{mixed}");
    // Told as a notice, calmly, not as an error in red.
    let notice = driver
        .find(By::Css("main p.notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("use the password you chose"), "{notice}");
    assert!(
        driver
            .find_all(By::Css("main p.error:not([hidden])"))
            .await
            .unwrap()
            .is_empty()
    );
    browser.checkpoint("portal-login-code-as-password").await;

    // Two codes wait to be used: the follow-up list and the home page
    // count them.
    app.issue_code(&owner, &mia).await;
    app.issue_code(&owner, &leo).await;

    // The owner's pages across patients, as the README shows them.
    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", &owner.email).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    let head = owner.post(&app, "/api/v1/audit/heads", json!({})).await;
    assert_eq!(head.status(), reqwest::StatusCode::OK);
    for (path, expect, shot) in [
        ("/follow-up", "Codes not yet redeemed", "console-follow-up"),
        ("/audit", "code.redeem", "console-audit"),
        (
            "/audit/integrity",
            "Audit trail verified up to event",
            "console-audit-integrity",
        ),
        ("/settings", "Branding of the portal", "console-settings"),
        ("/staff", "desk@north.example.org", "console-staff"),
        ("/roles", "Lets staff", "console-roles"),
        (
            &*format!("/patients/{mia}?tab=forms"),
            "Before your visit",
            "console-patient-forms",
        ),
    ] {
        driver.goto(&format!("{console}{path}")).await.unwrap();
        let text = browser.main_text().await;
        assert!(text.contains(expect), "{path}: {text}");
        browser.checkpoint(shot).await;
    }
    // The rest of the console and the portal's account pages are not in
    // the README but are held to the same accessibility checks.
    // The settings' preview follows the colour picker before anything is saved.
    driver.goto(&format!("{console}/settings")).await.unwrap();
    let bar_colour = |driver: &thirtyfour::WebDriver| {
        let driver = driver.clone();
        async move {
            driver
                .execute("return getComputedStyle(document.querySelector('.preview-bar')).backgroundColor", vec![])
                .await
                .unwrap()
                .json()
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(
        bar_colour(driver).await,
        "rgb(11, 110, 79)",
        "the saved colour"
    );
    driver
        .execute(
            "const i = document.getElementById('primary_colour'); i.value = '#7a1f5c'; i.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        bar_colour(driver).await,
        "rgb(122, 31, 92)",
        "the picked colour, unsaved"
    );
    assert_eq!(browser.field_value("primary_colour").await, "#7a1f5c");

    // The home page, and the question before a code is cancelled.
    driver.goto(&format!("{console}/")).await.unwrap();
    assert!(browser.main_text().await.contains("Find a patient"));
    browser.checkpoint("console-home").await;
    driver
        .goto(&format!("{console}/patients/{mia}?tab=access"))
        .await
        .unwrap();
    browser.click("form[action*='/codes/'] button").await;
    let text = browser.main_text().await;
    assert!(text.contains("Cancel Mia Wong's access code?"), "{text}");
    browser.checkpoint("console-confirm-cancel-code").await;
    // A plugin that declares what it reads and takes, and one that does
    // not: the plugins page then holds both kinds of activation form.
    json_ok(
        app.upload_plugin(&owner, "nosy", portico_tests::plugin_fixture("nosy"))
            .await,
    )
    .await;
    json_ok(
        app.upload_plugin(
            &owner,
            "older",
            portico_tests::plugin_fixture("date-of-birth-check"),
        )
        .await,
    )
    .await;
    // On a phone: the menu folds away behind one button, and tables
    // become lists of label and value.
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    for (path, shot) in [
        ("/", "console-home-phone"),
        ("/follow-up", "console-follow-up-phone"),
        (
            &*format!("/patients/{mia}?tab=access"),
            "console-patient-phone",
        ),
        (
            &*format!("/patients/{mia}?tab=shared"),
            "console-patient-shared-phone",
        ),
        (
            &*format!("/patients/{mia}?tab=details"),
            "console-patient-details-phone",
        ),
        ("/patients", "console-patients-phone"),
        ("/audit", "console-audit-phone"),
        ("/audit/integrity", "console-audit-integrity-phone"),
        ("/staff", "console-staff-phone"),
        ("/roles", "console-roles-phone"),
        ("/settings", "console-settings-phone"),
        ("/forms", "console-forms-phone"),
        ("/plugins", "console-plugins-phone"),
    ] {
        driver.goto(&format!("{console}{path}")).await.unwrap();
        let wide_menu = driver.find(By::Css("nav.menu-wide")).await.unwrap();
        assert!(
            !wide_menu.is_displayed().await.unwrap(),
            "{path}: the wide menu hides"
        );
        let overflow = driver
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth",
                vec![],
            )
            .await
            .unwrap()
            .json()
            .as_bool()
            .unwrap();
        assert!(!overflow, "{path}: nothing runs off the right edge");
        browser.checkpoint(shot).await;
    }
    browser.click(".menu-narrow summary").await;
    let patients_link = driver
        .find(By::Css(".menu-narrow a[href$='/patients']"))
        .await
        .unwrap();
    assert!(
        patients_link.is_displayed().await.unwrap(),
        "the menu opens"
    );
    browser.checkpoint("console-menu-phone").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    for (path, expect) in [
        ("/", "Welcome"),
        ("/plugins", "It is handed the patient's date of birth."),
        ("/forms", "SmartForms"),
        ("/password", "Change your password"),
        (&*format!("/patients/{mia}?tab=details"), "Mia Wong"),
    ] {
        driver.goto(&format!("{console}{path}")).await.unwrap();
        let text = browser.main_text().await;
        assert!(text.contains(expect), "{path}: {text}");
        browser.assert_accessible(path).await;
    }
    // A handout from the workspace: confirmed with the password, printed
    // with its own button (its script runs under the handout's policy).
    // The new tab it opens in is kept in this one for the test.
    driver
        .goto(&format!("{console}/patients/{mia}?tab=access"))
        .await
        .unwrap();
    let unframe =
        "document.querySelectorAll('form[target]').forEach(f => f.removeAttribute('target'))";
    driver.execute(unframe, vec![]).await.unwrap();
    browser
        .click("form[action$='/handout'] button[type=submit]")
        .await;
    driver.execute(unframe, vec![]).await.unwrap();
    browser.fill("password", PASSWORD).await;
    browser
        .click("form[action$='/handout'] button[type=submit]")
        .await;
    let print = driver.find(By::Id("print")).await.unwrap();
    assert!(
        print.is_displayed().await.unwrap(),
        "the Print button is wired"
    );
    browser.assert_accessible("handout").await;
    for (path, expect) in [
        ("/portal/forgot-password", "Forgot your password?"),
        ("/portal/reset-password", "Choose a new password"),
        ("/portal/verify-email", "Confirm your email address"),
    ] {
        driver.goto(&app.tenant_url("north", path)).await.unwrap();
        let text = browser.main_text().await;
        assert!(text.contains(expect), "{path}: {text}");
        browser.assert_accessible(path).await;
    }
    browser.close().await;
}
