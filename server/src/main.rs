//! `tollswitch`: the softswitch binary and its operator CLI.

mod sip_check;
// The call engine drives these; until it lands only the tests do.
#[allow(dead_code)]
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sip {
            command: SipCommand::Check { print, files },
        } => sip_check::run(&files, print),
    }
}
