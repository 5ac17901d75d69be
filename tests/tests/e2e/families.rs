//! Families (issue 15): a grant says who holds a record (the patient, a
//! parent, a caregiver), and what it shows follows from the patient's age
//! on the clinic's calendar: a parent sees all of a child's record, a
//! limited view of a teenager's, and nothing once the patient comes of
//! age. Confidential items stay with the patient. A clinic may make a
//! proxy prove the patient's date of birth, and three wrong dates cancel
//! the code.

use portico_tenants::domain::{ClinicTimeZone, Timestamp};
use portico_tests::{
    Engine, Patient, Staff, TestApp, both_engines, expect_error, file_form, json_ok, plugin_fixture,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

const PASSWORD: &str = "a family passphrase";
const PARENT: &str = "parent@example.org";

/// The date `offset_hours` from UTC now.
fn today_at(offset_hours: i8) -> Date {
    let offset = UtcOffset::from_hms(offset_hours, 0, 0).unwrap();
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// The day `years` before `day`, or `None` on a 29 February whose year
/// back has none (the test then has nothing sound to check that day).
fn years_before(day: Date, years: i32) -> Option<Date> {
    day.replace_year(day.year() - years).ok()
}

/// A patient born on `born`, with portal access on; returns their id.
async fn patient_born(app: &TestApp, by: &Staff, name: &str, born: Date, email: &str) -> String {
    let body = json_ok(
        by.post(app, "/api/v1/patients", json!({
            "full_name": name, "date_of_birth": born.to_string(), "email": email, "home_zip": "90210"
        }))
        .await,
    )
    .await;
    let id = body["id"].as_str().unwrap().to_owned();
    let on = by
        .put(
            app,
            &format!("/api/v1/patients/{id}/portal-access"),
            json!({"enabled": true}),
        )
        .await;
    json_ok(on).await;
    id
}

/// Issues a code for `patient` with `relation` (or the presumed one);
/// returns the whole answer.
async fn issue(
    app: &TestApp,
    by: &Staff,
    patient: &str,
    relation: Option<&str>,
) -> reqwest::Response {
    by.step_up(app).await;
    let body = match relation {
        Some(r) => json!({"relation": r, "delivery": "email"}),
        None => json!({"delivery": "email"}),
    };
    by.post(
        app,
        &format!("/api/v1/patients/{patient}/access-codes"),
        body,
    )
    .await
}

async fn code_for(
    app: &TestApp,
    by: &Staff,
    patient: &str,
    relation: Option<&str>,
) -> (String, Value) {
    let issued = json_ok(issue(app, by, patient, relation).await).await;
    (
        issued["code"].as_str().unwrap().to_owned(),
        issued["access_code"].clone(),
    )
}

/// Shares on `patient` a note, a document and an appointment, each once
/// plain and once confidential, and a message; returns the documents'
/// ids, (plain, confidential).
async fn share_everything(app: &TestApp, by: &Staff, patient: &str) -> (String, String) {
    let base = format!("/api/v1/patients/{patient}");
    for (body, confidential) in [("Plain note", false), ("Confidential note", true)] {
        json_ok(
            by.post(
                app,
                &format!("{base}/notes"),
                json!({"body": body, "confidential": confidential}),
            )
            .await,
        )
        .await;
    }
    let mut ids = Vec::new();
    for (title, confidential) in [("Vaccinations", "false"), ("Clinic letter", "true")] {
        let doc = json_ok(
            by.post_form(
                app,
                &format!("{base}/documents"),
                file_form(
                    &[("title", title), ("confidential", confidential)],
                    Some(("letter.txt", b"a letter".to_vec())),
                ),
            )
            .await,
        )
        .await;
        assert_eq!(doc["confidential"], confidential == "true", "{doc}");
        ids.push(doc["id"].as_str().unwrap().to_owned());
    }
    for (with, confidential) in [("Dr. Okafor", false), ("Counsellor", true)] {
        json_ok(
            by.post(
                app,
                &format!("{base}/appointments"),
                json!({
                    "starts_at": "2030-01-10T09:30:00Z", "duration_minutes": 30,
                    "with": with, "location": "Room 2", "confidential": confidential
                }),
            )
            .await,
        )
        .await;
    }
    json_ok(
        by.post_form(
            app,
            &format!("{base}/messages"),
            file_form(&[("body", "See you soon.")], None),
        )
        .await,
    )
    .await;
    (ids[0].clone(), ids[1].clone())
}

/// The instant `minutes` after the start of `day` in `zone` (negative:
/// before it).
fn on_the_clinics_day(zone: &str, day: Date, minutes: i64) -> Timestamp {
    let (start, _) = ClinicTimeZone::parse(zone)
        .unwrap()
        .day("day", &day.to_string())
        .unwrap();
    Timestamp::from_unix_millis(start.unix_millis() + minutes * 60_000)
}

/// How many mails of `kind` went to `to`.
async fn mails(app: &TestApp, kind: &str, to: &str) -> usize {
    app.outbox(kind, to).await.len()
}

/// The record as the clinic sees it, notes and all.
async fn clinic_view(app: &TestApp, by: &Staff, patient: &str) -> reqwest::Response {
    by.get(app, &format!("/api/v1/patients/{patient}/shared"))
        .await
}

fn texts(list: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

both_engines! {
    async fn a_parent_sees_a_childs_whole_record_and_a_limited_view_of_a_teenagers(app) {
        let owner = app.clinic_with_owner("north").await;
        let today = today_at(0);
        let (Some(ten), Some(fourteen)) = (years_before(today, 10), years_before(today, 14)) else { return };
        let leo = patient_born(&app, &owner, "Leo Wong", ten, PARENT).await;
        let ava = patient_born(&app, &owner, "Ava Wong", fourteen, PARENT).await;
        let (leo_plain, leo_secret) = share_everything(&app, &owner, &leo).await;
        let (ava_plain, ava_secret) = share_everything(&app, &owner, &ava).await;

        // A child's code is a parent's unless said otherwise; a teenager's
        // parent code is asked for by name.
        let (leo_code, leo_view) = code_for(&app, &owner, &leo, None).await;
        assert_eq!(leo_view["relation"], "parent");
        let (ava_code, ava_view) = code_for(&app, &owner, &ava, Some("parent")).await;
        assert_eq!(ava_view["relation"], "parent");
        let parent = Patient::from_response("north", app.redeem_new("north", &leo_code, PARENT, PASSWORD).await).await;
        json_ok(parent.post(&app, "/api/v1/portal/redeem", json!({"code": ava_code})).await).await;

        let me = json_ok(parent.get(&app, "/api/v1/portal/me").await).await;
        let records = me["records"].as_array().unwrap();
        let leo_record = records.iter().find(|r| r["full_name"] == "Leo Wong").unwrap();
        let ava_record = records.iter().find(|r| r["full_name"] == "Ava Wong").unwrap();
        assert_eq!((leo_record["relation"].as_str(), leo_record["limited"].as_bool()), (Some("parent"), Some(false)));
        assert_eq!((ava_record["relation"].as_str(), ava_record["limited"].as_bool()), (Some("parent"), Some(true)));

        // Ten: the whole record, confidential items too.
        let whole = json_ok(parent.get(&app, &format!("/api/v1/portal/records/{leo}/shared")).await).await;
        assert_eq!(whole["access"]["limited"], false);
        assert_eq!(texts(&whole["notes"], "body"), ["Confidential note", "Plain note"]);
        assert_eq!(texts(&whole["documents"], "title"), ["Clinic letter", "Vaccinations"]);
        assert_eq!(texts(&whole["appointments"], "with"), ["Counsellor", "Dr. Okafor"]);
        let opened = parent.get(&app, &format!("/api/v1/portal/records/{leo}/documents/{leo_secret}/content")).await;
        assert_eq!(opened.status(), StatusCode::OK);
        assert_eq!(parent.get(&app, &format!("/api/v1/portal/records/{leo}/documents/{leo_plain}/content")).await.status(), StatusCode::OK);

        // Fourteen: appointments, messages and documents, but no note and
        // nothing confidential, and a confidential file answers 404 as a
        // file of no record of theirs would.
        let limited = json_ok(parent.get(&app, &format!("/api/v1/portal/records/{ava}/shared")).await).await;
        assert_eq!(limited["access"]["relation"], "parent");
        assert_eq!(limited["access"]["limited"], true);
        assert_eq!(limited["access"]["sees_notes"], false);
        assert!(limited["notes"].as_array().unwrap().is_empty(), "{limited}");
        assert_eq!(texts(&limited["documents"], "title"), ["Vaccinations"]);
        assert_eq!(texts(&limited["appointments"], "with"), ["Dr. Okafor"]);
        assert_eq!(limited["messages"].as_array().unwrap().len(), 1);
        expect_error(parent.get(&app, &format!("/api/v1/portal/records/{ava}/documents/{ava_secret}/content")).await, StatusCode::NOT_FOUND, "not_found").await;
        let ava_notes = json_ok(clinic_view(&app, &owner, &ava).await).await;
        for note in ava_notes["notes"].as_array().unwrap() {
            let id = note["id"].as_str().unwrap();
            expect_error(parent.get(&app, &format!("/api/v1/portal/records/{ava}/notes/{id}")).await, StatusCode::NOT_FOUND, "not_found").await;
        }
        let leo_notes = json_ok(clinic_view(&app, &owner, &leo).await).await;
        let leo_note = leo_notes["notes"][0]["id"].as_str().unwrap();
        json_ok(parent.get(&app, &format!("/api/v1/portal/records/{leo}/notes/{leo_note}")).await).await;
        assert_eq!(parent.get(&app, &format!("/api/v1/portal/records/{ava}/documents/{ava_plain}/content")).await.status(), StatusCode::OK);

        // The portal's page says what the parent is and what they see.
        let page = parent.get(&app, "/portal").await.text().await.unwrap();
        assert!(page.contains("parent or guardian"), "{page}");
        json_ok(parent.post(&app, &format!("/api/v1/portal/records/{ava}/select"), json!({})).await).await;
        let page = parent.get(&app, "/portal").await.text().await.unwrap();
        assert!(page.contains("Ava is 14, so you see a limited view"), "{page}");
        assert!(!page.contains("Plain note") && !page.contains("Counsellor"), "a limited page shows no note and nothing confidential");

        // A teenager may have her own account, which sees everything.
        let (own_code, own_view) = code_for(&app, &owner, &ava, Some("self")).await;
        assert_eq!(own_view["relation"], "self");
        let teen = Patient::from_response("north", app.redeem_new("north", &own_code, "ava@example.org", PASSWORD).await).await;
        let hers = json_ok(teen.get(&app, &format!("/api/v1/portal/records/{ava}/shared")).await).await;
        assert_eq!(hers["access"]["relation"], "self");
        assert_eq!(hers["access"]["limited"], false);
        assert_eq!(texts(&hers["notes"], "body"), ["Confidential note", "Plain note"]);
        assert_eq!(hers["documents"].as_array().unwrap().len(), 2);

        // The clinic sees who holds what, and how.
        let holders = json_ok(owner.get(&app, &format!("/api/v1/patients/{ava}/grants")).await).await;
        let mut relations: Vec<&str> = holders.as_array().unwrap().iter().map(|g| g["relation"].as_str().unwrap()).collect();
        relations.sort();
        assert_eq!(relations, ["parent", "self"]);

        // A note on the teenager is news for her, not for her parent: the
        // parent's address hears only of what their view shows.
        let before = app.outbox("record_update", PARENT).await.len();
        json_ok(owner.post(&app, &format!("/api/v1/patients/{ava}/notes"), json!({"body": "Between us"})).await).await;
        assert_eq!(app.outbox("record_update", PARENT).await.len(), before, "a parent is not told of a teenager's note");
        json_ok(owner.post(&app, &format!("/api/v1/patients/{leo}/notes"), json!({"body": "For the family"})).await).await;
        assert_eq!(app.outbox("record_update", PARENT).await.len(), before + 1, "a child's parent is told of a note");
    }

    async fn a_code_grants_only_what_the_patients_age_allows(app) {
        let owner = app.clinic_with_owner("north").await;
        let today = today_at(0);
        let (Some(nine), Some(fifteen), Some(forty)) = (years_before(today, 9), years_before(today, 15), years_before(today, 40)) else { return };
        let child = patient_born(&app, &owner, "Kit Child", nine, PARENT).await;
        let teen = patient_born(&app, &owner, "Tia Teen", fifteen, PARENT).await;
        let adult = patient_born(&app, &owner, "Al Adult", forty, "al@example.org").await;
        for (patient, relation, says) in [
            (&child, "self", "issue a parent code"),
            (&teen, "caregiver", "a minor's proxy is a parent"),
            (&adult, "parent", "issue a caregiver code"),
        ] {
            let refused = expect_error(issue(&app, &owner, patient, Some(relation)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_relation").await;
            assert_eq!(refused["field"], "relation", "{refused}");
            assert!(refused["message"].as_str().unwrap().contains(says), "{refused}");
        }
        let refused = expect_error(issue(&app, &owner, &adult, Some("uncle")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_relation").await;
        assert_eq!(refused["field"], "relation");
        // Nothing was issued by the refusals.
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{adult}/access-codes")).await).await;
        assert!(codes.as_array().unwrap().is_empty(), "{codes}");
        // A caregiver code for an adult stands beside their own: a proxy
        // code cancels nothing.
        let (_, own) = code_for(&app, &owner, &adult, None).await;
        assert_eq!(own["relation"], "self");
        let (_, helper) = code_for(&app, &owner, &adult, Some("caregiver")).await;
        assert_eq!(helper["relation"], "caregiver");
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{adult}/access-codes")).await).await;
        assert!(codes.as_array().unwrap().iter().all(|c| c["status"] == "active"), "{codes}");
    }

    async fn ages_count_on_the_clinics_calendar_the_day_before_of_and_after(app) {
        // Kiritimati is 14 hours ahead of UTC and Pago Pago 11 behind: at
        // any instant their dates differ, so a birthday that has come in
        // one has not in the other.
        let east = app.clinic_with_owner("east").await;
        let west = app.clinic_with_owner("west").await;
        for (staff, zone) in [(&east, "Pacific/Kiritimati"), (&west, "Pacific/Pago_Pago")] {
            json_ok(staff.patch(&app, "/api/v1/clinic/settings", json!({"time_zone": zone})).await).await;
        }
        let east_today = today_at(14);
        let Some(twelfth) = years_before(east_today, 12) else { return };
        let Some(eighteenth) = years_before(east_today, 18) else { return };
        for (slug, staff) in [("east", &east), ("west", &west)] {
            let mut seen = Vec::new();
            for (label, born) in [
                ("day before", twelfth + Duration::days(1)),
                ("day of", twelfth),
                ("day after", twelfth - Duration::days(1)),
            ] {
                let email = format!("{}-{slug}@example.org", label.replace(' ', "-"));
                let kid = patient_born(&app, staff, &format!("Kid {label}"), born, &email).await;
                let (code, _) = code_for(&app, staff, &kid, Some("parent")).await;
                let parent = Patient::from_response(slug, app.redeem_new(slug, &code, &email, PASSWORD).await).await;
                let shared = json_ok(parent.get(&app, &format!("/api/v1/portal/records/{kid}/shared")).await).await;
                seen.push((label, shared["access"]["limited"].as_bool().unwrap()));
            }
            let expected = match slug {
                // Kiritimati's today is the twelfth birthday.
                "east" => [("day before", false), ("day of", true), ("day after", true)],
                // Pago Pago is a day or two behind: the birthday of the
                // "day of" patient has not come there, and that of the
                // "day after" one only if Pago Pago is just one day behind.
                _ => {
                    let one_day_behind = today_at(-11) == east_today - Duration::days(1);
                    [("day before", false), ("day of", false), ("day after", one_day_behind)]
                }
            };
            assert_eq!(seen, expected, "in {slug}");
        }

        // The eighteenth birthday ends a parent's proxy on the day: a
        // patient born a day later is still a minor, and when the clinic
        // corrects the date to today's, the record is gone at once.
        let email = "eve-parent@example.org";
        let eve = patient_born(&app, &east, "Eve Almost", eighteenth + Duration::days(1), email).await;
        let (code, _) = code_for(&app, &east, &eve, Some("parent")).await;
        let parent = Patient::from_response("east", app.redeem_new("east", &code, email, PASSWORD).await).await;
        assert_eq!(parent.records(&app).await, ["Eve Almost"]);
        json_ok(east.patch(&app, &format!("/api/v1/patients/{eve}"), json!({"date_of_birth": eighteenth.to_string()})).await).await;
        assert!(parent.records(&app).await.is_empty(), "a parent's proxy ends on the eighteenth birthday");
        expect_error(parent.get(&app, &format!("/api/v1/portal/records/{eve}/shared")).await, StatusCode::NOT_FOUND, "not_found").await;
        let grants = json_ok(east.get(&app, &format!("/api/v1/patients/{eve}/grants")).await).await;
        assert_eq!(grants[0]["status"], "ended", "{grants}");
        assert_eq!(grants[0]["ended_reason"], "aged_out", "{grants}");
        // And a parent code for her is refused now.
        expect_error(issue(&app, &east, &eve, Some("parent")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_relation").await;
    }

    async fn a_proxy_proves_the_date_of_birth_and_three_wrong_dates_cancel_the_code(app) {
        let owner = app.clinic_with_owner("north").await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"proxy_code_requires_dob": true})).await).await;
        let Some(born) = years_before(today_at(0), 7) else { return };
        let kid = patient_born(&app, &owner, "Noa Small", born, PARENT).await;
        let wrong = (born - Duration::days(3)).to_string();
        let redeem = |code: String, answers: Value| {
            let app = &app;
            async move {
                app.client
                    .post(app.tenant_url("north", "/api/v1/portal/redeem"))
                    .json(&json!({"code": code, "account": {"email": PARENT, "password": PASSWORD}, "answers": answers}))
                    .send()
                    .await
                    .unwrap()
            }
        };

        // Asked for, the date is no miss.
        let (code, _) = code_for(&app, &owner, &kid, None).await;
        let asked = expect_error(redeem(code.clone(), json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "more_information_needed").await;
        assert_eq!(asked["fields"][0]["name"], "date_of_birth", "{asked}");
        // Two misses say how many tries are left and name the field.
        let first = expect_error(redeem(code.clone(), json!({"date_of_birth": wrong})).await, StatusCode::UNAUTHORIZED, "date_of_birth_mismatch").await;
        assert_eq!(first["field"], "answers.date_of_birth");
        assert!(first["message"].as_str().unwrap().contains("2 tries left"), "{first}");
        let second = expect_error(redeem(code.clone(), json!({"date_of_birth": wrong})).await, StatusCode::UNAUTHORIZED, "date_of_birth_mismatch").await;
        assert!(second["message"].as_str().unwrap().contains("1 try left"), "{second}");
        // The third cancels the code: the right date no longer helps.
        expect_error(redeem(code.clone(), json!({"date_of_birth": wrong})).await, StatusCode::GONE, "code_cancelled").await;
        expect_error(redeem(code.clone(), json!({"date_of_birth": born.to_string()})).await, StatusCode::GONE, "code_cancelled").await;
        let codes = json_ok(owner.get(&app, &format!("/api/v1/patients/{kid}/access-codes")).await).await;
        assert_eq!(codes[0]["status"], "revoked");
        assert_eq!(codes[0]["revoke_reason"], "dob_misses");

        // Every miss is in the trail with the client's address.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=code.redeem&limit=50").await).await;
        let misses: Vec<&Value> = audit["events"].as_array().unwrap().iter()
            .filter(|e| e["reason"].as_str().is_some_and(|r| r.starts_with("proxy_birth_date_mismatch")))
            .collect();
        assert_eq!(misses.len(), 3, "{audit}");
        assert!(misses.iter().all(|e| e["ip"] == "127.0.0.1"), "{misses:?}");

        // A new code with the right date opens the record, after one miss.
        let (code, _) = code_for(&app, &owner, &kid, None).await;
        expect_error(redeem(code.clone(), json!({"date_of_birth": wrong})).await, StatusCode::UNAUTHORIZED, "date_of_birth_mismatch").await;
        let parent = Patient::from_response("north", redeem(code, json!({"date_of_birth": born.to_string()})).await).await;
        assert_eq!(parent.records(&app).await, ["Noa Small"]);

        // The patient's own code asks for no date.
        let Some(adult_born) = years_before(today_at(0), 30) else { return };
        let adult = patient_born(&app, &owner, "Ola Grown", adult_born, "ola@example.org").await;
        let (own, _) = code_for(&app, &owner, &adult, None).await;
        Patient::from_response("north", app.redeem_new("north", &own, "ola@example.org", PASSWORD).await).await;
    }

    async fn the_birthday_job_ends_a_parents_proxy_once_on_the_clinics_eighteenth_birthday(app) {
        const ZONE: &str = "America/Chicago";
        // On PostgreSQL a second server shares the database, as a second
        // node would. Its mail worker looks once, now, while nothing is
        // queued, and then idles: the mail is this server's to deliver
        // and for the test to read.
        let other = match app.engine {
            Engine::Postgres => Some(app.sibling(|c| c.mail_poll_ms = 3_600_000).await),
            Engine::Sqlite => None,
        };
        let owner = app.clinic_with_owner("north").await;
        json_ok(owner.patch(&app, "/api/v1/clinic/settings", json!({"time_zone": ZONE})).await).await;
        // Seventeen and a few months: the eighteenth birthday is ahead,
        // and the job is run at instants chosen around it.
        let Some(born) = years_before(today_at(0), 17).map(|d| d - Duration::days(100)) else { return };
        let Some(eighteenth) = years_before(born, -18) else { return };
        let teen = patient_born(&app, &owner, "Zoe Near", born, PARENT).await;
        let (code, _) = code_for(&app, &owner, &teen, Some("parent")).await;
        let parent = Patient::from_response("north", app.redeem_new("north", &code, PARENT, PASSWORD).await).await;
        // Her own account, at her own confirmed address.
        owner.step_up(&app).await;
        json_ok(owner.patch(&app, &format!("/api/v1/patients/{teen}"), json!({"email": "zoe@example.org"})).await).await;
        let (own, _) = code_for(&app, &owner, &teen, Some("self")).await;
        Patient::from_response("north", app.redeem_new("north", &own, "zoe@example.org", PASSWORD).await).await;
        assert_eq!(parent.records(&app).await, ["Zoe Near"]);

        // The last minute before the birthday in Chicago: nothing yet.
        let before = app.services.run_age_transitions(on_the_clinics_day(ZONE, eighteenth, -1)).await.unwrap();
        assert_eq!(before.came_of_age, 0);
        assert_eq!(parent.records(&app).await, ["Zoe Near"]);

        // The first minute of it, run by two workers at once (two server
        // processes on PostgreSQL): the proxy ends once, each side gets
        // one mail.
        let on_the_day = on_the_clinics_day(ZONE, eighteenth, 1);
        let (first, second) = if let Some(other) = &other {
            let (a, b) = tokio::join!(app.services.run_age_transitions(on_the_day), other.services.run_age_transitions(on_the_day));
            (a.unwrap(), b.unwrap())
        } else {
            let (a, b) = tokio::join!(app.services.run_age_transitions(on_the_day), app.services.run_age_transitions(on_the_day));
            (a.unwrap(), b.unwrap())
        };
        assert_eq!(first.came_of_age + second.came_of_age, 1, "{first:?} {second:?}");
        assert_eq!(first.proxies_ended + second.proxies_ended, 1);
        assert!(parent.records(&app).await.is_empty(), "the parent's proxy ended");
        assert_eq!(mails(&app, "proxy_ended", PARENT).await, 1);
        assert_eq!(mails(&app, "coming_of_age", "zoe@example.org").await, 1);
        let told = app.delivered_texts("proxy_ended", PARENT).await;
        assert!(told[0].contains("the patient has turned 18"), "{told:?}");
        assert!(!told[0].contains("Zoe"), "the mail does not say whose record: {told:?}");
        let hers = app.delivered_texts("coming_of_age", "zoe@example.org").await;
        assert!(hers[0].contains("Hello Zoe Near") && hers[0].contains("invite a parent"), "{hers:?}");

        // The next day, and again: nothing more.
        let after = app.services.run_age_transitions(on_the_clinics_day(ZONE, eighteenth, 24 * 60 + 1)).await.unwrap();
        assert_eq!((after.came_of_age, after.proxies_ended), (0, 0));
        assert_eq!(mails(&app, "proxy_ended", PARENT).await, 1);

        // The clinic sees how it ended, and the trail has it once.
        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{teen}/grants")).await).await;
        let proxy = grants.as_array().unwrap().iter().find(|g| g["relation"] == "parent").unwrap();
        assert_eq!((proxy["status"].as_str(), proxy["ended_reason"].as_str()), (Some("ended"), Some("aged_out")), "{proxy}");
        assert!(proxy["revoked_at"].is_string());
        let own_grant = grants.as_array().unwrap().iter().find(|g| g["relation"] == "self").unwrap();
        assert_eq!(own_grant["status"], "active", "her own account is untouched");
        let audit = json_ok(owner.get(&app, "/api/v1/audit?action=family.age_transition").await).await;
        assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
        assert_eq!(audit["events"][0]["target"], format!("patient:{teen}"));
    }

    async fn the_birthday_job_tells_a_parent_once_when_the_view_narrows(app) {
        let owner = app.clinic_with_owner("north").await;
        let Some(born) = years_before(today_at(0), 11).map(|d| d - Duration::days(30)) else { return };
        let Some(twelfth) = years_before(born, -12) else { return };
        let kid = patient_born(&app, &owner, "Max Small", born, PARENT).await;
        let (code, _) = code_for(&app, &owner, &kid, None).await;
        Patient::from_response("north", app.redeem_new("north", &code, PARENT, PASSWORD).await).await;
        let eve = app.services.run_age_transitions(on_the_clinics_day("UTC", twelfth, -1)).await.unwrap();
        assert_eq!(eve.narrowed, 0);
        assert_eq!(mails(&app, "proxy_narrowed", PARENT).await, 0);
        for _ in 0..2 {
            app.services.run_age_transitions(on_the_clinics_day("UTC", twelfth, 1)).await.unwrap();
        }
        assert_eq!(mails(&app, "proxy_narrowed", PARENT).await, 1, "told once");
        // A staff revocation is told too, without naming whose record.
        let grant = json_ok(owner.get(&app, &format!("/api/v1/patients/{kid}/grants")).await).await[0]["id"].as_str().unwrap().to_owned();
        json_ok(owner.post(&app, &format!("/api/v1/grants/{grant}/revoke"), json!({})).await).await;
        let ended = app.delivered_texts("proxy_ended", PARENT).await;
        assert_eq!(ended.len(), 1);
        assert!(ended[0].contains("has ended the access you had to a record"), "{ended:?}");
        assert!(!ended[0].contains("Max"), "{ended:?}");
        let narrowed = app.delivered_texts("proxy_narrowed", PARENT).await;
        assert!(narrowed[0].contains("has turned 12") && narrowed[0].contains("limited view"), "{narrowed:?}");
    }

    async fn an_adult_invites_a_caregiver_who_sees_the_record_until_the_patient_ends_it(app) {
        const ANN: &str = "ann@example.org";
        const CARER: &str = "carer@example.org";
        let owner = app.clinic_with_owner("north").await;
        let Some(born) = years_before(today_at(0), 40) else { return };
        let record = patient_born(&app, &owner, "Ann Adult", born, ANN).await;
        share_everything(&app, &owner, &record).await;
        let (own, _) = code_for(&app, &owner, &record, None).await;
        let ann = Patient::from_response("north", app.redeem_new("north", &own, ANN, PASSWORD).await).await;
        let base = format!("/api/v1/portal/records/{record}");

        // The invitation goes by mail with a caregiver's code.
        let invited = json_ok(ann.post(&app, &format!("{base}/caregivers"), json!({"email": CARER})).await).await;
        assert_eq!(invited["email"], CARER);
        let sharing = json_ok(ann.get(&app, &format!("{base}/sharing")).await).await;
        assert_eq!((sharing["may_invite"].as_bool(), sharing["invitations"].as_array().unwrap().len()), (Some(true), 1));
        let mail = app.delivered_texts("caregiver_invitation", CARER).await;
        assert!(mail[0].contains("Ann Adult invites you to see their medical records"), "{mail:?}");
        let code = app.outbox("caregiver_invitation", CARER).await[0]["code"].as_str().unwrap().to_owned();

        // The caregiver redeems it into an account of their own and sees
        // the record, but nothing confidential; Ann is told.
        let carer = Patient::from_response("north", app.redeem_new("north", &code, CARER, PASSWORD).await).await;
        let seen = json_ok(carer.get(&app, &format!("{base}/shared")).await).await;
        assert_eq!(seen["access"]["relation"], "caregiver");
        assert_eq!(seen["access"]["limited"], true);
        assert_eq!(texts(&seen["notes"], "body"), ["Plain note"]);
        assert_eq!(texts(&seen["documents"], "title"), ["Vaccinations"]);
        let added = app.delivered_texts("proxy_added", ANN).await;
        assert!(added[0].contains("carer@example.org can now see your record"), "{added:?}");

        // Ann lets them see confidential items; then ends their access.
        let sharing = json_ok(ann.get(&app, &format!("{base}/sharing")).await).await;
        assert!(sharing["invitations"].as_array().unwrap().is_empty(), "the used invitation is gone");
        let proxy = sharing["proxies"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(sharing["proxies"][0]["relation"], "caregiver");
        let changed = json_ok(ann.put_json(&app, &format!("{base}/proxies/{proxy}"), json!({"sees_confidential": true})).await).await;
        assert_eq!(changed["sees_confidential"], true);
        let seen = json_ok(carer.get(&app, &format!("{base}/shared")).await).await;
        assert_eq!(texts(&seen["notes"], "body"), ["Confidential note", "Plain note"]);

        // A caregiver cannot pass the record on, nor see who else holds it.
        expect_error(carer.post(&app, &format!("{base}/caregivers"), json!({"email": "third@example.org"})).await, StatusCode::FORBIDDEN, "not_allowed").await;
        expect_error(carer.get(&app, &format!("{base}/sharing")).await, StatusCode::FORBIDDEN, "not_allowed").await;

        let after = json_ok(ann.post(&app, &format!("{base}/proxies/{proxy}/end"), json!({})).await).await;
        assert!(after["proxies"].as_array().unwrap().is_empty());
        assert!(carer.records(&app).await.is_empty(), "ended at once");
        expect_error(carer.get(&app, &format!("{base}/shared")).await, StatusCode::NOT_FOUND, "not_found").await;
        let told = app.delivered_texts("proxy_ended", CARER).await;
        assert!(told[0].contains("The patient has ended the access"), "{told:?}");
        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{record}/grants")).await).await;
        let ended = grants.as_array().unwrap().iter().find(|g| g["relation"] == "caregiver").unwrap();
        assert_eq!((ended["status"].as_str(), ended["ended_reason"].as_str()), (Some("ended"), Some("ended_by_patient")));

        // A withdrawn invitation says so to whoever follows it.
        let again = json_ok(ann.post(&app, &format!("{base}/caregivers"), json!({"email": "second@example.org", "sees_confidential": true})).await).await;
        let id = again["id"].as_str().unwrap();
        json_ok(ann.post(&app, &format!("{base}/caregiver-invitations/{id}/cancel"), json!({})).await).await;
        let code = app.outbox("caregiver_invitation", "second@example.org").await[0]["code"].as_str().unwrap().to_owned();
        expect_error(app.redeem_new("north", &code, "second@example.org", PASSWORD).await, StatusCode::GONE, "invitation_cancelled").await;

        // Five invitations a day, then a clear refusal.
        for n in 3..=5 {
            json_ok(ann.post(&app, &format!("{base}/caregivers"), json!({"email": format!("friend{n}@example.org")})).await).await;
        }
        expect_error(ann.post(&app, &format!("{base}/caregivers"), json!({"email": "friend6@example.org"})).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        let bad = expect_error(ann.post(&app, &format!("{base}/caregivers"), json!({"email": "not an address"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
        assert_eq!(bad["field"], "email");

        // Every step is in the clinic's trail.
        let audit = json_ok(owner.get(&app, &format!("/api/v1/audit?target=patient:{record}&limit=200")).await).await;
        let actions: Vec<&str> = audit["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for act in ["portal.caregiver.invite", "portal.proxy.confidential", "portal.proxy.end", "portal.caregiver.invitation_cancel"] {
            assert!(actions.contains(&act), "{act} in {actions:?}");
        }
    }

    async fn a_teenager_cannot_invite_and_a_parent_cannot_see_who_else_holds_the_record(app) {
        let owner = app.clinic_with_owner("north").await;
        let Some(born) = years_before(today_at(0), 15) else { return };
        let teen = patient_born(&app, &owner, "Tia Teen", born, PARENT).await;
        let (parent_code, _) = code_for(&app, &owner, &teen, Some("parent")).await;
        let parent = Patient::from_response("north", app.redeem_new("north", &parent_code, PARENT, PASSWORD).await).await;
        let (own, _) = code_for(&app, &owner, &teen, Some("self")).await;
        let tia = Patient::from_response("north", app.redeem_new("north", &own, "tia@example.org", PASSWORD).await).await;
        let base = format!("/api/v1/portal/records/{teen}");
        let sharing = json_ok(tia.get(&app, &format!("{base}/sharing")).await).await;
        assert_eq!(sharing["may_invite"], false);
        assert_eq!(sharing["proxies"][0]["relation"], "parent", "a teenager sees that a parent holds her record");
        expect_error(tia.post(&app, &format!("{base}/caregivers"), json!({"email": "x@example.org"})).await, StatusCode::FORBIDDEN, "not_allowed").await;
        let proxy = sharing["proxies"][0]["id"].as_str().unwrap();
        expect_error(tia.post(&app, &format!("{base}/proxies/{proxy}/end"), json!({})).await, StatusCode::FORBIDDEN, "not_allowed").await;
        expect_error(parent.get(&app, &format!("{base}/sharing")).await, StatusCode::FORBIDDEN, "not_allowed").await;
        assert_eq!(parent.records(&app).await, ["Tia Teen"], "nothing changed");
    }

    async fn a_familys_mail_is_rendered_by_a_third_version_plugin_and_built_in_for_older_ones(app) {
        let owner = app.clinic_with_owner("north").await;
        let uploaded = json_ok(app.upload_plugin(&owner, "family-mail", plugin_fixture("family_mail")).await).await;
        assert_eq!(uploaded["interface_version"], "3.0.0");
        let id = uploaded["id"].as_str().unwrap();
        json_ok(owner.post(&app, &format!("/api/v1/plugins/{id}/activate"), json!({})).await).await;
        let Some(born) = years_before(today_at(0), 8) else { return };
        let revoke_a_parent = |name: &'static str, email: &'static str| {
            let (app, owner) = (&app, &owner);
            async move {
                let kid = patient_born(app, owner, name, born, email).await;
                let (code, _) = code_for(app, owner, &kid, None).await;
                Patient::from_response("north", app.redeem_new("north", &code, email, PASSWORD).await).await;
                let grants = json_ok(owner.get(app, &format!("/api/v1/patients/{kid}/grants")).await).await;
                let grant = grants[0]["id"].as_str().unwrap().to_owned();
                json_ok(owner.post(app, &format!("/api/v1/grants/{grant}/revoke"), json!({})).await).await;
                app.delivered_texts("proxy_ended", email).await.remove(0)
            }
        };
        let by_plugin = revoke_a_parent("Kim One", "one@example.org").await;
        let lines: Vec<&str> = by_plugin.lines().map(str::trim).collect();
        assert_eq!(lines[..2], ["proxy ended", "reason=revoked"], "{by_plugin}");

        // A plugin built against 1.0.0 knows no such mail: the built-in one goes.
        app.activate_plugin(&owner, "branded-email", json!({})).await;
        let built_in = revoke_a_parent("Kim Two", "two@example.org").await;
        assert!(built_in.contains("has ended the access you had to a record"), "{built_in}");
    }
}
