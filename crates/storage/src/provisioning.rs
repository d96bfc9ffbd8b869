//! Provisioning in the database: load, export, plan and apply (one `Any` code path).
//!
//! `apply` is declarative: after it the database holds exactly the given set. It runs in one
//! write transaction: validate → load what is there → diff by name → write only what changed →
//! remove what is gone → commit. Objects whose name survives keep their id.

use crate::{Storage, StorageError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};
use std::fmt;
use tollswitch_model::provisioning::{
    Account, GatewayGroup, MappingGateway, ObjectKind, Provisioning, Rate, RateTable,
    RoutingGateway, SourceMatch, Target,
};
use tollswitch_model::{Currency, Money};

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// Rates read per round trip while loading.
const RATE_PAGE: i64 = 20_000;
/// Rates written per multi-row INSERT by `apply` (9 parameters each).
const RATE_INSERT_ROWS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Normalisation and summary
// ---------------------------------------------------------------------------------------------

/// Puts a provisioning set in the order [`Storage::export`] returns it: every object list sorted
/// by name, rates by (prefix, effective_from). Lists inside objects (targets, rules, sources,
/// prefixes, members…) keep their order: it is meaningful or at least the operator's.
pub fn normalize(p: &mut Provisioning) {
    p.accounts.sort_by(|a, b| a.name.cmp(&b.name));
    p.mapping_gateways.sort_by(|a, b| a.name.cmp(&b.name));
    p.routing_gateways.sort_by(|a, b| a.name.cmp(&b.name));
    p.gateway_groups.sort_by(|a, b| a.name.cmp(&b.name));
    p.rate_tables.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &mut p.rate_tables {
        sort_rates(&mut t.rates);
    }
}

fn sort_rates(rates: &mut [Rate]) {
    rates.sort_by(|a, b| {
        (a.prefix.as_str(), a.effective_from).cmp(&(b.prefix.as_str(), b.effective_from))
    });
}

/// What an apply did (or, for a plan, would do) to the objects of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// New names.
    pub created: u64,
    /// Names that stay, with different contents.
    pub changed: u64,
    /// Names that stay, with the same contents.
    pub unchanged: u64,
    /// Names that are gone.
    pub removed: u64,
}

impl Counts {
    fn diff<T: PartialEq>(have: &HashMap<&str, &T>, want: &[(&str, &T)]) -> Counts {
        let mut c = Counts::default();
        for (name, w) in want {
            match have.get(name) {
                None => c.created += 1,
                Some(h) if *h == *w => c.unchanged += 1,
                Some(_) => c.changed += 1,
            }
        }
        let names: HashSet<&str> = want.iter().map(|(n, _)| *n).collect();
        c.removed = have.keys().filter(|n| !names.contains(*n)).count() as u64;
        c
    }

    /// True when nothing is created, changed or removed.
    pub fn is_noop(&self) -> bool {
        self.created == 0 && self.changed == 0 && self.removed == 0
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} changed, {} unchanged, {} removed",
            self.created, self.changed, self.unchanged, self.removed
        )
    }
}

/// What [`Storage::apply`] did, or what [`Storage::plan`] found it would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplySummary {
    /// `[[account]]`.
    pub accounts: Counts,
    /// `[[mapping_gateway]]`.
    pub mapping_gateways: Counts,
    /// `[[routing_gateway]]`.
    pub routing_gateways: Counts,
    /// `[[gateway_group]]`.
    pub gateway_groups: Counts,
    /// `[[rate_table]]` (a table whose rates differ counts as changed).
    pub rate_tables: Counts,
    /// `[parameters]`.
    pub parameters: Counts,
    /// Rate rows (re)written: every rate of each created table and of each table whose rates
    /// changed.
    pub rates_written: u64,
    /// Existing accounts whose balance in the file differs from the stored one. Their balance is
    /// kept: it changes only through the ledger (payments, charges). A file's balance is the
    /// opening balance of a new account.
    pub balances_kept: u64,
    /// True for a plan: nothing was written.
    pub dry_run: bool,
}

impl ApplySummary {
    /// True when the database already held exactly this set.
    pub fn is_noop(&self) -> bool {
        [
            self.accounts,
            self.mapping_gateways,
            self.routing_gateways,
            self.gateway_groups,
            self.rate_tables,
            self.parameters,
        ]
        .iter()
        .all(Counts::is_noop)
    }
}

impl fmt::Display for ApplySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, c) in [
            ("accounts", self.accounts),
            ("mapping gateways", self.mapping_gateways),
            ("routing gateways", self.routing_gateways),
            ("gateway groups", self.gateway_groups),
            ("rate tables", self.rate_tables),
            ("parameters", self.parameters),
        ] {
            writeln!(f, "{label:<17} {c}")?;
        }
        let verb = if self.dry_run { "to write" } else { "written" };
        write!(f, "{:<17} {} {verb}", "rates", self.rates_written)?;
        if self.balances_kept > 0 {
            write!(
                f,
                "\n{:<17} {} kept (balances change only through payments and the ledger; a \
                 file's balance is the opening balance of a new account)",
                "balances", self.balances_kept
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------

/// The object a stored value belongs to, for error messages.
struct Obj<'a> {
    kind: ObjectKind,
    name: &'a str,
}

impl Obj<'_> {
    fn corrupt(&self, field: impl Into<String>, message: impl fmt::Display) -> StorageError {
        StorageError::Corrupt {
            kind: self.kind,
            name: self.name.to_owned(),
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// A list or setting as JSON text in the model's serde form.
    fn json<T: Serialize + ?Sized>(&self, field: &str, v: &T) -> Result<String, StorageError> {
        serde_json::to_string(v).map_err(|e| self.corrupt(field, format!("cannot encode: {e}")))
    }

    fn parse_json<T: DeserializeOwned>(&self, field: &str, text: &str) -> Result<T, StorageError> {
        serde_json::from_str(text).map_err(|e| self.corrupt(field, e))
    }

    /// An enumeration from its snake_case spelling.
    fn parse_enum<T: DeserializeOwned>(
        &self,
        field: &str,
        text: String,
    ) -> Result<T, StorageError> {
        serde_json::from_value(serde_json::Value::String(text)).map_err(|e| self.corrupt(field, e))
    }

    fn u32(&self, field: &str, v: i64) -> Result<u32, StorageError> {
        u32::try_from(v).map_err(|_| self.corrupt(field, format!("{v} is not 0..=4294967295")))
    }

    fn opt_u32(&self, field: &str, v: Option<i64>) -> Result<Option<u32>, StorageError> {
        v.map(|v| self.u32(field, v)).transpose()
    }

    fn flag(&self, field: &str, v: i64) -> Result<bool, StorageError> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt(field, format!("{v} is not 0 or 1"))),
        }
    }

    fn currency(&self, text: &str) -> Result<Currency, StorageError> {
        text.parse()
            .map_err(|e: String| self.corrupt("currency", e))
    }

    fn name_of(
        &self,
        field: &str,
        names: &HashMap<i64, String>,
        id: i64,
    ) -> Result<String, StorageError> {
        names
            .get(&id)
            .cloned()
            .ok_or_else(|| self.corrupt(field, format!("refers to missing id {id}")))
    }
}

/// The snake_case spelling of a unit enum variant (what the TOML file says).
fn enum_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        // Unit variants always serialise to a string; anything else would fail to load and be
        // reported as corrupt, never silently accepted.
        other => format!("{other:?}"),
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Object name → database id, per kind.
#[derive(Debug, Default)]
struct Ids {
    rate_tables: HashMap<String, i64>,
    accounts: HashMap<String, i64>,
    gateway_groups: HashMap<String, i64>,
    routing_gateways: HashMap<String, i64>,
    mapping_gateways: HashMap<String, i64>,
}

fn invert(m: &HashMap<String, i64>) -> HashMap<i64, String> {
    m.iter().map(|(k, v)| (*v, k.clone())).collect()
}

fn by_name<T>(items: &[T], name: impl Fn(&T) -> &str) -> HashMap<&str, &T> {
    items.iter().map(|t| (name(t), t)).collect()
}

fn pairs<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<(&str, &T)> {
    items.iter().map(|t| (name(t), t)).collect()
}

/// The id of a referenced object that validation has proved exists.
fn id_of(map: &HashMap<String, i64>, kind: ObjectKind, name: &str) -> Result<i64, StorageError> {
    map.get(name).copied().ok_or_else(|| StorageError::Corrupt {
        kind,
        name: name.to_owned(),
        field: "id".into(),
        message: "referenced but not written (bug)".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

async fn load(conn: &mut AnyConnection) -> Result<(Provisioning, Ids), StorageError> {
    let mut p = Provisioning::default();
    let mut ids = Ids::default();

    // Rate tables and their rates.
    let mut table_at: HashMap<i64, usize> = HashMap::new();
    for row in sqlx::query("SELECT id, name, currency FROM rate_table")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let o = Obj {
            kind: ObjectKind::RateTable,
            name: &name,
        };
        let currency = o.currency(&row.try_get::<String, _>("currency")?)?;
        table_at.insert(id, p.rate_tables.len());
        ids.rate_tables.insert(name.clone(), id);
        p.rate_tables.push(RateTable {
            name,
            currency,
            rates: Vec::new(),
        });
    }
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT id, rate_table_id, prefix, area, price_micros, first_increment, \
             next_increment, connect_fee_micros, effective_from, effective_until \
             FROM rate WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(RATE_PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            after = row.try_get("id")?;
            let table_id: i64 = row.try_get("rate_table_id")?;
            let Some(&at) = table_at.get(&table_id) else {
                return Err(StorageError::Corrupt {
                    kind: ObjectKind::RateTable,
                    name: format!("#{table_id}"),
                    field: "rates".into(),
                    message: format!("rate {after} belongs to a missing rate table"),
                });
            };
            let t = &mut p.rate_tables[at];
            let prefix: String = row.try_get("prefix")?;
            let o = Obj {
                kind: ObjectKind::RateTable,
                name: &t.name,
            };
            let field = |f: &str| format!("rates[prefix {prefix:?}].{f}");
            let rate = Rate {
                area: row.try_get("area")?,
                price: Money::from_micros(row.try_get("price_micros")?),
                first_increment_secs: o.u32(
                    &field("first_increment_secs"),
                    row.try_get("first_increment")?,
                )?,
                next_increment_secs: o.u32(
                    &field("next_increment_secs"),
                    row.try_get("next_increment")?,
                )?,
                connect_fee: Money::from_micros(row.try_get("connect_fee_micros")?),
                effective_from: row.try_get("effective_from")?,
                effective_until: row.try_get("effective_until")?,
                prefix,
            };
            t.rates.push(rate);
        }
        if (rows.len() as i64) < RATE_PAGE {
            break;
        }
    }

    // Accounts (parents resolved once every name is known).
    let rows = sqlx::query(
        "SELECT id, name, kind, parent_agent_id, currency, balance_micros, credit_limit_micros, \
         payment_mode, status, expiry, rate_table_id, line_limit, cps_limit FROM account",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        ids.accounts
            .insert(row.try_get("name")?, row.try_get("id")?);
    }
    let account_names = invert(&ids.accounts);
    let table_names = invert(&ids.rate_tables);
    for row in &rows {
        let name: String = row.try_get("name")?;
        let o = Obj {
            kind: ObjectKind::Account,
            name: &name,
        };
        let parent: Option<i64> = row.try_get("parent_agent_id")?;
        let table: Option<i64> = row.try_get("rate_table_id")?;
        p.accounts.push(Account {
            kind: o.parse_enum("kind", row.try_get("kind")?)?,
            parent_agent: parent
                .map(|id| o.name_of("parent_agent", &account_names, id))
                .transpose()?,
            currency: o.currency(&row.try_get::<String, _>("currency")?)?,
            balance: Money::from_micros(row.try_get("balance_micros")?),
            credit_limit: Money::from_micros(row.try_get("credit_limit_micros")?),
            payment_mode: o.parse_enum("payment_mode", row.try_get("payment_mode")?)?,
            status: o.parse_enum("status", row.try_get("status")?)?,
            expiry: row.try_get("expiry")?,
            rate_table: table
                .map(|id| o.name_of("rate_table", &table_names, id))
                .transpose()?,
            line_limit: o.opt_u32("line_limit", row.try_get("line_limit")?)?,
            cps_limit: o.opt_u32("cps_limit", row.try_get("cps_limit")?)?,
            name,
        });
    }

    // Gateway groups (members after the routing gateways).
    let mut group_at: HashMap<i64, usize> = HashMap::new();
    for row in sqlx::query("SELECT id, name, line_limit FROM gateway_group")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let o = Obj {
            kind: ObjectKind::GatewayGroup,
            name: &name,
        };
        let line_limit = o.opt_u32("line_limit", row.try_get("line_limit")?)?;
        group_at.insert(id, p.gateway_groups.len());
        ids.gateway_groups.insert(name.clone(), id);
        p.gateway_groups.push(GatewayGroup {
            name,
            line_limit,
            members: Vec::new(),
        });
    }
    let group_names = invert(&ids.gateway_groups);

    // Routing gateways.
    let mut routing_at: HashMap<i64, usize> = HashMap::new();
    for row in sqlx::query(
        "SELECT id, name, vendor_account_id, priority, line_limit, cps_limit, rate_table_id, \
         caller_rules, callee_rules, busy_stop, stop_codes, allow_publish, options_check, \
         options_period_secs, invite_timeout_secs, ringing_timeout_secs, time_rules, \
         media_proxy, codecs, enabled, p_asserted_identity FROM routing_gateway",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let o = Obj {
            kind: ObjectKind::RoutingGateway,
            name: &name,
        };
        let table: Option<i64> = row.try_get("rate_table_id")?;
        let g = RoutingGateway {
            vendor_account: o.name_of(
                "vendor_account",
                &account_names,
                row.try_get("vendor_account_id")?,
            )?,
            targets: Vec::new(),
            prefixes: Vec::new(),
            priority: o.u32("priority", row.try_get("priority")?)?,
            line_limit: o.opt_u32("line_limit", row.try_get("line_limit")?)?,
            cps_limit: o.opt_u32("cps_limit", row.try_get("cps_limit")?)?,
            groups: Vec::new(),
            rate_table: table
                .map(|id| o.name_of("rate_table", &table_names, id))
                .transpose()?,
            caller_rules: o
                .parse_json("caller_rules", &row.try_get::<String, _>("caller_rules")?)?,
            callee_rules: o
                .parse_json("callee_rules", &row.try_get::<String, _>("callee_rules")?)?,
            busy_stop: o.flag("busy_stop", row.try_get("busy_stop")?)?,
            stop_codes: o.parse_json("stop_codes", &row.try_get::<String, _>("stop_codes")?)?,
            allow_publish: o.flag("allow_publish", row.try_get("allow_publish")?)?,
            options_check: o.flag("options_check", row.try_get("options_check")?)?,
            options_period_secs: o
                .u32("options_period_secs", row.try_get("options_period_secs")?)?,
            invite_timeout_secs: o
                .opt_u32("invite_timeout_secs", row.try_get("invite_timeout_secs")?)?,
            ringing_timeout_secs: o
                .opt_u32("ringing_timeout_secs", row.try_get("ringing_timeout_secs")?)?,
            time_rules: o.parse_json("time_rules", &row.try_get::<String, _>("time_rules")?)?,
            media_proxy: o.parse_enum("media_proxy", row.try_get("media_proxy")?)?,
            codecs: o.parse_json("codecs", &row.try_get::<String, _>("codecs")?)?,
            enabled: o.flag("enabled", row.try_get("enabled")?)?,
            p_asserted_identity: o
                .parse_enum("p_asserted_identity", row.try_get("p_asserted_identity")?)?,
            name: name.clone(),
        };
        routing_at.insert(id, p.routing_gateways.len());
        ids.routing_gateways.insert(name, id);
        p.routing_gateways.push(g);
    }
    let routing_names = invert(&ids.routing_gateways);
    for row in sqlx::query(
        "SELECT routing_gateway_id, host, port, transport FROM routing_gateway_target \
         ORDER BY routing_gateway_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let g = owner(
            ObjectKind::RoutingGateway,
            &mut p.routing_gateways,
            &routing_at,
            &row,
            "routing_gateway_id",
        )?;
        let o = Obj {
            kind: ObjectKind::RoutingGateway,
            name: &g.name,
        };
        let port: i64 = row.try_get("port")?;
        let target = Target {
            host: row.try_get("host")?,
            port: u16::try_from(port)
                .map_err(|_| o.corrupt("targets.port", format!("{port} is not a port")))?,
            transport: o.parse_enum("targets.transport", row.try_get("transport")?)?,
        };
        g.targets.push(target);
    }
    for row in sqlx::query(
        "SELECT routing_gateway_id, prefix FROM routing_gateway_prefix \
         ORDER BY routing_gateway_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let g = owner(
            ObjectKind::RoutingGateway,
            &mut p.routing_gateways,
            &routing_at,
            &row,
            "routing_gateway_id",
        )?;
        g.prefixes.push(row.try_get("prefix")?);
    }
    for row in sqlx::query(
        "SELECT routing_gateway_id, gateway_group_id FROM routing_gateway_group \
         ORDER BY routing_gateway_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let g = owner(
            ObjectKind::RoutingGateway,
            &mut p.routing_gateways,
            &routing_at,
            &row,
            "routing_gateway_id",
        )?;
        let o = Obj {
            kind: ObjectKind::RoutingGateway,
            name: &g.name,
        };
        let group = o.name_of("groups", &group_names, row.try_get("gateway_group_id")?)?;
        g.groups.push(group);
    }
    for row in sqlx::query(
        "SELECT gateway_group_id, routing_gateway_id FROM gateway_group_member \
         ORDER BY gateway_group_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let grp = owner(
            ObjectKind::GatewayGroup,
            &mut p.gateway_groups,
            &group_at,
            &row,
            "gateway_group_id",
        )?;
        let o = Obj {
            kind: ObjectKind::GatewayGroup,
            name: &grp.name,
        };
        let member = o.name_of(
            "members",
            &routing_names,
            row.try_get("routing_gateway_id")?,
        )?;
        grp.members.push(member);
    }

    // Mapping gateways.
    let mut mapping_at: HashMap<i64, usize> = HashMap::new();
    for row in sqlx::query(
        "SELECT id, name, account_id, digest_username, digest_password, line_limit, cps_limit, \
         caller_rules, callee_rules, allowed_prefixes, forbidden_prefixes, route_policy, \
         replace_failed_reason, max_call_duration_secs, media_proxy, codecs, enabled \
         FROM mapping_gateway",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let o = Obj {
            kind: ObjectKind::MappingGateway,
            name: &name,
        };
        let username: Option<String> = row.try_get("digest_username")?;
        let password: Option<String> = row.try_get("digest_password")?;
        let digest = match (username, password) {
            (Some(username), Some(password)) => {
                Some(tollswitch_model::provisioning::DigestCredentials { username, password })
            }
            (None, None) => None,
            _ => return Err(o.corrupt("digest", "username and password must both be set")),
        };
        let g = MappingGateway {
            account: o.name_of("account", &account_names, row.try_get("account_id")?)?,
            sources: Vec::new(),
            digest,
            line_limit: o.opt_u32("line_limit", row.try_get("line_limit")?)?,
            cps_limit: o.opt_u32("cps_limit", row.try_get("cps_limit")?)?,
            caller_rules: o
                .parse_json("caller_rules", &row.try_get::<String, _>("caller_rules")?)?,
            callee_rules: o
                .parse_json("callee_rules", &row.try_get::<String, _>("callee_rules")?)?,
            allowed_prefixes: o.parse_json(
                "allowed_prefixes",
                &row.try_get::<String, _>("allowed_prefixes")?,
            )?,
            forbidden_prefixes: o.parse_json(
                "forbidden_prefixes",
                &row.try_get::<String, _>("forbidden_prefixes")?,
            )?,
            allowed_groups: Vec::new(),
            route_policy: o.parse_enum("route_policy", row.try_get("route_policy")?)?,
            replace_failed_reason: o.parse_json(
                "replace_failed_reason",
                &row.try_get::<String, _>("replace_failed_reason")?,
            )?,
            max_call_duration_secs: o.u32(
                "max_call_duration_secs",
                row.try_get("max_call_duration_secs")?,
            )?,
            media_proxy: o.parse_enum("media_proxy", row.try_get("media_proxy")?)?,
            codecs: o.parse_json("codecs", &row.try_get::<String, _>("codecs")?)?,
            enabled: o.flag("enabled", row.try_get("enabled")?)?,
            name: name.clone(),
        };
        mapping_at.insert(id, p.mapping_gateways.len());
        ids.mapping_gateways.insert(name, id);
        p.mapping_gateways.push(g);
    }
    for row in sqlx::query(
        "SELECT mapping_gateway_id, source FROM mapping_gateway_source \
         ORDER BY mapping_gateway_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let g = owner(
            ObjectKind::MappingGateway,
            &mut p.mapping_gateways,
            &mapping_at,
            &row,
            "mapping_gateway_id",
        )?;
        let text: String = row.try_get("source")?;
        let source: SourceMatch = text.parse().map_err(|e| {
            Obj {
                kind: ObjectKind::MappingGateway,
                name: &g.name,
            }
            .corrupt("sources", e)
        })?;
        g.sources.push(source);
    }
    for row in sqlx::query(
        "SELECT mapping_gateway_id, gateway_group_id FROM mapping_gateway_allowed_group \
         ORDER BY mapping_gateway_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let g = owner(
            ObjectKind::MappingGateway,
            &mut p.mapping_gateways,
            &mapping_at,
            &row,
            "mapping_gateway_id",
        )?;
        let o = Obj {
            kind: ObjectKind::MappingGateway,
            name: &g.name,
        };
        let group = o.name_of(
            "allowed_groups",
            &group_names,
            row.try_get("gateway_group_id")?,
        )?;
        g.allowed_groups.push(group);
    }

    for row in sqlx::query("SELECT name, value FROM parameter")
        .fetch_all(&mut *conn)
        .await?
    {
        p.parameters
            .insert(row.try_get("name")?, row.try_get("value")?);
    }

    normalize(&mut p);
    Ok((p, ids))
}

/// The object a child row belongs to.
fn owner<'a, T>(
    kind: ObjectKind,
    items: &'a mut [T],
    at: &HashMap<i64, usize>,
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<&'a mut T, StorageError> {
    let id: i64 = row.try_get(column)?;
    at.get(&id)
        .and_then(|&i| items.get_mut(i))
        .ok_or_else(|| StorageError::Corrupt {
            kind,
            name: format!("#{id}"),
            field: column.to_owned(),
            message: "child row of a missing object".into(),
        })
}

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

/// Gives every account of `want` that already exists its stored balance (an existing balance
/// belongs to the ledger, never to the file), so that the diff and the write ignore it. Returns
/// how many file balances differed.
fn keep_balances(have: &Provisioning, want: &mut Provisioning) -> u64 {
    let stored: HashMap<&str, Money> = have
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.balance))
        .collect();
    let mut kept = 0;
    for a in &mut want.accounts {
        if let Some(&balance) = stored.get(a.name.as_str())
            && a.balance != balance
        {
            kept += 1;
            a.balance = balance;
        }
    }
    kept
}

fn plan(have: &Provisioning, want: &Provisioning, dry_run: bool) -> ApplySummary {
    let have_tables = by_name(&have.rate_tables, |t| &t.name);
    let mut rates_written = 0;
    for t in &want.rate_tables {
        match have_tables.get(t.name.as_str()) {
            Some(h) if h.rates == t.rates => {}
            _ => rates_written += t.rates.len() as u64,
        }
    }
    let params_have: HashMap<&str, &String> = have
        .parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let params_want: Vec<(&str, &String)> = want
        .parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    ApplySummary {
        accounts: Counts::diff(
            &by_name(&have.accounts, |a| &a.name),
            &pairs(&want.accounts, |a| &a.name),
        ),
        mapping_gateways: Counts::diff(
            &by_name(&have.mapping_gateways, |g| &g.name),
            &pairs(&want.mapping_gateways, |g| &g.name),
        ),
        routing_gateways: Counts::diff(
            &by_name(&have.routing_gateways, |g| &g.name),
            &pairs(&want.routing_gateways, |g| &g.name),
        ),
        gateway_groups: Counts::diff(
            &by_name(&have.gateway_groups, |g| &g.name),
            &pairs(&want.gateway_groups, |g| &g.name),
        ),
        rate_tables: Counts::diff(&have_tables, &pairs(&want.rate_tables, |t| &t.name)),
        parameters: Counts::diff(&params_have, &params_want),
        rates_written,
        balances_kept: 0,
        dry_run,
    }
}

// ---------------------------------------------------------------------------------------------
// Write
// ---------------------------------------------------------------------------------------------

/// Runs `insert` (which must end in `RETURNING id`) or `update` (whose `$1` is the id), after
/// `bind` has added the same values to either, and returns the object's id.
async fn upsert(
    conn: &mut AnyConnection,
    existing: Option<i64>,
    insert: &'static str,
    update: &'static str,
    name: &str,
    bind: impl FnOnce(AnyQuery<'static>) -> AnyQuery<'static>,
) -> Result<i64, StorageError> {
    match existing {
        Some(id) => {
            bind(sqlx::query(update).bind(id).bind(name))
                .execute(&mut *conn)
                .await?;
            Ok(id)
        }
        None => Ok(bind(sqlx::query(insert).bind(name))
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?),
    }
}

async fn write(
    conn: &mut AnyConnection,
    have: &Provisioning,
    mut ids: Ids,
    want: &Provisioning,
) -> Result<(), StorageError> {
    use ObjectKind as K;

    // Rate tables (rows only; rates at the end).
    let have_tables = by_name(&have.rate_tables, |t| &t.name);
    for t in &want.rate_tables {
        let existing = ids.rate_tables.get(&t.name).copied();
        if have_tables
            .get(t.name.as_str())
            .is_some_and(|h| h.currency == t.currency)
        {
            continue;
        }
        let id = upsert(
            conn,
            existing,
            "INSERT INTO rate_table (name, currency) VALUES ($1, $2) RETURNING id",
            "UPDATE rate_table SET name = $2, currency = $3 WHERE id = $1",
            &t.name,
            |q| q.bind(t.currency.as_str().to_owned()),
        )
        .await?;
        ids.rate_tables.insert(t.name.clone(), id);
    }

    // Accounts: rows first with no parent, then parents (they may point at new accounts).
    let have_accounts = by_name(&have.accounts, |a| &a.name);
    let mut reparent = Vec::new();
    for a in &want.accounts {
        if have_accounts.get(a.name.as_str()) == Some(&a) {
            continue;
        }
        let rate_table = a
            .rate_table
            .as_deref()
            .map(|t| id_of(&ids.rate_tables, K::RateTable, t))
            .transpose()?;
        // The settings shared by INSERT and UPDATE, from `$3` on. The balance is written only
        // for a new account: an existing one's belongs to the ledger, and not writing it means
        // a payment committed while this apply runs cannot be lost.
        let settings = |q: AnyQuery<'static>| {
            q.bind(enum_text(&a.kind))
                .bind(a.currency.as_str().to_owned())
                .bind(a.credit_limit.micros())
                .bind(enum_text(&a.payment_mode))
                .bind(enum_text(&a.status))
                .bind(a.expiry)
                .bind(rate_table)
                .bind(a.line_limit.map(i64::from))
                .bind(a.cps_limit.map(i64::from))
        };
        let id = match ids.accounts.get(&a.name).copied() {
            Some(id) => {
                settings(
                    sqlx::query(
                        "UPDATE account SET name = $2, kind = $3, parent_agent_id = NULL, \
                         currency = $4, credit_limit_micros = $5, payment_mode = $6, \
                         status = $7, expiry = $8, rate_table_id = $9, line_limit = $10, \
                         cps_limit = $11 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(a.name.clone()),
                )
                .execute(&mut *conn)
                .await?;
                id
            }
            None => settings(
                sqlx::query(
                    "INSERT INTO account (name, balance_micros, kind, currency, \
                     credit_limit_micros, payment_mode, status, expiry, rate_table_id, \
                     line_limit, cps_limit, parent_agent_id) VALUES ($1, $2, $3, $4, $5, $6, \
                     $7, $8, $9, $10, $11, NULL) RETURNING id",
                )
                .bind(a.name.clone())
                .bind(a.balance.micros()),
            )
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?,
        };
        ids.accounts.insert(a.name.clone(), id);
        if let Some(parent) = &a.parent_agent {
            reparent.push((id, parent));
        }
    }
    for (id, parent) in reparent {
        sqlx::query("UPDATE account SET parent_agent_id = $1 WHERE id = $2")
            .bind(id_of(&ids.accounts, K::Account, parent)?)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }

    // Gateway groups (rows; members once the routing gateways have ids).
    let have_groups = by_name(&have.gateway_groups, |g| &g.name);
    let mut regroup = Vec::new();
    for grp in &want.gateway_groups {
        if have_groups.get(grp.name.as_str()) == Some(&grp) {
            continue;
        }
        let id = upsert(
            conn,
            ids.gateway_groups.get(&grp.name).copied(),
            "INSERT INTO gateway_group (name, line_limit) VALUES ($1, $2) RETURNING id",
            "UPDATE gateway_group SET name = $2, line_limit = $3 WHERE id = $1",
            &grp.name,
            |q| q.bind(grp.line_limit.map(i64::from)),
        )
        .await?;
        ids.gateway_groups.insert(grp.name.clone(), id);
        regroup.push((id, grp));
    }

    // Routing gateways.
    let have_routing = by_name(&have.routing_gateways, |g| &g.name);
    for g in &want.routing_gateways {
        if have_routing.get(g.name.as_str()) == Some(&g) {
            continue;
        }
        let o = Obj {
            kind: K::RoutingGateway,
            name: &g.name,
        };
        let vendor = id_of(&ids.accounts, K::Account, &g.vendor_account)?;
        let rate_table = g
            .rate_table
            .as_deref()
            .map(|t| id_of(&ids.rate_tables, K::RateTable, t))
            .transpose()?;
        let caller_rules = o.json("caller_rules", &g.caller_rules)?;
        let callee_rules = o.json("callee_rules", &g.callee_rules)?;
        let stop_codes = o.json("stop_codes", &g.stop_codes)?;
        let time_rules = o.json("time_rules", &g.time_rules)?;
        let codecs = o.json("codecs", &g.codecs)?;
        let id = upsert(
            conn,
            ids.routing_gateways.get(&g.name).copied(),
            "INSERT INTO routing_gateway (name, vendor_account_id, priority, line_limit, \
             cps_limit, rate_table_id, caller_rules, callee_rules, busy_stop, stop_codes, \
             allow_publish, options_check, options_period_secs, invite_timeout_secs, \
             ringing_timeout_secs, time_rules, media_proxy, codecs, enabled, \
             p_asserted_identity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id",
            "UPDATE routing_gateway SET name = $2, vendor_account_id = $3, priority = $4, \
             line_limit = $5, cps_limit = $6, rate_table_id = $7, caller_rules = $8, \
             callee_rules = $9, busy_stop = $10, stop_codes = $11, allow_publish = $12, \
             options_check = $13, options_period_secs = $14, invite_timeout_secs = $15, \
             ringing_timeout_secs = $16, time_rules = $17, media_proxy = $18, codecs = $19, \
             enabled = $20, p_asserted_identity = $21 WHERE id = $1",
            &g.name,
            |q| {
                q.bind(vendor)
                    .bind(i64::from(g.priority))
                    .bind(g.line_limit.map(i64::from))
                    .bind(g.cps_limit.map(i64::from))
                    .bind(rate_table)
                    .bind(caller_rules)
                    .bind(callee_rules)
                    .bind(flag(g.busy_stop))
                    .bind(stop_codes)
                    .bind(flag(g.allow_publish))
                    .bind(flag(g.options_check))
                    .bind(i64::from(g.options_period_secs))
                    .bind(g.invite_timeout_secs.map(i64::from))
                    .bind(g.ringing_timeout_secs.map(i64::from))
                    .bind(time_rules)
                    .bind(enum_text(&g.media_proxy))
                    .bind(codecs)
                    .bind(flag(g.enabled))
                    .bind(enum_text(&g.p_asserted_identity))
            },
        )
        .await?;
        ids.routing_gateways.insert(g.name.clone(), id);
        for table in [
            "routing_gateway_target",
            "routing_gateway_prefix",
            "routing_gateway_group",
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE routing_gateway_id = $1"
            )))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        for (i, t) in g.targets.iter().enumerate() {
            sqlx::query(
                "INSERT INTO routing_gateway_target (routing_gateway_id, position, host, port, \
                 transport) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(t.host.as_str())
            .bind(i64::from(t.port))
            .bind(enum_text(&t.transport))
            .execute(&mut *conn)
            .await?;
        }
        for (i, prefix) in g.prefixes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO routing_gateway_prefix (routing_gateway_id, position, prefix) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(prefix.as_str())
            .execute(&mut *conn)
            .await?;
        }
        for (i, grp) in g.groups.iter().enumerate() {
            sqlx::query(
                "INSERT INTO routing_gateway_group (routing_gateway_id, position, \
                 gateway_group_id) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(id_of(&ids.gateway_groups, K::GatewayGroup, grp)?)
            .execute(&mut *conn)
            .await?;
        }
    }

    // Group members.
    for (id, grp) in regroup {
        sqlx::query("DELETE FROM gateway_group_member WHERE gateway_group_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for (i, m) in grp.members.iter().enumerate() {
            sqlx::query(
                "INSERT INTO gateway_group_member (gateway_group_id, position, \
                 routing_gateway_id) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(id_of(&ids.routing_gateways, K::RoutingGateway, m)?)
            .execute(&mut *conn)
            .await?;
        }
    }

    // Mapping gateways.
    let have_mapping = by_name(&have.mapping_gateways, |g| &g.name);
    for g in &want.mapping_gateways {
        if have_mapping.get(g.name.as_str()) == Some(&g) {
            continue;
        }
        let o = Obj {
            kind: K::MappingGateway,
            name: &g.name,
        };
        let account = id_of(&ids.accounts, K::Account, &g.account)?;
        let caller_rules = o.json("caller_rules", &g.caller_rules)?;
        let callee_rules = o.json("callee_rules", &g.callee_rules)?;
        let allowed = o.json("allowed_prefixes", &g.allowed_prefixes)?;
        let forbidden = o.json("forbidden_prefixes", &g.forbidden_prefixes)?;
        let replace = o.json("replace_failed_reason", &g.replace_failed_reason)?;
        let codecs = o.json("codecs", &g.codecs)?;
        let id = upsert(
            conn,
            ids.mapping_gateways.get(&g.name).copied(),
            "INSERT INTO mapping_gateway (name, account_id, digest_username, digest_password, \
             line_limit, cps_limit, caller_rules, callee_rules, allowed_prefixes, \
             forbidden_prefixes, route_policy, replace_failed_reason, max_call_duration_secs, \
             media_proxy, codecs, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16) RETURNING id",
            "UPDATE mapping_gateway SET name = $2, account_id = $3, digest_username = $4, \
             digest_password = $5, line_limit = $6, cps_limit = $7, caller_rules = $8, \
             callee_rules = $9, allowed_prefixes = $10, forbidden_prefixes = $11, \
             route_policy = $12, replace_failed_reason = $13, max_call_duration_secs = $14, \
             media_proxy = $15, codecs = $16, enabled = $17 WHERE id = $1",
            &g.name,
            |q| {
                q.bind(account)
                    .bind(g.digest.as_ref().map(|d| d.username.clone()))
                    .bind(g.digest.as_ref().map(|d| d.password.clone()))
                    .bind(g.line_limit.map(i64::from))
                    .bind(g.cps_limit.map(i64::from))
                    .bind(caller_rules)
                    .bind(callee_rules)
                    .bind(allowed)
                    .bind(forbidden)
                    .bind(enum_text(&g.route_policy))
                    .bind(replace)
                    .bind(i64::from(g.max_call_duration_secs))
                    .bind(enum_text(&g.media_proxy))
                    .bind(codecs)
                    .bind(flag(g.enabled))
            },
        )
        .await?;
        ids.mapping_gateways.insert(g.name.clone(), id);
        for table in ["mapping_gateway_source", "mapping_gateway_allowed_group"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE mapping_gateway_id = $1"
            )))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        for (i, s) in g.sources.iter().enumerate() {
            sqlx::query(
                "INSERT INTO mapping_gateway_source (mapping_gateway_id, position, source) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(s.to_string())
            .execute(&mut *conn)
            .await?;
        }
        for (i, grp) in g.allowed_groups.iter().enumerate() {
            sqlx::query(
                "INSERT INTO mapping_gateway_allowed_group (mapping_gateway_id, position, \
                 gateway_group_id) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(id_of(&ids.gateway_groups, K::GatewayGroup, grp)?)
            .execute(&mut *conn)
            .await?;
        }
    }

    // Removals, referrers first. Child rows go with their owner (ON DELETE CASCADE).
    let gone = |have: Vec<&str>, want: Vec<&str>| -> Vec<String> {
        let keep: HashSet<&str> = want.into_iter().collect();
        have.into_iter()
            .filter(|n| !keep.contains(n))
            .map(str::to_owned)
            .collect()
    };
    let removed_mapping = gone(
        have.mapping_gateways
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
        want.mapping_gateways
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
    );
    let removed_routing = gone(
        have.routing_gateways
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
        want.routing_gateways
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
    );
    let removed_groups = gone(
        have.gateway_groups
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
        want.gateway_groups
            .iter()
            .map(|g| g.name.as_str())
            .collect(),
    );
    let removed_accounts = gone(
        have.accounts.iter().map(|a| a.name.as_str()).collect(),
        want.accounts.iter().map(|a| a.name.as_str()).collect(),
    );
    let removed_tables = gone(
        have.rate_tables.iter().map(|t| t.name.as_str()).collect(),
        want.rate_tables.iter().map(|t| t.name.as_str()).collect(),
    );
    for name in &removed_mapping {
        sqlx::query("DELETE FROM mapping_gateway WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for name in &removed_routing {
        sqlx::query("DELETE FROM routing_gateway WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for name in &removed_groups {
        sqlx::query("DELETE FROM gateway_group WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    // Removed accounts may be each other's agents: unlink them all before deleting any.
    for name in &removed_accounts {
        sqlx::query("UPDATE account SET parent_agent_id = NULL WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for name in &removed_accounts {
        sqlx::query("DELETE FROM account WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for name in &removed_tables {
        // Rates first: one statement over the (table, prefix) index, not a cascade per row.
        let id = id_of(&ids.rate_tables, K::RateTable, name)?;
        sqlx::query("DELETE FROM rate WHERE rate_table_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM rate_table WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }

    // Rates of new tables and of tables whose rates differ.
    for t in &want.rate_tables {
        let existing = have_tables.get(t.name.as_str());
        if existing.is_some_and(|h| h.rates == t.rates) {
            continue;
        }
        let id = id_of(&ids.rate_tables, K::RateTable, &t.name)?;
        if existing.is_some() {
            sqlx::query("DELETE FROM rate WHERE rate_table_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        insert_rates(conn, id, &t.rates).await?;
    }

    // Parameters.
    for (name, value) in &want.parameters {
        if have.parameters.get(name) == Some(value) {
            continue;
        }
        sqlx::query(
            "INSERT INTO parameter (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name.as_str())
        .bind(value.as_str())
        .execute(&mut *conn)
        .await?;
    }
    for name in have.parameters.keys() {
        if !want.parameters.contains_key(name) {
            sqlx::query("DELETE FROM parameter WHERE name = $1")
                .bind(name.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Multi-row INSERTs of `RATE_INSERT_ROWS` rates, `$n` placeholders (portable through `Any`).
async fn insert_rates(
    conn: &mut AnyConnection,
    table_id: i64,
    rates: &[Rate],
) -> Result<(), StorageError> {
    for chunk in rates.chunks(RATE_INSERT_ROWS) {
        let mut sql = String::from(
            "INSERT INTO rate (rate_table_id, prefix, area, price_micros, first_increment, \
             next_increment, connect_fee_micros, effective_from, effective_until) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(table_id)
                .bind(r.prefix.as_str())
                .bind(r.area.as_str())
                .bind(r.price.micros())
                .bind(i64::from(r.first_increment_secs))
                .bind(i64::from(r.next_increment_secs))
                .bind(r.connect_fee.micros())
                .bind(r.effective_from)
                .bind(r.effective_until);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

impl Storage {
    /// Everything provisioned, in [`normalize`]d order. This is what the routing snapshot is
    /// compiled from.
    pub async fn load_provisioning(&self) -> Result<Provisioning, StorageError> {
        let mut tx = self.begin_read().await?;
        let (p, _) = load(&mut tx).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The current provisioning set for writing out as a file: the same as
    /// [`Storage::load_provisioning`]. `export()` after `apply(x)` equals `normalize(x)`.
    pub async fn export(&self) -> Result<Provisioning, StorageError> {
        self.load_provisioning().await
    }

    /// Validates `p` and reports what [`Storage::apply`] would change, writing nothing. Like
    /// `apply`, it does not count an existing account's different balance as a change (see
    /// [`ApplySummary::balances_kept`]).
    pub async fn plan(&self, p: &Provisioning) -> Result<ApplySummary, StorageError> {
        p.validate().map_err(StorageError::Invalid)?;
        let mut want = p.clone();
        normalize(&mut want);
        let mut tx = self.begin_read().await?;
        let (have, _) = load(&mut tx).await?;
        tx.commit().await?;
        let balances_kept = keep_balances(&have, &mut want);
        Ok(ApplySummary {
            balances_kept,
            ..plan(&have, &want, true)
        })
    }

    /// Validates `p` (every problem is returned in [`StorageError::Invalid`] with object kind,
    /// name and field) and then replaces the whole provisioning state with it in one
    /// transaction: objects not in `p` are removed, the others created or updated, parameters
    /// not in `p` go back to their defaults. On any error nothing changes.
    ///
    /// Balances are the exception: an existing account keeps its stored balance whatever the
    /// file says (it changes only through [`Storage::apply_ledger`] and [`Storage::pay`]); a new
    /// account starts with the file's balance. [`ApplySummary::balances_kept`] counts the file
    /// balances that were not applied.
    pub async fn apply(&self, p: &Provisioning) -> Result<ApplySummary, StorageError> {
        p.validate().map_err(StorageError::Invalid)?;
        let mut want = p.clone();
        normalize(&mut want);
        let mut tx = self.begin_write().await?;
        let (have, ids) = load(&mut tx).await?;
        let balances_kept = keep_balances(&have, &mut want);
        let summary = ApplySummary {
            balances_kept,
            ..plan(&have, &want, false)
        };
        write(&mut tx, &have, ids, &want).await?;
        crate::revision::bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// A read transaction that sees one consistent state across its statements.
    async fn begin_read(&self) -> Result<sqlx::Transaction<'static, Any>, StorageError> {
        Ok(match self.backend() {
            crate::Backend::Sqlite => self.pool.begin().await?,
            crate::Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }
}
