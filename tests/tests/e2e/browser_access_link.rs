//! The access link, followed in a real browser: the mail the relay received
//! opens the clinic's registration page with the code in place, and the
//! patient finishes registration there.
//!
//! One engine is enough here: what this proves lives in the mail, the page
//! and its script, which are the same on both. The API tests cover storage.

use std::time::Duration;

use portico_tests::browser::Browser;
use portico_tests::smtp::{SmtpSink, via_smtp};
use portico_tests::{Engine, TestApp, add_enabled_patient, json_ok};
use serde_json::json;
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_the_emailed_link_puts_the_code_in_place() {
    let sink = SmtpSink::start().await;
    let Some(app) = TestApp::spawn_with(Engine::Sqlite, via_smtp(sink.port)).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    owner.step_up(&app).await;
    let issued = json_ok(
        owner
            .post(
                &app,
                &format!("/api/v1/patients/{mia}/access-codes"),
                json!({"delivery": "email"}),
            )
            .await,
    )
    .await;
    let code = issued["code"].as_str().unwrap().to_owned();

    let mail = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mail[0].to, ["mia@example.org"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(&mail[0].data)
        .unwrap();
    let link = portico_tests::smtp::button_link(&parsed.body_html(0).unwrap());
    assert!(link.contains("/portal/register#code="), "{link}");
    assert!(link.starts_with(&app.tenant_url("north", "/portal/register#code=")));

    let driver = &browser.driver;
    driver.goto(&link).await.unwrap();
    assert_eq!(
        browser.field_value("code").await,
        code,
        "the code from the link is in the field, written as issued"
    );
    let field = driver.find(By::Id("code")).await.unwrap();
    assert_eq!(
        field.attr("readonly").await.unwrap().as_deref(),
        Some("true")
    );
    let help = driver
        .find(By::Id("code-help"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(help.contains("This is your own access code"), "{help}");
    // The code leaves the address bar, so it is not bookmarked or shared.
    let shown = driver.current_url().await.unwrap();
    assert_eq!(shown.fragment(), None, "{shown}");
    assert_eq!(shown.path(), "/t/north/portal/register");
    // The address the link was mailed to is filled in too, and can be
    // changed; the cursor waits in the next field the patient fills in.
    assert_eq!(browser.field_value("email").await, "mia@example.org");
    let focused = driver.active_element().await.unwrap();
    assert_eq!(focused.id().await.unwrap().as_deref(), Some("password"));
    // No username to puzzle over unless the address is shared.
    assert!(
        driver
            .find_all(By::Id("username"))
            .await
            .unwrap()
            .is_empty()
    );
    browser.checkpoint("portal-register-from-link").await;

    browser.fill("password", "mia's own passphrase").await;
    driver
        .find(By::Css("#register button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_path("/t/north/portal/").await;
    let home = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Mia Wong"), "{home}");

    // The code is spent: the account now holds Mia's record.
    let records = json_ok(
        owner
            .get(&app, &format!("/api/v1/patients/{mia}/grants"))
            .await,
    )
    .await;
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
    browser.close().await;
}
