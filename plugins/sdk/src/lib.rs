//! Write Portico plugins in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` that
//! implements one hook family of the `portico:plugins@1.0.0` interface.
//! Turn on that family's feature, implement its `Guest` trait and export
//! it:
//!
//! ```ignore
//! use portico_plugin_sdk::verifier::{self, Decision, EmailAcceptance, Guest};
//!
//! struct Rules;
//!
//! impl Guest for Rules {
//!     fn check_email(input: EmailAcceptance) -> Decision { Decision::Allow }
//!     // ...
//! }
//!
//! portico_plugin_sdk::export_verifier!(Rules);
//! ```
//!
//! `docs/plugins.md` walks from an empty folder to an active plugin.
//!
//! The host hands a plugin nothing but its input: no files, network,
//! environment, clock or randomness. `println!` and `std::process::exit`
//! stop the call; log with the family's `log` instead, which the clinic's
//! admins see. A panic stops the call too, and the export macros make sure
//! its message and place reach the host (see [`panics`]).

#![deny(unsafe_code)]

/// The email rendering family: `render` turns a mail kind and its context
/// into a subject, HTML and text, or declines (the built-in mail is sent).
#[cfg(feature = "email-renderer")]
pub mod email {
    #![allow(unsafe_code, missing_docs)]
    wit_bindgen::generate!({
        path: "../wit/v1",
        world: "email-renderer",
        pub_export_macro: true,
        export_macro_name: "__export_email_renderer_bindings",
        default_bindings_module: "portico_plugin_sdk::email",
    });

    pub use exports::portico::plugins::email_rendering::{
        Guest, MailContext, MailKind, RenderedMail,
    };
    pub use portico::plugins::host::log;
    pub use portico::plugins::types::{Branding, LogLevel, Setting};

    #[doc(hidden)]
    pub fn log_panic(line: &str) {
        log(LogLevel::Error, line);
    }

    impl crate::settings::Named for Setting {
        fn name(&self) -> &str {
            &self.name
        }
        fn value(&self) -> &str {
            &self.value
        }
    }
}

/// The verification family: checks before a code is redeemed, before
/// portal access is enabled, and before an email address is accepted.
#[cfg(feature = "verifier")]
pub mod verifier {
    #![allow(unsafe_code, missing_docs)]
    wit_bindgen::generate!({
        path: "../wit/v1",
        world: "verifier",
        pub_export_macro: true,
        export_macro_name: "__export_verifier_bindings",
        default_bindings_module: "portico_plugin_sdk::verifier",
    });

    pub use exports::portico::plugins::verification::{
        Answer, Decision, EmailAcceptance, FieldRequest, Guest, InputKind, PortalAccess,
        RecordFacts, Redemption,
    };
    pub use portico::plugins::host::log;
    pub use portico::plugins::types::{LogLevel, Setting};

    #[doc(hidden)]
    pub fn log_panic(line: &str) {
        log(LogLevel::Error, line);
    }

    impl crate::settings::Named for Setting {
        fn name(&self) -> &str {
            &self.name
        }
        fn value(&self) -> &str {
            &self.value
        }
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

/// Exports `$ty`, an implementation of [`email::Guest`], as the plugin's
/// email renderer. A panic in it reaches the clinic's admins as the
/// panic's message and place (see [`panics`]).
#[cfg(feature = "email-renderer")]
#[macro_export]
macro_rules! export_email_renderer {
    ($ty:ty) => {
        const _: () = {
            struct ReportsPanics;
            impl $crate::email::Guest for ReportsPanics {
                fn render(
                    context: $crate::email::MailContext,
                ) -> ::core::result::Result<$crate::email::RenderedMail, ::std::string::String>
                {
                    $crate::panics::report_to_host($crate::email::log_panic);
                    <$ty as $crate::email::Guest>::render(context)
                }
            }
            $crate::email::__export_email_renderer_bindings!(ReportsPanics);
        };
    };
}

/// Exports `$ty`, an implementation of [`verifier::Guest`], as the
/// plugin's verification rules. A panic in it reaches the clinic's admins
/// as the panic's message and place (see [`panics`]).
#[cfg(feature = "verifier")]
#[macro_export]
macro_rules! export_verifier {
    ($ty:ty) => {
        const _: () = {
            struct ReportsPanics;
            impl $crate::verifier::Guest for ReportsPanics {
                fn check_redemption(
                    input: $crate::verifier::Redemption,
                ) -> $crate::verifier::Decision {
                    $crate::panics::report_to_host($crate::verifier::log_panic);
                    <$ty as $crate::verifier::Guest>::check_redemption(input)
                }
                fn check_portal_access(
                    input: $crate::verifier::PortalAccess,
                ) -> $crate::verifier::Decision {
                    $crate::panics::report_to_host($crate::verifier::log_panic);
                    <$ty as $crate::verifier::Guest>::check_portal_access(input)
                }
                fn check_email(
                    input: $crate::verifier::EmailAcceptance,
                ) -> $crate::verifier::Decision {
                    $crate::panics::report_to_host($crate::verifier::log_panic);
                    <$ty as $crate::verifier::Guest>::check_email(input)
                }
            }
            $crate::verifier::__export_verifier_bindings!(ReportsPanics);
        };
    };
}

pub mod html;
pub mod panics;
pub mod settings;

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_builds_against_the_published_interface() {
        let wit = include_str!("../../wit/v1/portico.wit");
        assert!(wit.contains("package portico:plugins@1.0.0;"));
    }
}
