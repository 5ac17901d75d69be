//! The published interface versions, and one binding module per version.
//!
//! Like Zed's extension host, the host links every published version at
//! once: a component names the version it was built against in its exports
//! (`portico:plugins/email-rendering@1.0.0`), and the call goes through that
//! version's bindings. Publishing a version adds a folder under `wit/` and a
//! module here with the full bindings; the module that was the latest turns
//! into a thin layer over it, as `v1` and `v2` are over `v3`. No published
//! interface changes.

pub mod v1;
pub mod v2;
pub mod v3;

use std::fmt;

/// The WIT text of every published interface version, oldest first.
pub const PUBLISHED: &[InterfaceVersion] = &[
    InterfaceVersion {
        version: Version::V1_0_0,
        package: "portico:plugins@1.0.0",
        wit: include_str!("../../sdk/wit/v1/portico.wit"),
    },
    InterfaceVersion {
        version: Version::V2_0_0,
        package: "portico:plugins@2.0.0",
        wit: include_str!("../../sdk/wit/v2/portico.wit"),
    },
    InterfaceVersion {
        version: Version::V3_0_0,
        package: "portico:plugins@3.0.0",
        wit: include_str!("../../sdk/wit/v3/portico.wit"),
    },
];

/// One published version of the interface.
#[derive(Debug, Clone, Copy)]
pub struct InterfaceVersion {
    pub version: Version,
    /// The WIT package id, such as `portico:plugins@1.0.0`.
    pub package: &'static str,
    pub wit: &'static str,
}

impl InterfaceVersion {
    pub fn latest() -> &'static InterfaceVersion {
        PUBLISHED.last().expect("at least one published version")
    }
}

/// A published interface version the host can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1_0_0,
    /// Adds `portal-url` to the mail context.
    V2_0_0,
    /// Adds the mail kinds of a family's sharing, and mail `details`.
    V3_0_0,
}

impl Version {
    /// The semver string in interface names, such as `1.0.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0_0 => "1.0.0",
            Self::V2_0_0 => "2.0.0",
            Self::V3_0_0 => "3.0.0",
        }
    }

    pub fn parse(semver: &str) -> Option<Self> {
        PUBLISHED
            .iter()
            .map(|v| v.version)
            .find(|v| v.as_str() == semver)
    }

    /// Every version this host supports, as a list for error messages.
    pub fn supported() -> String {
        PUBLISHED
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookFamily;

    #[test]
    fn every_family_has_a_world_in_every_published_version() {
        for version in PUBLISHED {
            assert!(
                version
                    .wit
                    .contains(&format!("package {};", version.package))
            );
            assert!(version.package.ends_with(version.version.as_str()));
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
    fn versions_parse_only_when_published() {
        assert_eq!(Version::parse("1.0.0"), Some(Version::V1_0_0));
        assert_eq!(Version::parse("2.0.0"), Some(Version::V2_0_0));
        assert_eq!(Version::parse("3.0.0"), Some(Version::V3_0_0));
        assert_eq!(Version::parse("9.0.0"), None);
    }
}
