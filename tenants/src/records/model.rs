//! The values a record's shared content is made of, each parsed once at the
//! edge: an upload whose type was read from its bytes, written text, an
//! appointment's time and place.

use std::fmt;

use crate::domain::{DisplayName, InvalidValue, Timestamp};

/// The largest file a clinic or a patient may put on a record. Scans and
/// phone photos fit; the database keeps the bytes, so the bound also keeps
/// a row's size sane.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The kinds of file a record accepts: what every browser shows without a
/// plugin. The kind is read from the file's first bytes, never taken from
/// the sender's name or header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Png,
    Jpeg,
    PlainText,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [Self::Pdf, Self::Png, Self::Jpeg, Self::PlainText];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::PlainText => "text/plain",
        }
    }

    /// What staff and patients read in a list.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Png => "PNG image",
            Self::Jpeg => "JPEG image",
            Self::PlainText => "Text",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| InvalidValue::new("media_type", "is not a kind of file records accept"))
    }

    /// The kind of file `bytes` hold, if it is one a record accepts.
    /// `infer` reads the magic numbers; text is UTF-8 without NULs or
    /// terminal escapes, the only sniff `infer` leaves to the caller.
    fn sniff(bytes: &[u8]) -> Option<Self> {
        match infer::get(bytes).map(|t| t.mime_type()) {
            Some("application/pdf") => Some(Self::Pdf),
            Some("image/png") => Some(Self::Png),
            Some("image/jpeg") => Some(Self::Jpeg),
            Some(_) => None,
            None => {
                let text = std::str::from_utf8(bytes).ok()?;
                let printable = text
                    .chars()
                    .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
                printable.then_some(Self::PlainText)
            }
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file's name as shown and offered on download: the last path segment
/// of what the sender called it, 1 to 200 characters, no control
/// characters, no quotes or backslashes that would need escaping in a
/// header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        // Browsers on Windows send the whole path.
        let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw).trim();
        if last.is_empty() || last == "." || last == ".." {
            return Err(InvalidValue::new("file_name", "is required"));
        }
        if last.chars().count() > 200 {
            return Err(InvalidValue::new(
                "file_name",
                "must be at most 200 characters",
            ));
        }
        if last.chars().any(|c| c.is_control() || c == '"') {
            return Err(InvalidValue::new(
                "file_name",
                "must not contain quotes or control characters",
            ));
        }
        // A mark that reverses the direction of text (U+202E before `fdp.exe`)
        // makes `invoice.exe` read as `invoiceexe.pdf` in a list: the name
        // would lie about its kind.
        if last.chars().any(is_direction_override) {
            return Err(InvalidValue::new(
                "file_name",
                "must not contain characters that reverse the direction of text",
            ));
        }
        Ok(Self(last.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its extension, as a default title.
    pub fn stem(&self) -> &str {
        match self.0.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => &self.0,
        }
    }
}

/// The bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069).
fn is_direction_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A file given to a record, accepted: named, of a kind records take,
/// within the size bound.
#[derive(Debug, Clone)]
pub struct Upload {
    file_name: FileName,
    media_type: MediaType,
    bytes: Vec<u8>,
}

/// Why a file was not accepted. Each is a different answer to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefused {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {} MiB", MAX_DOCUMENT_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("only PDF, PNG, JPEG and plain-text files can be shared")]
    UnsupportedType,
    #[error(transparent)]
    Name(#[from] InvalidValue),
}

impl Upload {
    pub fn parse(file_name: &str, bytes: Vec<u8>) -> Result<Self, UploadRefused> {
        let file_name = FileName::parse(file_name)?;
        if bytes.is_empty() {
            return Err(UploadRefused::Empty);
        }
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(UploadRefused::TooLarge);
        }
        let media_type = MediaType::sniff(&bytes).ok_or(UploadRefused::UnsupportedType)?;
        Ok(Self {
            file_name,
            media_type,
            bytes,
        })
    }

    pub fn file_name(&self) -> &FileName {
        &self.file_name
    }

    pub fn media_type(&self) -> MediaType {
        self.media_type
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Text one side writes for the other (a note, a message): trimmed, not
/// empty, at most `MAX_CHARS`; line breaks and tabs kept, other control
/// characters refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenText(String);

impl WrittenText {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::new(field, "is required"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new(
                field,
                "must be at most 10,000 characters",
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidValue::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An appointment as staff book it.
#[derive(Debug, Clone)]
pub struct AppointmentRequest {
    pub starts_at: Timestamp,
    pub duration_minutes: u16,
    pub with_whom: DisplayName,
    pub location: DisplayName,
    pub reason: Option<DisplayName>,
    /// Hidden from a teenager's parents and from caregivers not allowed
    /// to see confidential items.
    pub confidential: bool,
}

impl AppointmentRequest {
    pub fn marked_confidential(self, confidential: bool) -> Self {
        Self {
            confidential,
            ..self
        }
    }

    pub fn parse(
        starts_at: &str,
        duration_minutes: i64,
        with_whom: &str,
        location: &str,
        reason: Option<&str>,
    ) -> Result<Self, InvalidValue> {
        let starts_at = Timestamp::parse_rfc3339(starts_at).ok_or_else(|| {
            InvalidValue::new(
                "starts_at",
                "must be a date and time with its offset, such as 2026-12-01T09:30:00+01:00",
            )
        })?;
        Self::at(starts_at, duration_minutes, with_whom, location, reason)
    }

    /// An appointment at an instant already read (from a clinic's local
    /// time, say).
    pub fn at(
        starts_at: Timestamp,
        duration_minutes: i64,
        with_whom: &str,
        location: &str,
        reason: Option<&str>,
    ) -> Result<Self, InvalidValue> {
        let duration_minutes = u16::try_from(duration_minutes)
            .ok()
            .filter(|m| (5..=480).contains(m))
            .ok_or_else(|| {
                InvalidValue::new("duration_minutes", "must be between 5 and 480 minutes")
            })?;
        Ok(Self {
            starts_at,
            duration_minutes,
            with_whom: DisplayName::parse("with", with_whom)?,
            location: DisplayName::parse("location", location)?,
            reason: reason
                .filter(|r| !r.trim().is_empty())
                .map(|r| DisplayName::parse("reason", r))
                .transpose()?,
            confidential: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[test]
    fn the_kind_comes_from_the_bytes_not_the_name() {
        let png = Upload::parse("scan.pdf", PNG.to_vec()).unwrap();
        assert_eq!(png.media_type(), MediaType::Png);
        let pdf = Upload::parse("letter", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec()).unwrap();
        assert_eq!(pdf.media_type(), MediaType::Pdf);
        let text = Upload::parse("notes.txt", "Blood pressure: 120/80\n".into()).unwrap();
        assert_eq!(text.media_type(), MediaType::PlainText);
        let jpeg = Upload::parse("p.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec()).unwrap();
        assert_eq!(jpeg.media_type(), MediaType::Jpeg);
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let html = b"<html><script>alert(1)</script>\x1b[2J".to_vec();
        assert_eq!(
            Upload::parse("page.txt", html).unwrap_err(),
            UploadRefused::UnsupportedType
        );
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
        assert_eq!(
            Upload::parse("a.pdf", zip).unwrap_err(),
            UploadRefused::UnsupportedType
        );
        assert_eq!(
            Upload::parse("a.txt", vec![]).unwrap_err(),
            UploadRefused::Empty
        );
        assert_eq!(
            Upload::parse("a.txt", vec![b'a'; MAX_DOCUMENT_BYTES + 1]).unwrap_err(),
            UploadRefused::TooLarge
        );
        assert!(matches!(
            Upload::parse("", PNG.to_vec()).unwrap_err(),
            UploadRefused::Name(_)
        ));
    }

    #[test]
    fn file_names_lose_their_path() {
        assert_eq!(
            FileName::parse(r"C:\Users\ana\Desktop\lab results.pdf")
                .unwrap()
                .as_str(),
            "lab results.pdf"
        );
        assert_eq!(
            FileName::parse("../../etc/passwd").unwrap().as_str(),
            "passwd"
        );
        assert_eq!(
            FileName::parse("x-ray.final.png").unwrap().stem(),
            "x-ray.final"
        );
        for bad in ["..", "a\"b.pdf", "a\nb", "dir/"] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn written_text_keeps_lines_and_refuses_controls() {
        let t = WrittenText::parse("body", "  Take one a day.\r\nWith food.  ").unwrap();
        assert_eq!(t.as_str(), "Take one a day.\nWith food.");
        assert!(WrittenText::parse("body", "   ").is_err());
        assert!(WrittenText::parse("body", "a\u{7}b").is_err());
        assert!(WrittenText::parse("body", &"x".repeat(10_001)).is_err());
    }

    #[test]
    fn appointments_need_a_real_time_and_a_sane_length() {
        let ok = AppointmentRequest::parse(
            "2026-12-01T09:30:00+01:00",
            30,
            "Dr. Okafor",
            "Room 2",
            Some(" "),
        )
        .unwrap();
        assert_eq!(ok.duration_minutes, 30);
        assert!(ok.reason.is_none());
        assert!(AppointmentRequest::parse("2026-12-01 09:30", 30, "A", "B", None).is_err());
        assert!(AppointmentRequest::parse("2026-12-01T09:30:00Z", 0, "A", "B", None).is_err());
        assert!(AppointmentRequest::parse("2026-12-01T09:30:00Z", 481, "A", "B", None).is_err());
        assert!(AppointmentRequest::parse("2026-12-01T09:30:00Z", 30, "", "B", None).is_err());
    }
}

#[cfg(test)]
mod direction_tests {
    use super::*;

    #[test]
    fn a_name_that_reverses_text_direction_is_refused() {
        for name in ["invoice\u{202E}fdp.exe", "a\u{2066}b.pdf", "x\u{202A}.txt"] {
            let refused = FileName::parse(name).unwrap_err();
            assert_eq!(refused.field, "file_name");
        }
        assert_eq!(
            FileName::parse("résumé.pdf").unwrap().as_str(),
            "résumé.pdf"
        );
    }
}
