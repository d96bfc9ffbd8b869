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
    /// Write no CDR for attempts with zero hold time (unanswered calls).
    pub cdr_skip_zero_hold: Option<bool>,
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
    pub cdr_skip_zero_hold: bool,
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
            cdr_skip_zero_hold: false,
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
        if let Some(v) = file.cdr_skip_zero_hold {
            c.cdr_skip_zero_hold = v;
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
        if args.cdr_skip_zero_hold {
            c.cdr_skip_zero_hold = true;
        }
        if let Some(v) = args.reload_interval {
            c.reload_interval = Duration::from_secs(v);
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
    /// Applies the demo (when asked) and the file (when given and `apply_file`), then reads the
    /// database.
    pub async fn load(&self, demo: bool, apply_file: bool) -> anyhow::Result<Provisioning> {
        if demo {
            let demo: Provisioning =
                toml::from_str(crate::DEMO).map_err(|e| anyhow::anyhow!("built-in demo: {e}"))?;
            self.storage.apply(&demo).await?;
            println!("applied the demo provisioning");
        }
        if let Some(path) = self.file.as_ref().filter(|_| apply_file) {
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

/// Follows changes made outside the running switch: reloads provisioning on SIGHUP and when
/// the database's provisioning revision changes, and applies payments and adjustments entered
/// by the CLI or API to the live balances (checked every second).
pub async fn reload_loop(
    source: ProvisioningSource,
    switch: Arc<Switch>,
    mut payments: ExternalLedger,
) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut seen = source.storage.provisioning_revision().await.ok();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_check = tokio::time::Instant::now();
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
        if let Some(billing) = &switch.billing {
            payments.poll(&source.storage, billing).await;
        }
        if !forced {
            if source.every.is_zero() || last_check.elapsed() < source.every {
                continue;
            }
            last_check = tokio::time::Instant::now();
            let now = source.storage.provisioning_revision().await.ok();
            if now.is_none() || now == seen {
                continue;
            }
        }
        // SIGHUP re-applies the file; a change made in the database is taken as it is.
        match source.load(false, forced).await {
            Ok(p) => match switch.reload(&p).await {
                Ok(()) => println!("provisioning reloaded"),
                Err(e) => eprintln!("provisioning not reloaded: {e:#}"),
            },
            Err(e) => eprintln!("provisioning not reloaded: {e:#}"),
        }
        seen = source.storage.provisioning_revision().await.ok();
    }
}

/// How often target host names are resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(60);

/// Resolves the routing gateways' target host names (A and AAAA through the system resolver,
/// RFC 3263 §4.2; no NAPTR/SRV) at start, after every provisioning reload and every `every`,
/// and hands the addresses to the engine shards when they change. A name that stops
/// resolving keeps its last addresses: a resolver outage does not take gateways down.
pub async fn resolver_loop(switch: Arc<Switch>, every: Duration) {
    let mut current: Arc<tollswitch_b2bua::Resolved> = Arc::default();
    loop {
        let mut next = tollswitch_b2bua::Resolved::new();
        for (host, port) in switch.target_host_names() {
            if next.contains_key(&host) {
                continue;
            }
            let lookup = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::lookup_host((host.clone(), port)),
            )
            .await;
            let mut ips: Vec<std::net::IpAddr> = Vec::new();
            if let Ok(Ok(addrs)) = lookup {
                for ip in addrs.map(|a| a.ip()) {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
            if ips.is_empty() {
                match current.get(&host) {
                    Some(old) => {
                        next.insert(host, old.clone());
                    }
                    None => {
                        eprintln!("target host {host} does not resolve; its gateway is skipped")
                    }
                }
                continue;
            }
            if current.get(&host) != Some(&ips) {
                let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
                println!("target host {host} resolves to {}", list.join(", "));
            }
            next.insert(host, ips);
        }
        if *current != next {
            current = Arc::new(next);
            switch.set_resolved(current.clone());
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = switch.resolve_now.notified() => {}
        }
    }
}

/// Payments and adjustments already applied to the live balances. PostgreSQL may commit
/// ledger rows out of sequence order, so a window behind the newest sequence number seen is
/// read again and entries are recognised by id.
pub struct ExternalLedger {
    newest: i64,
    applied: std::collections::HashMap<String, i64>,
}

/// How far behind the newest sequence number entries are read again.
pub const LEDGER_WINDOW: i64 = 1000;

impl ExternalLedger {
    /// Starts from the snapshot the live balances were loaded from.
    pub fn new(live: &tollswitch_storage::LiveBalances) -> ExternalLedger {
        ExternalLedger {
            newest: live.ledger_seq,
            applied: live
                .recent_external
                .iter()
                .map(|(seq, id)| (id.clone(), *seq))
                .collect(),
        }
    }

    async fn poll(
        &mut self,
        storage: &tollswitch_storage::Storage,
        billing: &tollswitch_b2bua::Billing,
    ) {
        let from = self.newest.saturating_sub(LEDGER_WINDOW);
        let Ok(entries) = storage.external_ledger_since(from, 10_000).await else {
            return;
        };
        for (seq, e) in entries {
            if self.applied.contains_key(&e.id) {
                continue;
            }
            if billing.apply_external(&e.account, e.amount) {
                println!(
                    "balance of {} changed by {} ({})",
                    e.account, e.amount, e.id
                );
            }
            self.applied.insert(e.id, seq);
            self.newest = self.newest.max(seq);
        }
        let floor = self.newest.saturating_sub(LEDGER_WINDOW);
        self.applied.retain(|_, s| *s > floor);
    }
}
