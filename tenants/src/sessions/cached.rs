//! Live sessions kept in memory: the lookup every signed-in request makes.

use crate::coherence::{CoherentCache, Stamp, Subject};
use crate::domain::{TenantId, Timestamp};
use crate::storage::Database;

use super::{PortalAuthenticated, StaffAuthenticated};

/// How many sessions of each kind a node keeps.
const CAPACITY: u64 = 100_000;

/// Live sessions by their token's hash, staff and portal apart. Only a
/// live session is kept: an unknown or expired token always asks the
/// database, so guessing tokens fills nothing. An entry names the clinic
/// it was found in and answers for that clinic alone, and is stale as
/// soon as its member's or account's sessions change on any node
/// ([`crate::coherence`]). The door reads through it.
#[derive(Clone)]
pub(crate) struct LiveSessions {
    staff: CoherentCache<String, (TenantId, StaffAuthenticated)>,
    portal: CoherentCache<String, (TenantId, PortalAuthenticated)>,
}

impl LiveSessions {
    pub(crate) fn new(db: &Database) -> Self {
        Self {
            staff: CoherentCache::new("staff_sessions", db.coherence(), CAPACITY),
            portal: CoherentCache::new("portal_sessions", db.coherence(), CAPACITY),
        }
    }

    /// To be taken before a session is read from the database.
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.staff.stamp()
    }

    /// The staff session kept for a token's hash at `tenant`, while live.
    pub(crate) fn staff(
        &self,
        tenant: TenantId,
        token_hash: &String,
    ) -> Option<StaffAuthenticated> {
        let (at, found) = self.staff.get(token_hash)?;
        (at == tenant && found.session.expires_at > Timestamp::now()).then_some(found)
    }

    pub(crate) fn keep_staff(
        &self,
        token_hash: String,
        tenant: TenantId,
        found: &StaffAuthenticated,
        stamp: Option<Stamp>,
    ) {
        let subject = Subject::Staff(tenant, found.staff_id());
        self.staff
            .insert(token_hash, (tenant, found.clone()), stamp, vec![subject]);
    }

    /// The portal session kept for a token's hash at `tenant`, while live.
    pub(crate) fn portal(
        &self,
        tenant: TenantId,
        token_hash: &String,
    ) -> Option<PortalAuthenticated> {
        let (at, found) = self.portal.get(token_hash)?;
        (at == tenant && found.session.expires_at > Timestamp::now()).then_some(found)
    }

    pub(crate) fn keep_portal(
        &self,
        token_hash: String,
        tenant: TenantId,
        found: &PortalAuthenticated,
        stamp: Option<Stamp>,
    ) {
        let subject = Subject::Account(tenant, found.account_id());
        self.portal
            .insert(token_hash, (tenant, found.clone()), stamp, vec![subject]);
    }
}
