//! Staff accounts of a tenant: the people who run a clinic's side.

pub(crate) mod store;

pub use crate::sessions::{SessionKind, SessionRecord, StaffAuthenticated};
pub use store::{StaffMember, StaffStatus};
pub(crate) use store::{get as get_staff, lock_active};
