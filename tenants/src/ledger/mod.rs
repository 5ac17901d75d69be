//! The audit ledger: each clinic's audit events as the leaves of one
//! append-only Merkle log, hashed as Certificate Transparency hashes its
//! logs (RFC 6962 §2.1), so that anyone can check that the trail was
//! neither changed nor cut, without trusting the database.
//!
//! - [`canonical`]: the fixed byte form of an event, and its leaf hash.
//! - [`merkle`]: the tree's root over leaf hashes.
//! - [`store`]: appending in the event's own transaction, with a
//!   gap-free sequence per clinic; reading the log back.
//! - [`export`]: part of a log as JSON Lines, to check offline.
//! - [`heads`]: signed tree heads and the platform's audit key.
//! - [`verify`]: recomputing the log from the events and naming the first
//!   place it does not hold.
//!
//! The tree is hashed here rather than with a crate such as `ct-merkle`:
//! those keep the leaves' values and hash them themselves, while the
//! ledger works from leaf hashes stored beside the events, and RFC 6962's
//! tree hash is a dozen lines checked against the RFC's test vectors.

pub mod canonical;
pub mod export;
pub mod heads;
pub mod merkle;
pub(crate) mod store;
pub mod verify;

pub use canonical::{CanonicalEvent, LeafHash};
pub use export::{HeadJson, LedgerExport};
pub use heads::{AuditKey, SignedHead, TreeHead};
pub use merkle::{Frontier, ProofError};
pub use store::{Cut, LedgerEntry, StoredEvent};
pub use verify::{LedgerCheck, Tampering};

static APPENDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether events enter the ledger as they are written: always, in a
/// server.
pub(crate) fn appending() -> bool {
    APPENDING.load(std::sync::atomic::Ordering::Relaxed)
}

/// For the redemption benchmark only, which measures what the ledger costs
/// by turning it off and on in one run. Nothing else calls it: an event
/// written while it is off is reported by verification as written around
/// the log.
#[doc(hidden)]
pub fn set_appending_for_benchmarks(on: bool) {
    APPENDING.store(on, std::sync::atomic::Ordering::Relaxed);
}
