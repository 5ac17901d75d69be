//! Portico's WebAssembly plugin interface: the versioned WIT package that
//! plugin authors build against, and what the host knows of it.
//!
//! The wasmtime host, the guest SDK and the example plugins build on this
//! crate; each published interface version keeps its own WIT folder
//! (`wit/v1`, later `wit/v2`), so components built against an old version
//! keep running when a new one is published.

use std::fmt;
use std::str::FromStr;

/// The WIT text of every published interface version, oldest first.
pub const PUBLISHED: &[InterfaceVersion] = &[InterfaceVersion {
    package: "portico:plugins@1.0.0",
    wit: include_str!("../wit/v1/portico.wit"),
}];

/// One published version of the interface.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceVersion {
    /// The WIT package id, such as `portico:plugins@1.0.0`.
    pub package: &'static str,
    pub wit: &'static str,
}

impl InterfaceVersion {
    pub fn latest() -> &'static InterfaceVersion {
        PUBLISHED.last().expect("at least one published version")
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_world_in_every_published_version() {
        for version in PUBLISHED {
            assert!(
                version
                    .wit
                    .contains(&format!("package {};", version.package))
            );
            for family in HookFamily::ALL {
                assert!(
                    version
                        .wit
                        .contains(&format!("world {} {{", family.world())),
                    "{} lacks world {}",
                    version.package,
                    family.world()
                );
            }
        }
    }

    #[test]
    fn families_parse_from_their_names_only() {
        assert_eq!(
            "verification".parse::<HookFamily>().unwrap(),
            HookFamily::Verification
        );
        assert!("Verification".parse::<HookFamily>().is_err());
    }
}
