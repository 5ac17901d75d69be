use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::InvalidValue;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so inserts stay index-friendly.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                Uuid::try_parse(raw)
                    .map(Self)
                    .map_err(|_| InvalidValue::new($field, "is not a valid id"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// Identifies a tenant (a clinic). Stored as text so both engines agree.
    TenantId,
    "tenant_id"
);
id_type!(
    /// Identifies a staff account within its tenant.
    StaffId,
    "staff_id"
);
id_type!(
    /// Identifies a patient record within its tenant.
    PatientId,
    "patient_id"
);
id_type!(
    /// Identifies an issued access code (never the code itself).
    AccessCodeId,
    "access_code_id"
);
id_type!(
    /// Identifies a patient's portal account within its tenant.
    AccountId,
    "account_id"
);
id_type!(
    /// Identifies a grant: an account's access to a patient record.
    GrantId,
    "grant_id"
);
id_type!(
    /// Identifies one uploaded version of a clinic's plugin.
    PluginId,
    "plugin_id"
);
id_type!(
    /// Identifies a document on a patient record.
    DocumentId,
    "document_id"
);
id_type!(
    /// Identifies a note the clinic wrote for a patient.
    NoteId,
    "note_id"
);
id_type!(
    /// Identifies an appointment on a patient record.
    AppointmentId,
    "appointment_id"
);
id_type!(
    /// Identifies a secure message between a clinic and a patient.
    MessageId,
    "message_id"
);
id_type!(
    /// Identifies one second factor (an authenticator app, a passkey) of a
    /// staff member or a portal account.
    FactorId,
    "factor_id"
);
