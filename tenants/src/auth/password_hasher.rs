use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::{NewPassword, PlainPassword};

/// A PHC-format argon2id hash, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Hashes and verifies passwords with argon2id at OWASP's recommended
/// parameters (19 MiB, 2 passes, 1 lane).
///
/// Each hash takes tens of milliseconds of one core, so it runs on the
/// blocking pool, never on the async workers, and at most `concurrency` at a
/// time. Requests that are not logging in keep their share of the CPU during
/// a storm of logins.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    params: Params,
    /// Verified in place of a real hash when the account does not exist, so
    /// an unknown email costs the same time as a wrong password.
    dummy: Arc<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl PasswordHasher {
    pub const OWASP_MEMORY_KIB: u32 = 19 * 1024;
    pub const OWASP_ITERATIONS: u32 = 2;
    pub const OWASP_PARALLELISM: u32 = 1;

    /// A hasher that runs at most `concurrency` hashes at once. On a machine
    /// with few cores, leave at least one core to the async runtime.
    pub fn new(concurrency: usize) -> Self {
        let params = Params::new(
            Self::OWASP_MEMORY_KIB,
            Self::OWASP_ITERATIONS,
            Self::OWASP_PARALLELISM,
            None,
        )
        .expect("OWASP argon2 parameters are valid");
        let dummy = hash_blocking(&params, "portico-dummy-password-for-timing")
            .expect("hashing a constant succeeds");
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            params,
            dummy: Arc::new(dummy),
        }
    }

    /// The default concurrency: all cores but one, and at least one.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .max(1)
    }

    pub async fn hash(&self, password: &NewPassword) -> Result<PasswordHash, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let params = self.params.clone();
        let plain = password.as_plain().clone();
        let hash =
            tokio::task::spawn_blocking(move || hash_blocking(&params, plain.expose())).await??;
        Ok(PasswordHash(hash))
    }

    /// True when `password` matches `stored`. With no stored hash (unknown
    /// account) it still does the full work and answers false.
    /// Only a [`Throttle`](super::Throttle) checks a password, so that
    /// every miss counts.
    pub(in crate::auth) async fn verify(
        &self,
        password: &PlainPassword,
        stored: Option<&PasswordHash>,
        _: &super::throttle::Throttled,
    ) -> bool {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let (target, real) = match stored {
            Some(h) => (h.0.clone(), true),
            None => ((*self.dummy).clone(), false),
        };
        let plain = password.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = argon2::PasswordHash::new(&target) else {
                return false;
            };
            Argon2::default()
                .verify_password(plain.expose().as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .unwrap_or(false);
        matched && real
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, HashError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::throttle::Throttled;

    #[tokio::test]
    async fn hashes_with_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::new(1);
        let pw = NewPassword::parse("correct horse battery staple".into()).unwrap();
        let hash = hasher.hash(&pw).await.unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
        assert!(
            hasher
                .verify(pw.as_plain(), Some(&hash), &Throttled::for_tests())
                .await
        );
        let wrong = PlainPassword::new("correct horse battery stapler".into()).unwrap();
        assert!(
            !hasher
                .verify(&wrong, Some(&hash), &Throttled::for_tests())
                .await
        );
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(1);
        let pw = PlainPassword::new("portico-dummy-password-for-timing".into()).unwrap();
        assert!(!hasher.verify(&pw, None, &Throttled::for_tests()).await);
    }
}
