//! Bindings for `portico:plugins@1.0.0`: the host side of its two worlds,
//! and conversions between its generated types and the host's own.
//!
//! This module is history once published: a new interface version gets a
//! module of its own beside this one.

use wasmtime::Store;
use wasmtime::component::{HasSelf, InstancePre, Linker};

use crate::hooks::HookFamily;
use crate::model::{self, HookInput, HookOutput};
use crate::sandbox::state::{CallState, LogLevel};

mod renderer {
    wasmtime::component::bindgen!({
        path: "wit/v1",
        world: "email-renderer",
    });
}

mod verifier {
    wasmtime::component::bindgen!({
        path: "wit/v1",
        world: "verifier",
        with: {
            "portico:plugins/types": super::renderer::portico::plugins::types,
            "portico:plugins/host": super::renderer::portico::plugins::host,
        },
    });
}

use renderer::exports::portico::plugins::email_rendering as render;
use renderer::portico::plugins::{host, types};
use verifier::exports::portico::plugins::verification as verify;

/// Adds what version 1 offers every plugin: the host log.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    types::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    host::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
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
        self.log.push(level, message);
    }
}

/// A version 1 component, pre-instantiated for its world.
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
        match (self, input) {
            (Self::Renderer(pre), HookInput::RenderEmail(context)) => {
                let instance = pre.instantiate(&mut *store)?;
                let result = instance
                    .portico_plugins_email_rendering()
                    .call_render(&mut *store, &mail_context(context))?;
                Ok(match result {
                    Ok(mail) => HookOutput::Rendered(model::RenderedMail {
                        subject: mail.subject,
                        html: mail.html,
                        text: mail.text,
                    }),
                    Err(message) => HookOutput::RenderDeclined { message },
                })
            }
            (Self::Verifier(pre), input) => {
                let instance = pre.instantiate(&mut *store)?;
                let rules = instance.portico_plugins_verification();
                let decision = match input {
                    HookInput::CheckRedemption(r) => rules.call_check_redemption(
                        &mut *store,
                        &verify::Redemption {
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
                        },
                    )?,
                    HookInput::CheckPortalAccess(p) => rules.call_check_portal_access(
                        &mut *store,
                        &verify::PortalAccess {
                            facts: facts(&p.facts),
                            settings: settings(&p.settings),
                        },
                    )?,
                    HookInput::CheckEmail(e) => rules.call_check_email(
                        &mut *store,
                        &verify::EmailAcceptance {
                            email: e.email.clone(),
                            settings: settings(&e.settings),
                        },
                    )?,
                    HookInput::RenderEmail(_) => {
                        wasmtime::bail!("a verification plugin cannot render mail")
                    }
                };
                Ok(HookOutput::Decision(decision_from(decision)))
            }
            (Self::Renderer(_), _) => {
                wasmtime::bail!("an email rendering plugin has no verification hooks")
            }
        }
    }
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
        locale: c.locale.clone(),
        settings: settings(&c.settings),
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
