use std::time::Duration;

use crate::auth::HashError;
use crate::domain::{InvalidValue, Permission};
use crate::storage::StorageError;

/// Everything a domain operation can answer besides success. The HTTP layer
/// maps each to a status and a stable code in one place.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("too many failed attempts; try again in {} seconds", retry_after.as_secs().max(1))]
    LockedOut { retry_after: Duration },
    /// A budget on something that checks no secret (registering online)
    /// is spent for now.
    #[error("too many of these requests for now; try again in {} minutes", retry_after.as_secs().div_ceil(60).max(1))]
    RateLimited { retry_after: Duration },
    #[error("the session has expired; log in again")]
    SessionExpired,
    #[error("the session or token is not valid")]
    InvalidToken,
    #[error("your role does not let you {}; an owner or admin can change that", .0.in_words())]
    Forbidden(Permission),
    /// The staff member's password was chosen by someone else.
    #[error("choose your own password first: the one you were given was set by someone else")]
    PasswordChangeRequired,
    /// The clinic requires a second factor of its staff, and this staff
    /// member has none yet.
    #[error(
        "your clinic requires two-step sign-in: set up an authenticator app or a passkey first"
    )]
    SecondFactorSetupRequired,
    /// A second factor that did not match (an authenticator code, a
    /// recovery code).
    #[error(
        "that code is not right: use the newest code your authenticator app shows for this account, or one of your recovery codes"
    )]
    WrongSecondFactor,
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("confirm your password first; this action needs a recent password confirmation")]
    StepUpRequired,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("policy engine: {0}")]
    Policy(String),
    /// A refusal with its own code and a message written for the person
    /// in front of the screen (most often a patient).
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The clinic's verification rule needs these answers before it can
    /// rule; the portal asks for them and tries again.
    #[error("the clinic needs a little more information to check this")]
    MoreInformationNeeded(Vec<crate::domain::AskedField>),
}

/// What kind of refusal, for the HTTP layer to pick a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request is missing something it needs.
    Missing,
    /// The input cannot be what it claims to be.
    Malformed,
    /// Not the right credentials.
    Unauthenticated,
    /// Known, but not allowed now.
    Forbidden,
    NotFound,
    /// It existed and is gone for good (expired, cancelled).
    Gone,
    /// It conflicts with the state of things (already used, name taken).
    Conflict,
    /// Bigger than what is accepted.
    TooLarge,
    /// A kind of content that is not accepted.
    UnsupportedType,
}

#[derive(Debug, Clone)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub code: &'static str,
    pub message: String,
    /// The input at fault, when one is.
    pub field: Option<&'static str>,
}

impl DomainError {
    pub fn refused(kind: RefusalKind, code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Refused(Refusal {
            kind,
            code,
            message: message.into(),
            field: None,
        })
    }

    /// The same refusal, naming the input at fault.
    pub fn at_field(self, field: &'static str) -> Self {
        match self {
            DomainError::Refused(refusal) => DomainError::Refused(Refusal {
                field: Some(field),
                ..refusal
            }),
            other => other,
        }
    }
}

impl DomainError {
    /// The reason a refusal is recorded with in the audit trail; `None` for
    /// faults of the server itself, which are logged instead.
    pub fn audit_reason(&self) -> Option<String> {
        Some(match self {
            Self::Invalid(invalid) => format!("invalid_{}", invalid.field),
            Self::NotFound(_) => "not_found".into(),
            Self::Conflict { code, .. } => (*code).into(),
            Self::InvalidCredentials => "invalid_credentials".into(),
            Self::WrongSecondFactor => "wrong_code".into(),
            Self::LockedOut { .. } => "locked_out".into(),
            Self::RateLimited { .. } => "rate_limited".into(),
            Self::SessionExpired | Self::InvalidToken => "invalid_session".into(),
            Self::Forbidden(_) => "permission_denied".into(),
            Self::NotAllowed(_) => "not_allowed".into(),
            Self::StepUpRequired => "step_up_required".into(),
            Self::PasswordChangeRequired => "password_change_required".into(),
            Self::SecondFactorSetupRequired => "second_factor_setup_required".into(),
            Self::Refused(refusal) => refusal.code.into(),
            Self::MoreInformationNeeded(_) => "more_information_needed".into(),
            Self::Storage(StorageError::UniqueViolation(_)) => "conflict".into(),
            Self::Storage(_) | Self::Hash(_) | Self::Policy(_) => return None,
        })
    }
}

impl From<casbin::Error> for DomainError {
    fn from(err: casbin::Error) -> Self {
        DomainError::Policy(err.to_string())
    }
}
