//! Who a request is, as proven by a live session: a staff member's (cookie
//! or bearer token) or a portal account's. The door builds its callers from
//! these; nothing else in the domain looks a session up.

mod cached;
pub(crate) mod portal;
pub(crate) mod staff;

pub(crate) use cached::LiveSessions;
pub use portal::PortalSession;
pub use staff::{SessionKind, SessionRecord};

use crate::auth::SecretToken;
use crate::domain::{AccountId, StaffId};
use crate::error::DomainError;
use crate::storage::TenantTx;

/// A request's staff member, as proven by a live session.
#[derive(Debug, Clone)]
pub struct StaffAuthenticated {
    pub session: SessionRecord,
}

impl StaffAuthenticated {
    pub fn staff_id(&self) -> StaffId {
        self.session.staff_id
    }
}

/// A request's portal account, as proven by a live session.
#[derive(Debug, Clone)]
pub struct PortalAuthenticated {
    pub session: PortalSession,
}

impl PortalAuthenticated {
    pub fn account_id(&self) -> AccountId {
        self.session.account_id
    }
}

/// The live staff session behind `token`.
pub(crate) async fn find_staff(
    tx: &mut TenantTx,
    token: &SecretToken,
) -> Result<StaffAuthenticated, DomainError> {
    match staff::find(tx, token).await? {
        staff::Lookup::Live(session) => Ok(StaffAuthenticated { session }),
        staff::Lookup::Expired => Err(DomainError::SessionExpired),
        staff::Lookup::Unknown => Err(DomainError::InvalidToken),
    }
}

/// The live portal session behind `token`.
pub(crate) async fn find_portal(
    tx: &mut TenantTx,
    token: &SecretToken,
) -> Result<PortalAuthenticated, DomainError> {
    match portal::find(tx, token).await? {
        portal::Lookup::Live(session) => Ok(PortalAuthenticated { session }),
        portal::Lookup::Expired => Err(DomainError::SessionExpired),
        portal::Lookup::Unknown => Err(DomainError::InvalidToken),
    }
}
