//! Two-step sign-in in a real browser: a clinic owner sets up an
//! authenticator app from their account page (the QR code and the key on
//! the page), keeps the recovery codes, logs out, and signs in again with
//! the password and then a code. Every page is checked for accessibility.
//!
//! The screenshots `console-two-step-*.png` in `docs/screenshots/` come
//! from this test (`CAPTURE_SCREENSHOTS=1`).

use portico_tests::browser::Browser;
use portico_tests::{Engine, PASSWORD, TestApp, clear_of_step_edge, totp_code, unix_now};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_sets_up_an_authenticator_app_and_signs_in_with_it() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let console = app.tenant_url("north", "/console");

    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", &owner.email).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/console/").await;

    // Their name in the bar leads to their account.
    browser.click("a.who").await;
    let account = browser.main_text().await;
    assert!(
        account.contains("Two-step sign-in") && account.contains("Off."),
        "{account}"
    );
    clear_of_step_edge().await;
    browser.fill("factor-name", "Work phone").await;
    browser
        .click("form[action$='/two-step/authenticator'] button[type=submit]")
        .await;
    let qr = driver.find(By::Css(".qr svg[role=img]")).await.unwrap();
    let size = qr.rect().await.unwrap();
    assert!(
        size.width >= 150.0,
        "the QR code is large enough to scan: {size:?}"
    );
    let key = driver
        .find(By::Css("code.secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser.checkpoint("console-two-step-setup").await;
    browser
        .fill("setup-code", &totp_code(&key, unix_now() - 30))
        .await;
    browser.click("#totp-setup button[type=submit]").await;
    let kept = browser.main_text().await;
    assert!(
        kept.contains("Two-step sign-in is on") && kept.contains("Your recovery codes"),
        "{kept}"
    );
    let codes = driver.find_all(By::Css("ol.codes code")).await.unwrap();
    assert_eq!(codes.len(), 10);
    browser.checkpoint("console-two-step-recovery-codes").await;
    browser.click("#recovery-codes a.button").await;
    let listed = browser.main_text().await;
    assert!(
        listed.contains("Work phone") && listed.contains("Recovery codes left: 10 of 10"),
        "{listed}"
    );
    driver
        .execute(
            "document.getElementById('two-step').scrollIntoView()",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.checkpoint("console-two-step-account").await;

    // Out, and in again: the password, then a code on a page of its own.
    browser
        .click("header .menu-wide ~ form button[type=submit]")
        .await;
    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", &owner.email).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser
        .wait_for_path("/t/north/console/login/second-step")
        .await;
    browser.fill("code", "000000").await;
    browser.click("main form button[type=submit]").await;
    assert!(browser.main_text().await.contains("That code is not right"));
    browser.fill("code", &totp_code(&key, unix_now())).await;
    browser.checkpoint("console-two-step-sign-in").await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/console/").await;
    assert!(browser.main_text().await.contains("Find a patient"));
    browser.close().await;
}
