//! A clinic's WebAssembly plugins: the versions it uploaded, the one active
//! per hook family with the clinic's settings, the record of every call,
//! and the consultations the rest of the domain makes (mail rendering,
//! verification rules).
//!
//! The sandbox itself is `portico-plugins`; [`PluginHost`] runs it on the
//! blocking pool, bounded, with pre-instantiated plugins cached per clinic
//! and version.

mod host;
pub(crate) mod model;
pub(crate) mod store;

pub use host::PluginHost;
pub use model::{PluginName, PluginSettings};
pub use store::{Activation, CallRecord, CallStats, PluginVersion};
