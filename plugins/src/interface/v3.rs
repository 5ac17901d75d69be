//! Bindings for `portico:plugins@3.0.0`, as a thin layer over the latest
//! version's in `v4`.
//!
//! Thin because copies drift: 3.0.0 differs from the latest version only in
//! its mail context (no time zone or local expiry; the patient's name is
//! always there) and in exporting no manifest, so all else is the latest
//! version's. Having declared nothing, a 3.0.0 component is handed every
//! fact (see [`crate::manifest::Manifest::undeclared`]). The bindings are
//! `older_version!`'s (see the `interface` module); only the mail context
//! is converted here.

older_version! {
    wit: "sdk/wit/v3",
    types: "portico:plugins/types@3.0.0",
    host: "portico:plugins/host@3.0.0",
    version: Version::V3_0_0,
}

/// The mail context as 3.0.0 has it: every kind is known to it.
fn as_this_version(context: latest::render::MailContext) -> Option<render::MailContext> {
    // Named field by field so that a field added later must be
    // decided on here.
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
        details,
    } = context;
    Some(render::MailContext {
        kind: match kind {
            latest::render::MailKind::AccessLink => render::MailKind::AccessLink,
            latest::render::MailKind::SmartformInvitation => render::MailKind::SmartformInvitation,
            latest::render::MailKind::EmailChangeNotice => render::MailKind::EmailChangeNotice,
            latest::render::MailKind::PasswordReset => render::MailKind::PasswordReset,
            latest::render::MailKind::EmailVerification => render::MailKind::EmailVerification,
            latest::render::MailKind::CaregiverInvitation => render::MailKind::CaregiverInvitation,
            latest::render::MailKind::ProxyAdded => render::MailKind::ProxyAdded,
            latest::render::MailKind::ProxyNarrowed => render::MailKind::ProxyNarrowed,
            latest::render::MailKind::ProxyEnded => render::MailKind::ProxyEnded,
            latest::render::MailKind::ComingOfAge => render::MailKind::ComingOfAge,
        },
        branding,
        // Never `None` for an undeclared manifest, which reads the name.
        patient_display_name: patient_display_name.unwrap_or_default(),
        link,
        expires_at,
        locale,
        settings,
        portal_url,
        details: details
            .into_iter()
            .map(|d| render::Detail {
                name: d.name,
                value: d.value,
            })
            .collect(),
    })
}
