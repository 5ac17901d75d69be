//! Credentials: password hashing, random tokens, the keyed hash of access
//! codes, and the throttle every check of a secret goes through.

mod code_key;
mod password_hasher;
mod settings;
mod throttle;
mod tokens;

pub use code_key::{CodeKey, CodeKeyError};
pub use password_hasher::{HashError, PasswordHash, PasswordHasher};
pub use settings::{AcrossClinics, AuthSettings, RedeemThrottle, RegistrationLimits};
pub use throttle::{Bucket, Throttle, ThrottlePolicy};
pub(crate) use throttle::{
    across_clinics, check as throttle_check, clear as throttle_clear,
    record_failure as throttle_record_failure,
};
pub use tokens::{SecretToken, hash_token};
