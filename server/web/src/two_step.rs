//! What the console and the portal share for two-step sign-in on their
//! pages: the QR code an authenticator app scans, and the passkeys script.

use portico_tenants::factors::TotpEnrolment;

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
