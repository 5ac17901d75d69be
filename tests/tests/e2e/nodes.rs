//! Several server nodes on one PostgreSQL database, as a platform runs
//! them: each node keeps sessions, clinics and active plugins in memory,
//! and what one node changes holds on the others within a second. A node
//! that may have missed news answers from the database until it is sure
//! again. (The same stories behind a real reverse proxy, with a node
//! killed under load, are `server/tests/two_nodes.rs`.)
//!
//! PostgreSQL only: SQLite has one node.

use std::time::{Duration, Instant};

use portico_tests::{
    Engine, PASSWORD, Sibling, Staff, TestApp, add_patient, expect_error, json_ok, plugin_fixture,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How soon a change on one node must hold on another.
const WITHIN: Duration = Duration::from_secs(1);

/// Node A (the test app) and node B, B listening for A's news.
async fn two_nodes() -> Option<(TestApp, Sibling)> {
    let a = TestApp::spawn(Engine::Postgres).await?;
    let b = a.sibling(|_| {}).await;
    let listening = Instant::now();
    while !b.services.coherence().is_trusted() {
        assert!(
            listening.elapsed() < Duration::from_secs(10),
            "node B never started listening"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some((a, b))
}

/// `who` calls `path` of their clinic on node B.
async fn on_b(
    a: &TestApp,
    b: &Sibling,
    who: &Staff,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = a
        .client
        .request(method, b.tenant_url(&who.slug, path))
        .bearer_auth(&who.token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn logout(a: &TestApp, who: &Staff) {
    let resp = who.post(a, "/api/v1/auth/logout", json!({})).await;
    assert!(resp.status().is_success(), "logout: {}", resp.status());
}

async fn status_on_b(a: &TestApp, b: &Sibling, who: &Staff, path: &str) -> StatusCode {
    on_b(a, b, who, Method::GET, path, None).await.status()
}

/// Asks until `holds` says yes; how long that took. Fails after
/// [`WITHIN`].
async fn holds_within(what: &str, mut holds: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if holds().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < WITHIN,
            "{what}: still not so after {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_ends_the_session_on_the_other_within_a_second() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    // B knows the session now, and keeps it.
    for _ in 0..3 {
        assert_eq!(
            status_on_b(&a, &b, &owner, "/api/v1/staff").await,
            StatusCode::OK
        );
    }
    logout(&a, &owner).await;
    let took = holds_within("the logout holds on B", async || {
        status_on_b(&a, &b, &owner, "/api/v1/staff").await == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("logout held on node B after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_on_one_node_ends_the_other_sessions_everywhere() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    let laptop = a.login_bearer("north", &owner.email, PASSWORD).await;
    for who in [&owner, &laptop] {
        assert_eq!(
            status_on_b(&a, &b, who, "/api/v1/staff").await,
            StatusCode::OK
        );
    }
    json_ok(
        owner
            .post(
                &a,
                "/api/v1/auth/password",
                json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            )
            .await,
    )
    .await;
    holds_within("the laptop's session ends on B", async || {
        status_on_b(&a, &b, &laptop, "/api/v1/staff").await == StatusCode::UNAUTHORIZED
    })
    .await;
    // The session that changed it goes on, on both nodes.
    assert_eq!(
        status_on_b(&a, &b, &owner, "/api/v1/staff").await,
        StatusCode::OK
    );
    assert_eq!(
        owner.get(&a, "/api/v1/staff").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_on_one_node_holds_on_the_other_within_a_second() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    let desk = a
        .add_staff(&owner, "desk@north.example.org", &["front_desk"])
        .await;
    assert_eq!(
        status_on_b(&a, &b, &desk, "/api/v1/audit").await,
        StatusCode::FORBIDDEN
    );
    json_ok(
        owner
            .post(
                &a,
                "/api/v1/roles/policies",
                json!({"role": "front_desk", "resource": "audit", "action": "read"}),
            )
            .await,
    )
    .await;
    holds_within("the new permission holds on B", async || {
        status_on_b(&a, &b, &desk, "/api/v1/audit").await == StatusCode::OK
    })
    .await;
    // And taken away again, on B this time: A follows.
    let taken = on_b(
        &a,
        &b,
        &owner,
        Method::DELETE,
        "/api/v1/roles/policies/front_desk/audit/read",
        None,
    )
    .await;
    json_ok(taken).await;
    holds_within("the permission is gone on A", async || {
        desk.get(&a, "/api/v1/audit").await.status() == StatusCode::FORBIDDEN
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_clinic_is_refused_on_every_node() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    assert_eq!(
        status_on_b(&a, &b, &owner, "/api/v1/clinic").await,
        StatusCode::OK
    );
    a.suspend_tenant("north").await;
    holds_within("B refuses the suspended clinic", async || {
        status_on_b(&a, &b, &owner, "/api/v1/clinic").await == StatusCode::FORBIDDEN
    })
    .await;
    expect_error(
        owner.get(&a, "/api/v1/clinic").await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_activated_on_one_node_runs_on_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    // B learns that the clinic runs no rule...
    let first = add_patient(&a, &owner, "Ada Park", "ada@example.org").await;
    json_ok(
        on_b(
            &a,
            &b,
            &owner,
            Method::PUT,
            &format!("/api/v1/patients/{first}/portal-access"),
            Some(json!({"enabled": true})),
        )
        .await,
    )
    .await;
    // ...until one is activated on A.
    let uploaded = json_ok(
        a.upload_plugin(&owner, "nosy", plugin_fixture("nosy"))
            .await,
    )
    .await;
    let id = uploaded["id"].as_str().unwrap();
    json_ok(
        owner
            .post(
                &a,
                &format!("/api/v1/plugins/{id}/activate"),
                json!({"settings": {"max_tries": "2"}}),
            )
            .await,
    )
    .await;
    let sam = add_patient(&a, &owner, "Sam Lee", "sam@example.org").await;
    let mut answer = Value::Null;
    holds_within("B runs the rule activated on A", async || {
        let resp = on_b(
            &a,
            &b,
            &owner,
            Method::PUT,
            &format!("/api/v1/patients/{sam}/portal-access"),
            Some(json!({"enabled": true})),
        )
        .await;
        if resp.status() != StatusCode::FORBIDDEN {
            return false;
        }
        answer = resp.json().await.unwrap();
        true
    })
    .await;
    assert_eq!(answer["code"], "verification_denied", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with("settings=strictness=strict,max_tries=2"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_its_listener_trusts_nothing_until_it_listens_again() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    for _ in 0..3 {
        assert_eq!(
            status_on_b(&a, &b, &owner, "/api/v1/staff").await,
            StatusCode::OK
        );
    }
    // Cut B's listener off, as a network fault or a database restart
    // would, and log out on A at once: the notification may well be lost.
    let mut raw = a.raw_connection().await;
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'portico-listener' AND datname = current_database()",
    )
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert_eq!(cut.len(), 2, "one listener per node");
    logout(&a, &owner).await;
    holds_within("the logout holds on B, news lost or not", async || {
        status_on_b(&a, &b, &owner, "/api/v1/staff").await == StatusCode::UNAUTHORIZED
    })
    .await;
    // B listens again, and trusts its caches again.
    let back = Instant::now();
    while b.services.coherence().listener_reconnects() == 0 || !b.services.coherence().is_trusted()
    {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "B never listened again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And news flows again.
    let again = a.login_bearer("north", &owner.email, PASSWORD).await;
    assert_eq!(
        status_on_b(&a, &b, &again, "/api/v1/staff").await,
        StatusCode::OK
    );
    logout(&a, &again).await;
    holds_within("a later logout holds on B", async || {
        status_on_b(&a, &b, &again, "/api/v1/staff").await == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_replaces_the_connections_its_database_cut() {
    let Some(a) = TestApp::spawn(Engine::Postgres).await else {
        return;
    };
    let owner = a.clinic_with_owner("north").await;
    for _ in 0..3 {
        json_ok(owner.get(&a, "/api/v1/staff").await).await;
    }
    // Requests at once too, so the node holds several connections, each of
    // which would fail a request of its own if they were found dead one by
    // one.
    let staff = "/api/v1/staff";
    let burst = tokio::join!(
        owner.get(&a, staff),
        owner.get(&a, staff),
        owner.get(&a, staff),
        owner.get(&a, staff),
        owner.get(&a, staff),
        owner.get(&a, staff),
    );
    for resp in [burst.0, burst.1, burst.2, burst.3, burst.4, burst.5] {
        json_ok(resp).await;
    }
    let (open, _) = a.services.database_connections();
    assert!(open >= 4, "the node holds {open} connections");
    // As a database restart or a failover would: every connection of the
    // node goes, the listener's included. Each is waited for (up to five
    // seconds), so no request can still slip through one about to go.
    let mut raw = a.raw_connection().await;
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut raw)
    .await
    .unwrap();
    assert!(cut.len() >= 2, "the node had connections: {}", cut.len());
    assert!(cut.iter().all(|(gone,)| *gone), "every connection went");
    // The node takes the first sign of the cut (its listener's connection
    // lost, or a read connection that no longer answers) for all of them:
    // at most the one request that meets a dead connection before then is
    // told to try again, plainly, and every request after it is served on
    // new connections, however many the node had open.
    let mut refused = 0;
    let mut served = 0;
    for _ in 0..30 {
        let resp = owner.get(&a, "/api/v1/staff").await;
        match resp.status() {
            StatusCode::OK => served += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(served, 0, "a failure after the node had recovered");
                refused += 1;
                let body: Value = resp.json().await.unwrap();
                assert!(body["code"].is_string(), "{body}");
            }
            other => panic!("{other} after the connections were cut"),
        }
    }
    assert!(refused <= 1, "{refused} requests refused");
}
