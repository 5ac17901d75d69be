//! Write Portico plugins in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` that
//! implements one hook family of the `portico:plugins` interface. Turn on
//! that family's feature, implement its `Guest` trait from the interface
//! version you build against, and export it:
//!
//! ```ignore
//! use portico_plugin_sdk::v4::verifier::{
//!     Decision, EmailAcceptance, Guest, PluginManifest, SettingSpec,
//! };
//!
//! struct Rules;
//!
//! impl Guest for Rules {
//!     fn describe() -> PluginManifest {
//!         // Reads no patient fact; takes one setting.
//!         PluginManifest::reading([])
//!             .setting(SettingSpec::text_list("refused_domains", "Refused email domains"))
//!     }
//!
//!     fn check_email(input: EmailAcceptance) -> Decision { Decision::Allow }
//!     // ...
//! }
//!
//! portico_plugin_sdk::export_verifier!(Rules, v4);
//! ```
//!
//! # Versions
//!
//! The SDK's major version is the newest interface it carries (4.x carries
//! `portico:plugins@4.0.0`), and it keeps a module for every published
//! interface: [`v1`], [`v2`], [`v3`], [`v4`]. A plugin built against an older one
//! keeps running on every server. The unversioned [`email`] and
//! [`verifier`] modules, and the export macros without a version, are the
//! 1.0.0 interface, as plugins written before the versioned modules use
//! them.
//!
//! # Testing natively
//!
//! `cargo test` runs a plugin's functions natively, without wasm: call
//! them through [`testing::call`], which keeps what they log (the host's
//! log does not exist outside the host) and reports a panic as the host
//! would.
//!
//! `docs/plugins.md` walks from an empty folder to an active plugin.
//!
//! The host hands a plugin nothing but its input: no files, network,
//! environment, clock or randomness. `println!` and `std::process::exit`
//! stop the call; log with the family's `log` instead, which the clinic's
//! admins see. A panic stops the call too, and the export macros make sure
//! its message and place reach the host (see [`panics`]).

#![deny(unsafe_code)]

/// What both families of every version share: a `log` that works both in
/// the host and in a native test, the panic report's way in, building
/// settings in tests, and reading settings by name.
macro_rules! family_common {
    () => {
        /// Records a line for the clinic's admins, kept with the
        /// call's record. In a native test, [`crate::testing`] keeps
        /// it instead.
        pub fn log(level: LogLevel, message: &str) {
            #[cfg(target_family = "wasm")]
            portico::plugins::host::log(level, message);
            #[cfg(not(target_family = "wasm"))]
            crate::testing::record(level_name(level), message);
        }

        #[cfg_attr(target_family = "wasm", allow(dead_code))]
        fn level_name(level: LogLevel) -> &'static str {
            match level {
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            }
        }

        #[doc(hidden)]
        pub fn log_panic(line: &str) {
            log(LogLevel::Error, line);
        }

        /// Settings as the host hands them, for tests.
        pub fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
            pairs
                .iter()
                .map(|(name, value)| Setting {
                    name: (*name).into(),
                    value: (*value).into(),
                })
                .collect()
        }

        impl crate::settings::Named for Setting {
            fn name(&self) -> &str {
                &self.name
            }
            fn value(&self) -> &str {
                &self.value
            }
        }
    };
}

/// One interface version's hook families: its generated bindings, the
/// names plugins use, and a `log` that works both in the host and in a
/// native test.
macro_rules! interface_version {
    (
        email: { $($email_bindgen:tt)* } exported by $email_macro:ident,
        verifier: { $($verifier_bindgen:tt)* } exported by $verifier_macro:ident
        $(, both: { $($both:tt)* })?
        $(, email_also: { $($email_also:tt)* })? $(,)?
    ) => {
        /// The email rendering family: `render` turns a mail kind and its
        /// context into a subject, HTML and text, or declines (the
        /// built-in mail is sent).
        #[cfg(feature = "email-renderer")]
        pub mod email {
            #![allow(unsafe_code, missing_docs)]
            wit_bindgen::generate!({
                $($email_bindgen)*
                pub_export_macro: true,
            });

            pub use exports::portico::plugins::email_rendering::{
                Guest, MailContext, MailKind, RenderedMail,
            };
            #[doc(hidden)]
            pub use $email_macro as __export_bindings;
            pub use portico::plugins::types::{Branding, LogLevel, Setting};

            family_common!();
            $($($both)*)?
            $($($email_also)*)?
        }

        /// The verification family: checks before a code is redeemed,
        /// before portal access is enabled, and before an email address is
        /// accepted.
        #[cfg(feature = "verifier")]
        pub mod verifier {
            #![allow(unsafe_code, missing_docs)]
            wit_bindgen::generate!({
                $($verifier_bindgen)*
                pub_export_macro: true,
            });

            pub use exports::portico::plugins::verification::{
                Answer, Decision, EmailAcceptance, FieldRequest, Guest, InputKind, PortalAccess,
                RecordFacts, Redemption,
            };
            pub use portico::plugins::types::{LogLevel, Setting};
            #[doc(hidden)]
            pub use $verifier_macro as __export_bindings;

            family_common!();
            $($($both)*)?

            /// The patient's answers as the portal hands them, for tests.
            pub fn answers(pairs: &[(&str, &str)]) -> Vec<Answer> {
                pairs
                    .iter()
                    .map(|(name, value)| Answer {
                        name: (*name).into(),
                        value: (*value).into(),
                    })
                    .collect()
            }

            impl crate::settings::Named for Answer {
                fn name(&self) -> &str {
                    &self.name
                }
                fn value(&self) -> &str {
                    &self.value
                }
            }
        }
    };
}

// wit-bindgen names a world's export macro after the world, and exports
// it from the crate's root, so two versions of one world would collide.
// 1.0.0 is bound directly, as plugins built before the versioned modules
// were; each later version through a world of the SDK's own that includes
// the published one, so its component imports and exports exactly what
// the published world does.

/// `portico:plugins@1.0.0`, the first interface.
pub mod v1 {
    interface_version! {
        email: {
            path: "wit/v1",
            world: "email-renderer",
            export_macro_name: "__export_email_renderer_v1",
            default_bindings_module: "portico_plugin_sdk::v1::email",
        } exported by __export_email_renderer_v1,
        verifier: {
            path: "wit/v1",
            world: "verifier",
            export_macro_name: "__export_verifier_v1",
            default_bindings_module: "portico_plugin_sdk::v1::verifier",
        } exported by __export_verifier_v1,
    }
}

/// `portico:plugins@2.0.0`: a mail's context carries the clinic's
/// `portal_url`.
pub mod v2 {
    interface_version! {
        email: {
            path: "wit/v2",
            inline: "package portico:sdk-v2; world email-renderer-v2 { include portico:plugins/email-renderer@2.0.0; }",
            generate_all,
            world: "portico:sdk-v2/email-renderer-v2",
            export_macro_name: "__export_email_renderer_v2",
            default_bindings_module: "portico_plugin_sdk::v2::email",
        } exported by __export_email_renderer_v2,
        verifier: {
            path: "wit/v2",
            inline: "package portico:sdk-v2; world verifier-v2 { include portico:plugins/verifier@2.0.0; }",
            generate_all,
            world: "portico:sdk-v2/verifier-v2",
            export_macro_name: "__export_verifier_v2",
            default_bindings_module: "portico_plugin_sdk::v2::verifier",
        } exported by __export_verifier_v2,
    }
}

/// `portico:plugins@3.0.0`: the mail of a family's sharing can be
/// rendered too, with each kind's `details`.
pub mod v3 {
    interface_version! {
        email: {
            path: "wit/v3",
            inline: "package portico:sdk-v3; world email-renderer-v3 { include portico:plugins/email-renderer@3.0.0; }",
            generate_all,
            world: "portico:sdk-v3/email-renderer-v3",
            export_macro_name: "__export_email_renderer_v3",
            default_bindings_module: "portico_plugin_sdk::v3::email",
        } exported by __export_email_renderer_v3,
        verifier: {
            path: "wit/v3",
            inline: "package portico:sdk-v3; world verifier-v3 { include portico:plugins/verifier@3.0.0; }",
            generate_all,
            world: "portico:sdk-v3/verifier-v3",
            export_macro_name: "__export_verifier_v3",
            default_bindings_module: "portico_plugin_sdk::v3::verifier",
        } exported by __export_verifier_v3,
    }
}

/// `portico:plugins@4.0.0`: a plugin declares the patient facts it reads
/// and the settings it takes (its `Guest`'s `describe`), and a mail's
/// context carries the clinic's
/// time zone and the expiry on its clock.
pub mod v4 {
    interface_version! {
        email: {
            path: "wit/v4",
            inline: "package portico:sdk-v4; world email-renderer-v4 { include portico:plugins/email-renderer@4.0.0; }",
            generate_all,
            world: "portico:sdk-v4/email-renderer-v4",
            export_macro_name: "__export_email_renderer_v4",
            default_bindings_module: "portico_plugin_sdk::v4::email",
        } exported by __export_email_renderer_v4,
        verifier: {
            path: "wit/v4",
            inline: "package portico:sdk-v4; world verifier-v4 { include portico:plugins/verifier@4.0.0; }",
            generate_all,
            world: "portico:sdk-v4/verifier-v4",
            export_macro_name: "__export_verifier_v4",
            default_bindings_module: "portico_plugin_sdk::v4::verifier",
        } exported by __export_verifier_v4,
        both: {
            pub use portico::plugins::types::{
                NumberRange, PatientFact, PluginManifest, SettingSpec, SettingType,
            };
            crate::manifest::builders!();
        },
        email_also: {
            pub use exports::portico::plugins::email_rendering::{Detail, LocalTime};
        },
    }
}

/// The 1.0.0 email rendering family, as plugins written before the
/// versioned modules name it.
#[cfg(feature = "email-renderer")]
pub use v1::email;
/// The 1.0.0 verification family, as plugins written before the versioned
/// modules name it.
#[cfg(feature = "verifier")]
pub use v1::verifier;

/// Exports `$ty`, an implementation of an interface version's
/// `email::Guest`, as the plugin's email renderer: `export_email_renderer!(Mail, v3)`,
/// or without a version, the 1.0.0 interface. A panic in it reaches the
/// clinic's admins as the panic's message and place (see [`panics`]).
///
/// Outside wasm (a native `cargo test`) it exports nothing, so the same
/// source builds both ways with no gating by hand.
#[cfg(feature = "email-renderer")]
#[macro_export]
macro_rules! export_email_renderer {
    (@with_manifest $ty:ty, $v:ident) => {
        $crate::export_email_renderer!(@export $ty, $v, {
            fn describe() -> $crate::$v::email::PluginManifest {
                $crate::panics::report_to_host($crate::$v::email::log_panic);
                <$ty as $crate::$v::email::Guest>::describe()
            }
        });
        #[cfg(not(target_family = "wasm"))]
        const _: fn() -> $crate::$v::email::PluginManifest =
            <$ty as $crate::$v::email::Guest>::describe;
    };
    (@export $ty:ty, $v:ident, { $($manifest:tt)* }) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct ReportsPanics;
            impl $crate::$v::email::Guest for ReportsPanics {
                fn render(
                    context: $crate::$v::email::MailContext,
                ) -> ::core::result::Result<$crate::$v::email::RenderedMail, ::std::string::String>
                {
                    $crate::panics::report_to_host($crate::$v::email::log_panic);
                    <$ty as $crate::$v::email::Guest>::render(context)
                }
                $($manifest)*
            }
            $crate::$v::email::__export_bindings!(ReportsPanics);
        };
        // Natively the type is used by nothing but tests.
        #[cfg(not(target_family = "wasm"))]
        const _: fn(
            $crate::$v::email::MailContext,
        ) -> ::core::result::Result<
            $crate::$v::email::RenderedMail,
            ::std::string::String,
        > = <$ty as $crate::$v::email::Guest>::render;
    };
    ($ty:ty) => {
        $crate::export_email_renderer!($ty, v1);
    };
    // 4.0.0 and later: the type describes itself too.
    ($ty:ty, v4) => {
        $crate::export_email_renderer!(@with_manifest $ty, v4);
    };
    ($ty:ty, $v:ident) => {
        $crate::export_email_renderer!(@export $ty, $v, {});
    };
}

/// Exports `$ty`, an implementation of an interface version's
/// `verifier::Guest`, as the plugin's verification rules:
/// `export_verifier!(Rules, v3)`, or without a version, the 1.0.0
/// interface. A panic in it reaches the clinic's admins as the panic's
/// message and place (see [`panics`]).
///
/// Outside wasm (a native `cargo test`) it exports nothing, so the same
/// source builds both ways with no gating by hand.
#[cfg(feature = "verifier")]
#[macro_export]
macro_rules! export_verifier {
    (@with_manifest $ty:ty, $v:ident) => {
        $crate::export_verifier!(@export $ty, $v, {
            fn describe() -> $crate::$v::verifier::PluginManifest {
                $crate::panics::report_to_host($crate::$v::verifier::log_panic);
                <$ty as $crate::$v::verifier::Guest>::describe()
            }
        });
        #[cfg(not(target_family = "wasm"))]
        const _: fn() -> $crate::$v::verifier::PluginManifest =
            <$ty as $crate::$v::verifier::Guest>::describe;
    };
    (@export $ty:ty, $v:ident, { $($manifest:tt)* }) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct ReportsPanics;
            impl $crate::$v::verifier::Guest for ReportsPanics {
                fn check_redemption(
                    input: $crate::$v::verifier::Redemption,
                ) -> $crate::$v::verifier::Decision {
                    $crate::panics::report_to_host($crate::$v::verifier::log_panic);
                    <$ty as $crate::$v::verifier::Guest>::check_redemption(input)
                }
                fn check_portal_access(
                    input: $crate::$v::verifier::PortalAccess,
                ) -> $crate::$v::verifier::Decision {
                    $crate::panics::report_to_host($crate::$v::verifier::log_panic);
                    <$ty as $crate::$v::verifier::Guest>::check_portal_access(input)
                }
                fn check_email(
                    input: $crate::$v::verifier::EmailAcceptance,
                ) -> $crate::$v::verifier::Decision {
                    $crate::panics::report_to_host($crate::$v::verifier::log_panic);
                    <$ty as $crate::$v::verifier::Guest>::check_email(input)
                }
                $($manifest)*
            }
            $crate::$v::verifier::__export_bindings!(ReportsPanics);
        };
        // Natively the type is used by nothing but tests.
        #[cfg(not(target_family = "wasm"))]
        const _: fn($crate::$v::verifier::EmailAcceptance) -> $crate::$v::verifier::Decision =
            <$ty as $crate::$v::verifier::Guest>::check_email;
    };
    ($ty:ty) => {
        $crate::export_verifier!($ty, v1);
    };
    // 4.0.0 and later: the type describes itself too.
    ($ty:ty, v4) => {
        $crate::export_verifier!(@with_manifest $ty, v4);
    };
    ($ty:ty, $v:ident) => {
        $crate::export_verifier!(@export $ty, $v, {});
    };
}

pub mod html;
mod manifest;
pub mod panics;
pub mod settings;
pub mod testing;

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_builds_against_the_published_interface() {
        let wit = include_str!("../wit/v1/portico.wit");
        assert!(wit.contains("package portico:plugins@1.0.0;"));
    }
}
