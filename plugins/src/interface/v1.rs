//! Bindings for `portico:plugins@1.0.0`, as a thin layer over the latest
//! version's in `v4`.
//!
//! Thin because copies drift: 1.0.0 differs from the latest version only in
//! its mail context (no portal address, no details) and in knowing fewer
//! mail kinds, so all else is the latest version's. A mail of a newer kind
//! is never put to a 1.0.0 component: it is declined here, and the host
//! renders its own. The bindings are `older_version!`'s (see the
//! `interface` module); only the mail context is converted here.

older_version! {
    wit: "sdk/wit/v1",
    types: "portico:plugins/types@1.0.0",
    host: "portico:plugins/host@1.0.0",
    version: Version::V1_0_0,
}

/// The mail context as 1.0.0 has it, unless its kind is newer than
/// 1.0.0.
fn as_this_version(context: latest::render::MailContext) -> Option<render::MailContext> {
    // Named field by field so that a field added later must be
    // decided on here. 1.0.0 has no portal address and no details to pass
    // on.
    let latest::render::MailContext {
        kind,
        branding,
        patient_display_name,
        link,
        expires_at,
        expires_local: _,
        time_zone: _,
        locale,
        settings,
        portal_url: _,
        details: _,
    } = context;
    Some(render::MailContext {
        kind: known_kind(kind)?,
        branding,
        // Never `None` for an undeclared manifest, which reads the name.
        patient_display_name: patient_display_name.unwrap_or_default(),
        link,
        expires_at,
        locale,
        settings,
    })
}

fn known_kind(kind: latest::render::MailKind) -> Option<render::MailKind> {
    use latest::render::MailKind as Latest;
    Some(match kind {
        Latest::AccessLink => render::MailKind::AccessLink,
        Latest::SmartformInvitation => render::MailKind::SmartformInvitation,
        Latest::EmailChangeNotice => render::MailKind::EmailChangeNotice,
        Latest::PasswordReset => render::MailKind::PasswordReset,
        Latest::EmailVerification => render::MailKind::EmailVerification,
        Latest::CaregiverInvitation
        | Latest::ProxyAdded
        | Latest::ProxyNarrowed
        | Latest::ProxyEnded
        | Latest::ComingOfAge => return None,
    })
}
