//! Files on their way in and out of pages: reading a file form, sending a
//! stored document back with the headers that keep it inert, and sizes as
//! people read them. Used by the console and the portal alike.

use poem::Response;
use poem::http::StatusCode;
use poem::web::Multipart;
use portico_tenants::DomainError;
use portico_tenants::acts::records::DocumentContent;
use portico_tenants::records::{MediaType, Upload};

use crate::error::ApiError;

/// A size as people read it.
pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A file form as sent: its text fields and at most one file.
#[derive(Default)]
pub struct FileForm {
    pub csrf_token: String,
    pub title: String,
    pub body: String,
    pub file: Option<(String, Vec<u8>)>,
}

impl FileForm {
    /// Reads the form; the body limit has already bounded its size. A file
    /// input left empty arrives as a part with no name and no bytes.
    pub async fn read(mut multipart: Multipart) -> poem::Result<Self> {
        let unreadable = |_| ApiError::bad_request("invalid_body", "the form could not be read");
        let mut form = Self::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            match field.name() {
                Some("csrf_token") => form.csrf_token = field.text().await.map_err(unreadable)?,
                Some("title") => form.title = field.text().await.map_err(unreadable)?,
                Some("body") => form.body = field.text().await.map_err(unreadable)?,
                Some("file") => {
                    let name = field.file_name().unwrap_or_default().to_owned();
                    let bytes = field.bytes().await.map_err(unreadable)?;
                    if !(name.is_empty() && bytes.is_empty()) {
                        form.file = Some((name, bytes));
                    }
                }
                _ => {}
            }
        }
        Ok(form)
    }

    /// The file, which the form must carry, accepted, or why not.
    pub fn required_upload(&mut self) -> Result<Upload, DomainError> {
        self.upload()?.ok_or_else(|| {
            DomainError::refused(
                portico_tenants::RefusalKind::Missing,
                "file_missing",
                "choose a file first",
            )
        })
    }

    /// The file, accepted, or why not.
    pub fn upload(&mut self) -> Result<Option<Upload>, DomainError> {
        self.file
            .take()
            .map(|(name, bytes)| Upload::parse(&name, bytes).map_err(DomainError::from))
            .transpose()
    }
}

/// A stored file as a response. `inline` lets a browser show images, PDFs
/// and text in place; a sandboxing policy keeps whatever an image or text
/// file holds from running as our origin.
pub fn file_response(content: DocumentContent, inline: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        content.document.file_name.replace(['"', '\\'], "_")
    );
    // Chromium will not open its PDF viewer in a sandboxed document; a PDF
    // shown in place runs in the viewer's own process and origin anyway.
    let policy = if inline && content.document.media_type == MediaType::Pdf {
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    } else {
        "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    };
    let media_type = match content.document.media_type.as_str() {
        "text/plain" => "text/plain; charset=utf-8",
        other => other,
    };
    Response::builder()
        .status(StatusCode::OK)
        .content_type(media_type)
        .header("content-disposition", disposition)
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", policy)
        .header("cache-control", "private, no-store")
        .header("referrer-policy", "no-referrer")
        .body(content.bytes)
}
