//! Email: rendering a mail kind into subject, HTML and text, and handing
//! the message to the configured transport (SMTP, files, or memory).
//!
//! Rendering goes through one interface, [`MailRenderer`], so the built-in
//! templates and a clinic's WebAssembly plugin are interchangeable.

mod clinic_renderer;
mod render;
mod transport;
mod worker;

pub use clinic_renderer::ClinicRenderer;
pub use render::{
    Branding, BuiltinTemplates, MailContext, MailRenderer, RenderError, RenderedMail,
};
pub use transport::{
    MailTransport, SendError, SmtpSecurity, SmtpSettings, build_message, message_id,
};
pub use worker::{MailWorker, RetryPolicy};
