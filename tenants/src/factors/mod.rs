//! Second factors: authenticator apps (TOTP), passkeys and recovery codes,
//! for staff and portal accounts; and the login that waits for one.
//!
//! A factor is checked only inside an act that declares
//! [`crate::door::Secret::SecondFactor`], so every check is throttled in the
//! same buckets as passwords, with a hard cap on consecutive failures per
//! account (NIST SP 800-63B's 100).

pub mod devices;
pub(crate) mod email_code;
pub mod passkey;
mod pending;
mod recovery;
pub(crate) mod store;
mod totp;

pub use devices::{DeviceTrusted, TRUSTED_DEVICE_TTL, TrustedDevice};
pub use email_code::{EMAIL_CODE_TTL, EmailCode};
pub use pending::{PENDING_LOGIN_TTL, PendingLogin};
pub(crate) use pending::{create as create_pending, find as find_pending, spend as spend_pending};
pub use recovery::{RECOVERY_CODES_PER_SET, RecoveryCode};
pub use store::{FactorKind, FactorSummary, Holder};
pub use totp::{TotpCode, TotpEnrolment, TotpSecret};

use crate::domain::InvalidValue;

/// What someone typed at the second step: a code from their app, or one
/// of their recovery codes. Told apart by shape: six digits, or ten
/// letters and digits.
#[derive(Debug, Clone)]
pub enum SecondFactorAnswer {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

impl SecondFactorAnswer {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if let Ok(code) = TotpCode::parse(raw) {
            return Ok(Self::Totp(code));
        }
        RecoveryCode::parse(raw).map(Self::Recovery).map_err(|_| {
            InvalidValue::new(
                "code",
                "must be the 6 digits your authenticator app shows, or one of your recovery codes",
            )
        })
    }
}
