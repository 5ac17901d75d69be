//! Bindings for `portico:plugins@2.0.0`, as a thin layer over the latest
//! version's in `v3`.
//!
//! Thin because copies drift: 2.0.0 differs from the latest version only in
//! knowing fewer mail kinds and no mail `details`, so all else is the
//! latest version's. A mail of a newer kind is never put to a 2.0.0
//! component: it is declined here, and the host renders its own. Its imports (the host log, the shared types) are remapped onto
//! the latest bindings with bindgen's `with`. bindgen cannot remap exports,
//! so the unchanged ones are called with the latest version's types, which
//! component types being structural allows (wasmtime checks them), and only
//! the mail context is converted. The host's own types stay `v3`'s concern.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use super::Version;
use super::v3 as latest;
use crate::call_state::CallState;
use crate::hooks::HookFamily;
use crate::model::{HookInput, HookOutput};

mod renderer {
    wasmtime::component::bindgen!({
        path: "sdk/wit/v2",
        world: "email-renderer",
        with: {
            "portico:plugins/types@2.0.0": super::latest::renderer::portico::plugins::types,
            "portico:plugins/host@2.0.0": super::latest::renderer::portico::plugins::host,
        },
    });
}

mod verifier {
    wasmtime::component::bindgen!({
        path: "sdk/wit/v2",
        world: "verifier",
        with: {
            "portico:plugins/types@2.0.0": super::latest::renderer::portico::plugins::types,
            "portico:plugins/host@2.0.0": super::latest::renderer::portico::plugins::host,
        },
    });
}

use renderer::exports::portico::plugins::email_rendering as render;

/// Adds what version 2 offers every plugin: the host log.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    latest::add_host_to_linker(linker, Version::V2_0_0)
}

/// A version 2 component, pre-instantiated for its world.
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
        let Some(context) = of_known_kind(context) else {
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
            latest::Check::Redemption(input) => {
                latest::call_structurally(store, rules.func_check_redemption().func(), &input)
            }
            latest::Check::PortalAccess(input) => {
                latest::call_structurally(store, rules.func_check_portal_access().func(), &input)
            }
            latest::Check::Email(input) => {
                latest::call_structurally(store, rules.func_check_email().func(), &input)
            }
        }
    }
}

/// The mail context as 2.0.0 has it, unless its kind is newer than
/// 2.0.0.
fn of_known_kind(context: latest::render::MailContext) -> Option<render::MailContext> {
    // Named field by field so that a field added later must be
    // decided on here. 2.0.0 has no details to pass on.
    let latest::render::MailContext {
        kind,
        branding,
        patient_display_name,
        link,
        expires_at,
        locale,
        settings,
        portal_url,
        details: _,
    } = context;
    Some(render::MailContext {
        kind: known_kind(kind)?,
        branding,
        patient_display_name,
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
