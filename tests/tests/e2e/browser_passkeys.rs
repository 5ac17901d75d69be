//! Passkeys in a real browser, with Chromium's virtual authenticator: a
//! staff member adds a passkey from their account page, logs out, and
//! signs in with the passkey alone; then confirms a sensitive act with it.
//! The pages are opened at `localhost`, as passkeys need a host name.

use portico_tests::browser::Browser;
use portico_tests::{Engine, PASSWORD, TestApp};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_adds_a_passkey_and_signs_in_with_it_alone() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser.add_virtual_authenticator().await;
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    let console = format!("{}/t/north/console", app.named_origin());

    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", &owner.email).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/console/").await;
    driver.goto(&format!("{console}/account")).await.unwrap();
    browser.fill("passkey-name", "Work laptop").await;
    browser
        .click("form[action$='/two-step/passkey'] button[type=submit]")
        .await;
    assert!(
        browser
            .main_text()
            .await
            .contains("Add the passkey “Work laptop”")
    );
    browser.checkpoint("console-passkey-add").await;
    browser.click("#passkey-finish button[type=submit]").await;
    let added = browser.main_text().await;
    assert!(
        added.contains("the passkey “Work laptop” added") && added.contains("Your recovery codes"),
        "{added}"
    );
    browser.click("#recovery-codes a.button").await;
    let listed = browser.main_text().await;
    assert!(
        listed.contains("Work laptop") && listed.contains("Passkey"),
        "{listed}"
    );

    // Out, and in with the passkey alone: no email, no password.
    browser
        .click("header .menu-wide ~ form button[type=submit]")
        .await;
    driver.goto(&format!("{console}/login")).await.unwrap();
    let button = driver.find(By::Id("passkey-sign-in")).await.unwrap();
    assert!(
        button.is_displayed().await.unwrap(),
        "the passkey button shows where passkeys work"
    );
    browser.checkpoint("console-passkey-sign-in").await;
    button.click().await.unwrap();
    browser.wait_for_path("/t/north/console/").await;
    assert!(browser.main_text().await.contains("Find a patient"));

    // A sensitive act confirmed with the passkey: new recovery codes.
    driver.goto(&format!("{console}/account")).await.unwrap();
    browser
        .click(
            "form[action$='/two-step/recovery-codes'] button[aria-label^='Confirm with a passkey']",
        )
        .await;
    let renewed = browser.main_text().await;
    assert!(renewed.contains("New recovery codes made"), "{renewed}");
    browser.close().await;
}
