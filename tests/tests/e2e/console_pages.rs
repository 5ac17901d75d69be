//! The console's patient, follow-up and audit pages over plain HTTP: what
//! each role is shown, what the server refuses anyway, CSRF and origin
//! checks, refused forms that keep what was typed, and the audit export.

use portico_tests::{PASSWORD, TestApp, add_enabled_patient, both_engines, file_form, json_ok};
use reqwest::StatusCode;

/// A console session: its cookie and the CSRF token its pages carry.
struct Session {
    cookie: String,
    csrf: String,
}

async fn log_in(app: &TestApp, email: &str) -> Session {
    let resp = app
        .client
        .post(app.tenant_url("north", "/console/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login of {email}");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut session = Session {
        cookie,
        csrf: String::new(),
    };
    // Every role may open its own password page.
    let (_, html) = session.get(app, "/console/password").await;
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("pages carry the CSRF token") + marker.len();
    session.csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();
    session
}

impl Session {
    async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let resp = app
            .client
            .get(app.tenant_url("north", path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        app.client
            .post(app.tenant_url("north", path))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The value of `attribute` after the first `after` in `html`.
fn value_after(html: &str, after: &str, attribute: &str) -> String {
    let from = html
        .find(after)
        .unwrap_or_else(|| panic!("{after} in {html}"));
    let rest = &html[from..];
    let marker = format!("{attribute}=\"");
    let start = rest.find(&marker).unwrap() + marker.len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

both_engines! {
    async fn turning_two_step_off_and_resetting_a_patients_need_a_confirmation(app) {
        let owner = app.clinic_with_owner("north").await;
        let patch = serde_json::json!({"staff_second_factor_required": false, "patient_second_factor_required": true});
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", patch).await).await;
        let me = log_in(&app, &owner.email).await;
        let form = |confirmation: &'static str| vec![
            ("display_name", "Clinic north"), ("time_zone", "UTC"),
            ("primary_colour", "#0b6e4f"), ("accent_colour", "#e3f1ec"), ("logo_url", ""), ("reply_to", ""),
            ("code_lifetime_hours", "120"), ("default_delivery", "email"), ("confirmation", confirmation),
        ];
        // The patients' requirement unticked with no confirmation: refused,
        // and the page says what to do.
        let refused = me.post(&app, "/console/settings", &form("")).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let page = refused.text().await.unwrap();
        assert!(page.contains("settings-confirmation"), "the field to confirm in: {page}");
        assert_eq!(json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await["patient_second_factor_required"], true);
        let wrong = me.post(&app, "/console/settings", &form("not the password")).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let saved = me.post(&app, "/console/settings", &form(PASSWORD)).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await["patient_second_factor_required"], false);

        // A patient lost their phone: the question, then the reset with
        // the staff member's password.
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let code = app.issue_code(&owner, &mia).await;
        app.redeem_new("north", &code, "mia@example.org", "patient-password-123").await;
        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/grants")).await).await;
        let grant = grants[0]["id"].as_str().unwrap().to_owned();
        let (_, access) = me.get(&app, &format!("/console/patients/{mia}?tab=access")).await;
        assert!(access.contains(&format!("/grants/{grant}/reset-two-step")), "{access}");
        let path = format!("/console/grants/{grant}/reset-two-step");
        let asked = me.post(&app, &path, &[("patient", &mia)]).await;
        assert_eq!(asked.status(), StatusCode::OK);
        let question = asked.text().await.unwrap();
        assert!(question.contains("Reset the two-step sign-in of mia@example.org") && question.contains("confirm-password"), "{question}");
        let wrong = me.post(&app, &path, &[("patient", &mia), ("confirmed", "yes"), ("password", "not the password")]).await;
        assert!(wrong.text().await.unwrap().contains("Nothing was reset"));
        let done = me.post(&app, &path, &[("patient", &mia), ("confirmed", "yes"), ("password", PASSWORD)]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let to = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.contains("done=two_step_reset"), "{to}");
        let (_, shown) = me.get(&app, &to.replace("/t/north", "")).await;
        assert!(shown.contains("Two-step sign-in reset"), "{shown}");
    }

    async fn two_step_sign_in_is_set_up_and_used_from_the_console(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        // The owner turns the requirement on: from the next page, nobody
        // without a second factor gets past their own account page.
        let resp = owner.patch(&app, "/api/v1/clinic/settings", serde_json::json!({"staff_second_factor_required": true})).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let me = log_in(&app, &owner.email).await;
        for path in ["/console/", "/console/patients"] {
            let resp = app.client.get(app.tenant_url("north", path)).header("cookie", &me.cookie).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(resp.headers()["location"], "/t/north/console/account", "{path}");
        }
        let (status, account) = me.get(&app, "/console/account").await;
        assert_eq!(status, StatusCode::OK);
        assert!(account.contains("Set up two-step sign-in") && account.contains("Not set up yet"), "{account}");
        portico_tests::clear_of_step_edge().await;
        let resp = me.post(&app, "/console/two-step/authenticator", &[("name", "Phone")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let setup = resp.text().await.unwrap();
        assert!(setup.contains("<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\""), "the QR code is drawn on the page");
        assert!(!setup.contains("<?xml"));
        let key = setup.split("<code class=\"secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
        let confirm = value_after(&setup, "id=\"totp-setup\"", "action");
        let confirm = confirm.trim_start_matches("/t/north");
        // A wrong code adds nothing and says so.
        let resp = me.post(&app, confirm, &[("code", "000000")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.text().await.unwrap().contains("That code is not right"));
        let now = portico_tests::unix_now();
        let resp = me.post(&app, confirm, &[("code", &portico_tests::totp_code(&key, now - 30))]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let done = resp.text().await.unwrap();
        assert!(done.contains("Your recovery codes") && done.matches("<li><code>").count() == 10, "{done}");
        let recovery = done.split("<li><code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
        let (status, _) = me.get(&app, "/console/patients").await;
        assert_eq!(status, StatusCode::OK, "the console opens once a factor is set up");

        // The next login asks for a code on a page of its own.
        let resp = app.client.post(app.tenant_url("north", "/console/login"))
            .form(&[("email", owner.email.as_str()), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/t/north/console/login/second-step");
        let cookies: Vec<String> = resp.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().all(|c| !c.starts_with("portico_session=")), "no session yet: {cookies:?}");
        let pending = cookies.iter().find(|c| c.starts_with("portico_console_pending=")).unwrap();
        assert!(pending.contains("HttpOnly") && pending.contains("Max-Age=300"), "{pending}");
        let pending = pending.split(';').next().unwrap().to_owned();
        let page = app.client.get(app.tenant_url("north", "/console/login/second-step")).header("cookie", &pending).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("autocomplete=\"one-time-code\""));
        let step = |code: String| app.client.post(app.tenant_url("north", "/console/login/second-step"))
            .header("cookie", &pending).form(&[("code", code)]).send();
        let wrong = step("000000".into()).await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.text().await.unwrap().contains("That code is not right"));
        let signed = step(recovery.clone()).await.unwrap();
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        let cookies: Vec<String> = signed.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("portico_session=")), "{cookies:?}");
        assert!(cookies.iter().any(|c| c.starts_with("portico_console_pending=;") && c.contains("Max-Age=0")), "the pending cookie is cleared: {cookies:?}");
        // Spent: the same pending login does not sign in twice.
        let again = step(portico_tests::totp_code(&key, now)).await.unwrap();
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        assert_eq!(again.headers()["location"], "/t/north/console/login?expired=1");

        // The owner sees who has it, and resets the desk's lost phone.
        app.enrol_totp(&desk, "Phone").await;
        let (_, staff) = me.get(&app, "/console/staff").await;
        assert!(staff.contains("two-step sign-in: on") && staff.contains("Reset two-step sign-in for desk@north.example.org"), "{staff}");
        let form_action = format!("/console/staff/{}/reset-two-step", desk.id);
        let refused = me.post(&app, &form_action, &[("confirmation", "not my password")]).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let done = me.post(&app, &form_action, &[("confirmation", PASSWORD)]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let (_, staff) = me.get(&app, "/console/staff?done=two_step_reset").await;
        assert!(staff.contains("Two-step sign-in reset."), "{staff}");
        let desk_row = staff.split("<tr>").find(|row| row.contains("desk@north.example.org")).unwrap();
        assert!(desk_row.contains("two-step sign-in: off"), "{desk_row}");
    }

    async fn the_access_tab_says_who_holds_a_record_as_what_and_codes_are_issued_for_a_relation(app) {
        let owner = app.clinic_with_owner("north").await;
        let today = time::OffsetDateTime::now_utc().date();
        let Ok(born) = today.replace_year(today.year() - 14) else { return };
        let ava = json_ok(owner.post(&app, "/api/v1/patients", serde_json::json!({
            "full_name": "Ava Wong", "date_of_birth": born.to_string(), "email": "mia@example.org", "home_zip": "90210"
        })).await).await["id"].as_str().unwrap().to_owned();
        json_ok(owner.put(&app, &format!("/api/v1/patients/{ava}/portal-access"), serde_json::json!({"enabled": true})).await).await;
        let me = log_in(&app, &owner.email).await;
        // A teenager's code may be hers or a parent's; hers is checked.
        let (_, page) = me.get(&app, &format!("/console/patients/{ava}/send-link")).await;
        assert!(page.contains("Who will use this code?"), "{page}");
        assert!(page.contains("value=\"self\" checked") && page.contains("value=\"parent\""), "{page}");
        assert!(!page.contains("value=\"caregiver\""), "no caregiver for a minor: {page}");
        // The confirmed form issues a parent's code.
        let done = me.post(&app, &format!("/console/patients/{ava}/send-link"), &[("password", PASSWORD), ("relation", "parent")]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{ava}/access-codes")).await).await;
        assert_eq!(codes[0]["relation"], "parent", "{codes}");
        let code = app.outbox("access_link", "mia@example.org").await[0]["code"].as_str().unwrap().to_owned();
        portico_tests::Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", "a parent's passphrase").await).await;
        let (_, access) = me.get(&app, &format!("/console/patients/{ava}?tab=access")).await;
        assert!(access.contains("Holds it as") && access.contains("Parent or guardian"), "{access}");
        assert!(access.contains("Limited view: no notes, nothing confidential"), "{access}");
        assert!(access.contains("Medical records, for a parent"), "{access}");
    }

    async fn issuing_a_code_says_first_which_unused_one_it_cancels(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let me = log_in(&app, &owner.email).await;
        // The workspace says the handout opens in a new tab; its address
        // opened again leads back to the patient, as a page.
        let (_, workspace) = me.get(&app, &format!("/console/patients/{mia}")).await;
        assert!(workspace.contains("Print a handout (opens in a new tab)"));
        let again = app.client.get(app.tenant_url("north", &format!("/console/patients/{mia}/handout"))).header("cookie", &me.cookie).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        let to = again.headers()["location"].to_str().unwrap().to_owned();
        let (status, html) = me.get(&app, to.trim_start_matches("/t/north")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("shown only once"), "{html}");
        // Nothing live yet: no warning.
        let first = me.post(&app, &format!("/console/patients/{mia}/handout"), &[]).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert!(!first.text().await.unwrap().contains("A code for the patient cancels"));
        // A link emailed a minute ago: printing a handout names it first.
        app.issue_code(&owner, &mia).await;
        let html = me.post(&app, &format!("/console/patients/{mia}/handout"), &[]).await.text().await.unwrap();
        assert!(html.contains("A code for the patient cancels the access link emailed to mia@example.org on"), "{html}");
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}/send-link")).await;
        assert!(html.contains("A code for the patient cancels the access link emailed to mia@example.org on"), "{html}");
        // The API tells what it replaced.
        owner.step_up(&app).await;
        let issued = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), serde_json::json!({"delivery": "print"})).await).await;
        assert_eq!(issued["replaced"], 1, "{issued}");
        owner.step_up(&app).await;
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}/send-link")).await;
        assert!(html.contains("A code for the patient cancels the handout printed on"), "{html}");
    }

    async fn the_workspace_leads_to_the_patients_own_audit(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        app.issue_code(&owner, &mia).await;
        app.issue_code(&owner, &leo).await;
        let me = log_in(&app, &owner.email).await;
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}")).await;
        let link = format!("/console/audit?target=patient:{mia}");
        assert!(html.contains(&format!("href=\"/t/north{link}\">Audit for this patient</a>")), "{html}");
        let (status, trail) = me.get(&app, &link).await;
        assert_eq!(status, StatusCode::OK);
        assert!(trail.contains(&format!("patient:{mia}")) && !trail.contains(&format!("patient:{leo}")), "only this patient's events");
        // People by name, acts in words: no bare id on show.
        assert!(trail.contains(&format!("patient <a href=\"/t/north/console/patients/{mia}\">Mia Wong</a>")), "{trail}");
        assert!(trail.contains("<td data-label=\"By\">Owner</td>") && trail.contains("Access code given"), "{trail}");
        let shown: String = trail.split('<').map(|piece| piece.split_once('>').map_or(piece, |(_, text)| text)).collect();
        assert!(!shown.contains(&mia), "the patient's id is not shown as text: {shown}");
        let (_, everything) = me.get(&app, "/console/audit").await;
        let shown: String = everything.split('<').map(|piece| piece.split_once('>').map_or(piece, |(_, text)| text)).collect();
        let ids: Vec<&str> = shown.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')).filter(|w| w.len() == 36 && w.matches('-').count() == 4).collect();
        assert!(ids.is_empty(), "no id on show anywhere in the trail: {ids:?} in {shown}");
        // A role that reads the trail but not patients sees kinds, not names.
        json_ok(owner.post(&app, "/api/v1/roles/policies", serde_json::json!({"role": "reviewer", "resource": "audit", "action": "read"})).await).await;
        app.add_staff(&owner, "review@north.example.org", &["reviewer"]).await;
        let reviewer = log_in(&app, "review@north.example.org").await;
        let (status, trail) = reviewer.get(&app, "/console/audit").await;
        assert_eq!(status, StatusCode::OK);
        assert!(trail.contains("Access code given") && !trail.contains("Mia Wong") && !trail.contains(">Owner<"), "{trail}");
        // Who may not read the trail gets no link.
        let front = log_in(&app, "desk@north.example.org").await;
        let (_, html) = front.get(&app, &format!("/console/patients/{mia}")).await;
        assert!(!html.contains("Audit for this patient"));
    }

    async fn enabling_access_says_first_what_is_missing(app) {
        let owner = app.clinic_with_owner("north").await;
        let bare = json_ok(owner.post(&app, "/api/v1/patients", serde_json::json!({"full_name": "Tom Bare", "date_of_birth": "1980-01-01"})).await).await;
        let me = log_in(&app, &owner.email).await;
        let (_, html) = me.get(&app, &format!("/console/patients/{}", bare["id"].as_str().unwrap())).await;
        assert!(html.contains("Turning it on needs an email address and a home zip code"), "{html}");
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}")).await;
        assert!(!html.contains("Turning it on needs"), "nothing missing, nothing said");
    }

    async fn a_new_staff_member_is_front_desk_unless_chosen_otherwise(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = log_in(&app, &owner.email).await;
        let (_, html) = me.get(&app, "/console/staff").await;
        let form = &html[html.find("id=\"role\" name=\"role\"").expect("the add form's role")..];
        let form = &form[..form.find("</select>").unwrap()];
        assert!(form.contains("<option selected>front_desk</option>"), "{form}");
        assert_eq!(form.matches(" selected").count(), 1, "{form}");
    }

    async fn a_new_staff_member_chooses_a_password_first_and_can_be_deactivated(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = log_in(&app, &owner.email).await;
        let added = me.post(&app, "/console/staff", &[
            ("display_name", "Noor Haddad"), ("email", "noor@north.example.org"),
            ("password", portico_tests::FIRST_PASSWORD), ("role", "front_desk"),
        ]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        let (_, staff) = me.get(&app, "/console/staff").await;
        assert!(staff.contains("has not chosen a password yet"), "{staff}");

        // Noor's first login leads to one page only: choosing a password.
        let resp = app.client.post(app.tenant_url("north", "/console/login"))
            .form(&[("email", "noor@north.example.org"), ("password", portico_tests::FIRST_PASSWORD)]).send().await.unwrap();
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut noor = Session { cookie, csrf: String::new() };
        for path in ["/console/", "/console/patients", "/console/follow-up"] {
            let resp = app.client.get(app.tenant_url("north", path)).header("cookie", &noor.cookie).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(resp.headers()["location"], "/t/north/console/account", "{path}");
        }
        let (status, page) = noor.get(&app, "/console/password").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Choose your own password") && page.contains("The password you were given"), "{page}");
        let marker = "name=\"csrf_token\" value=\"";
        let start = page.find(marker).unwrap() + marker.len();
        noor.csrf = page[start..start + page[start..].find('"').unwrap()].to_owned();
        let posted = noor.post(&app, "/console/patients", &[("full_name", "Sneaky"), ("date_of_birth", "1990-01-01")]).await;
        assert_eq!(posted.status(), StatusCode::SEE_OTHER, "a form post is turned back too");
        let chosen = noor.post(&app, "/console/password", &[
            ("current_password", portico_tests::FIRST_PASSWORD), ("new_password", "noor's own long passphrase"),
        ]).await;
        assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
        let (status, home) = noor.get(&app, "/console/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(home.contains("Find a patient"));
        let found = json_ok(owner.get(&app, "/api/v1/patients?search=sneaky").await).await;
        assert!(found["patients"].as_array().unwrap().is_empty(), "nothing was created before the password");

        // The owner deactivates Noor: logged out at once, named on the button.
        let (_, staff) = me.get(&app, "/console/staff").await;
        assert!(staff.contains("aria-label=\"Deactivate Noor Haddad\""), "{staff}");
        assert!(!staff.contains("aria-label=\"Deactivate Owner\""), "not oneself");
        let noor_id = {
            let at = staff.find("aria-label=\"Deactivate Noor Haddad\"").unwrap();
            let form = &staff[..at];
            let action = &form[form.rfind("/console/staff/").unwrap() + "/console/staff/".len()..];
            action[..action.find('/').unwrap()].to_owned()
        };
        let off = me.post(&app, &format!("/console/staff/{noor_id}/deactivate"), &[]).await;
        assert_eq!(off.status(), StatusCode::SEE_OTHER);
        let (_, staff) = me.get(&app, "/console/staff?done=deactivated").await;
        assert!(staff.contains("Staff member deactivated.") && staff.contains(">deactivated</span>"), "{staff}");
        assert!(staff.contains("aria-label=\"Reactivate Noor Haddad\""));
        let resp = app.client.get(app.tenant_url("north", "/console/")).header("cookie", &noor.cookie).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/t/north/console/login", "Noor's session ended");
    }

    async fn each_cancel_and_revoke_names_what_it_acts_on(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        app.issue_code(&owner, &mia).await;
        app.issue_code(&owner, &leo).await;
        let me = log_in(&app, &owner.email).await;
        let (_, list) = me.get(&app, "/console/follow-up").await;
        for name in ["Mia Wong", "Leo Wong"] {
            assert!(list.contains(&format!("aria-label=\"Cancel the unused code of {name}\"")), "{list}");
            assert!(list.contains(&format!("aria-label=\"Resend an access link to {name}\"")), "{list}");
        }
        // A code is cancelled, an account's access revoked: two words.
        app.redeem_new("north", &app.issue_code(&owner, &mia).await, "mia@example.org", "mia's own passphrase").await;
        app.issue_code(&owner, &mia).await;
        let (_, workspace) = me.get(&app, &format!("/console/patients/{mia}?tab=access")).await;
        assert!(workspace.contains(">Cancel code</button>") && workspace.contains(">Revoke Access</button>"), "{workspace}");
        assert!(workspace.contains("aria-label=\"Revoke the access of mia@example.org to this record\""), "{workspace}");
    }

    async fn turning_portal_access_off_says_which_codes_it_cancelled(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "leo@example.org").await;
        app.issue_code(&owner, &mia).await;
        let me = log_in(&app, &owner.email).await;
        for (patient, notice) in [(&mia, true), (&leo, false)] {
            // The first click asks, naming the patient and what goes with it, and changes nothing.
            let asked = me.post(&app, &format!("/console/patients/{patient}/portal-access"), &[("enabled", "false")]).await;
            assert_eq!(asked.status(), StatusCode::OK);
            let question = asked.text().await.unwrap();
            let name = if patient == &mia { "Mia Wong" } else { "Leo Wong" };
            assert!(question.contains(&format!("Disable portal access for {name}?")), "{question}");
            assert_eq!(question.contains("1 unused code will be cancelled"), notice, "{question}");
            assert!(question.contains("name=\"confirmed\" value=\"yes\"") && question.contains(">Keep access on</a>"));
            let (_, workspace) = me.get(&app, &format!("/console/patients/{patient}")).await;
            assert!(workspace.contains("id=\"portal-access\">enabled<"), "nothing changed yet");
            let off = me.post(&app, &format!("/console/patients/{patient}/portal-access"), &[("enabled", "false"), ("confirmed", "yes")]).await;
            assert_eq!(off.status(), StatusCode::SEE_OTHER);
            let to = off.headers()["location"].to_str().unwrap().to_owned();
            let (status, html) = me.get(&app, to.trim_start_matches("/t/north")).await;
            assert_eq!(status, StatusCode::OK, "{to}");
            assert!(html.contains("Portal access disabled."), "{html}");
            assert_eq!(html.contains("unused access codes were cancelled"), notice, "{to}");
        }
    }

    async fn each_role_sees_only_the_controls_it_may_use_and_the_server_refuses_the_rest(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let desk = log_in(&app, "desk@north.example.org").await;
        let auditor = log_in(&app, "audit@north.example.org").await;
        let workspace = format!("/console/patients/{mia}");

        let (status, html) = desk.get(&app, &workspace).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Send access link by email") && html.contains("Shared with the patient"));
        assert!(html.contains(">Follow-up<") && !html.contains(">Audit trail<"));
        let (_, html) = auditor.get(&app, &workspace).await;
        assert!(!html.contains("Send access link by email"), "the auditor issues no codes");
        assert!(!html.contains("Shared with the patient"), "nor reads clinical content");
        assert!(html.contains(">Audit trail<"));
        let (_, html) = auditor.get(&app, &format!("{workspace}?tab=shared")).await;
        assert!(!html.contains("id=\"notes\""));

        // Posting anyway is refused by the domain, and nothing is written.
        let refused = auditor.post(&app, &format!("{workspace}/notes"), &[("body", "sneaky")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("Your role does not let you share documents, notes, appointments or messages with patients; an owner or admin can change that."));
        // A wrong CSRF token, or a post from another site, never reaches it.
        let forged = app.client.post(app.tenant_url("north", &format!("{workspace}/notes")))
            .header("cookie", &desk.cookie).form(&[("csrf_token", "nope"), ("body", "x")]).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let cross = app.client.post(app.tenant_url("north", &format!("{workspace}/notes")))
            .header("cookie", &desk.cookie).header("sec-fetch-site", "cross-site")
            .form(&[("csrf_token", desk.csrf.as_str()), ("body", "x")]).send().await.unwrap();
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        let (_, html) = desk.get(&app, &format!("{workspace}?tab=shared")).await;
        assert!(html.contains("No notes yet."));

        // A refused note keeps its text; a good one redirects back.
        let long = "x".repeat(10_001);
        let refused = desk.post(&app, &format!("{workspace}/notes"), &[("body", long.as_str())]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(html.contains("at most 10,000 characters") && html.contains(&long));
        let ok = desk.post(&app, &format!("{workspace}/notes"), &[("body", "See you Tuesday.")]).await;
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        assert_eq!(ok.headers()["location"], format!("/t/north{workspace}?tab=shared&done=note_shared"));

        // Files from the page: a wrong kind is refused with its reason.
        let upload = |name: &'static str, bytes: &'static [u8]| {
            app.client.post(app.tenant_url("north", &format!("{workspace}/documents")))
                .header("cookie", &desk.cookie).header("sec-fetch-site", "same-origin")
                .multipart(file_form(&[("csrf_token", desk.csrf.as_str()), ("title", "")], Some((name, bytes.to_vec()))))
                .send()
        };
        let bad = upload("virus.pdf", b"MZ\x90\0\x03\0\0\0").await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(bad.text().await.unwrap().contains("Only PDF, PNG, JPEG and plain-text files can be shared."));
        let good = upload("letter.txt", b"Dear Mia,\nall is well.\n").await.unwrap();
        assert_eq!(good.status(), StatusCode::SEE_OTHER);
        let (_, html) = desk.get(&app, &format!("{workspace}?tab=shared")).await;
        assert!(html.contains(">letter</a>") && html.contains("See you Tuesday."));
    }

    async fn the_front_desk_finds_a_patient_by_whatever_the_caller_says(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        for (name, born, email, phone) in [
            ("Mia Wong", "1984-03-07", "mia.wong@example.org", "+1 (555) 010-0199"),
            ("Wong Kar", "1990-12-01", "kar@example.net", "555.777.1234"),
            ("Ada Lovelace", "1984-03-08", "ada@example.org", "020 7946 0000"),
        ] {
            let resp = owner.post(&app, "/api/v1/patients", serde_json::json!({
                "full_name": name, "date_of_birth": born, "email": email, "phone": phone,
            })).await;
            assert!(resp.status().is_success(), "{name}: {}", resp.status());
        }
        let desk = log_in(&app, "desk@north.example.org").await;
        let found = |html: &str| -> Vec<&'static str> {
            ["Mia Wong", "Wong Kar", "Ada Lovelace"].into_iter().filter(|n| html.contains(n)).collect()
        };
        for (typed, want) in [
            ("wong mia", vec!["Mia Wong"]),
            ("MIA  wong", vec!["Mia Wong"]),
            ("wong", vec!["Mia Wong", "Wong Kar"]),
            ("1984-03-07", vec!["Mia Wong"]),
            ("3/7/1984", vec!["Mia Wong"]),
            ("03/08/1984", vec!["Ada Lovelace"]),
            ("MIA.WONG@", vec!["Mia Wong"]),
            ("@example.org", vec!["Mia Wong", "Ada Lovelace"]),
            ("5550100199", vec!["Mia Wong"]),
            ("555-777", vec!["Wong Kar"]),
            ("7946 0000", vec!["Ada Lovelace"]),
            ("100%", vec![]),
        ] {
            let (status, html) = desk.get(&app, &format!("/console/patients?search={}", urlencoding(typed))).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(found(&html), want, "searching for {typed:?}");
        }
        // The same search answers the API.
        let resp = owner.get(&app, "/api/v1/patients?search=kar%20wong").await;
        let body = json_ok(resp).await;
        let names: Vec<_> = body["patients"].as_array().unwrap().iter().map(|p| p["full_name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["Wong Kar"]);
    }

    async fn the_home_page_is_the_front_desks_starting_point(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let ada = add_enabled_patient(&app, &owner, "Ada Lovelace", "ada@example.org").await;
        // Ada's code waits; Mia redeems hers and writes twice.
        app.issue_code(&owner, &ada).await;
        let code = app.issue_code(&owner, &mia).await;
        let patient = portico_tests::Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", PASSWORD).await).await;
        for body in ["Is my result in?", "Also, can I move Tuesday?"] {
            json_ok(patient.post_form(&app, &format!("/api/v1/portal/records/{mia}/messages"), file_form(&[("body", body)], None)).await).await;
        }
        app.issue_code(&owner, &mia).await;

        let desk = log_in(&app, "desk@north.example.org").await;
        let (_, home) = desk.get(&app, "/console/").await;
        assert!(home.contains("Find a patient") && home.contains("action=\"/t/north/console/patients\""));
        assert!(home.contains("<strong class=\"count\">2</strong> codes have not been used yet"), "Ada's code and Mia's second: {home}");
        assert!(home.contains(&format!("/t/north/console/patients/{mia}?tab=shared#messages\">Mia Wong</a>")), "{home}");
        assert!(home.contains("<td data-label=\"Unread\">2</td>"));
        assert!(!home.contains("Ada Lovelace"), "nobody waits on Ada");

        // Reading the thread empties the inbox; her two messages show as
        // new that once.
        let (_, thread) = desk.get(&app, &format!("/console/patients/{mia}?tab=shared")).await;
        assert_eq!(thread.matches("<span class=\"new\">New</span>").count(), 2, "{thread}");
        let (_, home) = desk.get(&app, "/console/").await;
        assert!(home.contains("No patient is waiting for an answer."));
        let (_, thread) = desk.get(&app, &format!("/console/patients/{mia}?tab=shared")).await;
        assert!(!thread.contains("class=\"new\""));
        // An answer lands back at the thread, confirmed there.
        let sent = app.client.post(app.tenant_url("north", &format!("/console/patients/{mia}/messages")))
            .header("cookie", &desk.cookie).header("sec-fetch-site", "same-origin")
            .multipart(file_form(&[("csrf_token", desk.csrf.as_str()), ("body", "Yes, it is in.")], None)).send().await.unwrap();
        let to = sent.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.ends_with("&done=message_sent#messages"), "{to}");
        let (_, page) = desk.get(&app, to.trim_start_matches("/t/north").split('#').next().unwrap()).await;
        let card = &page[page.find("id=\"messages\"").unwrap()..];
        assert!(card.starts_with("id=\"messages\">\n  <h2>Messages</h2>\n  <p class=\"notice\" role=\"status\">Message sent."), "{card}");
        assert_eq!(page.matches("Message sent.").count(), 1, "said once, by the thread");
    }

    async fn patients_are_found_and_created_from_the_list(app) {
        let owner = app.clinic_with_owner("north").await;
        add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        add_enabled_patient(&app, &owner, "Ada Lovelace", "ada@example.org").await;
        let me = log_in(&app, &owner.email).await;
        let (_, html) = me.get(&app, "/console/patients?search=LOVE").await;
        assert!(html.contains("Ada Lovelace") && !html.contains("Mia Wong"));
        let (_, html) = me.get(&app, "/console/patients?search=nobody").await;
        assert!(html.contains("No patient matches"));

        let refused = me.post(&app, "/console/patients", &[
            ("full_name", "Sam Patel"), ("date_of_birth", "31/02/1957"), ("email", "sam@example.org"),
        ]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(html.contains("value=\"Sam Patel\"") && html.contains("value=\"sam@example.org\""), "what was typed stays");
        let created = me.post(&app, "/console/patients", &[
            ("full_name", "Sam Patel"), ("date_of_birth", "1957-02-11"), ("email", ""),
        ]).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let (_, html) = me.get(&app, location.trim_start_matches("/t/north")).await;
        assert!(html.contains("Patient added.") && html.contains("Sam Patel"));
        assert!(html.contains("Enable portal access"));
    }

    async fn the_follow_up_list_revokes_and_the_audit_trail_filters_and_exports(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let leo = add_enabled_patient(&app, &owner, "Leo Wong", "mia@example.org").await;
        app.issue_code(&owner, &mia).await;
        app.issue_code(&owner, &leo).await;
        let me = log_in(&app, &owner.email).await;

        let (_, html) = me.get(&app, "/console/follow-up").await;
        assert!(html.contains("Mia Wong") && html.contains("Leo Wong"));
        let code_id = {
            let marker = "/console/codes/";
            let start = html.find(marker).unwrap() + marker.len();
            html[start..start + 36].to_owned()
        };
        let patient_of_first = if html.find("Leo Wong").unwrap() < html.find("Mia Wong").unwrap() { &leo } else { &mia };
        let asked = me.post(&app, &format!("/console/codes/{code_id}/revoke"), &[
            ("patient", patient_of_first.as_str()), ("back", "follow-up"),
        ]).await;
        assert_eq!(asked.status(), StatusCode::OK);
        let question = asked.text().await.unwrap();
        let name = if patient_of_first == &leo { "Leo Wong" } else { "Mia Wong" };
        assert!(question.contains(&format!("Cancel {name}&#x27;s access code?")) || question.contains(&format!("Cancel {name}'s access code?")), "{question}");
        assert!(question.contains("It was emailed to mia@example.org on "), "{question}");
        assert!(question.contains("href=\"/t/north/console/follow-up\">Keep the code</a>"), "{question}");
        let (_, html) = me.get(&app, "/console/follow-up").await;
        assert_eq!(html.matches("/revoke\"").count(), 2, "asking cancelled nothing");
        let revoked = me.post(&app, &format!("/console/codes/{code_id}/revoke"), &[
            ("patient", patient_of_first.as_str()), ("back", "follow-up"), ("confirmed", "yes"),
        ]).await;
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
        assert_eq!(revoked.headers()["location"], "/t/north/console/follow-up");
        let (_, html) = me.get(&app, "/console/follow-up").await;
        assert_eq!(html.matches("/revoke\"").count(), 1, "one code left to follow up");

        let (_, html) = me.get(&app, "/console/audit?action=code.revoke").await;
        assert!(html.contains("code.revoke") && !html.contains("code.issue"));
        // Part of the words finds the act too.
        let (_, html) = me.get(&app, "/console/audit?action=CANCELLED").await;
        assert!(html.contains("Access code cancelled") && !html.contains(">Access code given<"), "{html}");
        let (_, html) = me.get(&app, "/console/audit?action=code").await;
        assert!(html.contains("Access code cancelled") && html.contains("Access code given"), "{html}");
        let (status, html) = me.get(&app, "/console/audit?since=yesterday").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("The from date must be a date such as 2026-11-23."));

        let export = app.client.get(app.tenant_url("north", "/console/audit.csv?action=code.issue"))
            .header("cookie", &me.cookie).send().await.unwrap();
        assert_eq!(export.status(), StatusCode::OK);
        assert!(export.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"audit-north-"));
        let csv = export.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "occurred_at,action,actor,target,outcome,reason,ip,user_agent");
        assert_eq!(lines.len(), 3, "two issued codes: {csv}");
        assert!(lines[1..].iter().all(|l| l.contains(",code.issue,staff:")));
        // The desk role reads no audit trail, page or export.
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let desk = log_in(&app, "desk@north.example.org").await;
        let denied = app.client.get(app.tenant_url("north", "/console/audit.csv"))
            .header("cookie", &desk.cookie).send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);

        // A grant sent to the wrong person is revoked from the workspace.
        let code = app.issue_code(&owner, &mia).await;
        let patient = portico_tests::Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", "mia's long passphrase").await).await;
        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/grants")).await).await;
        let grant = grants[0]["id"].as_str().unwrap().to_owned();
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}")).await;
        assert!(html.contains(&format!("/console/grants/{grant}/revoke")), "the workspace offers it");
        let asked = me.post(&app, &format!("/console/grants/{grant}/revoke"), &[("patient", mia.as_str())]).await;
        let question = asked.text().await.unwrap();
        assert!(question.contains("access to Mia Wong") && question.contains("The account stays"), "{question}");
        assert!(question.contains(">Revoke Access</button>") && question.contains(">Keep their access</a>"));
        assert_eq!(patient.records(&app).await.len(), 1, "asking revoked nothing");
        let revoked = me.post(&app, &format!("/console/grants/{grant}/revoke"), &[("patient", mia.as_str()), ("confirmed", "yes")]).await;
        assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
        assert!(patient.records(&app).await.is_empty(), "the account no longer holds the record");
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}?tab=access&done=grant_revoked")).await;
        assert!(html.contains("Access revoked.") && html.contains(">revoked "), "{html}");
    }

    async fn the_audit_trails_integrity_is_shown_signed_and_downloaded_from_the_console(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = log_in(&app, &owner.email).await;
        let (_, trail) = me.get(&app, "/console/audit").await;
        assert!(trail.contains("href=\"/t/north/console/audit/integrity\""), "the trail leads to it");
        let (status, html) = me.get(&app, "/console/audit/integrity").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No signed head covers them yet"), "{html}");
        assert!(!html.contains("(s)"), "plurals are words");
        assert!(!html.contains("proof-bundle.jsonl"), "no bundle before a head");
        assert!(html.contains("Audit events are kept forever"), "{html}");

        let signed = me.post(&app, "/console/audit/heads", &[]).await;
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        assert_eq!(signed.headers()["location"], "/t/north/console/audit/integrity?done=signed");
        let (_, html) = me.get(&app, "/console/audit/integrity?done=signed").await;
        assert!(html.contains("Tree head signed."), "{html}");
        let heads = json_ok(owner.get(&app, "/api/v1/audit/heads").await).await;
        let head = &heads["heads"][0];
        let size = head["size"].as_u64().unwrap();
        assert!(html.contains(&format!("Audit trail verified up to event {size}, signed at ")), "{html}");
        let id = head["id"].as_str().unwrap();

        let bundle = app.client.get(app.tenant_url("north", "/console/audit/proof-bundle.jsonl"))
            .header("cookie", &me.cookie).send().await.unwrap();
        assert_eq!(bundle.status(), StatusCode::OK);
        assert_eq!(bundle.headers()["content-disposition"], format!("attachment; filename=\"audit-proof-north-{size}.jsonl\"").as_str());
        let lines = bundle.text().await.unwrap();
        assert_eq!(lines.lines().filter(|l| l.contains("\"type\":\"event\"")).count() as u64, size);
        let file = app.client.get(app.tenant_url("north", &format!("/console/audit/heads/{id}.json")))
            .header("cookie", &me.cookie).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK);
        let kept: serde_json::Value = file.json().await.unwrap();
        assert_eq!((&kept["signature"], &kept["size"]), (&head["signature"], &head["size"]));

        // The desk role reads no audit: neither page nor proofs.
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let desk = log_in(&app, "desk@north.example.org").await;
        let (status, _) = desk.get(&app, "/console/audit/integrity").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let denied = app.client.get(app.tenant_url("north", "/console/audit/proof-bundle.jsonl"))
            .header("cookie", &desk.cookie).send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert_eq!(desk.post(&app, "/console/audit/heads", &[]).await.status(), StatusCode::FORBIDDEN);
    }

    async fn smartforms_are_defined_assigned_and_read_back_from_the_console(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let sam = json_ok(owner.post(&app, "/api/v1/patients", serde_json::json!({
            "full_name": "Sam Patel", "date_of_birth": "1957-02-11"
        })).await).await["id"].as_str().unwrap().to_owned();
        let me = log_in(&app, &owner.email).await;

        let refused = me.post(&app, "/console/forms", &[("title", "Intake"), ("q1_label", ""), ("q1_kind", "text")]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("value=\"Intake\""), "the title stays");
        let defined = me.post(&app, "/console/forms", &[
            ("title", "Intake"),
            ("q1_label", "Any allergies?"), ("q1_kind", "yes_no"), ("q1_required", "true"),
            ("q2_label", ""), ("q2_kind", "text"),
            ("q3_label", "Your GP's name"), ("q3_kind", "text"),
        ]).await;
        assert_eq!(defined.status(), StatusCode::SEE_OTHER);
        let (_, html) = me.get(&app, "/console/forms").await;
        assert!(html.contains("<td data-label=\"Form\">Intake</td><td data-label=\"Questions\">2</td>"), "two questions: the empty row is left out");
        let forms = json_ok(owner.get(&app, "/api/v1/forms").await).await;
        let form_id = forms[0]["id"].as_str().unwrap().to_owned();

        // No email and no account: the SmartForm code is shown once, here.
        let shown = me.post(&app, &format!("/console/patients/{sam}/forms"), &[("form_id", form_id.as_str())]).await;
        assert_eq!(shown.status(), StatusCode::OK);
        let html = shown.text().await.unwrap();
        assert!(html.contains("It is shown only now:"), "{html}");
        let (_, html) = me.get(&app, &format!("/console/patients/{sam}?tab=forms")).await;
        assert!(!html.contains("It is shown only now:"), "and never again");
        assert!(html.contains("Intake") && html.contains("assigned"));

        // Mia's answers come back to her workspace.
        let patient = {
            let code = app.issue_code(&owner, &mia).await;
            portico_tests::Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", "mia's long passphrase").await).await
        };
        let assigned = me.post(&app, &format!("/console/patients/{mia}/forms"), &[("form_id", form_id.as_str())]).await;
        assert_eq!(assigned.status(), StatusCode::SEE_OTHER);
        let mine = json_ok(patient.get(&app, "/api/v1/portal/forms").await).await;
        let assignment = mine[0]["id"].as_str().unwrap();
        json_ok(patient.post(&app, &format!("/api/v1/portal/forms/{assignment}/submit"),
            serde_json::json!({"answers": {"q1": "yes", "q2": "Dr. Okafor"}})).await).await;
        let (_, html) = me.get(&app, &format!("/console/patients/{mia}?tab=forms")).await;
        assert!(html.contains("Any allergies?") && html.contains("Dr. Okafor") && html.contains("submitted"), "{html}");
    }

    async fn changing_an_enabled_patients_email_takes_a_password_and_tells_the_old_address(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let me = log_in(&app, &owner.email).await;
        let path = format!("/console/patients/{mia}/details");
        let base = [("full_name", "Mia Wong"), ("date_of_birth", "1980-05-17"), ("phone", ""), ("home_zip", "90210")];
        let with = |email: &'static str, password: &'static str| {
            let mut fields = base.to_vec();
            fields.push(("email", email));
            fields.push(("password", password));
            fields
        };
        let refused = me.post(&app, &path, &with("mia.new@example.org", "")).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let html = refused.text().await.unwrap();
        assert!(html.contains("Confirm your password first") && html.contains("value=\"mia.new@example.org\""), "{html}");
        let wrong = me.post(&app, &path, &with("mia.new@example.org", "not my password")).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(app.outbox("email_change_notice", "mia@example.org").await.is_empty());
        let saved = me.post(&app, &path, &with("mia.new@example.org", PASSWORD)).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.outbox("email_change_notice", "mia@example.org").await.len(), 1);
        let record = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}")).await).await;
        assert_eq!(record["email"], "mia.new@example.org");
        // A change to other details needs no password.
        let mut fields = base.to_vec();
        fields[2] = ("phone", "+1 555 010 0101");
        fields.push(("email", "mia.new@example.org"));
        let phone = me.post(&app, &path, &fields).await;
        assert_eq!(phone.status(), StatusCode::SEE_OTHER);
        // The front desk is not offered a change it may not make: the
        // address is read-only, with who can change it; the owner gets the
        // password field, even once access is off again.
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let desk = log_in(&app, "desk@north.example.org").await;
        let (_, details) = desk.get(&app, &format!("/console/patients/{mia}?tab=details")).await;
        assert!(details.contains("value=\"mia.new@example.org\" readonly") && details.contains("an owner or admin changes it"), "{details}");
        assert!(!details.contains("id=\"confirm_password\""));
        json_ok(owner.put(&app, &format!("/api/v1/patients/{mia}/portal-access"), serde_json::json!({"enabled": false})).await).await;
        let (_, details) = me.get(&app, &format!("/console/patients/{mia}?tab=details")).await;
        assert!(details.contains("id=\"confirm_password\"") && !details.contains(" readonly"), "{details}");
        // A record never tied to the portal asks for nothing.
        let sam = json_ok(owner.post(&app, "/api/v1/patients", serde_json::json!({"full_name": "Sam Patel", "date_of_birth": "1957-02-11"})).await).await;
        let (_, details) = desk.get(&app, &format!("/console/patients/{}?tab=details", sam["id"].as_str().unwrap())).await;
        assert!(!details.contains(" readonly") && !details.contains("id=\"confirm_password\""));
    }

    async fn settings_brand_the_portal_and_staff_get_roles_from_the_console(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let me = log_in(&app, &owner.email).await;
        let desk = log_in(&app, "desk@north.example.org").await;

        // The desk reads the settings but gets no form to change them.
        let (status, html) = desk.get(&app, "/console/settings").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<fieldset disabled>") && !html.contains("Save settings"));
        let settings = |colour: &'static str, hours: &'static str| vec![
            ("display_name", "North Family Clinic"), ("time_zone", "Europe/Berlin"),
            ("primary_colour", colour), ("accent_colour", "#fff4e0"), ("logo_url", ""), ("reply_to", "front@north.example.org"),
            ("code_lifetime_hours", hours), ("default_delivery", "print"),
        ];
        let refused = desk.post(&app, "/console/settings", &settings("#8a1538", "48")).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let bad = me.post(&app, "/console/settings", &settings("#8a1538", "500")).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("value=\"500\""), "what was typed stays");
        // A main colour white text cannot be read on is refused, with the
        // measured contrast; so is a dark accent under dark text.
        let pale = me.post(&app, "/console/settings", &settings("#7fd1ae", "48")).await;
        assert_eq!(pale.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = pale.text().await.unwrap();
        assert!(html.contains("too light for the white text drawn on it (1.8:1"), "{html}");
        assert!(html.contains("value=\"#7fd1ae\""), "the chosen colour stays in the form");
        let mut dark_accent = settings("#8a1538", "48");
        dark_accent[3] = ("accent_colour", "#3a3a3a");
        let dark = me.post(&app, "/console/settings", &dark_accent).await;
        assert_eq!(dark.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = dark.text().await.unwrap();
        assert!(page.contains("Accent colour: is too dark") || page.contains("Accent colour:"), "the field by its label: {page}");
        assert!(page.contains("too dark for the dark text drawn on it") && !page.contains("Accent_colour"), "{page}");
        assert!(page.contains("value=\"#3a3a3a\""), "the refused colour stays in the picker");
        let mut nowhere = settings("#8a1538", "48");
        nowhere[1] = ("time_zone", "Mars/Olympus_Mons");
        let nowhere = me.post(&app, "/console/settings", &nowhere).await;
        assert_eq!(nowhere.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = nowhere.text().await.unwrap();
        assert!(page.contains("Time zone: "), "labelled as the form labels it: {page}");
        // The preview's colours are the saved ones; the page's script makes them follow the pickers.
        let preview = app.client.get(app.tenant_url("north", "/console/preview.css")).send().await.unwrap().text().await.unwrap();
        assert!(preview.contains("--preview-brand: #0b6e4f"), "{preview}");
        assert_eq!(json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await["primary_colour"], "#0b6e4f", "nothing refused was saved");

        let saved = me.post(&app, "/console/settings", &settings("#8a1538", "48")).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let now = json_ok(owner.get(&app, "/api/v1/clinic/settings").await).await;
        assert_eq!(now["display_name"], "North Family Clinic");
        assert_eq!(now["time_zone"], "Europe/Berlin");
        assert_eq!(now["primary_colour"], "#8a1538");
        assert_eq!(now["code_lifetime_hours"], 48);
        assert_eq!(now["default_delivery"], "print");
        assert_eq!(now["auto_enable_portal_access"], false, "the unticked box turns it off");
        assert_eq!(now["self_registration"], false, "and this one");
        // The portal wears the new colour at once.
        let brand = app.client.get(app.tenant_url("north", "/portal/assets/brand.css")).send().await.unwrap().text().await.unwrap();
        assert!(brand.contains("--brand: #8a1538"), "{brand}");
        // And the new name, and the rename is in the audit trail.
        let login_page = app.client.get(app.tenant_url("north", "/portal/login")).send().await.unwrap().text().await.unwrap();
        assert!(login_page.contains("North Family Clinic"));
        let (_, audit) = me.get(&app, "/console/audit?action=clinic.settings.update").await;
        // (minijinja escapes the slash.)
        assert!(audit.contains("time_zone=Europe&#x2f;Berlin self_registration=false staff_second_factor_required=false patient_second_factor_required=false audit_retention=forever renamed from &quot;Clinic north&quot; to &quot;North Family Clinic&quot;"), "{audit}");

        // Staff: add one with a role, give and take roles, add a rule.
        let added = me.post(&app, "/console/staff", &[
            ("display_name", "Dr. Okafor"), ("email", "okafor@north.example.org"),
            ("password", "a first long passphrase"), ("role", "practitioner"),
        ]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        let staff = json_ok(owner.get(&app, "/api/v1/staff").await).await;
        let okafor = staff.as_array().unwrap().iter().find(|s| s["email"] == "okafor@north.example.org").unwrap()["id"].as_str().unwrap().to_owned();
        let given = me.post(&app, &format!("/console/staff/{okafor}/roles"), &[("role", "auditor")]).await;
        assert_eq!(given.status(), StatusCode::SEE_OTHER);
        let taken = me.post(&app, &format!("/console/staff/{okafor}/roles/practitioner/remove"), &[]).await;
        assert_eq!(taken.status(), StatusCode::SEE_OTHER);
        let roles = json_ok(owner.get(&app, "/api/v1/roles/assignments").await).await;
        let theirs: Vec<&str> = roles.as_array().unwrap().iter().filter(|a| a["staff_id"] == okafor.as_str()).map(|a| a["role"].as_str().unwrap()).collect();
        assert_eq!(theirs, ["auditor"]);
        // Roles and permissions: a role is created with its first
        // permission, then ticked in the grid.
        let created = me.post(&app, "/console/policies", &[("role", "billing"), ("permission", "patients|read")]).await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        assert_eq!(created.headers()["location"], "/t/north/console/roles?done=role_created");
        let (_, grid) = me.get(&app, "/console/roles").await;
        assert!(grid.contains("<th scope=\"col\">billing</th>") && grid.contains("<th scope=\"col\">front desk</th>"), "{grid}");
        assert!(grid.contains("value=\"billing|patients|read\" checked aria-label=\"billing may see patients\""), "{grid}");
        assert!(grid.contains("aria-label=\"owner may read the audit trail (built in)\""), "built-in ticks are shown, not editable");
        assert_eq!(grid.matches("type=\"checkbox\"").count() + grid.matches("class=\"tick\"").count(), 22 * 6, "22 permissions by 6 roles");
        // Ticking two more and unticking the first, in one save.
        let mut form: Vec<(&str, &str)> = vec![];
        for role in ["owner", "admin", "practitioner", "front_desk", "auditor", "billing"] {
            form.push(("role", role));
        }
        form.extend([("was", "billing|patients|read"), ("allow", "billing|audit|read"), ("allow", "front_desk|plugins|read")]);
        // Meanwhile a colleague allows something else: the save leaves it be.
        json_ok(owner.post(&app, "/api/v1/roles/policies", serde_json::json!({"role": "auditor", "resource": "plugins", "action": "read"})).await).await;
        let saved = me.post(&app, "/console/roles", &form).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        let rules = json_ok(owner.get(&app, "/api/v1/roles/policies").await).await;
        let own: Vec<String> = rules.as_array().unwrap().iter().filter(|r| r["builtin"] == false)
            .map(|r| format!("{}|{}|{}", r["role"].as_str().unwrap(), r["resource"].as_str().unwrap(), r["action"].as_str().unwrap())).collect();
        assert_eq!(own.len(), 3, "{own:?}");
        for kept in ["billing|audit|read", "front_desk|plugins|read", "auditor|plugins|read"] {
            assert!(own.contains(&kept.to_owned()), "{kept}: {own:?}");
        }
        let (_, html) = me.get(&app, "/console/staff").await;
        assert!(html.contains("<option>billing</option>"), "and its role can be given");
        // The desk sees the staff list but no controls to change it, and
        // its posts are refused.
        let (_, html) = desk.get(&app, "/console/staff").await;
        assert!(html.contains("Dr. Okafor") && !html.contains("Add a staff member") && !html.contains("Give role"));
        let refused = desk.post(&app, &format!("/console/staff/{okafor}/roles"), &[("role", "owner")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }

    async fn a_clinic_asks_for_a_portal_host_and_an_operator_connects_it(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let me = log_in(&app, &owner.email).await;
        let desk = log_in(&app, "desk@north.example.org").await;
        let (_, html) = desk.get(&app, "/console/settings").await;
        assert!(!html.contains("Ask for this host"), "no control for a role that may not change settings");
        let refused = desk.post(&app, "/console/settings/portal-host", &[("requested_host", "portal.north-clinic.org")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let bad = me.post(&app, "/console/settings/portal-host", &[("requested_host", "not a host")]).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("must be a host name"));

        let asked = me.post(&app, "/console/settings/portal-host", &[("requested_host", "Portal.North-Clinic.org")]).await;
        assert_eq!(asked.status(), StatusCode::SEE_OTHER);
        let (_, html) = me.get(&app, "/console/settings?done=host_requested").await;
        assert!(html.contains("Requested: <strong>portal.north-clinic.org</strong>"), "{html}");
        assert!(html.contains("<code>north.localhost</code>"), "the CNAME target is named");
        // Asked for is not connected: the host names no clinic yet.
        let on_host = |host: &'static str| app.client.get(app.url("/portal/login")).header("host", host).send();
        assert_eq!(on_host("portal.north-clinic.org").await.unwrap().status(), StatusCode::NOT_FOUND);

        let operator = |body: serde_json::Value| app.client.put(app.url("/api/operator/v1/tenants/north/custom-domain"))
            .bearer_auth(&app.operator_token).json(&body).send();
        let listed = json_ok(app.client.get(app.url("/api/operator/v1/tenants/north")).bearer_auth(&app.operator_token).send().await.unwrap()).await;
        assert_eq!(listed["requested_custom_domain"], "portal.north-clinic.org", "operators see the request");
        let connected = json_ok(operator(serde_json::json!({"custom_domain": "portal.north-clinic.org"})).await.unwrap()).await;
        assert_eq!(connected["custom_domain"], "portal.north-clinic.org");
        assert!(connected.get("requested_custom_domain").is_none(), "the request is settled");
        let page = on_host("portal.north-clinic.org").await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("<title>Log in · Clinic north</title>"));
        // One host, one clinic.
        app.clinic_with_owner("south").await;
        let taken = app.client.put(app.url("/api/operator/v1/tenants/south/custom-domain")).bearer_auth(&app.operator_token)
            .json(&serde_json::json!({"custom_domain": "portal.north-clinic.org"})).send().await.unwrap();
        portico_tests::expect_error(taken, StatusCode::CONFLICT, "domain_taken").await;
        // Disconnected, the host stops answering for the clinic at once.
        json_ok(operator(serde_json::json!({"custom_domain": null})).await.unwrap()).await;
        assert_eq!(on_host("portal.north-clinic.org").await.unwrap().status(), StatusCode::NOT_FOUND);

        let withdrawn = me.post(&app, "/console/settings/portal-host", &[("requested_host", "portal.other.org")]).await;
        assert_eq!(withdrawn.status(), StatusCode::SEE_OTHER);
        let withdrawn = me.post(&app, "/console/settings/portal-host", &[("requested_host", "")]).await;
        assert_eq!(withdrawn.status(), StatusCode::SEE_OTHER);
        let settled = json_ok(owner.get(&app, "/api/v1/clinic").await).await;
        assert!(settled.get("requested_custom_domain").is_none());
        let audit = json_ok(owner.get(&app, "/api/v1/audit?limit=100").await).await.to_string();
        for action in ["clinic.portal_host.request", "tenant.custom_domain.set"] {
            assert!(audit.contains(action), "{action} audited");
        }
    }

    async fn appointments_are_booked_and_shown_in_the_clinics_time_zone(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = log_in(&app, &owner.email).await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", serde_json::json!({"time_zone": "America/Chicago"})).await).await;
        portico_tests::expect_error(owner.patch(&app, "/api/v1/clinic/settings", serde_json::json!({"time_zone": "Chicago"})).await,
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_time_zone").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let workspace = format!("/console/patients/{mia}");
        // 09:30 on the clinic's clock in December is 15:30 UTC (CST), in
        // July 14:30 UTC (CDT).
        for (local, utc) in [("2026-12-01T09:30", "2026-12-01T15:30:00Z"), ("2027-07-01T09:30", "2027-07-01T14:30:00Z")] {
            let booked = me.post(&app, &format!("{workspace}/appointments"), &[
                ("starts_at", local), ("duration_minutes", "30"), ("with", "Dr. Okafor"), ("location", "Room 2"),
            ]).await;
            assert_eq!(booked.status(), StatusCode::SEE_OTHER, "{local}");
            let shared = json_ok(owner.get(&app, &format!("/api/v1/patients/{mia}/shared")).await).await;
            assert!(shared["appointments"].as_array().unwrap().iter().any(|a| a["starts_at"] == utc), "{local} → {utc}: {shared}");
        }
        let bare_date = me.post(&app, &format!("{workspace}/appointments"), &[
            ("starts_at", "2026-12-01"), ("duration_minutes", "30"), ("with", "Dr. Okafor"), ("location", "Room 2"),
        ]).await;
        assert_eq!(bare_date.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (_, html) = me.get(&app, &format!("{workspace}?tab=shared")).await;
        assert!(html.contains("1 December 2026, 09:30 CST"), "{html}");
        assert!(html.contains("1 July 2027, 09:30 CDT"));
        assert!(html.contains("clinic time, America&#x2f;Chicago"));
        // The patient's portal reads the same clock.
        let code = app.issue_code(&owner, &mia).await;
        let patient = portico_tests::Patient::from_response("north", app.redeem_new("north", &code, "mia@example.org", PASSWORD).await).await;
        let home = patient.get(&app, "/portal/").await.text().await.unwrap();
        assert!(home.contains("1 December 2026, 09:30 CST"), "{home}");
    }

    async fn plugins_are_uploaded_tried_activated_and_removed_from_the_console(app) {
        let owner = app.clinic_with_owner("north").await;
        app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        let me = log_in(&app, &owner.email).await;
        let auditor = log_in(&app, "audit@north.example.org").await;
        let (_, html) = auditor.get(&app, "/console/").await;
        assert!(!html.contains("/console/plugins\""), "no Plugins link for a role without the permission");
        let (status, _) = auditor.get(&app, "/console/plugins").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let upload = |name: &'static str, fixture: &'static str| {
            app.client.post(app.tenant_url("north", "/console/plugins"))
                .header("cookie", &me.cookie).header("sec-fetch-site", "same-origin")
                .multipart(file_form(&[("csrf_token", me.csrf.as_str()), ("title", name)],
                    Some((&*format!("{fixture}.wasm").leak(), portico_tests::plugin_fixture(fixture)))))
                .send()
        };
        let snoop = upload("snoop", "snoop").await.unwrap();
        assert_eq!(snoop.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(snoop.text().await.unwrap().contains("wasi:filesystem"), "the refused import is named");
        assert_eq!(upload("branded", "branded-email").await.unwrap().status(), StatusCode::SEE_OTHER);
        assert_eq!(upload("crashy", "crash").await.unwrap().status(), StatusCode::SEE_OTHER);
        let (_, html) = me.get(&app, "/console/plugins").await;
        assert!(html.contains("branded <span class=\"hint\">version 1</span>"), "{html}");
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        let id_of = |name: &str| versions.as_array().unwrap().iter().find(|v| v["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
        let (branded, crashy) = (id_of("branded"), id_of("crashy"));

        // A dry run on the sample shows the rendered mail; a crash shows why.
        let sample = include_str!("../../../plugins/sample-inputs/render-email.json");
        let ran = me.post(&app, "/console/plugins/dry-run", &[("plugin", branded.as_str()), ("hook", "render-email"), ("input", sample)]).await;
        assert_eq!(ran.status(), StatusCode::OK);
        let html = ran.text().await.unwrap();
        assert!(html.contains("id=\"dry-run-result\"") && html.contains("status sent\">ok"), "{html}");
        // The share of the instruction budget, and whose settings it got.
        let budget = between(&html, " of ", " instructions (").expect("the budget is shown");
        assert!(budget.ends_with(",000,000") || budget.ends_with(",000"), "{budget}");
        assert!(html.contains("% of the budget) · settings from the input"), "{html}");
        let check = include_str!("../../../plugins/sample-inputs/check-redemption.json");
        let crashed = me.post(&app, "/console/plugins/dry-run", &[("plugin", crashy.as_str()), ("hook", "check-redemption"), ("input", check)]).await;
        let html = crashed.text().await.unwrap();
        assert!(html.contains("status dead\">trap"), "{html}");
        // The plugin's log as it wrote it, and the panic in its own words.
        assert!(html.contains("warn: About to fail on purpose (Rule::Limits)"), "{html}");
        assert!(html.contains("the plugin panicked at plugins&#x2f;testing&#x2f;examples&#x2f;crash.rs:"), "{html}");
        assert!(html.contains("index out of bounds: the len is 0 but the index is 3"), "{html}");
        let nonsense = me.post(&app, "/console/plugins/dry-run", &[("plugin", branded.as_str()), ("hook", "render-email"), ("input", "{not json")]).await;
        assert_eq!(nonsense.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nonsense.text().await.unwrap().contains("{not json"), "the input stays to be fixed");

        // Activate with settings, then deactivate and delete.
        let active = me.post(&app, &format!("/console/plugins/{branded}/activate"), &[("settings", "footer=See you soon\nsignature = The team")]).await;
        assert_eq!(active.status(), StatusCode::SEE_OTHER);
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        let row = versions.as_array().unwrap().iter().find(|v| v["id"] == branded.as_str()).unwrap().clone();
        assert_eq!(row["active"]["settings"], serde_json::json!({"footer": "See you soon", "signature": "The team"}), "{row}");
        let (_, html) = me.get(&app, "/console/plugins").await;
        assert!(html.contains("footer=See you soon\nsignature=The team"), "{html}");
        // A new version's form starts from the settings in use, so
        // activating it keeps them.
        assert_eq!(upload("branded", "branded-email").await.unwrap().status(), StatusCode::SEE_OTHER);
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        let newer = versions.as_array().unwrap().iter().find(|v| v["name"] == "branded" && v["version"] == 2).unwrap()["id"].as_str().unwrap().to_owned();
        let (_, html) = me.get(&app, "/console/plugins").await;
        let form = &html[html.find(&format!("id=\"settings-{newer}\"")).expect("the new version's form")..];
        assert!(form[..form.find("</textarea>").unwrap()].ends_with("footer=See you soon\nsignature=The team"), "{form}");
        // A crashing rule counts as a failure, not as a refusal.
        let (_, html) = me.get(&app, "/console/plugins").await;
        assert!(html.contains("0 calls: 0 refused by the rule, 0 asked the patient for more, 0 failed because the plugin broke"), "{html}");
        assert_eq!(me.post(&app, &format!("/console/plugins/{newer}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        let busy = me.post(&app, &format!("/console/plugins/{branded}/delete"), &[]).await;
        assert_eq!(busy.status(), StatusCode::CONFLICT, "an active version is not deleted");
        assert_eq!(me.post(&app, &format!("/console/plugins/{branded}/deactivate"), &[]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(me.post(&app, &format!("/console/plugins/{branded}/delete"), &[]).await.status(), StatusCode::SEE_OTHER);
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert_eq!(versions.as_array().unwrap().len(), 1);
    }

    async fn the_console_shows_what_a_plugin_reads_and_asks_for_its_declared_settings(app) {
        let owner = app.clinic_with_owner("north").await;
        let me = log_in(&app, &owner.email).await;
        let nosy = json_ok(app.upload_plugin(&owner, "nosy", portico_tests::plugin_fixture("nosy")).await).await;
        let nosy = nosy["id"].as_str().unwrap().to_owned();
        json_ok(app.upload_plugin(&owner, "older", portico_tests::plugin_fixture("date-of-birth-check")).await).await;
        let (_, html) = me.get(&app, "/console/plugins").await;
        // Before activation, the clinic reads what each version is handed.
        assert!(html.contains("It is handed the patient's date of birth. Nothing else about a patient leaves Portico for it."), "{html}");
        assert!(html.contains("it is handed every patient fact its interface has (the patient's name, date of birth, home ZIP code, email address on file)"), "{html}");
        // The declared settings are a form of their own types.
        let form = &html[html.find(&format!("/plugins/{nosy}/activate")).expect("nosy's form")..];
        let form = &form[..form.find("</form>").unwrap()];
        assert!(form.contains("name=\"setting.strictness\""), "{form}");
        assert!(form.contains("<option selected>strict</option>"), "the default is chosen: {form}");
        assert!(form.contains("name=\"setting.max_tries\" type=\"number\" inputmode=\"numeric\" min=\"1\" max=\"5\" value=\"\" required"), "{form}");
        assert!(form.contains("Tries before a refusal <span class=\"hint\">(required)</span>"), "{form}");
        assert!(!form.contains("name=\"settings\""), "no free-form settings for a declared plugin: {form}");

        let wrong = me.post(&app, &format!("/console/plugins/{nosy}/activate"), &[("setting.strictness", "lenient"), ("setting.max_tries", "7")]).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = wrong.text().await.unwrap();
        assert!(html.contains("Tries before a refusal (max_tries) must be a whole number from 1 to 5"), "{html}");
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        assert!(versions.as_array().unwrap().iter().all(|v| v.get("active").is_none()), "{versions}");

        let right = me.post(&app, &format!("/console/plugins/{nosy}/activate"), &[("setting.strictness", "lenient"), ("setting.max_tries", "2")]).await;
        assert_eq!(right.status(), StatusCode::SEE_OTHER);
        let versions = json_ok(owner.get(&app, "/api/v1/plugins").await).await;
        let row = versions.as_array().unwrap().iter().find(|v| v["id"] == nosy.as_str()).unwrap().clone();
        assert_eq!(row["active"]["settings"], serde_json::json!({"strictness": "lenient", "max_tries": "2"}), "{row}");
        let (_, html) = me.get(&app, "/console/plugins").await;
        assert!(html.contains("<option selected>lenient</option>"), "the form shows the settings in use: {html}");
    }
}

/// The text between the first `before` and the next `after`.
fn between<'a>(html: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let end = html.find(after)?;
    let start = html[..end].rfind(before)? + before.len();
    Some(&html[start..end])
}

fn urlencoding(typed: &str) -> String {
    typed
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
