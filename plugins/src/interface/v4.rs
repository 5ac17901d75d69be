//! Bindings for `portico:plugins@4.0.0`, the latest version: the host side
//! of its two worlds, and conversions between its generated types and the
//! host's own. Beside 3.0.0, every component describes itself (the
//! patient facts it reads, the settings it takes), and a mail's context
//! carries the clinic's time zone and the expiry on its clock.
//!
//! Only the latest version speaks the host's types. Older versions reuse
//! what has not changed from here and convert the rest to this version's
//! types (see `v1`, `v2` and `v3`); when a new version is published, this
//! module becomes such a layer over it.

use wasmtime::Store;
use wasmtime::component::{Func, HasSelf, InstancePre, Lift, Linker, Lower};

use super::Version;
use crate::call_state::{CallState, LogLevel};
use crate::hooks::HookFamily;
use crate::model::{self, HookInput, HookOutput};

// Visible to older versions' bindgen `with`, which re-exports what it names
// with `pub use`, so it must name these modules, not a `pub(super) use`.
pub(super) mod renderer {
    wasmtime::component::bindgen!({
        path: "sdk/wit/v4",
        world: "email-renderer",
    });
}

mod verifier {
    wasmtime::component::bindgen!({
        path: "sdk/wit/v4",
        world: "verifier",
        with: {
            "portico:plugins/types": super::renderer::portico::plugins::types,
            "portico:plugins/host": super::renderer::portico::plugins::host,
        },
    });
}

pub(super) use renderer::exports::portico::plugins::email_rendering as render;
use renderer::portico::plugins::{host, types};
pub(super) use verifier::exports::portico::plugins::verification as verify;

/// Adds what version 4 offers every plugin: the host log.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    add_host_to_linker(linker, Version::V4_0_0)
}

/// Adds the host log under `version`'s interface names. Its shape has not
/// changed since 1.0.0, so one implementation serves every version.
pub(super) fn add_host_to_linker(
    linker: &mut Linker<CallState>,
    version: Version,
) -> wasmtime::Result<()> {
    types::add_to_linker_instance::<CallState, HasSelf<CallState>>(
        &mut linker.instance(&format!("portico:plugins/types@{version}"))?,
        |state| state,
    )?;
    host::add_to_linker_instance::<CallState, HasSelf<CallState>>(
        &mut linker.instance(&format!("portico:plugins/host@{version}"))?,
        |state| state,
    )
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let level = match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Warn => LogLevel::Warn,
            types::LogLevel::Error => LogLevel::Error,
        };
        self.record_log(level, message);
    }
}

/// A version 4 component, pre-instantiated for its world.
pub enum Pre {
    Renderer(renderer::EmailRendererPre<CallState>),
    Verifier(verifier::VerifierPre<CallState>),
}

impl Pre {
    /// Checks that the component exports its family's interface with the
    /// expected types.
    pub fn new(family: HookFamily, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match family {
            HookFamily::EmailRendering => Self::Renderer(renderer::EmailRendererPre::new(pre)?),
            HookFamily::Verification => Self::Verifier(verifier::VerifierPre::new(pre)?),
        })
    }

    /// Instantiates into `store` and makes the one call. The caller has
    /// checked that the hook belongs to this component's family.
    pub fn call(
        &self,
        store: &mut Store<CallState>,
        input: &HookInput,
    ) -> wasmtime::Result<HookOutput> {
        call(self, store, input)
    }

    /// Instantiates into `store` and asks the component for its manifest.
    pub fn describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<crate::manifest::Declared> {
        let manifest = match self {
            Self::Renderer(pre) => pre
                .instantiate(&mut *store)?
                .portico_plugins_email_rendering()
                .call_describe(store)?,
            Self::Verifier(pre) => pre
                .instantiate(&mut *store)?
                .portico_plugins_verification()
                .call_describe(store)?,
        };
        Ok(declared_from(manifest))
    }
}

/// The manifest in the host's types, as the component gave it; the sandbox
/// then checks it.
fn declared_from(manifest: types::PluginManifest) -> crate::manifest::Declared {
    use crate::manifest::{PatientFact, SettingSpec, SettingType};
    crate::manifest::Declared {
        reads: manifest
            .reads
            .into_iter()
            .map(|fact| match fact {
                types::PatientFact::Name => PatientFact::Name,
                types::PatientFact::DateOfBirth => PatientFact::DateOfBirth,
                types::PatientFact::HomeZipCode => PatientFact::HomeZipCode,
                types::PatientFact::Email => PatientFact::Email,
            })
            .collect(),
        settings: manifest
            .settings
            .into_iter()
            .map(|spec| SettingSpec {
                name: spec.name,
                label: spec.label,
                description: spec.description,
                kind: match spec.kind {
                    types::SettingType::Text => SettingType::Text,
                    types::SettingType::TextList => SettingType::TextList,
                    types::SettingType::WholeNumber(range) => SettingType::WholeNumber {
                        min: range.min,
                        max: range.max,
                    },
                    types::SettingType::YesNo => SettingType::YesNo,
                    types::SettingType::Choice(values) => SettingType::Choice { values },
                },
                default: spec.default,
            })
            .collect(),
    }
}

impl Hooks for Pre {
    fn render(
        &self,
        store: &mut Store<CallState>,
        context: render::MailContext,
    ) -> wasmtime::Result<Result<render::RenderedMail, String>> {
        let Self::Renderer(pre) = self else {
            return Err(cannot_render());
        };
        let instance = pre.instantiate(&mut *store)?;
        instance
            .portico_plugins_email_rendering()
            .call_render(store, &context)
    }

    fn verify(
        &self,
        store: &mut Store<CallState>,
        check: Check,
    ) -> wasmtime::Result<verify::Decision> {
        let Self::Verifier(pre) = self else {
            return Err(cannot_verify());
        };
        let instance = pre.instantiate(&mut *store)?;
        let rules = instance.portico_plugins_verification();
        match check {
            Check::Redemption(input) => rules.call_check_redemption(store, &input),
            Check::PortalAccess(input) => rules.call_check_portal_access(store, &input),
            Check::Email(input) => rules.call_check_email(store, &input),
        }
    }
}

/// A component of any published version, seen through this version's
/// types: each version implements it over its own bindings, so the host's
/// types are converted in one place, [`call`].
pub(super) trait Hooks {
    /// Instantiates a rendering component into `store` and renders.
    fn render(
        &self,
        store: &mut Store<CallState>,
        context: render::MailContext,
    ) -> wasmtime::Result<Result<render::RenderedMail, String>>;

    /// Instantiates a verification component into `store` and checks.
    fn verify(
        &self,
        store: &mut Store<CallState>,
        check: Check,
    ) -> wasmtime::Result<verify::Decision>;
}

/// The input of one verification hook.
pub(super) enum Check {
    Redemption(verify::Redemption),
    PortalAccess(verify::PortalAccess),
    Email(verify::EmailAcceptance),
}

/// Calls `func`, an older version's export, with this version's types.
/// Component-model types are structural, so a shape that has not changed
/// takes this version's generated type as it is; wasmtime checks that it
/// matches before calling.
pub(super) fn call_structurally<P: Lower, R: Lift>(
    store: &mut Store<CallState>,
    func: &Func,
    param: &P,
) -> wasmtime::Result<R> {
    let (result,) = func.typed::<(&P,), (R,)>(&*store)?.call(store, (param,))?;
    Ok(result)
}

/// Why an older component does not render a mail of a newer kind: it
/// declines, and the host sends its own.
pub(super) const KIND_TOO_NEW: &str =
    "this kind of mail is newer than the interface version this plugin was built against";

/// The sandbox checks a hook's family before calling; these only guard.
pub(super) fn cannot_render() -> wasmtime::Error {
    wasmtime::format_err!("a verification plugin cannot render mail")
}

pub(super) fn cannot_verify() -> wasmtime::Error {
    wasmtime::format_err!("an email rendering plugin has no verification hooks")
}

/// Makes the one call through `hooks`, in the host's types.
pub(super) fn call(
    hooks: &impl Hooks,
    store: &mut Store<CallState>,
    input: &HookInput,
) -> wasmtime::Result<HookOutput> {
    let check = match input {
        HookInput::RenderEmail(context) => {
            return Ok(match hooks.render(store, mail_context(context))? {
                Ok(mail) => HookOutput::Rendered(model::RenderedMail {
                    subject: mail.subject,
                    html: mail.html,
                    text: mail.text,
                }),
                Err(message) => HookOutput::RenderDeclined { message },
            });
        }
        HookInput::CheckRedemption(r) => Check::Redemption(verify::Redemption {
            answers: r
                .answers
                .iter()
                .map(|a| verify::Answer {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
            facts: facts(&r.facts),
            settings: settings(&r.settings),
        }),
        HookInput::CheckPortalAccess(p) => Check::PortalAccess(verify::PortalAccess {
            facts: facts(&p.facts),
            settings: settings(&p.settings),
        }),
        HookInput::CheckEmail(e) => Check::Email(verify::EmailAcceptance {
            email: e.email.clone(),
            settings: settings(&e.settings),
        }),
    };
    Ok(HookOutput::Decision(decision_from(
        hooks.verify(store, check)?,
    )))
}

fn settings(settings: &[model::Setting]) -> Vec<types::Setting> {
    settings
        .iter()
        .map(|s| types::Setting {
            name: s.name.clone(),
            value: s.value.clone(),
        })
        .collect()
}

fn facts(facts: &model::RecordFacts) -> verify::RecordFacts {
    verify::RecordFacts {
        date_of_birth: facts.date_of_birth.clone(),
        home_zip_code: facts.home_zip_code.clone(),
        email: facts.email.clone(),
    }
}

fn mail_context(c: &model::MailContext) -> render::MailContext {
    render::MailContext {
        kind: match c.kind {
            model::MailKind::AccessLink => render::MailKind::AccessLink,
            model::MailKind::SmartformInvitation => render::MailKind::SmartformInvitation,
            model::MailKind::EmailChangeNotice => render::MailKind::EmailChangeNotice,
            model::MailKind::PasswordReset => render::MailKind::PasswordReset,
            model::MailKind::EmailVerification => render::MailKind::EmailVerification,
            model::MailKind::CaregiverInvitation => render::MailKind::CaregiverInvitation,
            model::MailKind::ProxyAdded => render::MailKind::ProxyAdded,
            model::MailKind::ProxyNarrowed => render::MailKind::ProxyNarrowed,
            model::MailKind::ProxyEnded => render::MailKind::ProxyEnded,
            model::MailKind::ComingOfAge => render::MailKind::ComingOfAge,
        },
        branding: types::Branding {
            clinic_name: c.branding.clinic_name.clone(),
            primary_colour: c.branding.primary_colour.clone(),
            accent_colour: c.branding.accent_colour.clone(),
            logo_url: c.branding.logo_url.clone(),
            reply_to: c.branding.reply_to.clone(),
        },
        patient_display_name: c.patient_display_name.clone(),
        link: c.link.clone(),
        expires_at: c.expires_at.clone(),
        expires_local: c.expires_local().map(|t| render::LocalTime {
            rfc3339: t.rfc3339,
            date: t.date,
            time: t.time,
            zone: t.zone,
        }),
        time_zone: c.zone().0,
        locale: c.locale.clone(),
        settings: settings(&c.settings),
        portal_url: c.portal_url.clone().unwrap_or_default(),
        details: c
            .details
            .iter()
            .map(|d| render::Detail {
                name: d.name.clone(),
                value: d.value.clone(),
            })
            .collect(),
    }
}

fn decision_from(decision: verify::Decision) -> model::Decision {
    match decision {
        verify::Decision::Allow => model::Decision::Allow,
        verify::Decision::Deny(reason) => model::Decision::Deny { reason },
        verify::Decision::AskFor(fields) => model::Decision::AskFor {
            fields: fields
                .into_iter()
                .map(|f| model::FieldRequest {
                    name: f.name,
                    label: f.label,
                    kind: match f.kind {
                        verify::InputKind::Date => model::InputKind::Date,
                        verify::InputKind::Text => model::InputKind::Text,
                        verify::InputKind::ZipCode => model::InputKind::ZipCode,
                    },
                })
                .collect(),
        },
    }
}
