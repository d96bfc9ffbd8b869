//! `tollswitch provision apply FILE [--dry-run]` and `tollswitch provision export`: the
//! declarative TOML provisioning file (docs/PROVISIONING.md) against the database.

use crate::DbArgs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tollswitch_model::provisioning::Provisioning;
use tollswitch_storage::StorageError;

#[derive(Debug, clap::Subcommand)]
pub enum ProvisionCommand {
    /// Validate a provisioning file and make the database hold exactly what it says (objects
    /// missing from the file are removed). All or nothing: on any error nothing changes and
    /// every problem is printed.
    Apply {
        /// The TOML file (`-` reads standard input).
        file: PathBuf,
        /// Validate and show what would change, writing nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the current provisioning as a TOML file in the `apply` format.
    Export {
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(command: ProvisionCommand) -> ExitCode {
    match command {
        ProvisionCommand::Apply { file, dry_run, db } => apply(&file, dry_run, &db).await,
        ProvisionCommand::Export { db } => export(&db).await,
    }
}

fn read_file(file: &Path) -> std::io::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
    }
}

/// Reads and parses a provisioning file; the error text names the file (and, for TOML
/// errors, the line and column).
pub fn read(file: &Path) -> Result<Provisioning, String> {
    let text = read_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

async fn apply(file: &Path, dry_run: bool, db: &DbArgs) -> ExitCode {
    let p = match read(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Validate before touching the database: a bad file needs no connection to be reported.
    if let Err(errors) = p.validate() {
        report_invalid(file, &errors);
        return ExitCode::FAILURE;
    }
    let storage = match db.connect().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = if dry_run {
        storage.plan(&p).await
    } else {
        storage.apply(&p).await
    };
    storage.close().await;
    match result {
        Ok(summary) => {
            if dry_run {
                println!("{} is valid; applying it would change:", file.display());
            } else if summary.is_noop() {
                println!("{}: the database already matches", file.display());
            } else {
                println!("applied {}:", file.display());
            }
            println!("{summary}");
            if dry_run {
                println!("dry run: nothing was written");
            }
            ExitCode::SUCCESS
        }
        Err(StorageError::Invalid(errors)) => {
            report_invalid(file, &errors);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was written");
            ExitCode::FAILURE
        }
    }
}

fn report_invalid(file: &Path, errors: &[tollswitch_model::provisioning::ProvisioningError]) {
    let n = errors.len();
    eprintln!(
        "error: {} is invalid ({n} error{}); nothing was written",
        file.display(),
        if n == 1 { "" } else { "s" }
    );
    for e in errors {
        // `kind "name": field: message`
        eprintln!("  {e}");
    }
}

async fn export(db: &DbArgs) -> ExitCode {
    let storage = match db.connect().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = storage.export().await;
    storage.close().await;
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match to_toml(&p) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the provisioning as TOML: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The provisioning file text for `p`: one `[[kind]]` section per object with its fields in
/// declaration order, lists and rules as inline values, one rate per line. Parses back to `p`.
pub fn to_toml(p: &Provisioning) -> Result<String, toml::ser::Error> {
    let mut out = String::from(
        "# Tollswitch provisioning (tollswitch provision export).\n\
         # Apply with: tollswitch provision apply FILE\n",
    );
    if !p.parameters.is_empty() {
        out.push_str("\n[parameters]\n");
        for (name, value) in &p.parameters {
            line(&mut out, name, &toml::Value::String(value.clone()));
        }
    }
    section(&mut out, "account", &p.accounts)?;
    section(&mut out, "mapping_gateway", &p.mapping_gateways)?;
    section(&mut out, "routing_gateway", &p.routing_gateways)?;
    section(&mut out, "gateway_group", &p.gateway_groups)?;
    for t in &p.rate_tables {
        out.push_str("\n[[rate_table]]\n");
        line(&mut out, "name", &toml::Value::String(t.name.clone()));
        line(
            &mut out,
            "currency",
            &toml::Value::String(t.currency.to_string()),
        );
        if !t.rates.is_empty() {
            out.push_str("rate = [\n");
            for r in &t.rates {
                let v = toml::Value::try_from(r)?;
                out.push_str(&format!("    {v},\n"));
            }
            out.push_str("]\n");
        }
    }
    Ok(out)
}

fn section<T: serde::Serialize>(
    out: &mut String,
    kind: &str,
    items: &[T],
) -> Result<(), toml::ser::Error> {
    for item in items {
        out.push_str(&format!("\n[[{kind}]]\n"));
        for (k, v) in toml::Table::try_from(item)? {
            line(out, &k, &v);
        }
    }
    Ok(())
}

/// `key = value` with the key quoted when it is not a bare TOML key.
fn line(out: &mut String, key: &str, value: &toml::Value) {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        out.push_str(&format!("{key} = {value}\n"));
    } else {
        out.push_str(&format!(
            "{} = {value}\n",
            toml::Value::String(key.to_owned())
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_text_parses_back_to_the_same_set() {
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo.toml");
        let mut p = read(Path::new(demo)).unwrap();
        p.validate().unwrap();
        // Exercise what the demo lacks: quoted keys, nested rules, digest, time rules.
        p.mapping_gateways[0].digest = Some(tollswitch_model::provisioning::DigestCredentials {
            username: "u \"quoted\"".into(),
            password: "p\\w".into(),
        });
        p.mapping_gateways[0].caller_rules.push(
            tollswitch_model::provisioning::NumberRule::Regex {
                pattern: "^1(\\d{10})$".into(),
                replacement: "001$1".into(),
            },
        );
        p.routing_gateways[0].time_rules = toml::from_str::<toml::Table>(
            "r = [{ days = [\"mon\"], from = \"22:00\", to = \"06:00\", utc_offset = \"+08:00\" }]",
        )
        .unwrap()["r"]
            .clone()
            .try_into()
            .unwrap();
        let text = to_toml(&p).unwrap();
        let back: Provisioning = toml::from_str(&text).unwrap();
        assert_eq!(back, p, "{text}");
        assert!(
            text.contains("\nrate = [\n    { prefix = \"1\", area = \"USA/Canada\""),
            "{text}"
        );
        assert!(text.contains("sources = [\"127.0.0.1\"]\n"), "{text}");
    }
}
