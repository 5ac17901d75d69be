//! The tunables of authentication, with production defaults.

use std::time::Duration;

use super::ThrottlePolicy;

/// Tunables of authentication, with production defaults.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub throttle: ThrottlePolicy,
    pub cookie_session_ttl: Duration,
    pub bearer_token_ttl: Duration,
    /// How long a password confirmation counts as fresh for sensitive acts.
    pub step_up_ttl: Duration,
    pub portal_session_ttl: Duration,
    /// Failed code redemptions: per address, per account, per clinic.
    pub redeem_throttle: RedeemThrottle,
    /// Registrations made online without a code.
    pub registration: RegistrationLimits,
    /// Failed checks of any secret from one client address, across every
    /// clinic.
    pub across_clinics: AcrossClinics,
    /// Consecutive failed second-factor checks of one account before it
    /// is locked until a reset (NIST SP 800-63B allows at most 100).
    pub max_consecutive_factor_failures: u32,
}

/// The platform-wide budget of one client address: each clinic's buckets
/// bound what one address tries there, this bounds what it tries
/// everywhere (10 codes at each of 10,000 clinics would otherwise pass).
/// See docs/security.md.
#[derive(Debug, Clone)]
pub struct AcrossClinics {
    /// Failed checks of any secret (password, code, emailed link) from one
    /// address (an IPv6 /64), at any clinic, in `window`.
    pub max_failures_per_address: u32,
    pub window: Duration,
    /// The first lockout; doubling on repeats, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for AcrossClinics {
    fn default() -> Self {
        Self {
            max_failures_per_address: 100,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            max_lockout: Duration::from_secs(24 * 3600),
        }
    }
}

impl AcrossClinics {
    pub(crate) fn policy(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures_per_account: self.max_failures_per_address,
            max_failures_per_ip: self.max_failures_per_address,
            window: self.window,
            lockout: self.lockout,
            max_lockout: self.max_lockout,
        }
    }
}

/// Budgets on online registration, which checks no secret but creates
/// rows and sends mail to an address of the sender's choosing. See
/// docs/security.md.
#[derive(Debug, Clone)]
pub struct RegistrationLimits {
    /// Registrations from one client address (an IPv6 /64) per window.
    pub per_address: u32,
    /// Registrations at one clinic per window, from everywhere.
    pub per_clinic: u32,
    /// Registration mails to one email address per window; more are
    /// answered the same but not sent.
    pub mails_per_recipient: u32,
    pub window: Duration,
}

impl Default for RegistrationLimits {
    fn default() -> Self {
        Self {
            per_address: 5,
            per_clinic: 200,
            mails_per_recipient: 3,
            window: Duration::from_secs(3600),
        }
    }
}

impl RegistrationLimits {
    /// A budget is a bucket that locks for the rest of its window once
    /// spent.
    pub(crate) fn policy(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures_per_account: self.mails_per_recipient,
            max_failures_per_ip: self.per_address,
            window: self.window,
            lockout: self.window,
            max_lockout: self.window,
        }
    }
}

/// Limits on failed code redemptions. See docs/security.md for why these
/// make guessing a code hopeless.
#[derive(Debug, Clone)]
pub struct RedeemThrottle {
    pub max_failures_per_ip: u32,
    pub max_failures_per_account: u32,
    pub max_failures_per_tenant: u32,
    pub window: Duration,
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for RedeemThrottle {
    fn default() -> Self {
        Self {
            max_failures_per_ip: 10,
            max_failures_per_account: 10,
            max_failures_per_tenant: 1000,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            max_lockout: Duration::from_secs(24 * 3600),
        }
    }
}

impl RedeemThrottle {
    pub(crate) fn policy(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures_per_account: self.max_failures_per_account,
            max_failures_per_ip: self.max_failures_per_ip,
            window: self.window,
            lockout: self.lockout,
            max_lockout: self.max_lockout,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            throttle: ThrottlePolicy::default(),
            cookie_session_ttl: Duration::from_secs(12 * 3600),
            bearer_token_ttl: Duration::from_secs(24 * 3600),
            step_up_ttl: Duration::from_secs(5 * 60),
            portal_session_ttl: Duration::from_secs(2 * 3600),
            redeem_throttle: RedeemThrottle::default(),
            registration: RegistrationLimits::default(),
            across_clinics: AcrossClinics::default(),
            max_consecutive_factor_failures: 100,
        }
    }
}
