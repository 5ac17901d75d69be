//! Mail leaves through a real SMTP server on loopback, or as files a person
//! can open; both parts and the link survive the trip.

use std::time::Duration;

use portico_server::mail::{
    Branding, BuiltinTemplates, MailContext, MailTransport, SendError, SmtpSecurity, SmtpSettings,
    build_message, message_id,
};
use portico_tenants::outbox::MailKind;
use portico_tests::smtp::{Behaviour, SmtpSink};

fn access_link_mail() -> portico_server::mail::RenderedMail {
    BuiltinTemplates::new()
        .render(&MailContext {
            kind: MailKind::AccessLink,
            branding: Branding::plain("North Clinic"),
            patient_display_name: "Mia Wong".into(),
            link: Some(
                "http://127.0.0.1:9/t/north/portal/register#code=abacus-zoom-tidy-plant".into(),
            ),
            expires_at: Some("28 November 2026, 14:00 UTC".into()),
            locale: "en".into(),
            details: serde_json::json!({}),
            expires_at_rfc3339: None,
            portal_url: None,
        })
        .unwrap()
}

fn smtp(port: u16) -> MailTransport {
    MailTransport::smtp(&SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout_secs: 5,
    })
    .unwrap()
}

fn from() -> lettre::message::Mailbox {
    "North Clinic <portal@north.example.org>".parse().unwrap()
}

#[tokio::test]
async fn a_mail_arrives_at_a_real_smtp_server_with_both_parts_and_the_link() {
    let sink = SmtpSink::start().await;
    let mail = access_link_mail();
    let message = build_message(
        &from(),
        Some("desk@north.example.org"),
        "mia@example.org",
        message_id("m1", &from()),
        &mail,
    )
    .unwrap();
    smtp(sink.port).send(message, "m1").await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].to, ["mia@example.org"]);
    assert_eq!(got[0].from, "portal@north.example.org");
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[0].data)
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Your online access to your records at North Clinic")
    );
    assert_eq!(parsed.message_id(), Some("m1@north.example.org"));
    let text = parsed.body_text(0).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        text.contains("http://127.0.0.1:9/t/north/portal/register#code=abacus-zoom-tidy-plant")
    );
    assert!(html.contains(
        "href=\"http://127.0.0.1:9/t/north/portal/register#code=abacus-zoom-tidy-plant\""
    ));
    assert!(text.contains("28 November 2026"));
    assert!(
        !html.contains("<img"),
        "no tracking pixels or remote images"
    );
    assert_eq!(
        parsed
            .reply_to()
            .and_then(|r| r.first())
            .and_then(|a| a.address()),
        Some("desk@north.example.org")
    );
}

#[tokio::test]
async fn a_permanent_refusal_and_a_down_relay_are_told_apart() {
    let sink = SmtpSink::start().await;
    sink.set(Behaviour {
        reject_recipients: Some("no such user".into()),
        ..Behaviour::default()
    });
    let message = build_message(
        &from(),
        None,
        "ghost@example.org",
        message_id("m2", &from()),
        &access_link_mail(),
    )
    .unwrap();
    match smtp(sink.port).send(message, "m2").await {
        Err(SendError::Permanent(reason)) => assert!(reason.contains("no such user"), "{reason}"),
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
    sink.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let message = build_message(
        &from(),
        None,
        "mia@example.org",
        message_id("m3", &from()),
        &access_link_mail(),
    )
    .unwrap();
    assert!(matches!(
        smtp(sink.port).send(message, "m3").await,
        Err(SendError::Transient(_))
    ));
}

#[tokio::test]
async fn the_files_backend_writes_mail_a_person_can_open() {
    let dir = tempfile::tempdir().unwrap();
    let transport = MailTransport::Files(dir.path().join("mail"));
    let message = build_message(
        &from(),
        None,
        "mia@example.org",
        message_id("0001-access-link", &from()),
        &access_link_mail(),
    )
    .unwrap();
    transport.send(message, "0001-access-link").await.unwrap();
    let file = dir.path().join("mail/0001-access-link.eml");
    let parsed_bytes = std::fs::read(&file).unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&parsed_bytes)
        .unwrap();
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("#code=abacus-zoom-tidy-plant")
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}
