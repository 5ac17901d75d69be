//! The audit ledger: each clinic's audit events as the leaves of one
//! append-only Merkle log, hashed as Certificate Transparency hashes its
//! logs (RFC 6962 §2.1), so that anyone can check that the trail was
//! neither changed nor cut, without trusting the database.
//!
//! - [`canonical`]: the fixed byte form of an event, and its leaf hash.
//! - [`merkle`]: the tree's root over leaf hashes.
//! - [`store`]: appending in the event's own transaction, with a
//!   gap-free sequence per clinic; reading the log back.
//! - [`verify`]: recomputing the log from the events and naming the first
//!   place it does not hold.
//!
//! The tree is hashed here rather than with a crate such as `ct-merkle`:
//! those keep the leaves' values and hash them themselves, while the
//! ledger works from leaf hashes stored beside the events, and RFC 6962's
//! tree hash is a dozen lines checked against the RFC's test vectors.

pub mod canonical;
pub mod merkle;
pub(crate) mod store;
pub mod verify;

pub use canonical::{CanonicalEvent, LeafHash};
pub use verify::{LedgerCheck, Tampering};
