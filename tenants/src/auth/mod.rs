//! Credentials: password hashing, random tokens, and the login throttle.

mod password_hasher;
mod throttle;
mod tokens;

pub use password_hasher::{HashError, PasswordHash, PasswordHasher};
pub use throttle::{Bucket, ThrottlePolicy};
pub(crate) use throttle::{
    check as throttle_check, clear as throttle_clear, record_failure as throttle_record_failure,
};
pub use tokens::{SecretToken, hash_token};
