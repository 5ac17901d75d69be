//! The published interface versions, and one binding module per version.
//!
//! Like Zed's extension host, the host links every published version at
//! once: a component names the version it was built against in its exports
//! (`portico:plugins/email-rendering@1.0.0`), and the call goes through that
//! version's bindings. Publishing a version adds a folder under `wit/` and a
//! module here with the full bindings; the module that was the latest turns
//! into a thin layer over it, as `v1`, `v2` and `v3` are over `v4`. No published
//! interface changes.

/// The bindings of a version older than the latest, as a thin layer over
/// `v4`: its two worlds bound with the latest version's shared types and
/// host log (bindgen's `with`), a `Pre` per world, and calls through the
/// latest version's `Hooks`. bindgen cannot remap exports, so the
/// unchanged ones are called with the latest version's types, which
/// component types being structural allows (wasmtime checks them).
///
/// The module that uses it writes what differs: `as_this_version`, the
/// mail context as its version has it, or `None` for a kind of mail it
/// does not know (the host then sends its own).
macro_rules! older_version {
    (
        wit: $path:literal,
        types: $types:literal,
        host: $host:literal,
        version: $version:expr $(,)?
    ) => {
        use wasmtime::Store;
        use wasmtime::component::{InstancePre, Linker};

        use super::Version;
        use super::v4 as latest;
        use crate::call_state::CallState;
        use crate::hooks::HookFamily;
        use crate::model::{HookInput, HookOutput};

        mod renderer {
            wasmtime::component::bindgen!({
                path: $path,
                world: "email-renderer",
                with: {
                    $types: super::latest::renderer::portico::plugins::types,
                    $host: super::latest::renderer::portico::plugins::host,
                },
            });
        }

        mod verifier {
            wasmtime::component::bindgen!({
                path: $path,
                world: "verifier",
                with: {
                    $types: super::latest::renderer::portico::plugins::types,
                    $host: super::latest::renderer::portico::plugins::host,
                },
            });
        }

        use renderer::exports::portico::plugins::email_rendering as render;

        /// Adds what this version offers every plugin: the host log.
        pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
            latest::add_host_to_linker(linker, $version)
        }

        /// A component of this version, pre-instantiated for its world.
        pub enum Pre {
            Renderer(renderer::EmailRendererPre<CallState>),
            Verifier(verifier::VerifierPre<CallState>),
        }

        impl Pre {
            /// Checks that the component exports its family's interface
            /// with the expected types.
            pub fn new(family: HookFamily, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
                Ok(match family {
                    HookFamily::EmailRendering => {
                        Self::Renderer(renderer::EmailRendererPre::new(pre)?)
                    }
                    HookFamily::Verification => Self::Verifier(verifier::VerifierPre::new(pre)?),
                })
            }

            /// Instantiates into `store` and makes the one call. The caller
            /// has checked that the hook belongs to this component's family.
            pub fn call(
                &self,
                store: &mut Store<CallState>,
                input: &HookInput,
            ) -> wasmtime::Result<HookOutput> {
                latest::call(self, store, input)
            }
        }

        impl latest::Hooks for Pre {
            fn render(
                &self,
                store: &mut Store<CallState>,
                context: latest::render::MailContext,
            ) -> wasmtime::Result<Result<latest::render::RenderedMail, String>> {
                let Self::Renderer(pre) = self else {
                    return Err(latest::cannot_render());
                };
                let Some(context) = as_this_version(context) else {
                    return Ok(Err(latest::KIND_TOO_NEW.to_owned()));
                };
                let instance = pre.instantiate(&mut *store)?;
                let render = instance.portico_plugins_email_rendering().func_render();
                latest::call_structurally(store, render.func(), &context)
            }

            fn verify(
                &self,
                store: &mut Store<CallState>,
                check: latest::Check,
            ) -> wasmtime::Result<latest::verify::Decision> {
                let Self::Verifier(pre) = self else {
                    return Err(latest::cannot_verify());
                };
                let instance = pre.instantiate(&mut *store)?;
                let rules = instance.portico_plugins_verification();
                match check {
                    latest::Check::Redemption(input) => latest::call_structurally(
                        store,
                        rules.func_check_redemption().func(),
                        &input,
                    ),
                    latest::Check::PortalAccess(input) => latest::call_structurally(
                        store,
                        rules.func_check_portal_access().func(),
                        &input,
                    ),
                    latest::Check::Email(input) => {
                        latest::call_structurally(store, rules.func_check_email().func(), &input)
                    }
                }
            }
        }
    };
}

pub mod v1;
pub mod v2;
pub mod v3;
pub mod v4;

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
    InterfaceVersion {
        version: Version::V4_0_0,
        package: "portico:plugins@4.0.0",
        wit: include_str!("../../sdk/wit/v4/portico.wit"),
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
    /// Adds the manifest (the facts a plugin reads, the settings it
    /// takes), and the clinic's time zone in a mail's context.
    V4_0_0,
}

impl Version {
    /// The semver string in interface names, such as `1.0.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0_0 => "1.0.0",
            Self::V2_0_0 => "2.0.0",
            Self::V3_0_0 => "3.0.0",
            Self::V4_0_0 => "4.0.0",
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
        assert_eq!(Version::parse("4.0.0"), Some(Version::V4_0_0));
        assert_eq!(Version::parse("9.0.0"), None);
    }
}
