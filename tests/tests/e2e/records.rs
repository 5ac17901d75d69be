//! What a clinic shares on a record: documents both ways, notes,
//! appointments and secure messages with attachments, seen by the patient
//! only while they hold a live grant, refused clearly when the input is
//! wrong, never across clinics, and audited.

use portico_tests::{
    Patient, TestApp, add_enabled_patient, both_engines, expect_error, file_form, json_ok,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "a family passphrase";
const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn registered(
    app: &TestApp,
    by: &portico_tests::Staff,
    patient: &str,
    email: &str,
) -> Patient {
    let code = app.issue_code(by, patient).await;
    let resp = app.redeem_new("north", &code, email, PASSWORD).await;
    Patient::from_response("north", resp).await
}

/// Sends only the head of an upload declaring `length` bytes and returns
/// the status line the server answers with.
async fn refused_before_the_body(
    app: &TestApp,
    by: &portico_tests::Staff,
    path: &str,
    length: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url("");
    let host = address.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /t/{}{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n",
        by.slug, by.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the server answers without waiting for the body")
        .unwrap();
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn actions(audit: &Value) -> Vec<String> {
    audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

both_engines! {
    async fn the_clinic_and_the_patient_share_a_record_while_the_grant_lives(app) {
        let owner = app.clinic_with_owner("north").await;
        let desk = app.add_staff(&owner, "desk@north.example.org", &["front_desk"]).await;
        let mia = add_enabled_patient(&app, &desk, "Mia Wong", "mia@example.org").await;
        let patient = registered(&app, &desk, &mia, "mia@example.org").await;
        let base = format!("/api/v1/patients/{mia}");
        let mine = format!("/api/v1/portal/records/{mia}");

        // The clinic shares a document, a note, an appointment and a message
        // with an attachment.
        let doc = json_ok(desk.post_form(&app, &format!("{base}/documents"),
            file_form(&[("title", "Blood test results")], Some(("C:\\scans\\labs.pdf", PDF.to_vec())))).await).await;
        assert_eq!(doc["title"], "Blood test results");
        assert_eq!(doc["file_name"], "labs.pdf", "the sender's folders are not kept");
        assert_eq!(doc["media_type"], "application/pdf");
        assert_eq!(doc["size_bytes"], PDF.len());
        assert_eq!(doc["uploaded_by"]["side"], "clinic");
        let note = json_ok(desk.post(&app, &format!("{base}/notes"),
            json!({"body": "  Drink plenty of water before the next test.\r\nSee you soon.  "})).await).await;
        assert_eq!(note["body"], "Drink plenty of water before the next test.\nSee you soon.");
        json_ok(desk.post(&app, &format!("{base}/appointments"), json!({
            "starts_at": "2026-12-01T09:30:00+01:00", "duration_minutes": 30,
            "with": "Dr. Okafor", "location": "Room 2", "reason": "Follow-up"
        })).await).await;
        let sent = json_ok(desk.post_form(&app, &format!("{base}/messages"),
            file_form(&[("body", "Here is the leaflet we talked about.")], Some(("leaflet.png", PNG.to_vec())))).await).await;
        assert_eq!(sent["attachments"][0]["media_type"], "image/png");
        assert!(sent.get("read_at").is_none(), "{sent}");

        // The patient sees all of it and downloads the document as it was.
        let shared = json_ok(patient.get(&app, &format!("{mine}/shared")).await).await;
        assert_eq!(shared["documents"].as_array().unwrap().len(), 2, "the attachment is a document too");
        assert_eq!(shared["notes"][0]["author"], "desk@north.example.org");
        assert_eq!(shared["appointments"][0]["with"], "Dr. Okafor");
        assert_eq!(shared["appointments"][0]["starts_at"], "2026-12-01T08:30:00Z");
        assert_eq!(shared["messages"][0]["body"], "Here is the leaflet we talked about.");
        let doc_id = doc["id"].as_str().unwrap();
        let download = patient.get(&app, &format!("{mine}/documents/{doc_id}/content")).await;
        assert_eq!(download.status(), StatusCode::OK);
        let disposition = download.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment") && disposition.contains("labs.pdf"), "{disposition}");
        assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);
        // Reading marked the clinic's message read.
        let seen = json_ok(desk.get(&app, &format!("{base}/shared")).await).await;
        assert!(seen["messages"][0]["read_at"].is_string());

        // The patient answers with a file and uploads another; the clinic
        // sees both and who sent them.
        json_ok(patient.post_form(&app, &format!("{mine}/messages"),
            file_form(&[("body", "Thank you. My insurance card is attached.")], Some(("card.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec())))).await).await;
        let given = json_ok(patient.post_form(&app, &format!("{mine}/documents"),
            file_form(&[], Some(("diary.txt", b"Mon: 120/80\nTue: 118/79\n".to_vec())))).await).await;
        assert_eq!(given["title"], "diary", "the file's name is the default title");
        assert_eq!(given["uploaded_by"]["side"], "patient");
        assert_eq!(given["uploaded_by"]["name"], "mia@example.org");
        let waiting = json_ok(desk.get(&app, "/api/v1/messages/unread").await).await;
        assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
        assert_eq!((&waiting[0]["patient_id"], &waiting[0]["patient_name"], &waiting[0]["unread"]), (&json!(mia), &json!("Mia Wong"), &json!(1)));
        assert!(waiting[0]["waiting_since"].as_str().unwrap().starts_with("20"), "{waiting}");
        let thread = json_ok(desk.post(&app, &format!("{base}/messages/read"), json!({})).await).await;
        assert_eq!(thread.as_array().unwrap().len(), 2);
        assert_eq!(thread[1]["from"]["side"], "patient");
        assert_eq!(thread[1]["attachments"][0]["file_name"], "card.jpg");
        assert_eq!(json_ok(desk.get(&app, "/api/v1/messages/unread").await).await, json!([]));
        let clinic_view = json_ok(desk.get(&app, &format!("{base}/shared")).await).await;
        assert_eq!(clinic_view["documents"].as_array().unwrap().len(), 4);
        let diary = desk.get(&app, &format!("{base}/documents/{}/content", given["id"].as_str().unwrap())).await;
        assert_eq!(diary.bytes().await.unwrap().as_ref(), b"Mon: 120/80\nTue: 118/79\n");

        // A document given to the wrong record is withdrawn: gone for the
        // patient, kept for the clinic.
        let withdrawn = json_ok(desk.post(&app, &format!("{base}/documents/{doc_id}/withdraw"), json!({})).await).await;
        assert!(withdrawn["withdrawn_at"].is_string());
        expect_error(desk.post(&app, &format!("{base}/documents/{doc_id}/withdraw"), json!({})).await,
            StatusCode::CONFLICT, "document_already_withdrawn").await;
        let shared = json_ok(patient.get(&app, &format!("{mine}/shared")).await).await;
        assert!(shared["documents"].as_array().unwrap().iter().all(|d| d["id"] != doc_id));
        expect_error(patient.get(&app, &format!("{mine}/documents/{doc_id}/content")).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(json_ok(desk.get(&app, &format!("{base}/shared")).await).await["documents"].as_array().unwrap().len(), 4);

        // Cancelling an appointment shows as cancelled; twice is not found.
        let appointment = shared["appointments"][0]["id"].as_str().unwrap().to_owned();
        let after = json_ok(desk.post(&app, &format!("{base}/appointments/{appointment}/cancel"), json!({})).await).await;
        assert_eq!(after["appointments"][0]["status"], "cancelled");
        expect_error(desk.post(&app, &format!("{base}/appointments/{appointment}/cancel"), json!({})).await,
            StatusCode::NOT_FOUND, "not_found").await;

        // Once the grant is revoked, nothing of the record reaches the account.
        let grants = json_ok(desk.get(&app, &format!("{base}/grants")).await).await;
        let grant = grants[0]["id"].as_str().unwrap();
        json_ok(desk.post(&app, &format!("/api/v1/grants/{grant}/revoke"), json!({})).await).await;
        expect_error(patient.get(&app, &format!("{mine}/shared")).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(patient.post_form(&app, &format!("{mine}/messages"), file_form(&[("body", "hello?")], None)).await,
            StatusCode::NOT_FOUND, "not_found").await;
        expect_error(patient.post_form(&app, &format!("{mine}/documents"), file_form(&[], Some(("x.txt", b"x".to_vec())))).await,
            StatusCode::NOT_FOUND, "not_found").await;
        let thread = json_ok(desk.post(&app, &format!("{base}/messages/read"), json!({})).await).await;
        assert_eq!(thread.as_array().unwrap().len(), 2, "the refused message was not kept");

        // Every step is in the audit trail, and no file content is.
        let audit = json_ok(owner.get(&app, "/api/v1/audit?limit=500").await).await;
        let steps = actions(&audit);
        for expected in [
            "document.upload:success", "note.write:success", "appointment.book:success",
            "message.send:success", "portal.record.view:success", "portal.document.download:success",
            "portal.message.send:success", "portal.document.upload:success", "document.download:success",
            "document.withdraw:success", "appointment.cancel:success", "portal.record.view:failure",
            "portal.message.send:failure", "portal.document.upload:failure",
        ] {
            assert!(steps.iter().any(|s| s == expected), "{expected} missing from {steps:?}");
        }
        assert!(!audit.to_string().contains("120/80"));
    }

    async fn wrong_files_and_text_are_refused_and_nothing_is_kept(app) {
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let base = format!("/api/v1/patients/{mia}");
        let upload = |name: &'static str, bytes: Vec<u8>| file_form(&[], Some((name, bytes)));

        let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec();
        let refused = expect_error(owner.post_form(&app, &format!("{base}/documents"), upload("result.pdf", html)).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_type_not_accepted").await;
        assert!(refused["message"].as_str().unwrap().contains("PDF, PNG, JPEG"));
        expect_error(owner.post_form(&app, &format!("{base}/documents"), upload("a.zip", b"PK\x03\x04\x14\0\0\0".to_vec())).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_type_not_accepted").await;
        // A name that reverses the direction of text would disguise its kind.
        expect_error(owner.post_form(&app, &format!("{base}/documents"), upload("invoice\u{202E}fdp.exe", b"%PDF-1.4\n".to_vec())).await,
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_file_name").await;
        expect_error(owner.post_form(&app, &format!("{base}/documents"), upload("empty.txt", vec![])).await,
            StatusCode::BAD_REQUEST, "file_empty").await;
        let mut big = b"%PDF-1.7\n".to_vec();
        big.resize(10 * 1024 * 1024 + 1, b' ');
        expect_error(owner.post_form(&app, &format!("{base}/documents"), upload("big.pdf", big)).await,
            StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").await;
        // A body declared far past the bound is refused before a byte of it
        // is read: the answer comes while the client still holds the file.
        let head = refused_before_the_body(&app, &owner, &format!("{base}/documents"), 12 * 1024 * 1024).await;
        assert!(head.starts_with("HTTP/1.1 413"), "{head}");
        expect_error(owner.post_form(&app, &format!("{base}/documents"), file_form(&[("title", "no file")], None)).await,
            StatusCode::BAD_REQUEST, "invalid_body").await;
        expect_error(owner.post(&app, &format!("{base}/notes"), json!({"body": "   "})).await,
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
        expect_error(owner.post(&app, &format!("{base}/notes"), json!({"body": 42})).await,
            StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        let late = expect_error(owner.post(&app, &format!("{base}/appointments"), json!({
            "starts_at": "next tuesday", "duration_minutes": 30, "with": "Dr. O", "location": "Room 2"
        })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_starts_at").await;
        assert_eq!(late["field"], "starts_at");
        expect_error(owner.post(&app, &format!("{base}/appointments"), json!({
            "starts_at": "2026-12-01T09:30:00Z", "duration_minutes": 600, "with": "Dr. O", "location": "Room 2"
        })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration").await;
        expect_error(owner.post_form(&app, &format!("{base}/messages"),
            file_form(&[("body", "see attached")], Some(("x.exe", b"MZ\x90\0\x03\0\0\0".to_vec())))).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_type_not_accepted").await;
        expect_error(owner.post_form(&app, "/api/v1/patients/not-an-id/documents", upload("a.txt", b"a".to_vec())).await,
            StatusCode::NOT_FOUND, "not_found").await;

        let shared = json_ok(owner.get(&app, &format!("{base}/shared")).await).await;
        assert_eq!(shared, json!({"documents": [], "notes": [], "appointments": [], "messages": []}),
            "a refused request leaves nothing behind");
    }

    async fn roles_and_clinics_bound_who_reaches_a_record(app) {
        let owner = app.clinic_with_owner("north").await;
        let auditor = app.add_staff(&owner, "audit@north.example.org", &["auditor"]).await;
        let doctor = app.add_staff(&owner, "dr@north.example.org", &["practitioner"]).await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        let base = format!("/api/v1/patients/{mia}");
        json_ok(doctor.post(&app, &format!("{base}/notes"), json!({"body": "All clear."})).await).await;
        expect_error(auditor.get(&app, &format!("{base}/shared")).await, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(auditor.post(&app, &format!("{base}/notes"), json!({"body": "x"})).await, StatusCode::FORBIDDEN, "permission_denied").await;
        expect_error(auditor.get(&app, "/api/v1/messages/unread").await, StatusCode::FORBIDDEN, "permission_denied").await;

        // Another clinic's owner, even knowing the id, finds no such patient.
        let south = app.clinic_with_owner("south").await;
        expect_error(south.get(&app, &format!("{base}/shared")).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(south.post(&app, &format!("{base}/notes"), json!({"body": "x"})).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(south.get_in(&app, "north", &format!("{base}/shared")).await, StatusCode::UNAUTHORIZED, "invalid_session").await;

        // A patient of one clinic cannot reach a record of the other, nor a
        // record of their own clinic they hold no grant to.
        let leo = add_enabled_patient(&app, &owner, "Leo Park", "leo@example.org").await;
        let patient = registered(&app, &owner, &mia, "mia@example.org").await;
        expect_error(patient.get(&app, &format!("/api/v1/portal/records/{leo}/shared")).await, StatusCode::NOT_FOUND, "not_found").await;
        let elsewhere = Patient { slug: "south".into(), ..patient.clone() };
        expect_error(elsewhere.get(&app, &format!("/api/v1/portal/records/{mia}/shared")).await, StatusCode::UNAUTHORIZED, "invalid_session").await;
        let shared = json_ok(patient.get(&app, &format!("/api/v1/portal/records/{mia}/shared")).await).await;
        assert_eq!(shared["notes"][0]["body"], "All clear.");
    }

    async fn holders_are_told_of_news_by_mail_at_most_hourly_and_never_its_contents(app) {
        let engine = app.engine;
        drop(app);
        let sink = portico_tests::smtp::SmtpSink::start().await;
        let Some(app) = TestApp::spawn_with(engine, portico_tests::smtp::via_smtp(sink.port)).await else { return };
        let owner = app.clinic_with_owner("north").await;
        let mia = add_enabled_patient(&app, &owner, "Mia Wong", "mia@example.org").await;
        // Mia's own account: the emailed code redeemed with the address on
        // file, so the address is confirmed.
        let patient = registered(&app, &owner, &mia, "mia@example.org").await;
        // A second holder from a printed code, whose address nobody has
        // confirmed: a typo there must not receive news of Mia's record.
        owner.step_up(&app).await;
        let printed = json_ok(owner.post(&app, &format!("/api/v1/patients/{mia}/access-codes"), json!({"delivery": "print"})).await).await;
        Patient::from_response("north", app.redeem_new("north", printed["code"].as_str().unwrap(), "aunt@example.org", PASSWORD).await).await;
        // A third record whose holder loses the grant before anything is shared.
        let sam = add_enabled_patient(&app, &owner, "Sam Lee", "sam@example.org").await;
        registered(&app, &owner, &sam, "sam@example.org").await;
        let grants = json_ok(owner.get(&app, &format!("/api/v1/patients/{sam}/grants")).await).await;
        json_ok(owner.post(&app, &format!("/api/v1/grants/{}/revoke", grants[0]["id"].as_str().unwrap()), json!({})).await).await;

        let base = format!("/api/v1/patients/{mia}");
        json_ok(owner.post_form(&app, &format!("{base}/messages"), file_form(&[("body", "Your blood pressure was 120/80.")], None)).await).await;
        json_ok(owner.post(&app, &format!("{base}/notes"), json!({"body": "Rest for two days."})).await).await;
        json_ok(owner.post(&app, &format!("/api/v1/patients/{sam}/notes"), json!({"body": "For Sam."})).await).await;
        // The patient writing back tells nobody.
        json_ok(patient.post_form(&app, &format!("/api/v1/portal/records/{mia}/messages"), file_form(&[("body", "Thank you")], None)).await).await;

        let notices = app.outbox("record_update", "mia@example.org").await;
        assert_eq!(notices.len(), 1, "two pieces of news within the hour make one mail: {notices:?}");
        // Over SMTP the worker may deliver the notice, and clear its
        // payload, before this reads it: the mail's text below then says
        // what the news was.
        if let Some(news) = notices[0].get("news") {
            assert_eq!(news, "a new message from the clinic");
        }
        assert!(app.outbox("record_update", "aunt@example.org").await.is_empty(), "unconfirmed address");
        assert!(app.outbox("record_update", "sam@example.org").await.is_empty(), "revoked grant");

        let subject = |m: &portico_tests::smtp::Received| {
            mail_parser::MessageParser::default().parse(&m.data).unwrap().subject().map(str::to_owned)
        };
        let mut mail = None;
        for _ in 0..200 {
            mail = sink.received().into_iter().find(|m| subject(m).as_deref() == Some("Something new in your Clinic north patient portal"));
            if mail.is_some() { break; }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mail = mail.expect("the notice was delivered");
        assert_eq!(mail.to, ["mia@example.org"]);
        let parsed = mail_parser::MessageParser::default().parse(&mail.data).unwrap();
        let text = parsed.body_text(0).unwrap().to_string();
        assert!(text.contains("There is a new message from the clinic waiting for you"), "{text}");
        assert!(text.contains(&format!("{}/t/north/portal/login", app.address)), "{text}");
        let raw = String::from_utf8_lossy(&mail.data);
        for secret in ["120/80", "Rest for two days", "Mia Wong"] {
            assert!(!raw.contains(secret), "the notice carries no content nor the patient's name: {secret}");
        }

        // After the quiet hour, the next news is mailed again.
        app.execute("UPDATE outbox SET created_at = created_at - 3600001 WHERE kind = 'record_update'").await;
        json_ok(owner.post(&app, &format!("{base}/notes"), json!({"body": "Back to normal."})).await).await;
        let notices = app.outbox("record_update", "mia@example.org").await;
        assert_eq!(notices.len(), 2);
        assert_eq!(notices[1]["news"], "a new note from the clinic");
    }
}
