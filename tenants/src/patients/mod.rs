//! Patient records: demographics and the portal-access switch.

mod query;
pub(crate) mod store;

pub use query::PatientQuery;

pub use store::{PatientRecord, PortalAccess};
pub(crate) use store::{get as get_patient, insert_registered, registered_by, set_access};
