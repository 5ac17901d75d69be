//! Roles and permissions with casbin: RBAC with domains, the domain being
//! the tenant.
//!
//! The platform's permissions for the built-in roles are one shared set
//! under the wildcard domain `*`; a tenant's rows hold only its role
//! assignments and the policies it added. Checks are on (tenant, subject,
//! resource kind, action) with plain equality, the cheap form of matcher,
//! and their answers are cached per tenant until the tenant's policies
//! change.

pub(crate) mod adapter;
mod authorizer;
pub(crate) mod model;

pub use authorizer::Authorizer;
