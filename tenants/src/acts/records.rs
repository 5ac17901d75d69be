//! What staff and patients do with a record's shared content. Staff act
//! under the `records` permission; a portal account acts only on a record
//! it holds a live grant to, checked in the same transaction as the act, so
//! a revoked grant stops the very next request.

use crate::acts;
use crate::acts::grants::{require_grant, today_at};
use crate::domain::{AppointmentId, DisplayName, DocumentId, NoteId, PatientId};
use crate::door::Caller;
use crate::error::{DomainError, RefusalKind};
use crate::family::View;
use crate::patients::get_patient;
use crate::portal::GrantView;
use crate::records::model::{AppointmentRequest, Upload, UploadRefused, WrittenText};
use crate::records::notices::{self, News};
use crate::records::store::{
    self, AppointmentRecord, Author, DocumentRecord, MessageRecord, NoteRecord, Side, UnreadThread,
};
use crate::services::Services;
use crate::storage::TenantTx;

/// A document and its bytes, for download.
#[derive(Debug)]
pub struct DocumentContent {
    pub document: DocumentRecord,
    pub bytes: Vec<u8>,
}

/// Everything shared on one record, as its holder sees it.
#[derive(Debug)]
pub struct SharedRecord {
    pub documents: Vec<DocumentRecord>,
    pub notes: Vec<NoteRecord>,
    pub appointments: Vec<AppointmentRecord>,
    pub messages: Vec<MessageRecord>,
}

impl SharedRecord {
    /// What of the record `view` shows: parts outside it are empty, and
    /// confidential items are gone unless the view shows them.
    fn seen_in(mut self, view: View) -> Self {
        self.documents.retain(|d| in_view(d, view));
        self.notes
            .retain(|n| view.notes && view.shows(n.confidential));
        self.appointments
            .retain(|a| view.appointments && view.shows(a.confidential));
        if view.messages {
            for m in &mut self.messages {
                m.attachments.retain(|d| view.shows(d.confidential));
            }
        } else {
            self.messages.clear();
        }
        self
    }
}

/// A record as a portal account sees it: what it is to the patient, what
/// it may see, and the part of the record its view shows.
#[derive(Debug)]
pub struct PortalRecord {
    pub grant: GrantView,
    pub shared: SharedRecord,
}

/// Whether a portal account with `view` may open `document`: an
/// attachment goes with the conversation, any other with the documents.
fn in_view(document: &DocumentRecord, view: View) -> bool {
    let part = match document.message_id {
        Some(_) => view.messages,
        None => view.documents,
    };
    part && view.shows(document.confidential)
}

impl From<UploadRefused> for DomainError {
    fn from(refused: UploadRefused) -> Self {
        let message = refused.to_string();
        match refused {
            UploadRefused::Empty => {
                DomainError::refused(RefusalKind::Missing, "file_empty", message)
            }
            UploadRefused::TooLarge => {
                DomainError::refused(RefusalKind::TooLarge, "file_too_large", message)
            }
            UploadRefused::UnsupportedType => DomainError::refused(
                RefusalKind::UnsupportedType,
                "file_type_not_accepted",
                message,
            ),
            UploadRefused::Name(invalid) => DomainError::Invalid(invalid),
        }
    }
}

/// The title a document is listed under: the one given, or the file's name.
fn title_of(title: Option<&str>, upload: &Upload) -> Result<String, DomainError> {
    let raw = title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| upload.file_name().stem());
    Ok(DisplayName::parse("title", raw)?.as_str().to_owned())
}

fn document_not_found() -> DomainError {
    DomainError::NotFound("document")
}

/// Refuses, inside the act's transaction, a patient staff may not reach
/// (none such, or archived).
async fn require_patient(tx: &mut TenantTx, patient: PatientId) -> Result<(), DomainError> {
    if get_patient(tx, patient).await?.is_none() {
        return Err(DomainError::NotFound("patient"));
    }
    Ok(())
}

impl Services {
    /// Everything shared on a patient's record, withdrawn documents
    /// included, as the clinic sees it.
    pub async fn shared_record(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<SharedRecord, DomainError> {
        let pass = self
            .enter_about(caller, &acts::RECORD_READ, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.read().await?;
            require_patient(&mut tx, patient).await?;
            let shared = read_shared(&mut tx, patient, true).await?;
            tx.commit().await?;
            Ok(shared)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn document_upload(
        &self,
        caller: &Caller,
        patient: PatientId,
        title: Option<&str>,
        upload: Upload,
        confidential: bool,
    ) -> Result<DocumentRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::DOCUMENT_UPLOAD, format!("patient:{patient}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let title = title_of(title, &upload)?;
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            let by = Author::staff(&mut tx, staff).await?;
            let document =
                store::insert_document(&mut tx, patient, &title, &upload, &by, None, confidential)
                    .await?;
            let day = today_at(pass.tenant());
            notices::tell_holders(&mut tx, patient, News::Document, confidential, &day).await?;
            pass.detail(format!(
                "document={} type={} bytes={} confidential={confidential}",
                document.id, document.media_type, document.size_bytes
            ));
            pass.commit(tx).await?;
            Ok(document)
        }
        .await;
        pass.finish(done).await
    }

    /// A document's bytes for staff. Reading a record's file is audited.
    pub async fn document_content(
        &self,
        caller: &Caller,
        patient: PatientId,
        document: DocumentId,
    ) -> Result<DocumentContent, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::DOCUMENT_DOWNLOAD,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            let found = store::document(&mut tx, document)
                .await?
                .filter(|d| d.patient_id == patient)
                .ok_or_else(document_not_found)?;
            let bytes = store::document_bytes(&mut tx, document).await?;
            pass.detail(format!("document={document}"));
            pass.commit(tx).await?;
            Ok(DocumentContent {
                document: found,
                bytes,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// Takes a document off the patient's view (given to the wrong
    /// record, say). The clinic keeps it.
    pub async fn document_withdraw(
        &self,
        caller: &Caller,
        patient: PatientId,
        document: DocumentId,
    ) -> Result<DocumentRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::DOCUMENT_WITHDRAW,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            store::document(&mut tx, document)
                .await?
                .filter(|d| d.patient_id == patient)
                .ok_or_else(document_not_found)?;
            if !store::withdraw_document(&mut tx, document, staff).await? {
                return Err(DomainError::refused(
                    RefusalKind::Conflict,
                    "document_already_withdrawn",
                    "This document has been withdrawn already.",
                ));
            }
            let withdrawn = store::document(&mut tx, document)
                .await?
                .ok_or_else(document_not_found)?;
            pass.detail(format!("document={document}"));
            pass.commit(tx).await?;
            Ok(withdrawn)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn note_write(
        &self,
        caller: &Caller,
        patient: PatientId,
        body: &WrittenText,
        confidential: bool,
    ) -> Result<NoteRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::NOTE_WRITE, format!("patient:{patient}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            let by = Author::staff(&mut tx, staff).await?;
            let note = store::insert_note(&mut tx, patient, body, &by, confidential).await?;
            let day = today_at(pass.tenant());
            notices::tell_holders(&mut tx, patient, News::Note, confidential, &day).await?;
            pass.detail(format!("note={} confidential={confidential}", note.id));
            pass.commit(tx).await?;
            Ok(note)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn appointment_book(
        &self,
        caller: &Caller,
        patient: PatientId,
        request: &AppointmentRequest,
    ) -> Result<AppointmentRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::APPOINTMENT_BOOK,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            let booked = store::insert_appointment(&mut tx, patient, request, staff).await?;
            let day = today_at(pass.tenant());
            notices::tell_holders(
                &mut tx,
                patient,
                News::Appointment,
                booked.confidential,
                &day,
            )
            .await?;
            pass.detail(format!(
                "appointment={} confidential={}",
                booked.id, booked.confidential
            ));
            pass.commit(tx).await?;
            Ok(booked)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn appointment_cancel(
        &self,
        caller: &Caller,
        patient: PatientId,
        appointment: AppointmentId,
    ) -> Result<(), DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::APPOINTMENT_CANCEL,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            if !store::cancel_appointment(&mut tx, patient, appointment).await? {
                return Err(DomainError::NotFound("scheduled appointment"));
            }
            pass.detail(format!("appointment={appointment}"));
            pass.commit(tx).await
        }
        .await;
        pass.finish(done).await
    }

    /// The clinic's side of a record's conversation; reading it marks the
    /// patient's messages read. The thread comes as it was before this
    /// read, so a message nobody had read has no `read_at` this once.
    pub async fn messages_read(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<Vec<MessageRecord>, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::MESSAGES_READ, format!("patient:{patient}"))
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            // Read first: what nobody at the clinic had read shows as new once.
            let messages = store::messages_of(&mut tx, patient).await?;
            store::mark_read(&mut tx, patient, Side::Clinic).await?;
            pass.commit(tx).await?;
            Ok(messages)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn message_send(
        &self,
        caller: &Caller,
        patient: PatientId,
        body: &WrittenText,
        attachment: Option<Upload>,
    ) -> Result<MessageRecord, DomainError> {
        let mut pass = self
            .enter_about(caller, &acts::MESSAGE_SEND, format!("patient:{patient}"))
            .await?;
        let done = async {
            let staff = pass.staff_id()?;
            let mut tx = pass.write().await?;
            require_patient(&mut tx, patient).await?;
            let from = Author::staff(&mut tx, staff).await?;
            let message = send(&mut tx, patient, body, attachment, &from).await?;
            let day = today_at(pass.tenant());
            notices::tell_holders(&mut tx, patient, News::Message, false, &day).await?;
            pass.detail(format!(
                "message={} attachments={}",
                message.id,
                message.attachments.len()
            ));
            pass.commit(tx).await?;
            Ok(message)
        }
        .await;
        pass.finish(done).await
    }

    /// Records with messages from patients nobody at the clinic has read,
    /// oldest waiting first.
    pub async fn unread_messages(&self, caller: &Caller) -> Result<Vec<UnreadThread>, DomainError> {
        let pass = self.enter(caller, &acts::UNREAD_MESSAGES).await?;
        let done = async {
            let mut tx = pass.read().await?;
            let waiting = store::unread_by_clinic(&mut tx).await?;
            tx.commit().await?;
            Ok(waiting)
        }
        .await;
        pass.finish(done).await
    }

    // ------------------------------------------------------------ portal

    /// What the clinic shares on a record the account holds: documents
    /// (not withdrawn ones), notes, appointments and the conversation,
    /// whose clinic messages are now read. The view is audited.
    pub async fn portal_shared_record(
        &self,
        caller: &Caller,
        patient: PatientId,
    ) -> Result<PortalRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_RECORD_VIEW,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let grant = require_grant(&mut pass, &mut tx, patient).await?;
            // Read first: what was unread until this view shows as new once.
            let shared = read_shared(&mut tx, patient, false)
                .await?
                .seen_in(grant.view);
            if grant.view.messages {
                store::mark_read(&mut tx, patient, Side::Patient).await?;
            }
            if grant.is_limited() {
                pass.detail(format!("view=limited relation={}", grant.relation.as_str()));
            }
            pass.commit(tx).await?;
            Ok(PortalRecord { grant, shared })
        }
        .await;
        pass.finish(done).await
    }

    /// One note of a record the account holds, if its view shows it: a
    /// teenager's parent gets "not found" for every note, a caregiver for
    /// a confidential one the patient has not opened to them.
    pub async fn portal_note(
        &self,
        caller: &Caller,
        patient: PatientId,
        note: NoteId,
    ) -> Result<NoteRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_RECORD_VIEW,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let grant = require_grant(&mut pass, &mut tx, patient).await?;
            let found = store::note(&mut tx, patient, note)
                .await?
                .filter(|n| grant.view.notes && grant.view.shows(n.confidential))
                .ok_or(DomainError::NotFound("note"))?;
            pass.detail(format!("note={note}"));
            pass.commit(tx).await?;
            Ok(found)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn portal_document_content(
        &self,
        caller: &Caller,
        patient: PatientId,
        document: DocumentId,
    ) -> Result<DocumentContent, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_DOCUMENT_DOWNLOAD,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let mut tx = pass.write().await?;
            let grant = require_grant(&mut pass, &mut tx, patient).await?;
            let found = store::document(&mut tx, document)
                .await?
                .filter(|d| d.patient_id == patient && d.withdrawn_at.is_none())
                .filter(|d| in_view(d, grant.view))
                .ok_or_else(document_not_found)?;
            let bytes = store::document_bytes(&mut tx, document).await?;
            store::mark_opened(&mut tx, document).await?;
            pass.detail(format!("document={document}"));
            pass.commit(tx).await?;
            Ok(DocumentContent {
                document: found,
                bytes,
            })
        }
        .await;
        pass.finish(done).await
    }

    /// A file the patient gives the clinic.
    pub async fn portal_document_upload(
        &self,
        caller: &Caller,
        patient: PatientId,
        title: Option<&str>,
        upload: Upload,
    ) -> Result<DocumentRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_DOCUMENT_UPLOAD,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let account = pass.account_id()?;
            let title = title_of(title, &upload)?;
            let mut tx = pass.write().await?;
            let grant = require_grant(&mut pass, &mut tx, patient).await?;
            if !grant.view.documents {
                pass.failure_reason("outside_view");
                return Err(DomainError::NotFound("record"));
            }
            let by = Author::account(&mut tx, account).await?;
            let document =
                store::insert_document(&mut tx, patient, &title, &upload, &by, None, false).await?;
            pass.detail(format!(
                "document={} type={} bytes={}",
                document.id, document.media_type, document.size_bytes
            ));
            pass.commit(tx).await?;
            Ok(document)
        }
        .await;
        pass.finish(done).await
    }

    pub async fn portal_message_send(
        &self,
        caller: &Caller,
        patient: PatientId,
        body: &WrittenText,
        attachment: Option<Upload>,
    ) -> Result<MessageRecord, DomainError> {
        let mut pass = self
            .enter_about(
                caller,
                &acts::PORTAL_MESSAGE_SEND,
                format!("patient:{patient}"),
            )
            .await?;
        let done = async {
            let account = pass.account_id()?;
            let mut tx = pass.write().await?;
            let grant = require_grant(&mut pass, &mut tx, patient).await?;
            if !grant.view.messages {
                pass.failure_reason("outside_view");
                return Err(DomainError::NotFound("record"));
            }
            let from = Author::account(&mut tx, account).await?;
            let message = send(&mut tx, patient, body, attachment, &from).await?;
            pass.detail(format!(
                "message={} attachments={}",
                message.id,
                message.attachments.len()
            ));
            pass.commit(tx).await?;
            Ok(message)
        }
        .await;
        pass.finish(done).await
    }
}

async fn read_shared(
    tx: &mut TenantTx,
    patient: PatientId,
    with_withdrawn: bool,
) -> Result<SharedRecord, DomainError> {
    let mut documents = store::documents_of(tx, patient).await?;
    let mut messages = store::messages_of(tx, patient).await?;
    if !with_withdrawn {
        documents.retain(|d| d.withdrawn_at.is_none());
        for m in &mut messages {
            m.attachments.retain(|d| d.withdrawn_at.is_none());
        }
    }
    Ok(SharedRecord {
        documents,
        notes: store::notes_of(tx, patient).await?,
        appointments: store::appointments_of(tx, patient).await?,
        messages,
    })
}

/// Writes a message and its attachment, if any, in the caller's
/// transaction.
async fn send(
    tx: &mut TenantTx,
    patient: PatientId,
    body: &WrittenText,
    attachment: Option<Upload>,
    from: &Author,
) -> Result<MessageRecord, DomainError> {
    let id = store::insert_message(tx, patient, body, from).await?;
    if let Some(upload) = attachment {
        let title = title_of(None, &upload)?;
        store::insert_document(tx, patient, &title, &upload, from, Some(id), false).await?;
    }
    store::messages_of(tx, patient)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| DomainError::NotFound("message"))
}
