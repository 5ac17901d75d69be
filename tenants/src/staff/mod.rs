//! Staff accounts of a tenant: the people who run a clinic's side.

mod service;
mod sessions;
mod store;

pub(crate) use service::find_session;
pub use service::{IssuedSession, StaffAuthenticated};
pub use sessions::{SessionKind, SessionRecord};
pub(crate) use store::get as get_staff;
pub use store::{StaffMember, StaffStatus};
