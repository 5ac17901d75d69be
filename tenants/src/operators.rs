//! The platform operator's side: operator tokens, and the lifecycle of
//! tenants. Operators act across tenants only through these functions.

use crate::audit::ClientInfo;
use crate::door::{Caller, Who};
use crate::error::DomainError;
use crate::registry::Tenant;

#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
}

impl Operator {
    /// The operator acting in `tenant`.
    pub fn caller(&self, tenant: Tenant, client: &ClientInfo) -> Caller {
        Caller::new(tenant, Who::Operator(self.name.clone()), client.clone())
    }
}

pub(crate) fn domain_taken() -> DomainError {
    DomainError::Conflict {
        code: "domain_taken",
        message: "another clinic already uses this custom domain".into(),
    }
}
