//! Domain values that cannot hold invalid data. Each is parsed once at the
//! edge of the system; code that holds one never checks it again.

mod branding;
mod code_words;
mod codes;
mod display_name;
mod email;
mod ids;
mod password;
mod patient_values;
mod portal_host;
mod retention;
mod role;
mod slug;
mod time_zone;
mod timestamp;
mod username;
mod verification;

pub use branding::{Colour, LogoUrl};
pub use code_words::{
    CodeInputError, PlainCode, PresentedCode, WORDS_PER_CODE, looks_like_a_code, wordlist_len,
};
pub use codes::{CodeDelivery, CodeLifetime};
pub use display_name::DisplayName;
pub use email::EmailAddress;
pub use ids::{
    AccessCodeId, AccountId, AppointmentId, DocumentId, FactorId, GrantId, MessageId, NoteId,
    PatientId, PluginId, StaffId, TenantId,
};
pub use password::{NewPassword, PlainPassword};
pub use patient_values::{DateOfBirth, PhoneNumber, ZipCode};
pub use portal_host::PortalHost;
pub use retention::RetentionDays;
pub use role::{Action, BuiltinRole, Permission, Resource, RoleName};
pub use slug::Slug;
pub use time_zone::ClinicTimeZone;
pub use timestamp::Timestamp;
pub use username::Username;
pub use verification::{AskedField, AskedKind, GivenAnswer};

/// Why a value from outside was refused. The `field` is what the caller
/// called it, so an API can point at the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The same refusal, named after the field the request calls it (a
    /// new password is `password` in some requests).
    pub fn at(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}
