//! Patient records: demographics and the portal-access switch.

mod service;
mod store;

pub use service::{NewPatient, PatientChanges};
pub(crate) use store::get as get_patient;
pub use store::{PatientRecord, PortalAccess};
