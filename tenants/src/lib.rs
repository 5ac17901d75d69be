//! Portico's domain and storage: tenants (clinics), their staff, roles and
//! audit trail, and the tenant-bound database handle they are stored
//! through. Nothing here knows about HTTP.

pub mod acts;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod coherence;
pub mod domain;
pub mod door;
mod error;
pub mod factors;
pub mod family;
pub mod ledger;
pub mod operators;
pub mod outbox;
pub mod patients;
pub mod plugins;
pub mod portal;
pub mod rbac;
pub mod records;
pub mod registry;
mod services;
pub mod sessions;
pub mod smartforms;
pub mod staff;
pub mod storage;

pub use auth::{AcrossClinics, AuthSettings, RedeemThrottle, RegistrationLimits};
pub use door::{Act, Caller, Passage, Who};
pub use error::{DomainError, Refusal, RefusalKind};
pub use services::Services;
