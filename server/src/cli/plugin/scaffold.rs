//! `portico plugin new`: a plugin crate that builds, tests and runs on the
//! first try, against the newest interface.
//!
//! The crate is written into a hidden folder beside its destination and
//! renamed into place at the end, so an interrupted or failed run leaves
//! no half-made plugin behind.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_tenants::plugins::PluginName;

use super::Kind;

/// The interface a new plugin's source is written against (its `v4`
/// modules), and the SDK line that carries it. A test keeps them at the
/// newest published version.
pub const INTERFACE: &str = "portico:plugins@4.0.0";
const SDK_VERSION: &str = "4";

/// The SDK this `portico` was built with: `plugins/sdk` of its checkout.
pub fn bundled_sdk() -> anyhow::Result<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
    sdk.canonicalize().map_err(|_| {
        anyhow::anyhow!(
            "this portico was not built from a Portico checkout, so it does not know where the \
             plugin SDK is; pass --sdk PATH (the plugins/sdk folder of a checkout) or set \
             PORTICO_PLUGIN_SDK"
        )
    })
}

/// Whether `name` can be both the plugin's name in a clinic and a crate's
/// name, which may not start with a digit.
fn check_name(name: &str) -> anyhow::Result<()> {
    let fits = PluginName::parse(name).is_ok()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-');
    anyhow::ensure!(
        fits,
        "the name {name:?} must be 1 to 64 lowercase letters, digits and hyphens, starting with a letter, such as my-rule"
    );
    Ok(())
}

/// Writes the crate `name` under `parent`; returns its folder.
pub fn create(parent: &Path, name: &str, kind: Kind, sdk: &Path) -> anyhow::Result<PathBuf> {
    check_name(name)?;
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("the SDK folder {} does not exist", sdk.display()))?;
    anyhow::ensure!(
        sdk.join("Cargo.toml").is_file() && sdk.join("wit").is_dir(),
        "{} is not the Portico plugin SDK (no Cargo.toml and wit/ there)",
        sdk.display()
    );
    let dir = parent.join(name);
    anyhow::ensure!(
        !dir.exists(),
        "{} already exists; choose another name or remove it",
        dir.display()
    );
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(parent)
        .with_context(|| format!("writing in {}", parent.display()))?;
    for (path, text) in files(name, kind, &sdk) {
        let path = staging.path().join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::rename(staging.keep(), &dir)
        .with_context(|| format!("moving the new crate to {}", dir.display()))?;
    Ok(dir)
}

/// Every file of the new crate, by path within it.
fn files(name: &str, kind: Kind, sdk: &Path) -> Vec<(String, String)> {
    let mut files = vec![
        ("Cargo.toml".to_owned(), manifest(name, kind, sdk)),
        ("src/lib.rs".to_owned(), source(kind).to_owned()),
        ("README.md".to_owned(), readme(name, kind)),
        (".gitignore".to_owned(), "/target\n".to_owned()),
    ];
    for hook in kind.family().hooks() {
        files.push((
            format!("sample-inputs/{hook}.json"),
            hook.sample_input().to_owned(),
        ));
    }
    files
}

fn manifest(name: &str, kind: Kind, sdk: &Path) -> String {
    let feature = match kind {
        Kind::Email => "email-renderer",
        Kind::Verifier => "verifier",
    };
    // A TOML basic string: the path's backslashes and quotes escaped.
    let sdk_path = serde_json::to_string(&sdk.display().to_string()).expect("a string");
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component; rlib: the native `cargo test`.
crate-type = ["cdylib", "rlib"]

[dependencies]
# The SDK's major version is the newest interface it carries ({SDK_VERSION}.x:
# portico:plugins@{SDK_VERSION}.0.0). The path is where `portico plugin new`
# found it.
portico-plugin-sdk = {{ version = "{SDK_VERSION}", path = {sdk_path}, features = ["{feature}"] }}

# Small components: uploads are capped (4 MiB by default), and a smaller
# component compiles sooner at upload.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A plugin is its own workspace, wherever its folder is.
[workspace]
"#
    )
}

fn source(kind: Kind) -> &'static str {
    match kind {
        Kind::Email => EMAIL_SOURCE,
        Kind::Verifier => VERIFIER_SOURCE,
    }
}

fn readme(name: &str, kind: Kind) -> String {
    let file = name.replace('-', "_");
    let hooks: Vec<String> = kind
        .family()
        .hooks()
        .map(|hook| {
            format!(
                "portico plugin run target/wasm32-wasip2/release/{file}.wasm --hook {hook} --input sample-inputs/{hook}.json"
            )
        })
        .collect();
    let last_hook = kind
        .family()
        .hooks()
        .last()
        .expect("every family has a hook");
    let what = match kind {
        Kind::Email => "renders a clinic's mail (the email-rendering family)",
        Kind::Verifier => "adds a clinic's checks (the verification family)",
    };
    let try_push = match kind {
        Kind::Email => "--settings signature='The front desk'",
        Kind::Verifier => "--settings refused_domains=gmail.com",
    };
    let try_settings = match kind {
        Kind::Email => "--settings signature='Dr Ames and the front desk' --html mail.html",
        Kind::Verifier => "--settings refused_domains=gmail.com",
    };
    format!(
        "# {name}\n\n\
         A Portico plugin that {what}, written against `{INTERFACE}`.\n\n\
         ## Test, build, try\n\n\
         ```sh\n\
         cargo test                      # natively, through the SDK's test harness\n\
         portico plugin build            # the component, checked as an upload is\n\
         portico plugin watch --hook {last_hook}   # build and run again on every save\n\
         {}\n\
         ```\n\n\
         Give the clinic's settings with `--settings NAME=VALUE` (repeat it) or\n\
         `--settings-file settings.json` (an object of names to values), for example\n\
         `{try_settings}`.\n\n\
         ## Ship\n\n\
         ```sh\n\
         export PORTICO_TOKEN=...        # a staff API token of the clinic\n\
         portico plugin push --clinic https://portal.example.org/t/north --activate {try_push}\n\
         ```\n\n\
         `push` builds, checks, uploads, tries every hook on the clinic's server and\n\
         activates only when every try worked. Or upload\n\
         `target/wasm32-wasip2/release/{file}.wasm` in the clinic's console (Plugins),\n\
         where the clinic sees what the plugin reads before activating it.\n\
         `describe` in src/lib.rs declares that, and the settings it takes.\n\
         docs/plugins.md in the Portico repository describes every hook's input and\n\
         output and the limits a call runs under.\n",
        hooks.join("\n")
    )
}

const VERIFIER_SOURCE: &str = r##"//! The clinic's checks: before a code is redeemed, before portal access
//! is enabled, and before an email address is accepted.
//!
//! This one refuses addresses at the domains in the clinic's
//! `refused_domains` setting. Change it to the rules the clinic needs.

use portico_plugin_sdk::settings;
use portico_plugin_sdk::v4::verifier::{
    self, Decision, EmailAcceptance, Guest, LogLevel, PatientFact, PluginManifest,
    PortalAccess, Redemption, Setting, SettingSpec,
};

pub struct Rules;

impl Guest for Rules {
    /// What the clinic's console shows before activation: the patient facts
    /// this plugin is handed (every other one arrives as `None`) and the
    /// settings it takes, which activation checks.
    fn describe() -> PluginManifest {
        PluginManifest::reading([PatientFact::Email]).setting(
            SettingSpec::text_list("refused_domains", "Refused email domains")
                .described("Patients cannot use an address at these domains, such as gmail.com.")
                .with_default(""),
        )
    }

    fn check_redemption(_input: Redemption) -> Decision {
        Decision::Allow
    }

    fn check_portal_access(input: PortalAccess) -> Decision {
        match input.facts.email.as_deref() {
            Some(email) => check(email, &input.settings),
            None => Decision::Allow,
        }
    }

    fn check_email(input: EmailAcceptance) -> Decision {
        check(&input.email, &input.settings)
    }
}

fn check(email: &str, clinic_settings: &[Setting]) -> Decision {
    let domain = email.rsplit('@').next().unwrap_or_default().to_lowercase();
    if settings::list(clinic_settings, "refused_domains").contains(&domain) {
        verifier::log(LogLevel::Info, &format!("refused an address at {domain}"));
        Decision::Deny("Please use an address the clinic accepts.".into())
    } else {
        Decision::Allow
    }
}

portico_plugin_sdk::export_verifier!(Rules, v4);

#[cfg(test)]
mod tests {
    use super::*;
    use portico_plugin_sdk::testing;

    fn address(email: &str, refused: &str) -> EmailAcceptance {
        EmailAcceptance {
            email: email.into(),
            settings: verifier::settings(&[("refused_domains", refused)]),
        }
    }

    #[test]
    fn a_refused_domain_is_denied_and_logged() {
        let called = testing::call(|| Rules::check_email(address("mia@Gmail.com", "gmail.com\nyahoo.com")));
        assert!(matches!(called.output, Ok(Decision::Deny(_))));
        assert_eq!(called.log, [("info", "refused an address at gmail.com".to_owned())]);
    }

    #[test]
    fn other_domains_are_allowed() {
        let called = testing::call(|| Rules::check_email(address("mia@example.org", "gmail.com")));
        assert!(matches!(called.output, Ok(Decision::Allow)));
        assert!(called.log.is_empty());
    }

    #[test]
    fn it_reads_only_the_address_on_file() {
        assert_eq!(Rules::describe().reads, [PatientFact::Email]);
    }
}
"##;

const EMAIL_SOURCE: &str = r##"//! The clinic's mail, in its own words and colours. Return `Err` with a
//! message for the clinic to decline a mail: the built-in one is sent.

use portico_plugin_sdk::html;
use portico_plugin_sdk::settings;
use portico_plugin_sdk::v4::email::{
    Guest, MailContext, MailKind, PatientFact, PluginManifest, RenderedMail, SettingSpec,
};

pub struct Mail;

impl Guest for Mail {
    /// What the clinic's console shows before activation: the patient facts
    /// this plugin is handed (every other one arrives as `None`) and the
    /// settings it takes, which activation checks.
    fn describe() -> PluginManifest {
        PluginManifest::reading([PatientFact::Name]).setting(
            SettingSpec::text("signature", "Signature")
                .described("The last line of every mail; the clinic's name when left empty.")
                .with_default(""),
        )
    }

    fn render(context: MailContext) -> Result<RenderedMail, String> {
        let MailKind::AccessLink = context.kind else {
            return Err("this plugin writes only the access-link mail".into());
        };
        let link = context.link.as_deref().ok_or("the access-link mail has no link")?;
        let clinic = &context.branding.clinic_name;
        let signature = settings::get(&context.settings, "signature").unwrap_or(clinic);
        let name = context.patient_display_name.as_deref().unwrap_or("there");
        // The expiry on the clinic's clock: "2 December 2026 at 17:00 CET".
        let until = context
            .expires_local
            .as_ref()
            .map(|t| format!("The link works until {} at {} {}.", t.date, t.time, t.zone))
            .unwrap_or_default();
        let subject = format!("Your {clinic} records are ready to view");
        let text = format!(
            "Hello {name},\n\nOpen this link to set up your account and see your records:\n{link}\n{until}\n\n{signature}\n",
        );
        let html = format!(
            "<p>Hello {name},</p><p><a href=\"{link}\" style=\"color:{colour}\">Set up your account</a> to see your records. {until}</p><p>{signature}</p>",
            name = html::escape(name),
            link = html::escape(link),
            colour = html::escape(&context.branding.primary_colour),
            until = html::escape(&until),
            signature = html::escape(signature),
        );
        Ok(RenderedMail { subject, html, text })
    }
}

portico_plugin_sdk::export_email_renderer!(Mail, v4);

#[cfg(test)]
mod tests {
    use super::*;
    use portico_plugin_sdk::testing;
    use portico_plugin_sdk::v4::email::{self, Branding, LocalTime};

    fn context(kind: MailKind) -> MailContext {
        MailContext {
            kind,
            branding: Branding {
                clinic_name: "Demo Family Clinic".into(),
                primary_colour: "#7a1f5c".into(),
                accent_colour: "#f6eef3".into(),
                logo_url: None,
                reply_to: None,
            },
            patient_display_name: Some("Mia <Wong>".into()),
            link: Some("https://demo.example/portal/register#code=apple-brave-cider-delta".into()),
            expires_at: Some("2026-12-02T16:00:00Z".into()),
            expires_local: Some(LocalTime {
                rfc3339: "2026-12-02T17:00:00+01:00".into(),
                date: "2 December 2026".into(),
                time: "17:00".into(),
                zone: "CET".into(),
            }),
            time_zone: "Europe/Berlin".into(),
            locale: "en-GB".into(),
            settings: email::settings(&[("signature", "Dr Ames")]),
            portal_url: "https://demo.example/portal".into(),
            details: Vec::new(),
        }
    }

    #[test]
    fn the_access_link_mail_carries_the_link_the_expiry_and_the_signature() {
        let mail = testing::call(|| Mail::render(context(MailKind::AccessLink))).output.unwrap().unwrap();
        assert_eq!(mail.subject, "Your Demo Family Clinic records are ready to view");
        assert!(mail.text.contains("#code=apple-brave-cider-delta"));
        assert!(mail.text.contains("until 2 December 2026 at 17:00 CET"), "{}", mail.text);
        assert!(mail.html.contains("Mia &lt;Wong&gt;"), "names are escaped: {}", mail.html);
        assert!(mail.text.ends_with("Dr Ames\n"));
    }

    #[test]
    fn other_mail_is_left_to_the_built_in_one() {
        let declined = testing::call(|| Mail::render(context(MailKind::PasswordReset))).output.unwrap();
        assert!(declined.is_err());
    }
}
"##;

/// A plugin crate, as cargo reads its manifest.
pub struct Package {
    pub name: String,
    /// Where cargo puts the build's output (`CARGO_TARGET_DIR` and the
    /// workspace taken into account).
    pub target_dir: PathBuf,
}

impl Package {
    pub fn read(manifest: &Path) -> anyhow::Result<Self> {
        let metadata = metadata(manifest)?;
        let root = metadata["resolve"]["root"].as_str();
        let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
        let package = packages
            .iter()
            .find(|p| root.is_none_or(|root| p["id"] == root))
            .or_else(|| packages.first())
            .with_context(|| format!("{} names no package", manifest.display()))?;
        Ok(Self {
            name: package["name"].as_str().unwrap_or_default().to_owned(),
            target_dir: PathBuf::from(
                metadata["target_directory"]
                    .as_str()
                    .context("cargo metadata names no target directory")?,
            ),
        })
    }

    /// The component a release build for wasm32-wasip2 makes.
    pub fn component(&self) -> PathBuf {
        self.target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", self.name.replace('-', "_")))
    }
}

fn metadata(manifest: &Path) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        manifest.is_file(),
        "{} not found: run this in a plugin's folder, or name the folder",
        manifest.display()
    );
    let output = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("running cargo metadata (is Rust installed?)")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo could not read {}: {}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_plugin_is_written_against_the_newest_interface() {
        let newest = portico_plugins::InterfaceVersion::latest();
        assert_eq!(INTERFACE, newest.package);
        assert!(
            newest
                .package
                .starts_with(&format!("portico:plugins@{SDK_VERSION}."))
        );
        for kind in [Kind::Email, Kind::Verifier] {
            assert!(source(kind).contains(", v4);"), "{kind:?} exports with v4");
        }
    }

    #[test]
    fn names_are_checked_before_anything_is_written() {
        let parent = tempfile::tempdir().unwrap();
        let sdk = bundled_sdk().unwrap();
        for bad in [
            "My Rule",
            "",
            "-x",
            "rule-",
            "r_u",
            "2fa-rule",
            &"r".repeat(65),
        ] {
            assert!(
                create(parent.path(), bad, Kind::Verifier, &sdk).is_err(),
                "{bad}"
            );
        }
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_new_crate_has_its_kinds_samples_and_refuses_to_overwrite() {
        let parent = tempfile::tempdir().unwrap();
        let sdk = bundled_sdk().unwrap();
        let dir = create(parent.path(), "my-rule", Kind::Verifier, &sdk).unwrap();
        for file in [
            "Cargo.toml",
            "src/lib.rs",
            "README.md",
            "sample-inputs/check-email.json",
            "sample-inputs/check-redemption.json",
            "sample-inputs/check-portal-access.json",
        ] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        assert!(!dir.join("sample-inputs/render-email.json").exists());
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(r#"features = ["verifier"]"#),
            "{manifest}"
        );
        assert!(manifest.contains(&format!("{:?}", sdk.display().to_string())));
        // Nothing but the crate is left in the parent.
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
        let again = create(parent.path(), "my-rule", Kind::Email, &sdk).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }
}
