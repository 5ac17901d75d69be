//! The families of hooks a plugin can implement, and the hooks in each.

use std::fmt;
use std::str::FromStr;

/// The families of hooks a plugin can implement; one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookFamily {
    /// The look of a clinic's emails (`email-renderer` world).
    EmailRendering,
    /// A clinic's extra checks (`verifier` world).
    Verification,
}

impl HookFamily {
    pub const ALL: [HookFamily; 2] = [Self::EmailRendering, Self::Verification];

    /// The WIT world a component of this family targets.
    pub fn world(self) -> &'static str {
        match self {
            Self::EmailRendering => "email-renderer",
            Self::Verification => "verifier",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailRendering => "email-rendering",
            Self::Verification => "verification",
        }
    }

    /// The hooks of this family, in [`Hook::ALL`]'s order.
    pub fn hooks(self) -> impl DoubleEndedIterator<Item = Hook> {
        Hook::ALL.into_iter().filter(move |h| h.family() == self)
    }
}

impl fmt::Display for HookFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook family {0:?}; expected email-rendering or verification")]
pub struct UnknownHookFamily(pub String);

impl FromStr for HookFamily {
    type Err = UnknownHookFamily;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownHookFamily(s.to_owned()))
    }
}

/// One function a plugin exports: what the host calls, and what
/// `portico plugin run --hook` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    RenderEmail,
    CheckRedemption,
    CheckPortalAccess,
    CheckEmail,
}

impl Hook {
    pub const ALL: [Hook; 4] = [
        Self::RenderEmail,
        Self::CheckRedemption,
        Self::CheckPortalAccess,
        Self::CheckEmail,
    ];

    pub fn family(self) -> HookFamily {
        match self {
            Self::RenderEmail => HookFamily::EmailRendering,
            Self::CheckRedemption | Self::CheckPortalAccess | Self::CheckEmail => {
                HookFamily::Verification
            }
        }
    }

    /// An input for this hook, as `plugins/sample-inputs/{hook}.json` has
    /// it: what `portico plugin run` uses when given none, and what the
    /// console offers to start a dry run from.
    pub fn sample_input(self) -> &'static str {
        match self {
            Self::RenderEmail => include_str!("../sample-inputs/render-email.json"),
            Self::CheckRedemption => include_str!("../sample-inputs/check-redemption.json"),
            Self::CheckPortalAccess => include_str!("../sample-inputs/check-portal-access.json"),
            Self::CheckEmail => include_str!("../sample-inputs/check-email.json"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RenderEmail => "render-email",
            Self::CheckRedemption => "check-redemption",
            Self::CheckPortalAccess => "check-portal-access",
            Self::CheckEmail => "check-email",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook {0:?}; expected render-email, check-redemption, check-portal-access or check-email"
)]
pub struct UnknownHook(pub String);

impl FromStr for Hook {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| UnknownHook(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_parse_from_their_names_only() {
        assert_eq!(
            "verification".parse::<HookFamily>().unwrap(),
            HookFamily::Verification
        );
        assert!("Verification".parse::<HookFamily>().is_err());
    }

    #[test]
    fn hooks_parse_from_their_names_and_belong_to_one_family() {
        for hook in Hook::ALL {
            assert_eq!(hook.as_str().parse::<Hook>().unwrap(), hook);
        }
        assert_eq!(Hook::CheckEmail.family(), HookFamily::Verification);
        assert_eq!(
            HookFamily::Verification.hooks().collect::<Vec<_>>(),
            [
                Hook::CheckRedemption,
                Hook::CheckPortalAccess,
                Hook::CheckEmail
            ]
        );
        assert_eq!(
            HookFamily::EmailRendering.hooks().collect::<Vec<_>>(),
            [Hook::RenderEmail]
        );
        assert!("render".parse::<Hook>().is_err());
    }
}
