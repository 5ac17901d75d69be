//! Bindings for `portico:plugins@2.0.0`, as a thin layer over the latest
//! version's in `v4`.
//!
//! Thin because copies drift: 2.0.0 differs from the latest version only in
//! knowing fewer mail kinds and no mail `details`, so all else is the
//! latest version's. A mail of a newer kind is never put to a 2.0.0
//! component: it is declined here, and the host renders its own. The
//! bindings are `older_version!`'s (see the `interface` module); only the
//! mail context is converted here.

older_version! {
    wit: "sdk/wit/v2",
    types: "portico:plugins/types@2.0.0",
    host: "portico:plugins/host@2.0.0",
    version: Version::V2_0_0,
}

/// The mail context as 2.0.0 has it, unless its kind is newer than
/// 2.0.0.
fn as_this_version(context: latest::render::MailContext) -> Option<render::MailContext> {
    // Named field by field so that a field added later must be
    // decided on here. 2.0.0 has no details to pass on.
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
        portal_url,
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
        portal_url,
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
