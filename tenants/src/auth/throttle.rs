//! Failed-login limits, per client address and per account, kept in the
//! database so every server node sees the same counts; and [`Throttle`],
//! through which alone a secret can be checked.

use std::time::Duration;

use sqlx::Row;

use super::{PasswordHash, PasswordHasher, hash_token};
use crate::domain::PlainPassword;
use crate::domain::Timestamp;
use crate::storage::{StorageError, TenantTx};

/// How many failures lock a bucket, and for how long.
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    pub max_failures_per_account: u32,
    pub max_failures_per_ip: u32,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// How long a bucket stays locked once it reaches its limit. Each further
    /// lockout in the same window doubles it, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(5 * 60),
            max_lockout: Duration::from_secs(60 * 60),
        }
    }
}

/// What a failure counts against.
#[derive(Debug, Clone)]
pub struct Bucket {
    key: String,
    limit: u32,
    /// A full soft bucket does not refuse: it asks the act for a second
    /// proof instead (see [`Throttle::pressed`]).
    soft: bool,
    /// Counts consecutive failures however far apart, until a success
    /// (or a reset) clears it; full, it stays locked (NIST SP 800-63B's
    /// cap on consecutive failures of one account).
    consecutive: bool,
}

impl Bucket {
    /// The account a login named. Keyed by a hash, so the table never holds
    /// what someone typed (which is sometimes a password).
    pub fn account(scope: &str, login_name: &str, policy: &ThrottlePolicy) -> Self {
        Self {
            key: format!("{scope}-account:{}", hash_token(&login_name.to_lowercase())),
            limit: policy.max_failures_per_account,
            soft: false,
            consecutive: false,
        }
    }

    /// The account's consecutive failures, capped at `limit` in all.
    pub fn consecutive(scope: &str, login_name: &str, limit: u32) -> Self {
        Self {
            key: format!(
                "{scope}-consecutive:{}",
                hash_token(&login_name.to_lowercase())
            ),
            limit,
            soft: false,
            consecutive: true,
        }
    }

    /// A bucket with its own limit, such as a whole clinic's.
    pub fn named(key: String, limit: u32) -> Self {
        Self {
            key,
            limit,
            soft: false,
            consecutive: false,
        }
    }

    /// This bucket, soft: full, it asks for a second proof rather than
    /// refusing everyone it counts (a whole clinic's).
    pub fn soft(self) -> Self {
        Self { soft: true, ..self }
    }

    pub(crate) fn is_soft(&self) -> bool {
        self.soft
    }

    /// A client address. IPv6 addresses count by their /64 network, since
    /// one client can hold a whole /64 and rotate through it.
    pub fn ip(scope: &str, ip: Option<&str>, policy: &ThrottlePolicy) -> Self {
        let key = match ip.and_then(|i| i.parse::<std::net::IpAddr>().ok()) {
            Some(std::net::IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Some(v4) => v4.to_string(),
            None => "unknown".to_owned(),
        };
        Self {
            key: format!("{scope}-ip:{key}"),
            limit: policy.max_failures_per_ip,
            soft: false,
            consecutive: false,
        }
    }
}

/// The buckets one check of a secret counts against. The door makes one
/// for every act that declares a secret; a password can be verified only
/// through it (the hasher asks for [`Throttled`], which only this module
/// makes), so no check of a secret goes uncounted.
#[derive(Debug)]
pub struct Throttle {
    scope: &'static str,
    policy: ThrottlePolicy,
    buckets: Vec<Bucket>,
    /// The buckets a success forgets (the account's), not the address's.
    account: Vec<Bucket>,
    /// The cap on the account's consecutive failures, for secrets that
    /// have one (second factors).
    consecutive_cap: Option<u32>,
    missed: bool,
    /// A soft bucket is full: the act must ask for a second proof.
    pressed: bool,
}

/// Proof that a secret is checked under a [`Throttle`].
pub(in crate::auth) struct Throttled(());

#[cfg(test)]
impl Throttled {
    /// For the hasher's own tests, which check hashing, not throttling.
    pub(in crate::auth) fn for_tests() -> Self {
        Self(())
    }
}

impl Throttle {
    pub(crate) fn new(scope: &'static str, policy: ThrottlePolicy, buckets: Vec<Bucket>) -> Self {
        Self {
            scope,
            policy,
            buckets,
            account: Vec::new(),
            consecutive_cap: None,
            missed: false,
            pressed: false,
        }
    }

    /// Caps the consecutive failures of each account at `limit`.
    pub(crate) fn cap_consecutive(mut self, limit: u32) -> Self {
        self.consecutive_cap = Some(limit);
        self
    }

    /// Counts failures against `key`'s account buckets too; the buckets,
    /// for the caller to check.
    pub(crate) fn add_account(&mut self, key: &str) -> Vec<Bucket> {
        let mut added = vec![Bucket::account(self.scope, key, &self.policy)];
        if let Some(limit) = self.consecutive_cap {
            added.push(Bucket::consecutive(self.scope, key, limit));
        }
        self.buckets.extend(added.iter().cloned());
        self.account.extend(added.iter().cloned());
        added
    }

    pub(crate) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The buckets that refuse when full, and the soft ones.
    pub(crate) fn hard_and_soft(&self) -> (Vec<Bucket>, Vec<Bucket>) {
        let (soft, hard) = self.buckets.iter().cloned().partition(Bucket::is_soft);
        (hard, soft)
    }

    pub(crate) fn press(&mut self) {
        self.pressed = true;
    }

    /// Whether a soft bucket was full when the act began.
    pub(crate) fn pressed(&self) -> bool {
        self.pressed
    }

    pub(crate) fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Checks `password` against `stored` (or a dummy of the same cost when
    /// there is no account); a mismatch is a miss.
    pub(crate) async fn verify_password(
        &mut self,
        hasher: &PasswordHasher,
        password: &PlainPassword,
        stored: Option<&PasswordHash>,
    ) -> bool {
        let matched = hasher.verify(password, stored, &Throttled(())).await;
        self.missed |= !matched;
        matched
    }

    /// The presented secret (a code, a token) was wrong.
    pub(crate) fn miss(&mut self) {
        self.missed = true;
    }

    pub(crate) fn missed(&self) -> bool {
        self.missed
    }

    /// The buckets a success forgets, unless the act also missed.
    pub(crate) fn to_forget(&self) -> &[Bucket] {
        if self.missed { &[] } else { &self.account }
    }
}

/// `Err(retry_after)` when any of `buckets` is locked now.
pub(crate) async fn check(
    tx: &mut TenantTx,
    buckets: &[Bucket],
) -> Result<Result<(), Duration>, StorageError> {
    let now = Timestamp::now().unix_millis();
    let mut wait = 0i64;
    for bucket in buckets {
        let key = tx.tenant_key();
        let row = sqlx::query(
            "SELECT locked_until FROM login_throttle WHERE tenant_id = $1 AND bucket = $2",
        )
        .bind(key)
        .bind(bucket.key.clone())
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = row {
            let locked_until: Option<i64> = row.try_get(0)?;
            if let Some(until) = locked_until.filter(|u| *u > now) {
                wait = wait.max(until - now);
            }
        }
    }
    Ok(if wait > 0 {
        Err(Duration::from_millis(wait as u64))
    } else {
        Ok(())
    })
}

/// Counts one failure against each bucket, locking those that reach their
/// limit.
pub(crate) async fn record_failure(
    tx: &mut TenantTx,
    buckets: &[Bucket],
    policy: &ThrottlePolicy,
) -> Result<(), StorageError> {
    let now = Timestamp::now();
    for bucket in buckets {
        let key = tx.tenant_key();
        let row = sqlx::query(
            "SELECT failures, window_started_at FROM login_throttle WHERE tenant_id = $1 AND bucket = $2",
        )
        .bind(key.clone())
        .bind(bucket.key.clone())
        .fetch_optional(tx.conn())
        .await?;
        let counted = match row {
            Some(row) => Some((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)),
            None => None,
        };
        let (failures, started, locked_until) = one_more_failure(counted, now, bucket, policy);
        sqlx::query(
            "INSERT INTO login_throttle (tenant_id, bucket, failures, window_started_at, locked_until)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, bucket) DO UPDATE
                SET failures = excluded.failures,
                    window_started_at = excluded.window_started_at,
                    locked_until = excluded.locked_until",
        )
        .bind(key)
        .bind(bucket.key.clone())
        .bind(failures)
        .bind(started)
        .bind(locked_until)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// A bucket's count after one more failure, from what it held (failures,
/// start of its window): `(failures, window start, locked until)`. Every
/// `limit` failures past the limit double the lockout.
fn one_more_failure(
    counted: Option<(i64, i64)>,
    now: Timestamp,
    bucket: &Bucket,
    policy: &ThrottlePolicy,
) -> (i64, i64, Option<i64>) {
    if bucket.consecutive {
        // No window: only a success or a reset forgets these.
        let failures = counted.map_or(0, |(f, _)| f) + 1;
        let started = counted.map_or(now.unix_millis(), |(_, s)| s);
        let locked = (failures >= i64::from(bucket.limit.max(1))).then(|| {
            now.plus(Duration::from_secs(100 * 365 * 24 * 3600))
                .unix_millis()
        });
        return (failures, started, locked);
    }
    let window_start = now.minus(policy.window).unix_millis();
    let (failures, started) = match counted {
        Some((failures, started)) if started >= window_start => (failures + 1, started),
        _ => (1, now.unix_millis()),
    };
    let limit = i64::from(bucket.limit.max(1));
    let locked_until = (failures >= limit).then(|| {
        let doublings = ((failures - limit) / limit).min(16) as u32;
        let lock = policy
            .lockout
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(policy.max_lockout);
        now.plus(lock).unix_millis()
    });
    (failures, started, locked_until)
}

/// The platform's own buckets: failures per client address across every
/// clinic, so one address cannot spend each clinic's budget in turn.
pub(crate) mod across_clinics {
    use sqlx::Row;

    use super::{Bucket, ThrottlePolicy, one_more_failure};
    use crate::domain::Timestamp;
    use crate::storage::{Database, StorageError};

    /// `Err(retry_after)` when `bucket` is locked now.
    pub(crate) async fn check(
        db: &Database,
        bucket: &Bucket,
    ) -> Result<Result<(), std::time::Duration>, StorageError> {
        let now = Timestamp::now().unix_millis();
        let until: Option<Option<i64>> =
            sqlx::query("SELECT locked_until FROM address_throttle WHERE bucket = $1")
                .bind(bucket.key.clone())
                .fetch_optional(db.platform_pool())
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
        Ok(match until.flatten().filter(|u| *u > now) {
            Some(until) => Err(std::time::Duration::from_millis((until - now) as u64)),
            None => Ok(()),
        })
    }

    /// Counts one failure against `bucket`, locking it at its limit.
    pub(crate) async fn record_failure(
        db: &Database,
        bucket: &Bucket,
        policy: &ThrottlePolicy,
    ) -> Result<(), StorageError> {
        let mut tx = db.platform_write().await?;
        let row = sqlx::query(
            "SELECT failures, window_started_at FROM address_throttle WHERE bucket = $1",
        )
        .bind(bucket.key.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let counted = match row {
            Some(row) => Some((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)),
            None => None,
        };
        let (failures, started, locked_until) =
            one_more_failure(counted, Timestamp::now(), bucket, policy);
        sqlx::query(
            "INSERT INTO address_throttle (bucket, failures, window_started_at, locked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (bucket) DO UPDATE
                SET failures = excluded.failures,
                    window_started_at = excluded.window_started_at,
                    locked_until = excluded.locked_until",
        )
        .bind(bucket.key.clone())
        .bind(failures)
        .bind(started)
        .bind(locked_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Forgets the failures of `bucket`, after a successful login.
pub(crate) async fn clear(tx: &mut TenantTx, bucket: &Bucket) -> Result<(), StorageError> {
    let key = tx.tenant_key();
    sqlx::query("DELETE FROM login_throttle WHERE tenant_id = $1 AND bucket = $2")
        .bind(key)
        .bind(bucket.key.clone())
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_failures_are_not_forgotten_with_time() {
        let p = ThrottlePolicy::default();
        let bucket = Bucket::consecutive("factor", "someone", 100);
        let now = Timestamp::now();
        // 99 failures over a year leave it open; the 100th locks it.
        let (f, started, locked) = one_more_failure(Some((98, 0)), now, &bucket, &p);
        assert_eq!((f, started, locked), (99, 0, None));
        let (f, _, locked) = one_more_failure(Some((99, 0)), now, &bucket, &p);
        assert_eq!(f, 100);
        assert!(locked.unwrap() > now.plus(Duration::from_secs(365 * 24 * 3600)).unix_millis());
        // An ordinary account bucket forgets an old window.
        let ordinary = Bucket::account("factor", "someone", &p);
        assert_eq!(one_more_failure(Some((4, 0)), now, &ordinary, &p).0, 1);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_network() {
        let p = ThrottlePolicy::default();
        let a = Bucket::ip("x", Some("2001:db8:1:2:aaaa::1"), &p);
        let b = Bucket::ip("x", Some("2001:db8:1:2:bbbb::9"), &p);
        let c = Bucket::ip("x", Some("2001:db8:1:3::1"), &p);
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_ne!(
            Bucket::ip("x", Some("10.0.0.1"), &p).key,
            Bucket::ip("x", Some("10.0.0.2"), &p).key
        );
    }
}
