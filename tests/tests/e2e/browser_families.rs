//! Families in a real browser: a parent with a 10-year-old and a
//! 14-year-old switches between the whole record and the limited one; an
//! adult invites a caregiver from the portal, who accepts from the mailed
//! link and sees the record; the patient then stops sharing. Each page is
//! checked for accessibility on a desktop and a phone.

use portico_tests::browser::Browser;
use portico_tests::{Engine, Patient, Staff, TestApp, file_form, json_ok};
use serde_json::json;
use time::{Date, OffsetDateTime};

const PASSWORD: &str = "a family passphrase";

fn born_years_ago(years: i32) -> Option<Date> {
    let today = OffsetDateTime::now_utc().date();
    today.replace_year(today.year() - years).ok()
}

async fn patient(app: &TestApp, by: &Staff, name: &str, born: Date, email: &str) -> String {
    let body = json_ok(
        by.post(app, "/api/v1/patients", json!({
            "full_name": name, "date_of_birth": born.to_string(), "email": email, "home_zip": "90210"
        }))
        .await,
    )
    .await;
    let id = body["id"].as_str().unwrap().to_owned();
    json_ok(
        by.put(
            app,
            &format!("/api/v1/patients/{id}/portal-access"),
            json!({"enabled": true}),
        )
        .await,
    )
    .await;
    id
}

async fn code(app: &TestApp, by: &Staff, patient: &str, relation: &str) -> String {
    by.step_up(app).await;
    let issued = json_ok(
        by.post(
            app,
            &format!("/api/v1/patients/{patient}/access-codes"),
            json!({"relation": relation, "delivery": "email"}),
        )
        .await,
    )
    .await;
    issued["code"].as_str().unwrap().to_owned()
}

/// A note, a confidential note and a document on `patient`.
async fn share(app: &TestApp, by: &Staff, patient: &str) {
    let base = format!("/api/v1/patients/{patient}");
    json_ok(
        by.post(
            app,
            &format!("{base}/notes"),
            json!({"body": "Growth chart looks good."}),
        )
        .await,
    )
    .await;
    json_ok(
        by.post(
            app,
            &format!("{base}/notes"),
            json!({"body": "Private counselling note.", "confidential": true}),
        )
        .await,
    )
    .await;
    json_ok(
        by.post_form(
            app,
            &format!("{base}/documents"),
            file_form(
                &[("title", "Vaccination record")],
                Some(("vaccinations.txt", b"MMR 2016".to_vec())),
            ),
        )
        .await,
    )
    .await;
    json_ok(by.post(app, &format!("{base}/appointments"), json!({
        "starts_at": "2030-01-10T09:30:00Z", "duration_minutes": 30, "with": "Dr. Okafor", "location": "Room 2"
    })).await).await;
}

/// Brings the section with `id` to the top of the window, for its
/// picture.
async fn scroll_to(browser: &Browser, id: &str) {
    browser
        .driver
        .execute(
            &format!("document.getElementById('{id}').scrollIntoView({{block: 'start'}})"),
            Vec::new(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_sees_the_whole_record_of_a_child_and_the_limited_one_of_a_teenager() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let (Some(ten), Some(fourteen)) = (born_years_ago(10), born_years_ago(14)) else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let leo = patient(&app, &owner, "Leo Wong", ten, "mia@example.org").await;
    let ava = patient(&app, &owner, "Ava Wong", fourteen, "mia@example.org").await;
    share(&app, &owner, &leo).await;
    share(&app, &owner, &ava).await;
    let leo_code = code(&app, &owner, &leo, "parent").await;
    let parent = Patient::from_response(
        "north",
        app.redeem_new("north", &leo_code, "mia@example.org", PASSWORD)
            .await,
    )
    .await;
    let ava_code = code(&app, &owner, &ava, "parent").await;
    json_ok(
        parent
            .post(&app, "/api/v1/portal/redeem", json!({"code": ava_code}))
            .await,
    )
    .await;
    json_ok(
        parent
            .post(
                &app,
                &format!("/api/v1/portal/records/{leo}/select"),
                json!({}),
            )
            .await,
    )
    .await;

    let portal = app.tenant_url("north", "/portal");
    browser
        .portal_log_in(&portal, "mia@example.org", PASSWORD)
        .await;
    browser.wait_for_path("/t/north/portal/").await;
    // The first record by name is Ava's: fourteen, so a limited view.
    let limited = browser.main_text().await;
    assert!(
        limited.contains("Ava is 14, so you see a limited view"),
        "{limited}"
    );
    assert!(
        limited.contains("Vaccination record") && limited.contains("Dr. Okafor"),
        "{limited}"
    );
    assert!(
        !limited.contains("Growth chart") && !limited.contains("counselling"),
        "no notes in a limited view: {limited}"
    );
    browser.checkpoint("portal-family-teen-limited").await;
    driver.set_window_rect(0, 0, 390, 844).await.unwrap();
    browser.checkpoint("portal-family-teen-limited-phone").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

    // The switcher names each record with what the account is to it.
    browser.choose("#patient option:nth-child(2)").await;
    browser
        .click("form[action$='/portal/switch'] button[type=submit]")
        .await;
    let whole = browser.main_text().await;
    assert!(whole.contains("Leo Wong (your child)"), "{whole}");
    assert!(
        whole.contains("You are Leo's parent or guardian."),
        "{whole}"
    );
    assert!(
        whole.contains("Growth chart looks good.") && whole.contains("Private counselling note."),
        "{whole}"
    );
    browser.checkpoint("portal-family-child").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adult_invites_a_caregiver_who_accepts_from_the_mail_and_is_later_let_go() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let Some(forty) = born_years_ago(40) else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let sam = patient(&app, &owner, "Sam Patel", forty, "sam@example.org").await;
    share(&app, &owner, &sam).await;
    let own = code(&app, &owner, &sam, "self").await;
    Patient::from_response(
        "north",
        app.redeem_new("north", &own, "sam@example.org", PASSWORD)
            .await,
    )
    .await;

    // Sam invites his daughter from the portal.
    let portal = app.tenant_url("north", "/portal");
    browser
        .portal_log_in(&portal, "sam@example.org", PASSWORD)
        .await;
    browser.wait_for_path("/t/north/portal/").await;
    assert!(
        browser
            .main_text()
            .await
            .contains("Nobody else. Your record is yours alone.")
    );
    browser.choose("#sharing summary").await;
    browser.fill("caregiver-email", "priya@example.org").await;
    scroll_to(&browser, "sharing").await;
    browser.checkpoint("portal-caregiver-invite").await;
    browser
        .click("form[action$='/caregivers'] button[type=submit]")
        .await;
    let sent = browser.main_text().await;
    assert!(
        sent.contains("Invitation sent.") && sent.contains("priya@example.org"),
        "{sent}"
    );
    browser.portal_log_out().await;

    // Priya follows the link in her mail and sets up her own account.
    let invitation = app
        .outbox("caregiver_invitation", "priya@example.org")
        .await;
    let code = invitation[0]["code"].as_str().unwrap().to_owned();
    driver
        .goto(&format!("{portal}/register#code={code}"))
        .await
        .unwrap();
    browser.fill("email", "priya@example.org").await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/portal/").await;
    let hers = browser.main_text().await;
    assert!(
        hers.contains("You are Sam's caregiver.") && hers.contains("Growth chart looks good."),
        "{hers}"
    );
    assert!(
        !hers.contains("Private counselling note."),
        "no confidential note for a caregiver: {hers}"
    );
    browser.checkpoint("portal-caregiver-view").await;
    browser.portal_log_out().await;

    // Sam sees her, and stops sharing.
    browser
        .portal_log_in(&portal, "sam@example.org", PASSWORD)
        .await;
    browser.wait_for_path("/t/north/portal/").await;
    let listed = browser.main_text().await;
    assert!(
        listed.contains("priya@example.org") && listed.contains("Caregiver"),
        "{listed}"
    );
    scroll_to(&browser, "sharing").await;
    browser.checkpoint("portal-sharing").await;
    browser
        .click("form[action$='/end'] button[type=submit]")
        .await;
    let after = browser.main_text().await;
    assert!(
        after.contains("They can no longer see your record"),
        "{after}"
    );
    assert!(after.contains("Nobody else."), "{after}");
    browser.close().await;
}
