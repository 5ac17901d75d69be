//! Portico's WebAssembly plugins, host side: the versioned WIT interface
//! that plugin authors build against, and the wasmtime sandbox that runs
//! what clinics upload.
//!
//! - [`hooks`]: the hook families (one WIT world each) and their hooks.
//! - [`interface`]: every published interface version, one binding module
//!   each, so components built against an old version keep running.
//! - [`manifest`]: what a plugin declares it reads and takes (4.0.0).
//! - [`model`]: what goes into and comes out of a hook, whatever the
//!   version.
//! - [`sandbox`]: admission (what a component may import), compilation,
//!   and calls with a fresh instance and bounded resources.
//!
//! The guest SDK lives in `plugins/sdk`, the example plugins in
//! `plugins/examples`, and `docs/plugins.md` is the author's guide.

pub mod call_state;
pub mod hooks;
pub mod interface;
pub mod manifest;
pub mod model;
pub mod sandbox;

pub use hooks::{Hook, HookFamily};
pub use interface::{InterfaceVersion, PUBLISHED, Version};
pub use manifest::{Manifest, PatientFact, SettingSpec, SettingType};
pub use model::{Decision, HookInput, HookOutput};
pub use sandbox::admission::{Capability, ForbiddenImport, Refusal};
pub use sandbox::limits::{Limits, SandboxConfig};
pub use sandbox::{CallReport, Failure, FailureKind, Plugin, Sandbox};
