use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::RenderedMail;

/// How to reach an SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection; for a relay on loopback or a test server only.
    None,
    /// Upgrade with STARTTLS (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Give up on a relay that does not answer within this time.
    pub timeout_secs: u64,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum MailTransport {
    /// An SMTP relay, for production.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, so a newcomer can open every mail the
    /// embedded default sends.
    Files(PathBuf),
    /// Kept in memory, for unit tests only.
    Memory(Arc<Mutex<Vec<Message>>>),
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The relay refused it for good (a 5xx answer): retrying cannot help.
    #[error("refused: {0}")]
    Permanent(String),
    /// Worth another try later: the relay is down, slow, or said 4xx.
    #[error("not delivered yet: {0}")]
    Transient(String),
}

impl MailTransport {
    pub fn smtp(settings: &SmtpSettings) -> Result<Self, lettre::transport::smtp::Error> {
        let builder = match settings.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        if let (Some(user), Some(pass)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Self::Smtp(builder.build()))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(_) => "an SMTP relay".into(),
            Self::Files(dir) => format!("files in {}", dir.display()),
            Self::Memory(_) => "memory".into(),
        }
    }

    pub async fn send(&self, message: Message, id: &str) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Self::Files(dir) => {
                let dir = dir.clone();
                let name = format!("{id}.eml");
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .map_err(|e| SendError::Transient(e.to_string()))
            }
            Self::Memory(sent) => {
                sent.lock().expect("mail memory lock").push(message);
                Ok(())
            }
        }
    }
}

/// A reader never sees half a file: write beside it, then rename.
fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, dir.join(name))
}

/// The `Message-ID` of outbox mail `mail_id` sent as `from`:
/// `<{mail id}@{the sender's domain}>`. It is the same on every try and on
/// every node (the id is the outbox row's, a UUID), so a mail sent again
/// after a crash or an unanswered try is one message to the recipient's
/// client, which folds the repeat into the first copy.
pub fn message_id(mail_id: &str, from: &Mailbox) -> String {
    format!("<{mail_id}@{}>", from.email.domain())
}

/// A multipart message (text and HTML) from a rendered mail, with the
/// given `Message-ID` (see [`message_id`]).
pub fn build_message(
    from: &Mailbox,
    reply_to: Option<&str>,
    to: &str,
    message_id: String,
    mail: &RenderedMail,
) -> Result<Message, SendError> {
    let to: Mailbox = to.parse().map_err(|e: lettre::address::AddressError| {
        SendError::Permanent(format!("recipient: {e}"))
    })?;
    let mut builder = Message::builder()
        .message_id(Some(message_id))
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    if let Some(reply) = reply_to.and_then(|r| r.parse::<Mailbox>().ok()) {
        builder = builder.reply_to(reply);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_transport_keeps_what_it_is_given() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let transport = MailTransport::Memory(sent.clone());
        let mail = RenderedMail {
            subject: "Hello".into(),
            html: "<p>Hi</p>".into(),
            text: "Hi".into(),
        };
        let from: Mailbox = "Clinic <clinic@example.org>".parse().unwrap();
        let id = message_id("m1", &from);
        transport
            .send(
                build_message(&from, None, "mia@example.org", id.clone(), &mail).unwrap(),
                "m1",
            )
            .await
            .unwrap();
        let kept = sent.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].envelope().to()[0].to_string(), "mia@example.org");
        assert!(matches!(
            build_message(&from, None, "not an address", id, &mail),
            Err(SendError::Permanent(_))
        ));
    }

    #[test]
    fn a_mail_keeps_its_message_id_from_try_to_try() {
        let mail = RenderedMail {
            subject: "Hello".into(),
            html: "<p>Hi</p>".into(),
            text: "Hi".into(),
        };
        let from: Mailbox = "Clinic <portal@north.example.org>".parse().unwrap();
        let id = "01a21ce7-7fa2-755d-a154-7e519bd7836a";
        assert_eq!(
            message_id(id, &from),
            "<01a21ce7-7fa2-755d-a154-7e519bd7836a@north.example.org>"
        );
        let header = |message: Message| {
            let raw = String::from_utf8(message.formatted()).unwrap();
            raw.lines()
                .find(|l| l.starts_with("Message-ID: "))
                .map(str::to_owned)
        };
        let first = build_message(&from, None, "mia@example.org", message_id(id, &from), &mail);
        let again = build_message(&from, None, "mia@example.org", message_id(id, &from), &mail);
        let first = header(first.unwrap());
        assert_eq!(
            first.as_deref(),
            Some("Message-ID: <01a21ce7-7fa2-755d-a154-7e519bd7836a@north.example.org>")
        );
        assert_eq!(first, header(again.unwrap()));
    }
}
