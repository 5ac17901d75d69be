//! What a clinic shares with a patient on their record: documents (either
//! side may upload), notes written for the patient, appointments, and a
//! secure conversation with attachments.

pub(crate) mod model;
pub(crate) mod notices;
pub(crate) mod store;

pub use model::{
    AppointmentRequest, FileName, MAX_DOCUMENT_BYTES, MediaType, Upload, UploadRefused, WrittenText,
};
pub use store::{
    AppointmentRecord, AppointmentStatus, Author, DocumentRecord, MessageRecord, NoteRecord, Side,
    UnreadThread,
};
