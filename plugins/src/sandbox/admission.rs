//! What a component must be before the host will run it: a component (not
//! a core module), built against a published interface version, exporting
//! one hook family, and importing nothing the host does not allow.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::hooks::HookFamily;
use crate::interface::Version;

/// Why an upload was refused. Each names what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; plugins may be at most {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("this is not a WebAssembly file")]
    NotWasm,
    #[error(
        "this is a form upload (multipart/form-data), not the component itself; send the \
         .wasm file's raw bytes as the body, with Content-Type: application/octet-stream \
         (curl --data-binary @plugin.wasm)"
    )]
    FormUpload,
    #[error(
        "this is a core WebAssembly module, not a component; build it for the wasm32-wasip2 target"
    )]
    CoreModule,
    #[error("the component is malformed: {0}")]
    Malformed(String),
    #[error("the component imports what plugins may not have. {}.", describe(.0))]
    ForbiddenImports(Vec<ForbiddenImport>),
    #[error(
        "the component was built against portico:plugins@{found}; this server supports {supported}"
    )]
    UnsupportedVersion { found: String, supported: String },
    #[error(
        "the component exports no Portico hooks; it must export portico:plugins/email-rendering or portico:plugins/verification"
    )]
    NoHooks,
    #[error("the component exports both hook families; build one component per family")]
    SeveralFamilies,
    #[error("the component does not match the interface it names: {0}")]
    Incompatible(String),
    /// The 4.0.0 manifest declares what the host cannot honour.
    #[error("the component's manifest {0}")]
    BadManifest(String),
}

impl Refusal {
    /// A stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "plugin_empty",
            Self::TooLarge { .. } => "plugin_too_large",
            Self::NotWasm | Self::FormUpload => "plugin_not_wasm",
            Self::CoreModule => "plugin_not_a_component",
            Self::Malformed(_) => "plugin_malformed",
            Self::ForbiddenImports(_) => "plugin_import_refused",
            Self::UnsupportedVersion { .. } => "plugin_version_unsupported",
            Self::NoHooks => "plugin_exports_no_hooks",
            Self::SeveralFamilies => "plugin_exports_several_families",
            Self::Incompatible(_) => "plugin_incompatible",
            Self::BadManifest(_) => "plugin_manifest_refused",
        }
    }
}

/// Whether `body` is a multipart form (a file sent as `curl -F`), whose
/// first part's headers name it, rather than the file itself.
fn is_form_upload(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    head.starts_with(b"--")
        && head
            .windows(b"content-disposition".len())
            .any(|w| w.eq_ignore_ascii_case(b"content-disposition"))
}

/// What a forbidden import would give a plugin, named as a Rust author
/// meets it: the standard library asks for these interfaces on their
/// behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Files,
    Network,
    Clock,
    Randomness,
    Other,
}

impl Capability {
    fn of(import: &str) -> Self {
        let prefix = |p: &str| import.starts_with(p);
        if prefix("wasi:filesystem") {
            Self::Files
        } else if prefix("wasi:sockets") || prefix("wasi:http") {
            Self::Network
        } else if prefix("wasi:clocks") {
            Self::Clock
        } else if prefix("wasi:random") {
            Self::Randomness
        } else {
            Self::Other
        }
    }

    /// Why the host never grants it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Files => "plugins get no filesystem",
            Self::Network => "plugins get no network",
            Self::Clock => "plugins get no clock; the hook's input carries the times it needs",
            Self::Randomness => {
                "plugins get no randomness (a std HashMap asks for it; use BTreeMap)"
            }
            Self::Other => "plugins may import only what the Portico interface provides",
        }
    }

    /// The clock this use's interface imports for its own types, and the
    /// words the refusal names them with: `wasi:filesystem` gives file
    /// times as `wall-clock`'s datetime, `wasi:sockets` timeouts as
    /// `monotonic-clock`'s duration.
    fn pulls_in_clock(self) -> Option<PulledClock> {
        match self {
            Self::Files => Some(PulledClock {
                clock: "wasi:clocks/wall-clock",
                interface: "filesystem",
                by: "file",
            }),
            Self::Network => Some(PulledClock {
                clock: "wasi:clocks/monotonic-clock",
                interface: "sockets",
                by: "network",
            }),
            _ => None,
        }
    }

    /// What in a Rust plugin brings the import in.
    fn rust_use(self) -> &'static str {
        match self {
            Self::Files => "files (std::fs)",
            Self::Network => "network (std::net)",
            Self::Clock => "clock (std::time::SystemTime or Instant)",
            Self::Randomness => "randomness (HashMap, HashSet or a random crate)",
            Self::Other => "other imports",
        }
    }
}

/// A clock import another interface brings along.
struct PulledClock {
    clock: &'static str,
    interface: &'static str,
    by: &'static str,
}

/// One import the host will not provide, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForbiddenImport {
    pub import: String,
    pub capability: Capability,
    /// Set on a clock import that another forbidden interface needs for
    /// its own types (file times, socket timeouts): it came with that use,
    /// and goes when that use does.
    pub came_with: Option<Capability>,
}

impl ForbiddenImport {
    fn new(import: &str) -> Self {
        Self {
            import: import.to_owned(),
            capability: Capability::of(import),
            came_with: None,
        }
    }

    /// Why the host never grants it.
    pub fn reason(&self) -> &'static str {
        self.capability.reason()
    }
}

/// Marks the clock imports that another forbidden use pulled in (see
/// [`Capability::pulls_in_clock`]), so an author who used only `std::fs`
/// is not told to stop reading a clock.
fn attribute_clocks(imports: &mut [ForbiddenImport]) {
    let uses: Vec<Capability> = imports.iter().map(|i| i.capability).collect();
    for import in imports.iter_mut() {
        let (base, _) = split_version(&import.import);
        import.came_with = uses.iter().copied().find(|use_| {
            use_.pulls_in_clock()
                .is_some_and(|pulled| pulled.clock == base)
        });
    }
}

/// The refusal in words, one sentence per use: the imports it brought,
/// the clocks that came with them, and why none is granted.
fn describe(imports: &[ForbiddenImport]) -> String {
    let quoted = |i: &ForbiddenImport| format!("`{}`", i.import);
    let mut uses: Vec<Capability> = imports
        .iter()
        .filter(|i| i.came_with.is_none())
        .map(|i| i.capability)
        .collect();
    uses.sort();
    uses.dedup();
    uses.iter()
        .map(|&use_| {
            let own: Vec<String> = imports
                .iter()
                .filter(|i| i.capability == use_ && i.came_with.is_none())
                .map(quoted)
                .collect();
            let along: Vec<String> = imports
                .iter()
                .filter(|i| i.came_with == Some(use_))
                .map(quoted)
                .collect();
            let mut sentence = format!("{}: {}", use_.rust_use(), own.join(", "));
            if let (false, Some(pulled)) = (along.is_empty(), use_.pulls_in_clock()) {
                sentence.push_str(&format!(
                    ", and {} that the {} interface pulls in with it (it goes when the {} use does)",
                    along.join(", "),
                    pulled.interface,
                    pulled.by,
                ));
            }
            sentence.push_str(&format!("; {}", use_.reason()));
            sentence
        })
        .collect::<Vec<_>>()
        .join(". ")
}

const WASM_MAGIC: &[u8] = b"\0asm";
const CORE_LAYER: &[u8] = &[0x01, 0x00, 0x00, 0x00];

/// Checks the header before handing the bytes to the compiler, so the
/// common mistakes get plain answers.
pub(crate) fn check_header(wasm: &[u8], max: usize) -> Result<(), Refusal> {
    if wasm.is_empty() {
        return Err(Refusal::Empty);
    }
    if wasm.len() > max {
        return Err(Refusal::TooLarge {
            size: wasm.len(),
            max,
        });
    }
    if wasm.len() < 8 || &wasm[..4] != WASM_MAGIC {
        return Err(if is_form_upload(wasm) {
            Refusal::FormUpload
        } else {
            Refusal::NotWasm
        });
    }
    if &wasm[4..8] == CORE_LAYER {
        return Err(Refusal::CoreModule);
    }
    Ok(())
}

/// Interfaces that Rust's standard library links into every `wasm32-wasip2`
/// component for printing, panics and process exit. They are allowed to be
/// imported, so authors can use `std`, but the host defines every function
/// in them as a trap: a plugin that prints or exits stops with a message
/// that says so. Nothing in them reads or reaches anything.
const INERT_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];

/// Interfaces of a published version that the host provides.
const HOST_INTERFACES: &[&str] = &["host", "types"];

/// Splits `ns:pkg/iface@version` into its unversioned name and version.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Refuses any import the host does not allow, naming every one.
pub(crate) fn check_imports(engine: &Engine, component: &Component) -> Result<(), Refusal> {
    let mut forbidden = Vec::new();
    for (name, _) in component.component_type().imports(engine) {
        let (base, version) = split_version(name);
        if let Some(iface) = base.strip_prefix("portico:plugins/") {
            let version = version.unwrap_or("");
            if Version::parse(version).is_none() {
                return Err(Refusal::UnsupportedVersion {
                    found: version.to_owned(),
                    supported: Version::supported(),
                });
            }
            if HOST_INTERFACES.contains(&iface) {
                continue;
            }
        } else if INERT_WASI.contains(&base) && version.is_some_and(|v| v.starts_with("0.2.")) {
            continue;
        }
        forbidden.push(ForbiddenImport::new(name));
    }
    attribute_clocks(&mut forbidden);
    if forbidden.is_empty() {
        Ok(())
    } else {
        Err(Refusal::ForbiddenImports(forbidden))
    }
}

/// The hook family and interface version a component exports.
pub(crate) fn exported_hooks(
    engine: &Engine,
    component: &Component,
) -> Result<(HookFamily, Version), Refusal> {
    let mut found: Option<(HookFamily, Version)> = None;
    for (name, _) in component.component_type().exports(engine) {
        let (base, version) = split_version(name);
        let family = match base {
            "portico:plugins/email-rendering" => HookFamily::EmailRendering,
            "portico:plugins/verification" => HookFamily::Verification,
            _ => continue,
        };
        let version = version.unwrap_or("");
        let version = Version::parse(version).ok_or_else(|| Refusal::UnsupportedVersion {
            found: version.to_owned(),
            supported: Version::supported(),
        })?;
        match found {
            Some((other, _)) if other != family => return Err(Refusal::SeveralFamilies),
            _ => found = Some((family, version)),
        }
    }
    found.ok_or(Refusal::NoHooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart_before_compiling() {
        assert_eq!(check_header(b"", 10), Err(Refusal::Empty));
        assert_eq!(
            check_header(&[0; 11], 10),
            Err(Refusal::TooLarge { size: 11, max: 10 })
        );
        assert_eq!(
            check_header(b"PK\x03\x04zipfile", 100),
            Err(Refusal::NotWasm)
        );
        let form = b"--X-BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
            filename=\"plugin.wasm\"\r\n\r\n\0asm\r\n--X-BOUNDARY--\r\n";
        let refused = check_header(form, 1000).unwrap_err();
        assert_eq!(refused, Refusal::FormUpload);
        assert_eq!(refused.code(), "plugin_not_wasm");
        assert!(refused.to_string().contains("application/octet-stream"));
        assert_eq!(
            check_header(b"\0asm\x01\0\0\0", 100),
            Err(Refusal::CoreModule)
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0", 100).is_ok());
    }

    #[test]
    fn refusals_say_what_is_missing() {
        assert_eq!(
            ForbiddenImport::new("wasi:filesystem/types@0.2.6").reason(),
            "plugins get no filesystem"
        );
        assert_eq!(
            ForbiddenImport::new("wasi:sockets/tcp@0.2.0").reason(),
            "plugins get no network"
        );
    }

    fn refused(names: &[&str]) -> Vec<ForbiddenImport> {
        let mut imports: Vec<_> = names.iter().map(|n| ForbiddenImport::new(n)).collect();
        attribute_clocks(&mut imports);
        imports
    }

    #[test]
    fn a_clock_that_came_with_the_filesystem_is_named_with_it() {
        let imports = refused(&[
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
        ]);
        assert_eq!(imports[0].came_with, Some(Capability::Files));
        let message = Refusal::ForbiddenImports(imports).to_string();
        assert!(
            message.contains(
                "files (std::fs): `wasi:filesystem/types@0.2.6`, `wasi:filesystem/preopens@0.2.6`, \
                 and `wasi:clocks/wall-clock@0.2.6` that the filesystem interface pulls in"
            ),
            "{message}"
        );
        // Only one use is told: the author never asked for a clock.
        assert!(!message.contains("clock (std::time"), "{message}");
    }

    #[test]
    fn a_clock_used_on_its_own_is_its_own_use() {
        let imports = refused(&["wasi:clocks/wall-clock@0.2.6", "wasi:random/random@0.2.6"]);
        assert_eq!(imports[0].came_with, None);
        let message = Refusal::ForbiddenImports(imports).to_string();
        assert!(
            message.contains("clock (std::time::SystemTime or Instant): `wasi:clocks/wall-clock@0.2.6`; plugins get no clock"),
            "{message}"
        );
        assert!(message.contains("randomness (HashMap"), "{message}");
    }

    #[test]
    fn the_monotonic_clock_comes_with_sockets_but_not_with_files() {
        let with_files = refused(&[
            "wasi:filesystem/types@0.2.6",
            "wasi:clocks/monotonic-clock@0.2.6",
        ]);
        assert_eq!(with_files[1].came_with, None);
        let with_sockets = refused(&[
            "wasi:sockets/tcp@0.2.6",
            "wasi:clocks/monotonic-clock@0.2.6",
        ]);
        assert_eq!(with_sockets[1].came_with, Some(Capability::Network));
    }
}
