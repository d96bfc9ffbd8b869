//! `tollswitch`: the softswitch binary and its operator CLI.

mod billing_cli;
mod cdr_bench;
mod cdr_cli;
mod cli_support;
mod http;
mod journal;
mod node;
mod provision;
mod push;
mod rates;
mod records;
mod route_explain;
mod serve;
mod sip_check;
mod store;
mod transport;
mod users_cli;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    /// Rate one call: the rate in force for a callee and what a hold time costs.
    Rate(billing_cli::RateArgs),
    /// Accounts: payments, balance, ledger.
    Account {
        #[command(subcommand)]
        command: billing_cli::AccountCommand,
    },
    /// API and console users.
    User {
        #[command(subcommand)]
        command: users_cli::UserCommand,
    },
    /// API tokens for scripts.
    Token {
        #[command(subcommand)]
        command: users_cli::TokenCommand,
    },
    /// CDRs: search and CSV export.
    Cdr {
        #[command(subcommand)]
        command: cdr_cli::CdrCommand,
    },
    /// Traffic reports: ASR, ACD, PDD, minutes, revenue, cost, profit; final codes.
    Report {
        #[command(subcommand)]
        command: cdr_cli::ReportCommand,
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
    /// Node configuration file (TOML): listen addresses, database, data directory, shards.
    /// Precedence: built-in defaults, then this file, then TOLLSWITCH_* variables, then flags.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Apply the built-in demo provisioning (examples/demo.toml) to the database first, and
    /// create the console user admin (password tollswitch-demo) when there is none.
    #[arg(long)]
    demo: bool,
    /// Data directory; the SQLite database is DIR/tollswitch.db [default: ./tollswitch-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL instead of --data: `sqlite:PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// SIP listen address, UDP and TCP [default: 127.0.0.1:5060].
    #[arg(long, value_name = "ADDR")]
    sip: Option<std::net::SocketAddr>,
    /// HTTP listen address for /healthz, /readyz and /metrics [default: 127.0.0.1:8080];
    /// `off` disables it.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Engine shards [default: the number of CPUs].
    #[arg(long)]
    shards: Option<usize>,
    /// On SIGTERM/SIGINT, how long calls in progress may go on before they are hung up
    /// [default: 30].
    #[arg(long, value_name = "SECS")]
    drain_timeout: Option<u64>,
    /// How often the database is checked for provisioning changes made by other processes
    /// (`provision apply`, `rates import`, the API), seconds; 0 checks only on SIGHUP
    /// [default: 5].
    #[arg(long, value_name = "SECS")]
    reload_interval: Option<u64>,
    /// Write no CDR for attempts with zero hold time (unanswered calls); answered calls are
    /// always recorded.
    #[arg(long)]
    cdr_skip_zero_hold: bool,
    /// Run without balance control and without CDRs (laboratory and benchmark use: shows
    /// what billing costs). Calls are still logged on standard output.
    #[arg(long)]
    no_billing: bool,
    /// Apply this provisioning file (TOML, the `provision apply` format) to the database at
    /// start and again on SIGHUP.
    #[arg(long)]
    provisioning: Option<PathBuf>,
}

/// jemalloc: see docs/BENCHMARKS.md (memory per call, CPU per call).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its start: freed pages go back to the system after 1 s
/// instead of 10 s (RSS follows the calls up and down; no measurable CPU cost at 2,000 cps),
/// and without the intermediate "muzzy" stage. `_RJEM_MALLOC_CONF` in the environment still
/// overrides them.
// SAFETY: the one symbol jemalloc reads its built-in configuration from; a NUL-terminated
// constant that nothing writes.
#[allow(unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";

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
        Command::Rate(args) => block_on("rate", billing_cli::rate(args)),
        Command::Account { command } => block_on("account", billing_cli::run(command)),
        Command::Cdr { command } => block_on("cdr", cdr_cli::run_cdr(command)),
        Command::User { command } => block_on("user", users_cli::run_user(command)),
        Command::Token { command } => block_on("token", users_cli::run_token(command)),
        Command::Report { command } => block_on("report", cdr_cli::run_report(command)),
    }
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let node = match node::NodeConfig::resolve(&args) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("tollswitch serve: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(node.shards.max(1))
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
        match serve(args, node).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollswitch serve: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The switch's life: database, journal replay, provisioning, billing, transports, HTTP; then
/// SIGTERM/SIGINT drains calls and flushes every record before exit.
async fn serve(args: ServeArgs, node: node::NodeConfig) -> anyhow::Result<()> {
    let storage = tollswitch_storage::Storage::connect(&node.database_url()?).await?;
    let source = node::ProvisioningSource {
        storage: storage.clone(),
        file: args.provisioning.clone(),
        every: node.reload_interval,
    };
    let mut provisioning = source.load(args.demo, true).await?;
    if args.demo {
        demo_admin(&storage).await?;
    }
    let params = serve::parameters(&provisioning)?;
    let mut files = match params.cdr_file_write_interval_secs() {
        Some(secs) => Some(records::CdrFiles::new(
            &node.data.join("cdr"),
            secs,
            params.cdr_file_write_max(),
        )?),
        None => None,
    };
    let journal_dir = node.data.join("journal");
    let push_to = params.cdr_real_time_report_server().map(str::to_owned);
    let replayed = store::replay(&journal_dir, &storage, &mut files, push_to.is_some()).await?;
    if replayed > 0 {
        println!("cdr journal: {replayed} record(s) from the previous run stored");
        // Their charges moved balances: read them again.
        provisioning = source.load(false, false).await?;
    }
    let (journal, committed) = journal::Journal::start(journal::JournalOptions {
        dir: journal_dir,
        capacity: usize::try_from(params.max_cdr_pending()).unwrap_or(100_000),
        segment_records: 10_000,
        fsync: true,
        window: Duration::from_millis(4),
    })?;
    let store_stats = Arc::new(store::StoreStats::default());
    let drainer = tokio::spawn(store::drainer(
        committed,
        storage.clone(),
        files,
        store_stats.clone(),
        push_to.is_some(),
    ));
    let pusher = push_to.map(|target| {
        println!("pushing CDRs to http://{target}{}", push::PUSH_PATH);
        tokio::spawn(push::pusher(storage.clone(), target, store_stats.clone()))
    });
    let cfg = tollswitch_billing::BillingConfig::from_parameters(&params);
    let live = storage.live_balances(node::LEDGER_WINDOW).await?;
    let payments = node::ExternalLedger::new(&live);
    let (journal, billing) = if args.no_billing {
        println!("billing and CDRs are off (--no-billing)");
        (None, None)
    } else {
        (
            Some(journal),
            Some(tollswitch_b2bua::Billing::new(cfg.clone())),
        )
    };
    let records = serve::Records {
        journal,
        billing,
        cfg: Arc::new(cfg),
        print: true,
        skip_zero_hold: node.cdr_skip_zero_hold,
    };
    let options = serve::SwitchOptions {
        sip: node.sip,
        shards: node.shards,
        records,
        node: node.name.clone(),
        balances: live.balances,
    };
    let switch = Arc::new(serve::Switch::start(&provisioning, options).await?);
    let ready = Arc::new(AtomicBool::new(true));
    let http = match node.http {
        Some(addr) => Some(
            http::start(
                addr,
                switch.clone(),
                ready.clone(),
                store_stats.clone(),
                storage.clone(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("http {addr}: {e}"))?,
        ),
        None => None,
    };
    println!(
        "tollswitch listening on udp {} and tcp {}, http {}, {} engine shards",
        fmt_addr(switch.transports.udp_addr),
        fmt_addr(switch.transports.tcp_addr),
        fmt_addr(http),
        switch.transports.shards()
    );
    let reloader = tokio::spawn(node::reload_loop(source, switch.clone(), payments));
    let resolver = tokio::spawn(node::resolver_loop(switch.clone(), node::RESOLVE_EVERY));
    shutdown_signal().await;
    ready.store(false, Ordering::Relaxed);
    println!(
        "tollswitch draining: refusing new calls, {} in progress, up to {} s",
        switch.calls(),
        node.drain_timeout.as_secs()
    );
    switch.drain(node.drain_timeout).await;
    reloader.abort();
    resolver.abort();
    println!("tollswitch stopping: {}", switch.transports.stats_line());
    // The shards hold the journal's senders: once they stop, the journal closes and the
    // drainer stores what is left.
    switch.transports.shutdown().await;
    drop(switch);
    match tokio::time::timeout(Duration::from_secs(60), drainer).await {
        Ok(_) => println!(
            "cdr store: {} CDRs stored",
            store_stats.cdrs_stored.load(Ordering::Relaxed)
        ),
        Err(_) => eprintln!("cdr store: still busy after 60 s; the journal keeps the rest"),
    }
    if let Some(p) = pusher {
        // What is not pushed yet stays in the outbox for the next run.
        p.abort();
    }
    storage.close().await;
    Ok(())
}

/// The demo's console user: name and password (the README tells how to change it).
const DEMO_ADMIN: (&str, &str) = ("admin", "tollswitch-demo");

/// `serve --demo`: creates the demo admin when there is no user named admin yet, and says so.
async fn demo_admin(storage: &tollswitch_storage::Storage) -> anyhow::Result<()> {
    let (name, password) = DEMO_ADMIN;
    if storage.user(name).await?.is_some() {
        return Ok(());
    }
    let hash = tollswitch_api::auth::hash_password(password)
        .map_err(|e| anyhow::anyhow!("demo user: {}", e.message))?;
    let now = tollswitch_api::now_ms();
    storage
        .put_user(name, &hash, tollswitch_storage::Role::Admin, now)
        .await?;
    storage
        .audit(now, "demo", "user.put", name, None, Some("admin"))
        .await?;
    println!(
        "demo: created console user {name:?} with password {password:?}; change it now: \
         tollswitch user add {name} --role admin"
    );
    Ok(())
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
