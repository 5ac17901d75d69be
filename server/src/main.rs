use clap::Parser;
use portico_server::cli::{self, Cli, Command};
use portico_server::config::Config;
use portico_server::startup::{Application, shutdown_signal};
use portico_server::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Cli::parse();
    let config = Config::load(args.config.as_deref())?;
    telemetry::init(config.log_format());
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        command => cli::run(config, command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let storage = config.database()?.describe();
    let mut app = Application::build(config).await?;
    let base = app.public_base();
    tracing::info!(address = %app.addr(), storage = %storage, "serving");
    println!("Portico is serving at {base} ({storage})");
    println!("  API documentation: {base}/api/docs");
    println!("  Mail goes to {}", app.mail_destination());
    if let Some(demo) = app.take_demo_credentials() {
        // Printed on standard output, once, on the start that created them;
        // never logged.
        println!();
        println!("  A demo clinic was created. Log in to its console as its owner:");
        println!("    console:   {base}/t/demo/console/");
        println!("    email:     {}", demo.owner_email);
        println!("    password:  {}", demo.owner_password);
        println!("    (two-step sign-in is off in this demo clinic, so no phone is needed;");
        println!("     new clinics require it: try it from your name in the console's bar)");
        println!("  and to its patient portal as the patient Mia Wong:");
        println!("    portal:    {base}/t/demo/portal/");
        println!(
            "    email:     {}",
            portico_server::demo::DEMO_PATIENT_EMAIL
        );
        println!("    password:  {}", demo.patient_password);
        println!("    operator API token: {}", demo.operator_token);
        println!("  These are shown only now. To set a new password later:");
        println!(
            "    cargo run -- reset-password --tenant demo --email {}",
            demo.owner_email
        );
    }
    app.run(shutdown_signal()).await?;
    Ok(())
}
