//! The accessibility checker the browser journey runs on every page
//! (`tests/src/accessibility.js` and the Tab walk in `tests/src/browser.rs`):
//! it must find each kind of problem it claims to, and pass a page that
//! has none, or a green journey would prove nothing.

use portico_tests::browser::Browser;

fn page(body: &str, lang: bool) -> String {
    let html = format!(
        "<!doctype html><html{}><head><title>Checker</title></head><body>{body}</body></html>",
        if lang { " lang=\"en\"" } else { "" }
    );
    let mut url = String::from("data:text/html;charset=utf-8,");
    for b in html.bytes() {
        if b.is_ascii_alphanumeric() {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[tokio::test]
async fn the_checker_finds_each_problem_and_passes_a_sound_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let sound = page(
        "<main><h1>Sign in</h1><form><label for=a>Email</label><input id=a type=email>\
         <label for=b>Born</label><input id=b type=date>\
         <fieldset><legend>Delivery</legend><label><input type=radio name=d checked> Mail</label>\
         <label><input type=radio name=d> Print</label></fieldset>\
         <p style='color:#767676'>Small grey text at 4.54:1.</p>\
         <p style='color:#fff;background:#0b6e4f'>White on the default brand colour.</p>\
         <img src='data:,' alt=''><button>Send</button></form></main>",
        true,
    );
    browser.driver.goto(&sound).await.unwrap();
    assert_eq!(browser.accessibility_problems().await, Vec::<String>::new());

    let broken = page(
        "<main><p>No heading here.</p><form><input id=x name=nameless>\
         <label for=y>Twice</label><input id=y><span id=y></span>\
         <p style='color:#999'>Light grey text at 2.85:1.</p>\
         <p style='color:#fff;background:#7fd1ae'>White on a pale green.</p>\
         <img src='data:,'><a href='#'></a>\
         <button style='outline:none'>Quietly focused</button>\
         <input aria-label=Jump tabindex=3></form>\
         <form method=post action=/a><input type=hidden name=code value=1><button>Revoke</button></form>\
         <form method=post action=/a><input type=hidden name=code value=2><button>Revoke</button></form>\
         <form method=post action=/b><button aria-label='Revoke Mia'>Revoke</button></form>\
         <form method=post action=/c><button aria-label='Revoke Leo'>Revoke</button></form></main>",
        false,
    );
    browser.driver.goto(&broken).await.unwrap();
    let problems = browser.accessibility_problems().await.join("\n");
    for expected in [
        "the page declares no language",
        "the page has no first-level heading",
        "the form control input#x[name=nameless] has no label",
        "the id \"y\" is used twice",
        "(\"Light grey text at 2.85:1.\") has contrast 2.85:1",
        "(\"White on a pale green.\") has contrast 1.81:1",
        "the image data:, has no alt text",
        "the control a has no name",
        "has a positive tabindex",
        "2 buttons are all called \"Revoke\" but do different things",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not found in:\n{problems}"
        );
    }
    // A positive tabindex takes its field out of the reading order: the
    // Tab walk does not meet it where it stands.
    assert!(
        problems.contains("should be <input aria-label=\"Jump\" tabindex=\"3\""),
        "{problems}"
    );

    // A control whose focus is not shown, found by the Tab walk alone.
    let hidden_focus = page(
        "<main><h1>Form</h1><label for=q>Query</label><input id=q>\
         <button style='outline:none'>Go</button></main>",
        true,
    );
    browser.driver.goto(&hidden_focus).await.unwrap();
    let problems = browser.accessibility_problems().await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("focus on <button") && problems[0].ends_with("is not visible"),
        "{problems:?}"
    );
    browser.close().await;
}
