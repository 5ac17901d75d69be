//! Answers that must not tell by their timing whether an address or a
//! login is known (registering, asking for a password reset). The work
//! behind them differs (a mail queued or not, a row filed or not), so the
//! answer waits until a floor well above that work: the known and the
//! unknown take the same time. The wait is a timer, not work: it holds no
//! connection and no core. See docs/security.md.

use std::time::Duration;

use tokio::time::Instant;

/// The earliest moment an answer may leave.
pub(crate) struct EvenTime {
    until: Instant,
}

impl EvenTime {
    /// Answers no sooner than `floor` from now.
    pub(crate) fn from_now(floor: Duration) -> Self {
        Self {
            until: Instant::now() + floor,
        }
    }

    /// `answer`, once the floor is reached.
    pub(crate) async fn answer<T>(self, answer: T) -> T {
        tokio::time::sleep_until(self.until).await;
        answer
    }
}

/// Floor of a password reset request: its work is a few queries.
pub(crate) const RESET_REQUEST: Duration = Duration::from_millis(60);
/// Floor of a registration: its work is a password hash (tens of
/// milliseconds, the same either way) and a few queries.
pub(crate) const REGISTRATION: Duration = Duration::from_millis(250);
