//! `tollswitch user add|list` and `tollswitch token create`: API and console users.

use crate::DbArgs;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::SystemTime;
use tollswitch_storage::Role;

/// User administration.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user, or set an existing user's password and role (which ends that user's console
    /// sessions). The password is read from TOLLSWITCH_PASSWORD or, when that is unset, from the
    /// first line of standard input; it must be at least SERVER_PASSWORD_LENGTH characters.
    Add {
        /// Login name.
        name: String,
        /// admin, operator (provisioning, payments, parameters) or viewer (read-only).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// API tokens.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (shown once; only its hash is stored).
    Create {
        /// The user the token acts as.
        user: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        label: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn password() -> Result<String, String> {
    if let Ok(p) = std::env::var("TOLLSWITCH_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs a `user` subcommand.
pub async fn run_user(command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Add { name, role, db } => {
            let pw = match password() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("tollswitch user add: {e}");
                    return ExitCode::from(2);
                }
            };
            let storage = match db.connect().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tollswitch user add: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let min = match storage.parameters().await {
                Ok(p) => match p.value("SERVER_PASSWORD_LENGTH") {
                    Some(tollswitch_model::params::ParamValue::Int(v)) => *v,
                    _ => 8,
                },
                Err(e) => {
                    eprintln!("tollswitch user add: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if i64::try_from(pw.chars().count()).unwrap_or(i64::MAX) < min {
                eprintln!(
                    "tollswitch user add: password: at least {min} characters (SERVER_PASSWORD_LENGTH)"
                );
                return ExitCode::from(2);
            }
            let hash = match tollswitch_api::auth::hash_password(&pw) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("tollswitch user add: {}", e.message);
                    return ExitCode::FAILURE;
                }
            };
            // A new password ends the sessions opened with the old one.
            let done = match storage.put_user(&name, &hash, role, now_ms()).await {
                Ok(()) => storage.delete_sessions_of(&name).await.map(|_| ()),
                Err(e) => Err(e),
            };
            let _ = storage
                .audit(
                    now_ms(),
                    "cli",
                    "user.put",
                    &name,
                    None,
                    Some(role.as_str()),
                )
                .await;
            storage.close().await;
            match done {
                Ok(()) => {
                    println!("user {name} is {role}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("tollswitch user add: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        UserCommand::List { db } => {
            let storage = match db.connect().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tollswitch user list: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let users = storage.users().await;
            storage.close().await;
            match users {
                Ok(users) => {
                    for u in users {
                        println!("{}\t{}", u.name, u.role);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("tollswitch user list: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Runs a `token` subcommand.
pub async fn run_token(command: TokenCommand) -> ExitCode {
    let TokenCommand::Create { user, label, db } = command;
    let storage = match db.connect().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollswitch token create: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let u = storage
            .user(&user)
            .await
            .map_err(|e| (ExitCode::FAILURE, e.to_string()))?
            .ok_or_else(|| (ExitCode::from(2), format!("user: no user named {user:?}")))?;
        let (token, digest) =
            tollswitch_api::auth::new_token().map_err(|e| (ExitCode::FAILURE, e.message))?;
        storage
            .add_token(u.id, &digest, &label, now_ms())
            .await
            .map_err(|e| (ExitCode::FAILURE, e.to_string()))?;
        let _ = storage
            .audit(now_ms(), "cli", "token.create", &user, None, Some(&label))
            .await;
        Ok::<String, (ExitCode, String)>(token)
    }
    .await;
    storage.close().await;
    match result {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err((code, e)) => {
            eprintln!("tollswitch token create: {e}");
            code
        }
    }
}
