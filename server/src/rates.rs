//! `tollswitch rates import TABLE FILE.csv`: replace a rate table's rates from a CSV deck
//! (columns in docs/PROVISIONING.md), all or nothing.

use crate::DbArgs;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tollswitch_storage::{ImportError, ImportOptions};

#[derive(Debug, clap::Subcommand)]
pub enum RatesCommand {
    /// Replace every rate of TABLE with the rows of a CSV file (header row: prefix, area,
    /// price, first_increment, next_increment, connect_fee, effective_from, effective_until).
    /// Every row is checked; on any error nothing is imported and the bad rows are listed.
    Import {
        /// The rate table (it must exist: create it with `provision apply`).
        table: String,
        /// The CSV file (`-` reads standard input).
        file: PathBuf,
        /// Stop after this many row errors.
        #[arg(long, default_value_t = 100, value_name = "N")]
        max_errors: usize,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(command: RatesCommand) -> ExitCode {
    match command {
        RatesCommand::Import {
            table,
            file,
            max_errors,
            db,
        } => import(&table, &file, max_errors, &db).await,
    }
}

async fn import(table: &str, file: &PathBuf, max_errors: usize, db: &DbArgs) -> ExitCode {
    // Open the file before connecting: a typo in the path should not create a database.
    let reader: Box<dyn std::io::BufRead + Send> = if file.as_os_str() == "-" {
        Box::new(BufReader::with_capacity(1 << 16, std::io::stdin()))
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(BufReader::with_capacity(1 << 16, f)),
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    };
    let storage = match db.connect().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let result = storage
        .import_rates(table, reader, ImportOptions { max_errors })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    storage.close().await;
    match result {
        Ok(s) => {
            let per_sec = if elapsed > 0.0 {
                s.imported as f64 / elapsed
            } else {
                0.0
            };
            println!(
                "imported {} rates into rate table {:?} (replaced {}) in {elapsed:.2} s \
                 ({per_sec:.0} rows/s)",
                s.imported, s.table, s.replaced
            );
            ExitCode::SUCCESS
        }
        Err(e @ ImportError::Rows { .. }) => {
            eprintln!("error: {}: {e}", file.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
