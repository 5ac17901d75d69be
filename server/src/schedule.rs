//! Background work that runs on a clock: the birthday job, the audit
//! ledger's job, the metrics sampler.

use std::future::Future;
use std::time::Duration;

/// Runs `job` after `first`, then every `every`, until told to stop.
pub(crate) async fn repeat<F, Fut>(
    first: Duration,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut wait = first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
                continue;
            }
        }
        job().await;
        wait = every;
    }
}
