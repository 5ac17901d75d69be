//! What staff and patients do with a record's shared content. Staff act
//! under the `records` permission; a portal account acts only on a record
//! it holds a live grant to, checked in the same transaction as the act, so
//! a revoked grant stops the very next request.

use super::model::{AppointmentRequest, Upload, UploadRefused, WrittenText};
use super::notices::{self, News};
use super::store::{
    self, AppointmentRecord, Author, DocumentRecord, MessageRecord, NoteRecord, Side,
};
use crate::audit::{self, Actor, AuditEvent, ClientInfo};
use crate::domain::{
    Action, AppointmentId, DisplayName, DocumentId, PatientId, Permission, Resource,
};
use crate::error::{DomainError, RefusalKind};
use crate::patients::get_patient;
use crate::portal::{PortalAuthenticated, live_grant};
use crate::registry::Tenant;
use crate::services::Services;
use crate::staff::StaffAuthenticated;
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

impl Services {
    async fn require_records(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        action: Action,
    ) -> Result<(), DomainError> {
        self.authz
            .require(
                tenant,
                who.staff_id(),
                Permission::new(Resource::Records, action),
            )
            .await
    }

    /// Opens a transaction on a patient staff may reach, or `NotFound`.
    async fn staff_record_tx(
        &self,
        tenant: &Tenant,
        patient: PatientId,
        write: bool,
    ) -> Result<TenantTx, DomainError> {
        let mut tx = if write {
            self.db.tenant_write(tenant.id).await?
        } else {
            self.db.tenant_read(tenant.id).await?
        };
        if get_patient(&mut tx, patient).await?.is_none() {
            return Err(DomainError::NotFound("patient"));
        }
        Ok(tx)
    }

    /// Everything shared on a patient's record, withdrawn documents
    /// included, as the clinic sees it.
    pub async fn shared_record(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
    ) -> Result<SharedRecord, DomainError> {
        self.require_records(tenant, who, Action::Read).await?;
        let mut tx = self.staff_record_tx(tenant, patient, false).await?;
        let shared = read_shared(&mut tx, patient, true).await?;
        tx.commit().await?;
        Ok(shared)
    }

    pub async fn document_upload(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        title: Option<&str>,
        upload: Upload,
        client: &ClientInfo,
    ) -> Result<DocumentRecord, DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let title = title_of(title, &upload)?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        let by = Author::staff(&mut tx, who.staff_id()).await?;
        let document = store::insert_document(&mut tx, patient, &title, &upload, &by, None).await?;
        notices::tell_holders(&mut tx, patient, News::Document).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "document.upload", client)
                .target(format!("patient:{patient}"))
                .reason(format!(
                    "document={} type={} bytes={}",
                    document.id, document.media_type, document.size_bytes
                )),
        )
        .await?;
        tx.commit().await?;
        Ok(document)
    }

    /// A document's bytes for staff. Reading a record's file is audited.
    pub async fn document_content(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        document: DocumentId,
        client: &ClientInfo,
    ) -> Result<DocumentContent, DomainError> {
        self.require_records(tenant, who, Action::Read).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        let found = store::document(&mut tx, document)
            .await?
            .filter(|d| d.patient_id == patient)
            .ok_or_else(document_not_found)?;
        let bytes = store::document_bytes(&mut tx, document).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "document.download", client)
                .target(format!("patient:{patient}"))
                .reason(format!("document={document}")),
        )
        .await?;
        tx.commit().await?;
        Ok(DocumentContent {
            document: found,
            bytes,
        })
    }

    /// Takes a document off the patient's view (given to the wrong
    /// record, say). The clinic keeps it.
    pub async fn document_withdraw(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        document: DocumentId,
        client: &ClientInfo,
    ) -> Result<DocumentRecord, DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        store::document(&mut tx, document)
            .await?
            .filter(|d| d.patient_id == patient)
            .ok_or_else(document_not_found)?;
        if !store::withdraw_document(&mut tx, document, who.staff_id()).await? {
            return Err(DomainError::refused(
                RefusalKind::Conflict,
                "document_already_withdrawn",
                "This document has been withdrawn already.",
            ));
        }
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "document.withdraw", client)
                .target(format!("patient:{patient}"))
                .reason(format!("document={document}")),
        )
        .await?;
        let withdrawn = store::document(&mut tx, document)
            .await?
            .ok_or_else(document_not_found)?;
        tx.commit().await?;
        Ok(withdrawn)
    }

    pub async fn note_write(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        body: &WrittenText,
        client: &ClientInfo,
    ) -> Result<NoteRecord, DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        let by = Author::staff(&mut tx, who.staff_id()).await?;
        let note = store::insert_note(&mut tx, patient, body, &by).await?;
        notices::tell_holders(&mut tx, patient, News::Note).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "note.write", client)
                .target(format!("patient:{patient}"))
                .reason(format!("note={}", note.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    pub async fn appointment_book(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        request: &AppointmentRequest,
        client: &ClientInfo,
    ) -> Result<AppointmentRecord, DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        let booked = store::insert_appointment(&mut tx, patient, request, who.staff_id()).await?;
        notices::tell_holders(&mut tx, patient, News::Appointment).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "appointment.book", client)
                .target(format!("patient:{patient}"))
                .reason(format!("appointment={}", booked.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(booked)
    }

    pub async fn appointment_cancel(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        appointment: AppointmentId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        if !store::cancel_appointment(&mut tx, patient, appointment).await? {
            return Err(DomainError::NotFound("scheduled appointment"));
        }
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "appointment.cancel", client)
                .target(format!("patient:{patient}"))
                .reason(format!("appointment={appointment}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The clinic's side of a record's conversation; reading it marks the
    /// patient's messages read.
    pub async fn messages_read(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
    ) -> Result<Vec<MessageRecord>, DomainError> {
        self.require_records(tenant, who, Action::Read).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        store::mark_read(&mut tx, patient, Side::Clinic).await?;
        let messages = store::messages_of(&mut tx, patient).await?;
        tx.commit().await?;
        Ok(messages)
    }

    pub async fn message_send(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
        patient: PatientId,
        body: &WrittenText,
        attachment: Option<Upload>,
        client: &ClientInfo,
    ) -> Result<MessageRecord, DomainError> {
        self.require_records(tenant, who, Action::Write).await?;
        let mut tx = self.staff_record_tx(tenant, patient, true).await?;
        let from = Author::staff(&mut tx, who.staff_id()).await?;
        let message = send(&mut tx, patient, body, attachment, &from).await?;
        notices::tell_holders(&mut tx, patient, News::Message).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Staff(who.staff_id()), "message.send", client)
                .target(format!("patient:{patient}"))
                .reason(format!(
                    "message={} attachments={}",
                    message.id,
                    message.attachments.len()
                )),
        )
        .await?;
        tx.commit().await?;
        Ok(message)
    }

    /// Records with messages from patients nobody at the clinic has read,
    /// oldest waiting first.
    pub async fn unread_messages(
        &self,
        tenant: &Tenant,
        who: &StaffAuthenticated,
    ) -> Result<Vec<(PatientId, i64)>, DomainError> {
        self.require_records(tenant, who, Action::Read).await?;
        let mut tx = self.db.tenant_read(tenant.id).await?;
        let waiting = store::unread_by_clinic(&mut tx).await?;
        tx.commit().await?;
        Ok(waiting)
    }

    // ------------------------------------------------------------ portal

    /// Opens a write transaction on a record the account holds now, or
    /// audits the attempt and answers `NotFound`.
    async fn portal_record_tx(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        action: &'static str,
        client: &ClientInfo,
    ) -> Result<TenantTx, DomainError> {
        let mut tx = self.db.tenant_write(tenant.id).await?;
        if live_grant(&mut tx, who.account_id(), patient)
            .await?
            .is_none()
        {
            tx.commit().await?;
            self.audit_portal(
                tenant,
                Actor::Account(who.account_id()),
                action,
                Some(format!("patient:{patient}")),
                Some("no_live_grant"),
                client,
            )
            .await?;
            return Err(DomainError::NotFound("record"));
        }
        Ok(tx)
    }

    /// What the clinic shares on a record the account holds: documents
    /// (not withdrawn ones), notes, appointments and the conversation,
    /// whose clinic messages are now read. The view is audited.
    pub async fn portal_shared_record(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        client: &ClientInfo,
    ) -> Result<SharedRecord, DomainError> {
        let action = "portal.record.view";
        let mut tx = self
            .portal_record_tx(tenant, who, patient, action, client)
            .await?;
        store::mark_read(&mut tx, patient, Side::Patient).await?;
        let shared = read_shared(&mut tx, patient, false).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(who.account_id()), action, client)
                .target(format!("patient:{patient}")),
        )
        .await?;
        tx.commit().await?;
        Ok(shared)
    }

    pub async fn portal_document_content(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        document: DocumentId,
        client: &ClientInfo,
    ) -> Result<DocumentContent, DomainError> {
        let action = "portal.document.download";
        let mut tx = self
            .portal_record_tx(tenant, who, patient, action, client)
            .await?;
        let found = store::document(&mut tx, document)
            .await?
            .filter(|d| d.patient_id == patient && d.withdrawn_at.is_none())
            .ok_or_else(document_not_found)?;
        let bytes = store::document_bytes(&mut tx, document).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(who.account_id()), action, client)
                .target(format!("patient:{patient}"))
                .reason(format!("document={document}")),
        )
        .await?;
        tx.commit().await?;
        Ok(DocumentContent {
            document: found,
            bytes,
        })
    }

    /// A file the patient gives the clinic.
    pub async fn portal_document_upload(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        title: Option<&str>,
        upload: Upload,
        client: &ClientInfo,
    ) -> Result<DocumentRecord, DomainError> {
        let action = "portal.document.upload";
        let title = title_of(title, &upload)?;
        let mut tx = self
            .portal_record_tx(tenant, who, patient, action, client)
            .await?;
        let by = Author::account(&mut tx, who.account_id()).await?;
        let document = store::insert_document(&mut tx, patient, &title, &upload, &by, None).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(who.account_id()), action, client)
                .target(format!("patient:{patient}"))
                .reason(format!(
                    "document={} type={} bytes={}",
                    document.id, document.media_type, document.size_bytes
                )),
        )
        .await?;
        tx.commit().await?;
        Ok(document)
    }

    pub async fn portal_message_send(
        &self,
        tenant: &Tenant,
        who: &PortalAuthenticated,
        patient: PatientId,
        body: &WrittenText,
        attachment: Option<Upload>,
        client: &ClientInfo,
    ) -> Result<MessageRecord, DomainError> {
        let action = "portal.message.send";
        let mut tx = self
            .portal_record_tx(tenant, who, patient, action, client)
            .await?;
        let from = Author::account(&mut tx, who.account_id()).await?;
        let message = send(&mut tx, patient, body, attachment, &from).await?;
        audit::record(
            &mut tx,
            AuditEvent::success(Actor::Account(who.account_id()), action, client)
                .target(format!("patient:{patient}"))
                .reason(format!(
                    "message={} attachments={}",
                    message.id,
                    message.attachments.len()
                )),
        )
        .await?;
        tx.commit().await?;
        Ok(message)
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
        store::insert_document(tx, patient, &title, &upload, from, Some(id)).await?;
    }
    store::messages_of(tx, patient)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| DomainError::NotFound("message"))
}
