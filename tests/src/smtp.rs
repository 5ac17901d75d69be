//! A real SMTP server on loopback for the mail tests: it speaks enough of
//! RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps
//! what it receives, and can be told to be slow, to refuse, or to put a
//! message off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portico_server::config::{Config, MailTransportKind};
use portico_server::mail::SmtpSecurity;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Points a test server's mail at a sink on `port`, polling and retrying
/// quickly so the tests wait milliseconds rather than seconds.
pub fn via_smtp(port: u16) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.mail_transport = MailTransportKind::Smtp;
        c.smtp_host = "127.0.0.1".into();
        c.smtp_port = port;
        c.smtp_security = SmtpSecurity::None;
        c.smtp_timeout_secs = 5;
        c.mail_poll_ms = 50;
        c.mail_retry_base_ms = 100;
        c.mail_from = "North Clinic <portal@north.example.org>".into();
    }
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The raw message, as sent after DATA.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Wait this long before every reply (a slow relay).
    pub delay: Duration,
    /// Refuse every recipient with this permanent (5xx) reply.
    pub reject_recipients: Option<String>,
    /// Wait this long more before accepting a message (after its final
    /// dot): a relay writing it to its queue. The message is kept before
    /// the wait, so a sender cut off now does not know the relay has it.
    pub accept_delay: Duration,
    /// Answer the next this many messages `451` (try again later) after
    /// reading them whole; they are kept in [`SmtpSink::put_off`].
    pub put_off: usize,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    put_off: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// On a given port, to bring a relay "back up" where the server expects it.
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let put_off = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let (r, p, b) = (received.clone(), put_off.clone(), behaviour.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (r, p, b) = (r.clone(), p.clone(), b.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, r, p, b).await;
                });
            }
        });
        Self {
            port,
            received,
            put_off,
            behaviour,
            task: Arc::new(task),
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The messages answered `451` (see [`Behaviour::put_off`]).
    pub fn put_off(&self) -> Vec<Received> {
        self.put_off.lock().unwrap().clone()
    }

    /// The code or token in the link of the newest mail to `to`, waiting
    /// up to `within` for one to arrive.
    pub async fn link_secret(&self, to: &str, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = self
                .received()
                .iter()
                .rev()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
                .find_map(|m| crate::secret_in_mail(&m.data));
            if let Some(secret) = found {
                return secret;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail with a link to {to}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `count` messages arrived, or panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} mails, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops listening (the relay goes down).
    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    put_off: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let reply = |text: String| {
        let delay = behaviour.lock().unwrap().delay;
        async move {
            tokio::time::sleep(delay).await;
            text
        }
    };
    write
        .write_all(
            reply("220 portico-test-sink ESMTP\r\n".into())
                .await
                .as_bytes(),
        )
        .await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-portico-test-sink\r\n250 8BITMIME\r\n".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().trim_matches(['<', '>']).to_owned();
            to.clear();
            "250 OK\r\n".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            match behaviour.lock().unwrap().reject_recipients.clone() {
                Some(reason) => format!("550 5.1.1 {reason}\r\n"),
                None => {
                    to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                    "250 OK\r\n".to_owned()
                }
            }
        } else if upper.starts_with("DATA") {
            write
                .write_all(
                    reply("354 End data with <CR><LF>.<CR><LF>\r\n".into())
                        .await
                        .as_bytes(),
                )
                .await?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                let content = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.extend_from_slice(content.as_bytes());
            }
            let message = Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            };
            let (put_it_off, accept_delay) = {
                let mut b = behaviour.lock().unwrap();
                let put_it_off = b.put_off > 0;
                b.put_off = b.put_off.saturating_sub(1);
                (put_it_off, b.accept_delay)
            };
            if put_it_off {
                put_off.lock().unwrap().push(message);
                "451 4.3.0 Try again later\r\n".to_owned()
            } else {
                received.lock().unwrap().push(message);
                tokio::time::sleep(accept_delay).await;
                "250 OK queued\r\n".to_owned()
            }
        } else if upper.starts_with("QUIT") {
            write
                .write_all(reply("221 Bye\r\n".into()).await.as_bytes())
                .await?;
            return Ok(());
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            "250 OK\r\n".to_owned()
        } else {
            "502 Command not implemented\r\n".to_owned()
        };
        write.write_all(reply(answer).await.as_bytes()).await?;
    }
}

/// The target of a mail's button: the first `href` in its HTML part.
pub fn button_link(html: &str) -> String {
    let start = html.find("href=\"").expect("the mail has a link") + "href=\"".len();
    let rest = &html[start..];
    rest[..rest.find('"').expect("the link ends")].replace("&amp;", "&")
}
