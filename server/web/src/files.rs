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
    /// The "confidential" box, ticked.
    pub confidential: bool,
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
                Some("confidential") => {
                    form.confidential = field.text().await.map_err(unreadable)? == "true"
                }
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

/// `inline` or `attachment` with the file's name: a plain ASCII `filename`
/// for old clients, and the exact name as UTF-8 in `filename*` (RFC 6266,
/// RFC 5987), which every current browser prefers.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '_',
        })
        .collect();
    if ascii == name {
        return format!("{kind}; filename=\"{ascii}\"");
    }
    let mut encoded = String::new();
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => encoded.push(byte as char),
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A stored file as a response. `inline` lets a browser show images, PDFs
/// and text in place; a sandboxing policy keeps whatever an image or text
/// file holds from running as our origin.
pub fn file_response(content: DocumentContent, inline: bool) -> Response {
    let disposition = content_disposition(inline, &content.document.file_name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_beyond_ascii_is_sent_exactly_in_filename_star() {
        assert_eq!(
            content_disposition(false, "report.pdf"),
            "attachment; filename=\"report.pdf\""
        );
        assert_eq!(
            content_disposition(true, "résumé 2026.pdf"),
            "inline; filename=\"r_sum_ 2026.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf"
        );
        assert_eq!(
            content_disposition(false, "Ärztebrief.txt"),
            "attachment; filename=\"_rztebrief.txt\"; filename*=UTF-8''%C3%84rztebrief.txt"
        );
    }
}
