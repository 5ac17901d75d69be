//! The figures operators read at `/metrics`: served on an address of their
//! own, only when asked for, in Prometheus' text format, and with no label
//! that names a patient, a token, a code or anything a client typed.

use portico_tests::{Engine, TestApp, add_patient, expect_error, json_ok};
use reqwest::StatusCode;
use serde_json::json;

async fn scrape(app: &TestApp) -> String {
    let address = app
        .metrics_address
        .as_deref()
        .expect("metrics were asked for");
    let resp = app
        .client
        .get(format!("{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    resp.text().await.unwrap()
}

/// The sample lines of `metric` that carry every one of `labels`.
fn samples<'a>(text: &'a str, metric: &str, labels: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_read_the_nodes_figures_at_their_own_address() {
    let Some(app) = TestApp::spawn_with(Engine::Sqlite, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
    else {
        return;
    };
    let owner = app.clinic_with_owner("north").await;
    for _ in 0..3 {
        json_ok(owner.get(&app, "/api/v1/staff").await).await;
    }
    let patient = add_patient(&app, &owner, "Zebulon Quartermaine", "zq@example.org").await;
    json_ok(
        owner
            .get(&app, &format!("/api/v1/patients/{patient}"))
            .await,
    )
    .await;
    let wrong = app
        .try_login(
            "north",
            "/api/v1/auth/tokens",
            &owner.email,
            "not my password",
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let code = "velvet-harbor-quiet-lantern";
    let refused = app
        .client
        .post(app.tenant_url("north", "/api/v1/portal/redeem"))
        .json(&json!({"code": code, "account": {"email": "new@example.org", "password": "a patient's passphrase"}}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());

    let text = scrape(&app).await;
    // Requests, by the route's template: the patient's id is not in it.
    let read = samples(
        &text,
        "portico_http_requests_total",
        &[r#"method="GET""#, r#"status="200""#, "/api/v1/patients/"],
    );
    assert_eq!(read.len(), 1, "one line for the template: {read:?}");
    assert!(
        !samples(
            &text,
            "portico_http_request_duration_seconds_bucket",
            &[r#"le="0.005""#]
        )
        .is_empty(),
        "latency histograms"
    );
    // The session was read once and then answered from memory.
    assert!(
        !samples(
            &text,
            "portico_cache_lookups_total",
            &[r#"cache="staff_sessions""#, r#"outcome="hit""#]
        )
        .is_empty(),
        "{text}"
    );
    // Refusals, by act and reason; the redemption's outcome apart.
    assert_eq!(
        samples(
            &text,
            "portico_refusals_total",
            &[r#"act="staff.login""#, r#"reason="#]
        )
        .len(),
        1,
        "{text}"
    );
    assert_eq!(
        samples(
            &text,
            "portico_redemptions_total",
            &[r#"act="code.redeem""#]
        )
        .len(),
        1,
        "{text}"
    );

    // Sampled figures: the pool and the mail queue.
    assert!(
        !samples(&text, "portico_db_connections", &[r#"state="idle""#]).is_empty(),
        "{text}"
    );
    assert!(text.contains("\nportico_mail_queue_depth "), "{text}");

    // Nothing personal or secret in any label.
    for secret in [
        patient.as_str(),
        owner.token.as_str(),
        owner.id.as_str(),
        "Zebulon",
        "zq@example.org",
        code,
        "not my password",
    ] {
        assert!(!text.contains(secret), "{secret:?} is in the figures");
    }

    // The public listener does not serve them.
    expect_error(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "no_such_endpoint",
    )
    .await;
}
