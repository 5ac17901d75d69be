//! A patient's two-step sign-in in a real browser: registering from an
//! access link, adding a passkey and signing in with it alone (Chromium's
//! virtual authenticator); setting up an authenticator app from its QR
//! code's page; and a device marked trusted skipping the second step until
//! the patient stops trusting it. Pages are opened at `localhost`, as
//! passkeys need a host name.

use portico_tests::browser::Browser;
use portico_tests::{
    Engine, TestApp, add_enabled_patient, clear_of_step_edge, totp_code, unix_now,
};
use serde_json::json;
use thirtyfour::prelude::*;

const PATIENT_PASSWORD: &str = "patient-password-123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_registers_from_the_access_link_adds_a_passkey_and_signs_in_with_it() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser.add_virtual_authenticator().await;
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    let code = app.issue_code(&owner, &mia).await;
    let portal = format!("{}/t/north/portal", app.named_origin());

    // The access link opens the registration page with the code in place.
    driver
        .goto(&format!("{portal}/register#code={code}"))
        .await
        .unwrap();
    browser.fill("email", "mia@example.org").await;
    browser.fill("password", PATIENT_PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;
    assert!(browser.main_text().await.contains("Mia Wong"));

    // A passkey, from the account page.
    driver.goto(&format!("{portal}/account")).await.unwrap();
    browser.fill("passkey-name", "My phone").await;
    browser.fill("passkey-password", PATIENT_PASSWORD).await;
    browser
        .click("form[action$='/two-step/passkey'] button[type=submit]")
        .await;
    assert!(
        browser
            .main_text()
            .await
            .contains("Add the passkey “My phone”")
    );
    browser.checkpoint("portal-passkey-add").await;
    browser.click("#passkey-finish button[type=submit]").await;
    let added = browser.main_text().await;
    assert!(
        added.contains("Passkey added") && added.contains("Your recovery codes"),
        "{added}"
    );
    let codes = driver.find_all(By::Css("ol.codes li")).await.unwrap();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");

    // Out, and in with the passkey alone: no login name, no password.
    driver.goto(&format!("{portal}/")).await.unwrap();
    browser.portal_log_out().await;
    driver.goto(&format!("{portal}/login")).await.unwrap();
    let button = driver.find(By::Id("passkey-sign-in")).await.unwrap();
    assert!(
        button.is_displayed().await.unwrap(),
        "the passkey button shows where passkeys work"
    );
    browser.checkpoint("portal-passkey-sign-in").await;
    button.click().await.unwrap();
    browser.wait_for_path("/t/north/portal/").await;
    assert!(browser.main_text().await.contains("Mia Wong"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticator_app_is_set_up_from_its_qr_code_and_asked_at_the_next_sign_in() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    let code = app.issue_code(&owner, &mia).await;
    app.redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD)
        .await;
    let portal = app.tenant_url("north", "/portal");

    browser
        .portal_log_in(&portal, "mia@example.org", PATIENT_PASSWORD)
        .await;
    browser.wait_for_path("/t/north/portal/").await;
    driver
        .goto(&format!("{portal}/account#two-step"))
        .await
        .unwrap();
    browser.checkpoint("portal-two-step-off").await;
    browser.fill("totp-password", PATIENT_PASSWORD).await;
    clear_of_step_edge().await;
    browser
        .click("form[action$='/two-step/authenticator'] button[type=submit]")
        .await;
    assert!(
        driver.find(By::Css(".qr svg")).await.is_ok(),
        "the QR code is drawn on the page"
    );
    browser.checkpoint("portal-totp-setup").await;
    let secret = driver
        .find(By::Css("code.secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .fill("setup-code", &totp_code(&secret, unix_now() - 30))
        .await;
    browser.click("#totp-setup button[type=submit]").await;
    let added = browser.main_text().await;
    assert!(
        added.contains("Authenticator app added") && added.contains("Your recovery codes"),
        "{added}"
    );

    // The next sign-in asks for the app's code.
    driver.goto(&format!("{portal}/")).await.unwrap();
    browser.portal_log_out().await;
    browser
        .portal_log_in(&portal, "mia@example.org", PATIENT_PASSWORD)
        .await;
    browser
        .wait_for_path("/t/north/portal/login/second-step")
        .await;
    browser.checkpoint("portal-second-step").await;
    browser
        .fill("code", &totp_code(&secret, unix_now() + 30))
        .await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_marked_trusted_skips_the_second_step_until_it_is_no_longer_trusted() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    let code = app.issue_code(&owner, &mia).await;
    let resp = app
        .redeem_new("north", &code, "mia@example.org", PATIENT_PASSWORD)
        .await;
    let patient = portico_tests::Patient::from_response("north", resp).await;
    let on = patient
        .post(
            &app,
            "/api/v1/portal/factors/email",
            json!({"enabled": true, "password": PATIENT_PASSWORD}),
        )
        .await;
    assert!(on.status().is_success());
    let portal = app.tenant_url("north", "/portal");

    // The password, then the code from the mail, trusting this device.
    browser
        .portal_log_in(&portal, "mia@example.org", PATIENT_PASSWORD)
        .await;
    browser
        .wait_for_path("/t/north/portal/login/second-step")
        .await;
    let step = browser.main_text().await;
    assert!(step.contains("We sent a 6-digit code"), "{step}");
    let mailed = app.outbox("sign_in_code", "mia@example.org").await;
    let code = mailed.last().unwrap()["code"].as_str().unwrap().to_owned();
    browser.fill("code", &code).await;
    browser.choose("#trust").await;
    browser.checkpoint("portal-second-step-email").await;
    // Phone-sized, the step reads top to bottom and passes the same checks.
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    browser.checkpoint("portal-second-step-phone").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;

    // Next time, the password alone.
    browser.portal_log_out().await;
    browser
        .portal_log_in(&portal, "mia@example.org", PATIENT_PASSWORD)
        .await;
    browser.wait_for_path("/t/north/portal/").await;
    assert_eq!(
        app.outbox("sign_in_code", "mia@example.org").await.len(),
        1,
        "no new code was mailed"
    );

    // The account page lists the device; once no longer trusted, the
    // second step is asked again.
    driver
        .goto(&format!("{portal}/account#two-step"))
        .await
        .unwrap();
    let devices = driver
        .find(By::Id("trusted-devices"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(devices.contains("Chrome"), "{devices}");
    browser.checkpoint("portal-two-step-account").await;
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    browser
        .assert_accessible("portal-two-step-account-phone")
        .await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
    browser.click("#trusted-devices button[type=submit]").await;
    assert!(browser.main_text().await.contains("no longer trusted"));
    driver.goto(&format!("{portal}/")).await.unwrap();
    browser.portal_log_out().await;
    browser
        .portal_log_in(&portal, "mia@example.org", PATIENT_PASSWORD)
        .await;
    browser
        .wait_for_path("/t/north/portal/login/second-step")
        .await;
    browser.close().await;
}
