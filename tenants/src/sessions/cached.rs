//! Live sessions kept in memory: the lookup every signed-in request makes.

use crate::coherence::{CoherentCache, Stamp, Subject};
use crate::domain::{TenantId, Timestamp};
use crate::storage::Database;

use super::{PortalAuthenticated, StaffAuthenticated};

/// How many sessions of each kind a node keeps.
const CAPACITY: u64 = 100_000;

/// A live session of either kind, as a cache keeps it.
pub(crate) trait Live: Clone + Send + Sync + 'static {
    /// Whose sessions it is among: changing them makes it stale.
    fn subject(&self, tenant: TenantId) -> Subject;
    fn expires_at(&self) -> Timestamp;
}

impl Live for StaffAuthenticated {
    fn subject(&self, tenant: TenantId) -> Subject {
        Subject::Staff(tenant, self.staff_id())
    }
    fn expires_at(&self) -> Timestamp {
        self.session.expires_at
    }
}

impl Live for PortalAuthenticated {
    fn subject(&self, tenant: TenantId) -> Subject {
        Subject::Account(tenant, self.account_id())
    }
    fn expires_at(&self) -> Timestamp {
        self.session.expires_at
    }
}

/// Live sessions of one kind by their token's hash. Only a live session
/// is kept: an unknown or expired token always asks the database, so
/// guessing tokens fills nothing. An entry names the clinic it was found
/// in and answers for that clinic alone, and is stale as soon as its
/// member's or account's sessions change on any node
/// ([`crate::coherence`]). The door reads through it.
#[derive(Clone)]
pub(crate) struct SessionCache<T> {
    entries: CoherentCache<String, (TenantId, T)>,
}

impl<T: Live> SessionCache<T> {
    fn new(name: &'static str, db: &Database) -> Self {
        Self {
            entries: CoherentCache::new(name, db.coherence(), CAPACITY),
        }
    }

    /// The session kept for a token's hash at `tenant`, while live.
    pub(crate) fn get(&self, tenant: TenantId, token_hash: &str) -> Option<T> {
        let (at, found) = self.entries.get(token_hash)?;
        (at == tenant && found.expires_at() > Timestamp::now()).then_some(found)
    }

    /// To be taken before the session is read from the database.
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.entries.stamp()
    }

    /// Keeps a session read under `stamp`.
    pub(crate) fn keep(
        &self,
        token_hash: String,
        tenant: TenantId,
        found: &T,
        stamp: Option<Stamp>,
    ) {
        let subject = found.subject(tenant);
        self.entries
            .insert(token_hash, (tenant, found.clone()), stamp, vec![subject]);
    }
}

/// Staff and portal sessions, kept apart.
#[derive(Clone)]
pub(crate) struct LiveSessions {
    pub(crate) staff: SessionCache<StaffAuthenticated>,
    pub(crate) portal: SessionCache<PortalAuthenticated>,
}

impl LiveSessions {
    pub(crate) fn new(db: &Database) -> Self {
        Self {
            staff: SessionCache::new("staff_sessions", db),
            portal: SessionCache::new("portal_sessions", db),
        }
    }
}
