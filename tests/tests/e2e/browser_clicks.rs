//! The main tasks of a front desk, counted in clicks in a real browser,
//! from the console's home page with the staff member logged in. The
//! counts are the README's ("Clicks for the main tasks"); a change that
//! adds a click fails here until the README says so, and it should not.

use portico_tests::browser::Browser;
use portico_tests::{Engine, PASSWORD, TestApp, add_enabled_patient};
use thirtyfour::prelude::*;

/// A browser that counts the clicks a person would make. Typing is not a
/// click; each button or link pressed is one.
struct Counted<'a> {
    browser: &'a Browser,
    clicks: u32,
}

impl<'a> Counted<'a> {
    /// A task begun on the console's home page, typing `typed` into "Find
    /// a patient", searching and opening the first patient found: the
    /// start every task here shares.
    async fn from_home(browser: &'a Browser, console: &str, typed: &str) -> Self {
        browser.driver.goto(&format!("{console}/")).await.unwrap();
        let mut task = Self { browser, clicks: 0 };
        browser.fill("find", typed).await;
        task.click("form[role=search] button").await;
        task.click("table a").await;
        task
    }

    async fn click(&mut self, css: &str) {
        self.browser.click(css).await;
        self.clicks += 1;
    }
}

/// The README's figure for `task`, from its table.
fn readme_clicks(task: &str) -> u32 {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    readme
        .lines()
        .find_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells.len() >= 4 && cells[1] == task)
                .then(|| cells[2].parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("the README's table has no row for {task:?}"))
}

#[tokio::test]
async fn the_main_tasks_take_the_clicks_the_readme_says() {
    let Some(app) = TestApp::spawn(Engine::Sqlite).await else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let driver = &browser.driver;
    let owner = app.clinic_with_owner("north").await;
    app.add_staff(&owner, "desk@north.example.org", &["front_desk"])
        .await;
    let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
    add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
    // Mia holds her record through an account, for the revoke.
    let code = app.issue_code(&owner, &mia).await;
    app.redeem_new("north", &code, "mia@example.org", "mia's own passphrase")
        .await;
    let console = app.tenant_url("north", "/console");
    driver.goto(&format!("{console}/login")).await.unwrap();
    browser.fill("email", "desk@north.example.org").await;
    browser.fill("password", PASSWORD).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_path("/t/north/console/").await;
    let workspace = format!("/t/north/console/patients/{mia}");

    // Find a patient by date of birth.
    let task = Counted::from_home(&browser, &console, "1980-05-17").await;
    let found = task.clicks;
    assert!(browser.main_text().await.contains("Born 1980-05-17"));

    // Send an access link.
    let mut task = Counted::from_home(&browser, &console, "wong mia").await;
    browser.wait_for_path(&workspace).await;
    task.click("a.button").await;
    browser.fill("password", PASSWORD).await;
    task.click("main form button[type=submit]").await;
    assert!(browser.main_text().await.contains("Access link queued"));
    let sent = task.clicks;

    // Print a handout (its new tab kept in this one for the test).
    let mut task = Counted::from_home(&browser, &console, "wong mia").await;
    let unframe =
        "document.querySelectorAll('form[target]').forEach(f => f.removeAttribute('target'))";
    driver.execute(unframe, vec![]).await.unwrap();
    task.click("form[action$='/handout'] button[type=submit]")
        .await;
    driver.execute(unframe, vec![]).await.unwrap();
    browser.fill("password", PASSWORD).await;
    task.click("form[action$='/handout'] button[type=submit]")
        .await;
    assert!(
        driver.find(By::Id("print")).await.is_ok(),
        "the handout is on show"
    );
    let printed = task.clicks;

    // Revoke an account's access to the record, through its question.
    let mut task = Counted::from_home(&browser, &console, "wong mia").await;
    task.click("form[action*='/grants/'] button").await;
    task.click("main form button.danger").await;
    assert!(browser.main_text().await.contains("Access revoked."));
    let revoked = task.clicks;

    let measured = [
        ("Find a patient by date of birth", found),
        ("Send an access link", sent),
        ("Print a handout", printed),
        ("Revoke an account's access", revoked),
    ];
    for (name, clicks) in measured {
        assert_eq!(
            clicks,
            readme_clicks(name),
            "{name}: measured {clicks} clicks; the README must say so, and it must not grow"
        );
    }
    browser.close().await;
}
