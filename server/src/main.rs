//! `tollswitch`: the softswitch binary and its operator CLI.

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
    /// SIP tools.
    Sip {
        #[command(subcommand)]
        command: SipCommand,
    },
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

#[derive(Debug, clap::Args)]
struct ServeArgs {
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
        Command::Sip {
            command: SipCommand::Check { print, files },
        } => sip_check::run(&files, print),
    }
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let Some(path) = args.provisioning else {
        eprintln!("tollswitch serve: give --provisioning FILE");
        return ExitCode::from(2);
    };
    let provisioning = match std::fs::read_to_string(&path)
        .map_err(anyhow::Error::from)
        .and_then(|text| toml::from_str(&text).map_err(anyhow::Error::from))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tollswitch serve: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
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
