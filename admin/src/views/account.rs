//! The staff member's own account page: their password and their two-step
//! sign-in (authenticator apps, recovery codes), and the login's second
//! step.

use serde::Serialize;

use super::Frame;

/// One of the staff member's second factors.
#[derive(Debug, Serialize)]
pub struct FactorRow {
    pub id: String,
    /// "Authenticator app" or "Passkey".
    pub kind: &'static str,
    pub name: String,
    pub added: String,
    /// "never" until it is used.
    pub last_used: String,
}

/// An authenticator app being set up: what the app needs, and where the
/// confirming code goes.
#[derive(Debug, Serialize)]
pub struct TotpSetupView {
    pub factor_id: String,
    pub name: String,
    /// The QR code as inline SVG, drawn by the server.
    pub qr_svg: String,
    /// The secret in groups of four, for typing in by hand.
    pub secret_text: String,
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub frame: Frame,
    pub factors: Vec<FactorRow>,
    pub recovery_codes_left: u32,
    /// The clinic requires a second factor of its staff.
    pub required: bool,
    /// Sent here because the clinic requires a factor they do not have.
    pub setup_needed: bool,
    pub setup: Option<TotpSetupView>,
    pub passkey_setup: Option<PasskeySetupView>,
    /// One of the factors is a passkey: confirmations may use it.
    pub has_passkey: bool,
    /// One of the factors is an authenticator app: confirmations take its
    /// code (a password alone does not change one's factors).
    pub has_totp: bool,
    /// Where the page's script confirms with a passkey.
    pub passkey_step_up: String,
    /// Recovery codes just made, shown this once.
    pub new_recovery_codes: Option<Vec<String>>,
}

/// A passkey being added: the options for the browser, on the page.
#[derive(Debug, Serialize)]
pub struct PasskeySetupView {
    pub ceremony_id: String,
    pub name: String,
    /// WebAuthn's creation options, as JSON, for the page's script.
    pub options_json: String,
}

/// The second step of a login.
#[derive(Debug, Serialize)]
pub struct SecondStepView {
    pub clinic_name: String,
    pub console_path: String,
    pub error: Option<String>,
}
