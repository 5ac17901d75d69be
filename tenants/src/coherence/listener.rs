//! Brings other nodes' changes to this one through PostgreSQL's
//! LISTEN/NOTIFY, and keeps the node from trusting its caches whenever it
//! may have missed some.
//!
//! A notification is only delivered to a connection that is listening when
//! it is sent, so a listener that was down, or that is silently cut off,
//! loses news for good. Hence:
//!
//! - nothing is trusted until the first `LISTEN` has succeeded;
//! - a closed or failed connection distrusts at once; so does one that
//!   stays quiet for a second and then does not answer a query within
//!   another (a cut cable sends no error);
//! - the listener reconnects (backing off up to five seconds), and only
//!   after its `LISTEN` has succeeded again does the node trust anew,
//!   discarding everything read before ([`Coherence::trust_again`]).
//!
//! sqlx's own reconnection is turned off: it would listen again silently,
//! and the news lost in between would never be noticed.
//!
//! A lost connection is also the first sign of a database restart or
//! failover, which ends every connection the node has: `lost` is told at
//! once, so the pools replace theirs rather than fail a request on each.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::watch;

use super::Coherence;

/// The channel every node listens on and every change is sent to.
pub const CHANNEL: &str = "portico_changes";

/// The listener's connection, as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "portico-listener";

/// How long the connection may stay quiet before it is asked to prove it
/// is alive, and how long it then has to answer.
const QUIET: Duration = Duration::from_secs(1);
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

/// Follows other nodes' changes, listening at `url`, until `stop` says so;
/// calls `lost` each time the connection is lost.
pub async fn follow(
    coherence: Coherence,
    url: &str,
    mut stop: watch::Receiver<bool>,
    lost: impl Fn(),
) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let connected = tokio::select! {
            connected = listen(url) => connected,
            () = stopped(&mut stop) => return,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "cannot listen for other nodes' changes; every request reads the database until it can"
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&mut stop) => return,
                }
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if connected_before {
            coherence.count_reconnect();
            metrics::counter!("portico_listener_reconnects_total").increment(1);
        }
        connected_before = true;
        coherence.trust_again();
        metrics::gauge!("portico_listener_connected").set(1.0);
        tracing::info!("following other nodes' changes");
        let reason = tokio::select! {
            reason = receive(&mut listener, &coherence) => reason,
            () = stopped(&mut stop) => {
                coherence.distrust();
                return;
            }
        };
        coherence.distrust();
        lost();
        metrics::gauge!("portico_listener_connected").set(0.0);
        tracing::warn!(
            %reason,
            "lost the connection that brings other nodes' changes; every request reads the database until it is back"
        );
    }
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    // Named, so an operator can find it in `pg_stat_activity`.
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Applies notifications until the connection is lost, and says how.
async fn receive(listener: &mut PgListener, coherence: &Coherence) -> String {
    loop {
        // Waiting for the next message is cancel-safe in sqlx (a message
        // is only taken off the socket's buffer once whole), so a quiet
        // spell may end the wait and be followed by a query.
        match tokio::time::timeout(QUIET, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => coherence.apply_message(notification.payload()),
            Ok(Ok(None)) => return "the connection closed".to_owned(),
            Ok(Err(err)) => return err.to_string(),
            Err(_quiet) => {
                let answer = tokio::time::timeout(
                    ANSWER_WITHIN,
                    sqlx::query("SELECT 1").execute(&mut *listener),
                )
                .await;
                match answer {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => return err.to_string(),
                    Err(_) => {
                        return format!(
                            "no answer within {} ms after a quiet spell",
                            ANSWER_WITHIN.as_millis()
                        );
                    }
                }
            }
        }
    }
}

/// Resolves once `stop` says so, or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
