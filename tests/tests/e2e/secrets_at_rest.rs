//! No plain secret in any database file, in any state of its mail: every
//! code and token the server sends is looked for, byte for byte, in the
//! SQLite database, its WAL and shared-memory files, and in PostgreSQL's
//! files of the tables that hold mail, tokens, codes and second factors.

use std::time::Duration;

use portico_tests::smtp::{Behaviour, SmtpSink, via_smtp};
use portico_tests::{Engine, PASSWORD, TestApp, add_enabled_patient, json_ok};
use serde_json::json;

/// Every file the database keeps on disk, read whole.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match app.engine {
        Engine::Sqlite => {
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let path = app.data_dir().join(format!("portico.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&path) {
                    all.extend(bytes);
                }
            }
            assert!(!all.is_empty(), "the SQLite files were found");
            all
        }
        Engine::Postgres => {
            let mut conn = app.raw_connection().await;
            // Make sure what was written is on disk, then read the files
            // of every table that could hold a secret, dead rows included.
            sqlx::query("CHECKPOINT").execute(&mut conn).await.unwrap();
            let mut all = Vec::new();
            for table in [
                "outbox",
                "account_tokens",
                "access_codes",
                "mail_queue",
                "audit_events",
                "second_factors",
                "recovery_codes",
                "pending_logins",
                "email_sign_in_codes",
                "trusted_devices",
            ] {
                let bytes: Vec<u8> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT pg_read_binary_file(pg_relation_filepath('{table}'))"
                )))
                .fetch_one(&mut conn)
                .await
                .unwrap();
                all.extend(bytes);
            }
            all
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The codes and tokens in the mails the relay received.
fn secrets_in(mails: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for mail in mails {
        let unfolded = mail
            .replace("=\r\n", "")
            .replace("=\n", "")
            .replace("=3D", "=");
        for marker in ["#code=", "#token="] {
            for part in unfolded.split(marker).skip(1) {
                let secret: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if secret.len() >= 16 && !found.contains(&secret) {
                    found.push(secret);
                }
            }
        }
    }
    found
}

async fn secrets_never_touch_the_disk(engine: Engine) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let Some(app) = TestApp::spawn_with(engine, via_smtp(port)).await else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    let mut issued = Vec::new();
    // Access links, mailed.
    for i in 0..4 {
        let id = add_enabled_patient(
            &app,
            &owner,
            &format!("Patient {i}"),
            &format!("p{i}@example.org"),
        )
        .await;
        owner.step_up(&app).await;
        let body = json_ok(
            owner
                .post(
                    &app,
                    &format!("/api/v1/patients/{id}/access-codes"),
                    json!({"delivery": "email"}),
                )
                .await,
        )
        .await;
        issued.push(body["code"].as_str().unwrap().to_owned());
    }
    // A caregiver's invitation, sent by a patient from the portal.
    let inviter = add_enabled_patient(&app, &owner, "Ines Vite", "ines@example.org").await;
    let own = app.issue_code(&owner, &inviter).await;
    issued.push(own.clone());
    let ines = portico_tests::Patient::from_response(
        "north",
        app.redeem_new("north", &own, "ines@example.org", PASSWORD)
            .await,
    )
    .await;
    json_ok(
        ines.post(
            &app,
            &format!("/api/v1/portal/records/{inviter}/caregivers"),
            json!({"email": "carer@example.org"}),
        )
        .await,
    )
    .await;
    let invitation = sink
        .link_secret("carer@example.org", Duration::from_secs(30))
        .await;
    issued.push(invitation["code"].as_str().unwrap().to_owned());
    // A registration (its address to confirm) and a password reset.
    let registered = app
        .client
        .post(app.tenant_url("north", "/api/v1/portal/register"))
        .json(&json!({"email": "reg@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    // Following its link opens the account that the reset is for.
    let token = sink
        .link_secret("reg@example.org", Duration::from_secs(30))
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verified = app
        .client
        .post(app.tenant_url("north", "/api/v1/portal/verify-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert!(verified.status().is_success());
    let reset = app
        .client
        .post(app.tenant_url("north", "/api/v1/portal/password-reset"))
        .json(&json!({"login": "reg@example.org"}))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    sink.wait_for(6, Duration::from_secs(30)).await;

    // Mail that dies: the relay now refuses every recipient for good.
    sink.set(Behaviour {
        reject_recipients: Some("mailbox unavailable".into()),
        ..Behaviour::default()
    });
    let id = add_enabled_patient(&app, &owner, "Dead Letter", "dead@example.org").await;
    owner.step_up(&app).await;
    let body = json_ok(
        owner
            .post(
                &app,
                &format!("/api/v1/patients/{id}/access-codes"),
                json!({"delivery": "email"}),
            )
            .await,
    )
    .await;
    let dead_code = body["code"].as_str().unwrap().to_owned();
    let mut dead = false;
    for _ in 0..100 {
        let mail = json_ok(
            owner
                .get(&app, &format!("/api/v1/patients/{id}/mail"))
                .await,
        )
        .await;
        if mail
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["status"] == "dead")
        {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dead, "the refused mail is dead");
    // An authenticator app's key, its recovery codes, and a login halfway
    // through its second step.
    let phone = app.enrol_totp(&owner, "Phone").await;
    let key_bytes = totp_rs::Secret::try_from_base32(phone.secret.replace(' ', "")).unwrap();
    issued.push(phone.secret.replace(' ', ""));
    issued.push(hex::encode(key_bytes.as_bytes()));
    issued.extend(phone.recovery_codes.iter().cloned());
    issued.push(app.pending_login("north", &owner.email).await);
    // A patient's login waiting for its code by email, and the token of a
    // device she trusts. (Six digits are too short to look for in whole
    // files; the code's row is checked instead.)
    let patient = app
        .patient_login("north", "reg@example.org", PASSWORD)
        .await;
    let on = patient
        .post(
            &app,
            "/api/v1/portal/factors/email",
            json!({"enabled": true, "password": PASSWORD}),
        )
        .await;
    assert_eq!(on.status(), reqwest::StatusCode::NO_CONTENT);
    let pending: serde_json::Value = app
        .try_patient_login("north", "reg@example.org", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let pending = pending["pending_token"].as_str().unwrap().to_owned();
    let code = app.outbox("sign_in_code", "reg@example.org").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut conn = app.raw_connection().await;
    let stored: String = sqlx::query_scalar("SELECT code_hash FROM email_sign_in_codes")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(stored.len() == 64 && !stored.contains(&code), "{stored}");
    let signed = json_ok(
        app.client
            .post(app.tenant_url("north", "/api/v1/portal/login/second-step"))
            .json(&json!({"pending_token": pending, "code": code, "trust_device": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    issued.push(pending);
    issued.push(signed["trusted_device_token"].as_str().unwrap().to_owned());
    issued.push(dead_code);

    let mails: Vec<String> = sink
        .received()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).into_owned())
        .collect();
    let sent = secrets_in(&mails);
    assert!(
        sent.len() >= 6,
        "the mails carried their codes and tokens: {sent:?}"
    );
    let on_disk = database_bytes(&app).await;
    for secret in issued.iter().chain(sent.iter()) {
        assert!(
            !contains(&on_disk, secret),
            "{secret} is in a database file"
        );
        // Also as the code is matched: without separators.
        let bare = secret.replace('-', "");
        assert!(!contains(&on_disk, &bare), "{bare} is in a database file");
    }
    // And the mail worker could open them all: the dead one still holds its
    // code sealed, for a retry by staff.
    let queued = app.outbox("access_link", "dead@example.org").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["code"], issued.last().unwrap().as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_no_plain_secret_in_its_files() {
    secrets_never_touch_the_disk(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_no_plain_secret_in_its_files() {
    secrets_never_touch_the_disk(Engine::Postgres).await;
}
