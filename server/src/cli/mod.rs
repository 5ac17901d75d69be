//! The operator command line: `portico` with no arguments serves; the
//! subcommands run one operator task against the configured database and
//! exit.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portico_tenants::Services;
use portico_tenants::audit::ClientInfo;
use portico_tenants::auth::PasswordHasher;
use portico_tenants::domain::{DisplayName, EmailAddress, NewPassword, Slug, Timestamp};
use portico_tenants::operators::Operator;
use portico_tenants::registry::TenantStatus;
use portico_tenants::storage::{Database, migrate_only};

use crate::config::Config;
use crate::demo::generate_password;

mod plugin;
mod synthetic;

pub use plugin::PluginCommand;
pub use synthetic::SyntheticCommand;

#[derive(Debug, Parser)]
#[command(
    name = "portico",
    version,
    about = "Portico: clinics give their patients online access to their records."
)]
pub struct Cli {
    /// A TOML configuration file (default: ./portico.toml when present).
    #[arg(long, global = true, env = "PORTICO_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal, the console and the API (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Create, list, suspend or resume clinics.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create a clinic's first owner.
    CreateOwner {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Generated and printed when not given.
        #[arg(long)]
        password: Option<String>,
    },
    /// Set a new password for a staff member and end their sessions.
    ResetPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Generated and printed when not given.
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove every second factor and recovery code of a staff member (an
    /// owner who lost their phone, with no other owner to reset it); their
    /// sessions end. Recorded in the clinic's audit trail.
    ResetSecondFactors {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
    /// Create a token for the operator API; it is printed once.
    OperatorToken {
        #[arg(long)]
        name: String,
    },
    /// Work on a plugin locally, with the server's sandbox and limits.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Check a clinic's audit trail against its Merkle log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Synthetic clinics for capacity tests, in a database of their own.
    #[command(subcommand)]
    Synthetic(SyntheticCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the clinic's audit log and check that every event is the
    /// one logged at its place, none is missing, none was written around
    /// the log, and every signed tree head holds. With `--tenant`, from the
    /// database; with `--export` and `--head`, offline from an export
    /// alone. Exits 1, naming the first event that does not hold, when the
    /// trail was tampered with.
    Verify {
        /// The clinic (its slug), checked in the database.
        #[arg(long, required_unless_present = "export", conflicts_with = "export")]
        tenant: Option<String>,
        /// An export (`GET /api/v1/audit/export`, or the console's proof
        /// bundle), checked without a database.
        #[arg(long, requires = "head")]
        export: Option<PathBuf>,
        /// A signed head kept apart from the export (`GET
        /// /api/v1/audit/heads/{id}`): the export must hold it.
        #[arg(long, requires = "export")]
        head: Option<PathBuf>,
        /// Trust only heads signed by this Ed25519 public key (hex), as
        /// the platform publishes at `/.well-known/portico-audit-key`.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign the clinic's tree head now and print it (JSON), as the server
    /// does every hour the log grew.
    Sign {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        domain: Option<String>,
        /// Let staff sign in with a password alone until an owner turns
        /// two-step sign-in on in the clinic's settings.
        #[arg(long)]
        without_staff_second_factor: bool,
    },
    List,
    Suspend {
        #[arg(long)]
        slug: String,
    },
    Resume {
        #[arg(long)]
        slug: String,
    },
}

fn cli_operator() -> Operator {
    Operator { name: "cli".into() }
}

async fn services(config: &Config) -> anyhow::Result<Services> {
    let db = Database::open(&config.database()?).await?;
    let code_key = config.code_key()?;
    let audit_key = config.audit_key(&code_key)?;
    Ok(Services::new(
        db,
        PasswordHasher::new(config.hash_concurrency()),
        config.auth_settings(),
        code_key,
        config.plugin_host()?,
    )
    .with_audit_key(audit_key))
}

fn password_or_generated(given: Option<String>) -> anyhow::Result<(NewPassword, Option<String>)> {
    match given {
        Some(p) => Ok((NewPassword::parse(p)?, None)),
        None => {
            let p = generate_password();
            Ok((NewPassword::parse(p.clone())?, Some(p)))
        }
    }
}

/// Runs one operator command.
pub async fn run(config: Config, command: Command) -> anyhow::Result<()> {
    let client = ClientInfo::new(None, Some("portico-cli".into()));
    match command {
        Command::Plugin(command) => {
            let code = plugin::run(&config, command)?;
            if code != 0 {
                std::process::exit(code);
            }
        }
        Command::Serve => unreachable!("serving is handled by main"),
        Command::Migrate => {
            migrate_only(&config.database()?).await?;
            println!("database is up to date ({})", config.database()?.describe());
        }
        Command::Tenant(TenantCommand::Create {
            slug,
            name,
            domain,
            without_staff_second_factor,
        }) => {
            let s = services(&config).await?;
            let t = s
                .create_tenant(
                    &cli_operator(),
                    &Slug::parse(&slug)?,
                    &DisplayName::parse("name", &name)?,
                    domain.as_deref(),
                    !without_staff_second_factor,
                    &client,
                )
                .await?;
            println!("created clinic {} ({})", t.slug, t.display_name);
        }
        Command::Tenant(TenantCommand::List) => {
            let s = services(&config).await?;
            for t in s.list_tenants().await? {
                println!("{}\t{}\t{}", t.slug, t.status.as_str(), t.display_name);
            }
        }
        Command::Tenant(TenantCommand::Suspend { slug }) => {
            let s = services(&config).await?;
            s.set_tenant_status(&cli_operator(), &slug, TenantStatus::Suspended, &client)
                .await?;
            println!("suspended {slug}");
        }
        Command::Tenant(TenantCommand::Resume { slug }) => {
            let s = services(&config).await?;
            s.set_tenant_status(&cli_operator(), &slug, TenantStatus::Active, &client)
                .await?;
            println!("resumed {slug}");
        }
        Command::CreateOwner {
            tenant,
            email,
            name,
            password,
        } => {
            let s = services(&config).await?;
            let t = s.find_tenant(&tenant).await?;
            let (password, generated) = password_or_generated(password)?;
            let owner = s
                .create_owner(
                    &cli_operator(),
                    &t,
                    &EmailAddress::parse(&email)?,
                    &DisplayName::parse("name", &name)?,
                    &password,
                    &client,
                )
                .await?;
            println!(
                "created owner {} of {}; they choose their own password at the first login",
                owner.email, t.slug
            );
            if let Some(p) = generated {
                println!("password: {p}");
            }
        }
        Command::ResetPassword {
            tenant,
            email,
            password,
        } => {
            let s = services(&config).await?;
            let t = s.find_tenant(&tenant).await?;
            let (password, generated) = password_or_generated(password)?;
            let caller = cli_operator().caller(t, &client);
            let member = s
                .staff_reset_password(&caller, &EmailAddress::parse(&email)?, &password)
                .await?;
            println!(
                "password reset for {}; their sessions have ended, and they choose their own at the next login",
                member.email
            );
            if let Some(p) = generated {
                println!("password: {p}");
            }
        }
        Command::ResetSecondFactors { tenant, email } => {
            let s = services(&config).await?;
            let t = s.find_tenant(&tenant).await?;
            let caller = cli_operator().caller(t, &client);
            let removed = s
                .staff_factors_reset_by_operator(&caller, &EmailAddress::parse(&email)?)
                .await?;
            println!(
                "{removed} second factor(s) of {email} removed, with their recovery codes; their sessions have ended. \
                 Where the clinic requires two-step sign-in, they set up a new authenticator app at their next login."
            );
        }
        Command::Audit(AuditCommand::Verify {
            tenant,
            export,
            head,
            public_key,
        }) => {
            let (name, verdict) = match (tenant, export, head) {
                (Some(tenant), _, _) => {
                    let s = services(&config).await?;
                    // As the server does at its start: a clinic whose log
                    // has not begun yet (just upgraded) begins it now.
                    s.start_audit_ledgers().await?;
                    let t = s.find_tenant(&tenant).await?;
                    let caller = cli_operator().caller(t, &client);
                    eprintln!("reading the audit trail of {tenant} and its signed heads…");
                    (tenant, s.audit_verify(&caller).await?)
                }
                (None, Some(export), Some(head)) => {
                    let verdict = verify_export(&export, &head, public_key.as_deref())?;
                    (export.display().to_string(), verdict)
                }
                _ => anyhow::bail!("give --tenant SLUG, or --export FILE with --head FILE"),
            };
            match verdict {
                Ok(log) => {
                    println!(
                        "the audit trail of {name} verifies: {} events, root {}",
                        log.size,
                        log.root_hex()
                    );
                    if log.summarised > 0 {
                        println!(
                            "events 1 to {} are summarised by the signed head at that size",
                            log.summarised
                        );
                    }
                    match &log.latest_head {
                        Some(h) => println!(
                            "{} signed head(s) hold; the newest covers {} events, signed at {} by key {}",
                            log.heads_checked,
                            h.head.size,
                            Timestamp::from_unix_millis(h.head.signed_at),
                            h.key_id
                        ),
                        None => println!("no signed head covers it yet"),
                    }
                }
                Err(tampering) => {
                    eprintln!("the audit trail of {name} does NOT verify: {tampering}");
                    if let Some(seq) = tampering.first_bad_seq() {
                        eprintln!("first event that cannot be trusted: {seq}");
                    }
                    std::process::exit(1);
                }
            }
        }
        Command::Audit(AuditCommand::Sign { tenant }) => {
            let s = services(&config).await?;
            let t = s.find_tenant(&tenant).await?;
            let caller = cli_operator().caller(t, &client);
            let head = s.sign_audit_head(&caller).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&portico_tenants::ledger::HeadJson::from(&head))?
            );
        }
        Command::Synthetic(SyntheticCommand::Load(args)) => synthetic::load(&config, args).await?,
        Command::OperatorToken { name } => {
            let s = services(&config).await?;
            let token = s.create_operator_token(&name).await?;
            println!("operator token for {name} (shown once): {}", token.expose());
        }
    }
    Ok(())
}

/// `portico audit verify --export`: checks an export against a head kept
/// apart from it, with no database.
pub fn verify_export(
    export: &std::path::Path,
    head: &std::path::Path,
    public_key: Option<&str>,
) -> anyhow::Result<Result<portico_tenants::ledger::LedgerCheck, portico_tenants::ledger::Tampering>>
{
    use anyhow::Context;
    use portico_tenants::ledger::{HeadJson, LedgerExport, heads::key_id};

    let text =
        std::fs::read_to_string(export).with_context(|| format!("reading {}", export.display()))?;
    eprintln!("reading the export ({} bytes)…", text.len());
    let export = LedgerExport::parse(&text).map_err(|e| anyhow::anyhow!("the export: {e}"))?;
    let head_text =
        std::fs::read_to_string(head).with_context(|| format!("reading {}", head.display()))?;
    let trusted: HeadJson = serde_json::from_str(&head_text)
        .with_context(|| format!("{} is not a signed head (JSON)", head.display()))?;
    let trusted = trusted
        .to_head()
        .map_err(|e| anyhow::anyhow!("the head: {e}"))?;
    let keys = match public_key {
        Some(hex_key) => {
            let bytes: [u8; 32] = hex::decode(hex_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("--public-key must be 64 hexadecimal characters"))?;
            vec![key_id(&bytes)]
        }
        None => {
            eprintln!(
                "trusting key {} from the head file; compare it with /.well-known/portico-audit-key, or pin it with --public-key",
                trusted.key_id
            );
            Vec::new()
        }
    };
    eprintln!(
        "checking events {} to {} against {} signed head(s)…",
        export.before.size() + 1,
        export.head.head.size,
        export.heads.len() + 1
    );
    export
        .check(&trusted, &keys)
        .map_err(|e| anyhow::anyhow!("{e}"))
}
