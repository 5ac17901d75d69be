//! What the console and the portal share for two-step sign-in on their
//! pages: the QR code an authenticator app scans, and the passkeys script.

use poem::Response;
use portico_tenants::acts::passkeys::PasskeyOptions;
use portico_tenants::factors::{TotpEnrolment, passkey};

use crate::error::ApiError;

/// Signing in with a passkey, adding one, and confirming with one. Each
/// page that uses it names its endpoints in `data-` attributes.
pub const PASSKEYS_SCRIPT: &str = include_str!("../assets/passkeys.js");

/// The QR code of an enrolment address, as inline SVG for a page: drawn
/// here, so the secret never reaches a third-party service.
pub fn qr_svg(enrolment: &TotpEnrolment) -> Option<String> {
    let code = qrcode::QrCode::new(enrolment.otpauth_url.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(192, 192)
        .build();
    // Inline in HTML: no XML prologue; named for screen readers.
    let body = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
    Some(body.replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" ",
        1,
    ))
}

/// A passkey challenge for a page's script, as JSON: `ceremony_id` and the
/// `options` for `navigator.credentials`.
pub fn challenge_json(options: PasskeyOptions) -> Response {
    Response::builder()
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(
            serde_json::json!({
                "ceremony_id": options.ceremony_id.to_string(),
                "options": options.options,
            })
            .to_string(),
        )
}

/// A page script's answer to a challenge: the ceremony it answers, and the
/// browser's credential read as WebAuthn's JSON.
pub fn browser_answer<T: serde::de::DeserializeOwned>(
    ceremony_id: &str,
    credential: serde_json::Value,
) -> Result<(uuid::Uuid, T), ApiError> {
    let ceremony = passkey::parse_ceremony_id(ceremony_id).map_err(ApiError::from)?;
    let credential = serde_json::from_value(credential).map_err(|_| {
        ApiError::unprocessable(
            "invalid_credential",
            "credential must be the browser's answer as JSON",
        )
        .with_field("credential")
    })?;
    Ok((ceremony, credential))
}
