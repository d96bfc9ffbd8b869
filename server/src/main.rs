//! `tollswitch`: the softswitch binary and its operator CLI.

mod provision;
mod rates;
mod route_explain;
mod serve;
mod sip_check;
mod transport;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Tollswitch: an open-source class-4 VoIP softswitch.
#[derive(Debug, Parser)]
#[command(name = "tollswitch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the softswitch: SIP over UDP and TCP, the call engine, routing.
    Serve(ServeArgs),
    /// Routing tools.
    Route {
        #[command(subcommand)]
        command: RouteCommand,
    },
    /// SIP tools.
    Sip {
        #[command(subcommand)]
        command: SipCommand,
    },
    /// Provisioning as a TOML file: apply one to the database, export the database as one.
    Provision {
        #[command(subcommand)]
        command: provision::ProvisionCommand,
    },
    /// Rate tables: bulk-import rates from CSV.
    Rates {
        #[command(subcommand)]
        command: rates::RatesCommand,
    },
}

/// Where the database is: `--data DIR` (SQLite inside DIR) or `--database URL`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Data directory; the SQLite database is DIR/tollswitch.db (created when missing).
    #[arg(long, value_name = "DIR", default_value = "./tollswitch-data")]
    pub data: PathBuf,
    /// Database URL instead of --data: `sqlite:PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub database: Option<String>,
}

impl DbArgs {
    /// The database URL these arguments name.
    pub fn url(&self) -> anyhow::Result<String> {
        match &self.database {
            Some(url) => Ok(url.clone()),
            None => Ok(tollswitch_storage::sqlite_url_for_data_dir(&self.data)?),
        }
    }

    /// Connects (creating and migrating the database when needed).
    pub async fn connect(&self) -> anyhow::Result<tollswitch_storage::Storage> {
        Ok(tollswitch_storage::Storage::connect(&self.url()?).await?)
    }
}

/// A small runtime for the one-shot database commands.
fn block_on<F: std::future::Future<Output = ExitCode>>(what: &str, f: F) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("tollswitch {what}: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Subcommand)]
enum SipCommand {
    /// Parse each file as one SIP message; print `ok <method|code> <Call-ID>` or
    /// `invalid <reason>` per file. Exit status 0 only when every file parsed.
    Check {
        /// Print each valid message re-serialised after its line.
        #[arg(long)]
        print: bool,
        /// Files holding one message each (LF line ends are read as CRLF).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RouteCommand {
    /// Explain the routing decision for one call from the current database.
    Explain(route_explain::ExplainArgs),
}

/// The demo provisioning, built in so `serve --demo` works from any directory.
const DEMO: &str = include_str!("../../examples/demo.toml");

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Apply the built-in demo provisioning (examples/demo.toml) to the database first.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    db: DbArgs,
    /// SIP listen address (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5060")]
    sip: std::net::SocketAddr,
    /// Run from this provisioning file (TOML, the `provision apply` format) instead of the
    /// database.
    #[arg(long)]
    provisioning: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Route {
            command: RouteCommand::Explain(args),
        } => block_on("route explain", route_explain::run(args)),
        Command::Sip {
            command: SipCommand::Check { print, files },
        } => sip_check::run(&files, print),
        Command::Provision { command } => block_on("provision", provision::run(command)),
        Command::Rates { command } => block_on("rates", rates::run(command)),
    }
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollswitch serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let provisioning = match serve_provisioning(&args).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("tollswitch serve: {e:#}");
                return ExitCode::from(2);
            }
        };
        let transports = match serve::start(&provisioning, args.sip).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("tollswitch serve: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "tollswitch listening on udp {} and tcp {}",
            fmt_addr(transports.udp_addr),
            fmt_addr(transports.tcp_addr)
        );
        shutdown_signal().await;
        println!("tollswitch stopping: {}", transports.stats_line());
        transports.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// The provisioning to serve: a file when given, else the database (after the demo when asked).
async fn serve_provisioning(
    args: &ServeArgs,
) -> anyhow::Result<tollswitch_model::provisioning::Provisioning> {
    if let Some(path) = &args.provisioning {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let storage = args.db.connect().await?;
    if args.demo {
        let demo: tollswitch_model::provisioning::Provisioning =
            toml::from_str(DEMO).map_err(|e| anyhow::anyhow!("built-in demo: {e}"))?;
        storage.apply(&demo).await?;
        println!("applied the demo provisioning");
    }
    let p = storage.load_provisioning().await?;
    storage.close().await;
    Ok(p)
}

fn fmt_addr(a: Option<std::net::SocketAddr>) -> String {
    a.map_or_else(|| String::from("-"), |a| a.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
