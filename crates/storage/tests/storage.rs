//! One storage test suite, run against every backend (see `common` for the fixture):
//! provisioning, parameters, rate import.

#[macro_use]
mod common;

use common::DEFAULT_PG_URL;
use tollswitch_model::Money;
use tollswitch_model::provisioning::{ObjectKind, Provisioning, Rate};
use tollswitch_storage::{
    GatewayKind, GatewaySettings, ImportError, ImportOptions, Storage, StorageError, normalize,
};

backend_tests!(
    migrations_are_idempotent,
    apply_then_export_equals_input,
    apply_twice_changes_nothing,
    invalid_file_reports_every_error_and_leaves_db_unchanged,
    apply_replaces_previous_state,
    plan_writes_nothing,
    money_round_trips_exactly,
    apply_never_changes_an_existing_balance,
    parameters_are_validated,
    rate_import_succeeds,
    rate_import_reports_row_errors_with_line_numbers,
    rate_import_is_all_or_nothing,
    rate_import_replaces_the_table_rates,
    rate_import_refuses_overlapping_versions,
    rate_import_refuses_bad_headers_and_unknown_tables,
    gateway_settings_are_the_provisioned_ones,
);

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// Every object kind and (nearly) every field, with non-default values.
const FULL: &str = r#"
[parameters]
SS_SIP_TIMEOUT_INVITE = "12"
SS_SIP_RESEND_INTERVAL = "0.5,1,2,4"
SS_MEDIA_PROXY_MODE = "2"

[[account]]
name = "zeta-agent"
kind = "agent"
currency = "USD"
balance = "0.000001"
payment_mode = "postpaid"

[[account]]
name = "acme"
kind = "customer"
parent_agent = "zeta-agent"
currency = "USD"
balance = "1234567890123.123456"
credit_limit = "50.5"
status = "locked"
expiry = 1893456000
rate_table = "retail"
line_limit = 30
cps_limit = 5

[[account]]
name = "carrier-a"
kind = "vendor"
currency = "USD"
balance = "-17.25"
rate_table = "vendor-a"

[[account]]
name = "carrier-b"
kind = "vendor"
currency = "EUR"

[[mapping_gateway]]
name = "acme-pbx"
account = "acme"
sources = ["192.0.2.10", "198.51.100.0/24:5060", "[2001:db8::/32]:5070", "2001:db8:1::9"]
digest = { username = "acme", password = "s3cret" }
line_limit = 20
cps_limit = 3
caller_rules = [{ strip = 1 }, { add_prefix = "1" }]
callee_rules = [{ replace_prefix = { from = "00", to = "" } }, { regex = { pattern = "^1(\\d{10})$", replacement = "001$1" } }]
allowed_prefixes = ["1", "44"]
forbidden_prefixes = ["1900"]
allowed_groups = ["premium"]
route_policy = "lcr_then_priority"
replace_failed_reason = [{ from = 503, to = 486 }, { from = 502, to = 480 }]
max_call_duration_secs = 7200
media_proxy = "must_on"
codecs = ["PCMU", "PCMA", "G729"]
enabled = false

[[mapping_gateway]]
name = "acme-softphones"
account = "zeta-agent"
digest = { username = "acme2", password = "pw" }

[[routing_gateway]]
name = "carrier-a-1"
vendor_account = "carrier-a"
targets = [{ host = "127.0.0.1", port = 5080 }, { host = "sbc.carrier-a.example", port = 5061, transport = "tcp" }]
prefixes = ["1", "44", ""]
priority = 2
line_limit = 100
cps_limit = 10
groups = ["premium"]
rate_table = "vendor-a"
caller_rules = [{ add_prefix = "00" }]
callee_rules = [{ strip = 2 }]
busy_stop = true
stop_codes = [404, 503]
allow_publish = true
options_check = true
options_period_secs = 30
invite_timeout_secs = 5
ringing_timeout_secs = 90
time_rules = [{ days = ["mon", "fri"], from = "08:00", to = "18:30", utc_offset = "+08:00" }, { from = "22:00", to = "06:00" }]
media_proxy = "off"
codecs = ["PCMA"]
enabled = false
p_asserted_identity = "strip"

[[routing_gateway]]
name = "carrier-b-1"
vendor_account = "carrier-b"
targets = [{ host = "2001:db8::5" }]
prefixes = ["44"]

[[gateway_group]]
name = "premium"
line_limit = 50
members = ["carrier-b-1", "carrier-a-1"]

[[gateway_group]]
name = "empty"

[[rate_table]]
name = "retail"
currency = "USD"
[[rate_table.rate]]
prefix = "44"
area = "United Kingdom"
price = "0.012345"
first_increment_secs = 30
next_increment_secs = 6
connect_fee = "0.05"
effective_from = 1700000000
[[rate_table.rate]]
prefix = "1"
price = "0.01"
[[rate_table.rate]]
prefix = "44"
area = "United Kingdom (old)"
price = "0.02"
effective_until = 1700000000

[[rate_table]]
name = "vendor-a"
currency = "USD"
[[rate_table.rate]]
prefix = ""
area = "Everywhere"
price = "9223372036854.775807"
first_increment_secs = 1
next_increment_secs = 1

[[rate_table]]
name = "unused"
currency = "GBP"
"#;

fn full() -> Provisioning {
    let p: Provisioning = toml::from_str(FULL).unwrap();
    p.validate().unwrap();
    p
}

fn normalized(mut p: Provisioning) -> Provisioning {
    normalize(&mut p);
    p
}

// ---------------------------------------------------------------------------------------------
// Provisioning
// ---------------------------------------------------------------------------------------------

async fn migrations_are_idempotent(s: &Storage) {
    // A second migration run (a restart) finds nothing to do and keeps the data.
    s.apply(&full()).await.unwrap();
    tollswitch_storage::Storage::connect(&reconnect_url(s).await)
        .await
        .unwrap();
    assert_eq!(s.export().await.unwrap(), normalized(full()));
}

/// The URL the fixture connected with is not kept by `Storage`; rebuild an equivalent one.
async fn reconnect_url(s: &Storage) -> String {
    use sqlx::Row;
    match s.backend() {
        tollswitch_storage::Backend::Sqlite => {
            let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(s.pool())
                .await
                .unwrap();
            let file: String = row.try_get("file").unwrap();
            format!("sqlite://{file}")
        }
        tollswitch_storage::Backend::Postgres => {
            let row = sqlx::query("SELECT current_schema()::text AS s")
                .fetch_one(s.pool())
                .await
                .unwrap();
            let schema: String = row.try_get("s").unwrap();
            let url = std::env::var("TOLLSWITCH_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_PG_URL.into());
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

async fn apply_then_export_equals_input(s: &Storage) {
    let p = full();
    let summary = s.apply(&p).await.unwrap();
    assert_eq!(summary.accounts.created, 4);
    assert_eq!(summary.mapping_gateways.created, 2);
    assert_eq!(summary.routing_gateways.created, 2);
    assert_eq!(summary.gateway_groups.created, 2);
    assert_eq!(summary.rate_tables.created, 3);
    assert_eq!(summary.parameters.created, 3);
    assert_eq!(summary.rates_written, 4);
    let exported = s.export().await.unwrap();
    assert_eq!(exported, normalized(p.clone()));
    // And through TOML text, as `provision export` / `provision apply` do.
    let text = toml::to_string(&exported).unwrap();
    let again: Provisioning = toml::from_str(&text).unwrap();
    assert_eq!(again, normalized(p));
}

async fn apply_twice_changes_nothing(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let summary = s.apply(&full()).await.unwrap();
    assert!(summary.is_noop(), "{summary}");
    assert_eq!(summary.accounts.unchanged, 4);
    assert_eq!(summary.rates_written, 0);
}

async fn invalid_file_reports_every_error_and_leaves_db_unchanged(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let mut bad = full();
    bad.accounts[1].rate_table = Some("no-such-table".into()); // acme
    bad.mapping_gateways[0].account = "carrier-a".into(); // a vendor
    bad.routing_gateways[1].targets.clear();
    bad.gateway_groups[0].members.push("ghost".into());
    bad.rate_tables[0].rates[0].price = Money::from_micros(-1);
    bad.parameters
        .insert("SS_SIP_TIMEOUT_INVITE".into(), "9999".into());
    bad.accounts.push(bad.accounts[0].clone()); // duplicate name
    let Err(StorageError::Invalid(errs)) = s.apply(&bad).await else {
        panic!("an invalid set must be refused");
    };
    let has = |kind: ObjectKind, name: &str, field: &str| {
        errs.iter()
            .any(|e| e.kind == kind && e.name == name && e.field == field)
    };
    assert!(has(ObjectKind::Account, "acme", "rate_table"), "{errs:#?}");
    assert!(has(ObjectKind::MappingGateway, "acme-pbx", "account"));
    assert!(has(ObjectKind::RoutingGateway, "carrier-b-1", "targets"));
    assert!(has(ObjectKind::GatewayGroup, "premium", "members[2]"));
    assert!(has(ObjectKind::RateTable, "retail", "rates[0].price"));
    assert!(has(ObjectKind::Parameter, "SS_SIP_TIMEOUT_INVITE", "value"));
    assert!(has(ObjectKind::Account, "zeta-agent", "name"));
    assert_eq!(errs.len(), 7, "{errs:#?}");
    // The message names every one of them.
    let text = StorageError::Invalid(errs).to_string();
    assert!(text.contains("7 errors"), "{text}");
    assert!(
        text.contains("routing_gateway \"carrier-b-1\": targets:"),
        "{text}"
    );
    assert_eq!(s.export().await.unwrap(), normalized(full()));
}

/// The database id of account `name` (ids are internal; CDRs and the ledger will use them).
async fn account_id(s: &Storage, name: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT id FROM account WHERE name = $1")
        .bind(name)
        .fetch_one(s.pool())
        .await
        .unwrap()
        .try_get("id")
        .unwrap()
}

async fn apply_replaces_previous_state(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let (agent_id, acme_id) = (
        account_id(s, "zeta-agent").await,
        account_id(s, "acme").await,
    );
    let mut next = full();
    // Remove one object of every kind, change others, add new ones.
    next.mapping_gateways
        .retain(|g| g.name != "acme-softphones");
    next.mapping_gateways[0].sources.reverse();
    next.mapping_gateways[0].enabled = true;
    next.routing_gateways.retain(|g| g.name != "carrier-b-1");
    next.gateway_groups.retain(|g| g.name != "empty");
    next.gateway_groups[0].members = vec!["carrier-a-1".into()];
    next.accounts.retain(|a| a.name != "carrier-b");
    next.accounts[0].kind = tollswitch_model::provisioning::AccountKind::Agent;
    next.accounts[0].credit_limit = "1.5".parse().unwrap();
    next.rate_tables.retain(|t| t.name != "unused");
    next.rate_tables[0].rates.truncate(1);
    next.rate_tables
        .push(tollswitch_model::provisioning::RateTable {
            name: "fresh".into(),
            currency: tollswitch_model::Currency::USD,
            rates: vec![],
        });
    next.parameters.remove("SS_MEDIA_PROXY_MODE");
    next.parameters
        .insert("SS_SIP_TIMEOUT_INVITE".into(), "20".into());
    let summary = s.apply(&next).await.unwrap();
    assert_eq!(summary.mapping_gateways.removed, 1);
    assert_eq!(summary.mapping_gateways.changed, 1);
    assert_eq!(summary.routing_gateways.removed, 1);
    assert_eq!(summary.gateway_groups.removed, 1);
    assert_eq!(summary.gateway_groups.changed, 1);
    assert_eq!(summary.accounts.removed, 1);
    assert_eq!(summary.accounts.changed, 1);
    assert_eq!(summary.rate_tables.removed, 1);
    assert_eq!(summary.rate_tables.created, 1);
    assert_eq!(summary.rate_tables.changed, 1);
    assert_eq!(summary.parameters.removed, 1);
    assert_eq!(summary.parameters.changed, 1);
    assert_eq!(s.export().await.unwrap(), normalized(next));
    assert_eq!(s.parameter("SS_MEDIA_PROXY_MODE").await.unwrap(), None);
    // Objects that keep their name keep their id, changed or not.
    assert_eq!(account_id(s, "zeta-agent").await, agent_id);
    assert_eq!(account_id(s, "acme").await, acme_id);

    // And back to nothing at all.
    let summary = s.apply(&Provisioning::default()).await.unwrap();
    assert_eq!(summary.accounts.removed, 3);
    assert_eq!(s.export().await.unwrap(), Provisioning::default());
}

async fn plan_writes_nothing(s: &Storage) {
    let plan = s.plan(&full()).await.unwrap();
    assert!(plan.dry_run);
    assert_eq!(plan.accounts.created, 4);
    assert_eq!(s.export().await.unwrap(), Provisioning::default());
    assert!(matches!(
        s.plan(&{
            let mut p = full();
            p.accounts[1].currency = "EUR".parse().unwrap(); // acme, whose table is USD
            p
        })
        .await,
        Err(StorageError::Invalid(_))
    ));
}

async fn money_round_trips_exactly(s: &Storage) {
    let mut p = full();
    let big: Money = "1234567890123.123456".parse().unwrap();
    p.accounts[0].balance = big;
    p.accounts[0].credit_limit = Money::from_micros(i64::MAX);
    p.accounts[2].balance = Money::from_micros(i64::MIN);
    p.rate_tables[0].rates[0].price = Money::from_micros(1);
    p.rate_tables[0].rates[0].connect_fee = big;
    s.apply(&p).await.unwrap();
    let out = s.export().await.unwrap();
    let acct = |n: &str| out.accounts.iter().find(|a| a.name == n).unwrap().clone();
    assert_eq!(acct("zeta-agent").balance, big);
    assert_eq!(
        acct("zeta-agent").balance.to_string(),
        "1234567890123.123456"
    );
    assert_eq!(acct("zeta-agent").credit_limit.micros(), i64::MAX);
    assert_eq!(acct("carrier-a").balance.micros(), i64::MIN);
    assert_eq!(out, normalized(p));
}

async fn apply_never_changes_an_existing_balance(s: &Storage) {
    let p = full();
    let summary = s.apply(&p).await.unwrap();
    assert_eq!(summary.balances_kept, 0);
    // A new account starts with the file's balance.
    let opening: Money = "1234567890123.123456".parse().unwrap();
    assert_eq!(s.account_balance("acme").await.unwrap(), Some(opening));

    // A payment moves it; applying the same file again leaves it alone and reports no change.
    let paid: Money = "10".parse().unwrap();
    s.pay("acme", paid, Some("wire"), 1_767_225_600_000)
        .await
        .unwrap();
    let after_payment = opening.checked_add(paid).unwrap();
    let summary = s.apply(&p).await.unwrap();
    assert!(summary.is_noop(), "{summary}");
    assert_eq!(summary.accounts.unchanged, 4);
    assert_eq!(summary.balances_kept, 1);
    assert!(summary.to_string().contains("balances"), "{summary}");
    assert_eq!(
        s.account_balance("acme").await.unwrap(),
        Some(after_payment)
    );

    // A file that changes a balance and something else: the other change is applied, the
    // balance is not, and plan says the same as apply.
    let mut next = full();
    next.accounts[1].balance = Money::ZERO; // acme
    next.accounts[1].credit_limit = "99".parse().unwrap();
    next.accounts[2].balance = "5".parse().unwrap(); // carrier-a, otherwise unchanged
    let plan = s.plan(&next).await.unwrap();
    assert_eq!(plan.accounts.changed, 1, "{plan}");
    assert_eq!(plan.accounts.unchanged, 3, "{plan}");
    assert_eq!(plan.balances_kept, 2);
    let summary = s.apply(&next).await.unwrap();
    assert_eq!(summary.accounts, plan.accounts);
    assert_eq!(summary.balances_kept, 2);
    assert_eq!(
        s.account_balance("acme").await.unwrap(),
        Some(after_payment)
    );
    assert_eq!(
        s.account_balance("carrier-a").await.unwrap(),
        Some("-17.25".parse().unwrap())
    );
    let out = s.export().await.unwrap();
    let acme = out.accounts.iter().find(|a| a.name == "acme").unwrap();
    assert_eq!(acme.credit_limit, "99".parse().unwrap());
    assert_eq!(acme.balance, after_payment);

    // Removed and added again, an account is new: it takes the file's balance.
    let mut without = next.clone();
    without
        .mapping_gateways
        .retain(|g| g.account != "carrier-b");
    without
        .routing_gateways
        .retain(|g| g.vendor_account != "carrier-b");
    without.gateway_groups[0]
        .members
        .retain(|m| m != "carrier-b-1");
    without.accounts.retain(|a| a.name != "carrier-b");
    s.apply(&without).await.unwrap();
    let mut back = next.clone();
    back.accounts[3].balance = "7".parse().unwrap(); // carrier-b
    let summary = s.apply(&back).await.unwrap();
    assert_eq!(summary.accounts.created, 1);
    assert_eq!(
        s.account_balance("carrier-b").await.unwrap(),
        Some("7".parse().unwrap())
    );
    assert_eq!(s.account_balance("nobody").await.unwrap(), None);
}

async fn parameters_are_validated(s: &Storage) {
    assert_eq!(s.parameter("SS_SIP_TIMEOUT_INVITE").await.unwrap(), None);
    s.set_parameter("SS_SIP_TIMEOUT_INVITE", "30")
        .await
        .unwrap();
    assert_eq!(
        s.parameter("SS_SIP_TIMEOUT_INVITE")
            .await
            .unwrap()
            .as_deref(),
        Some("30")
    );
    s.set_parameter("SS_SIP_TIMEOUT_INVITE", "31")
        .await
        .unwrap();
    assert_eq!(s.parameters().await.unwrap().sip_timeout_invite_secs(), 31);

    let err = s
        .set_parameter("SS_SIP_TIMEOUT_INVITE", "301")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::Parameter { name, .. } if name == "SS_SIP_TIMEOUT_INVITE"),
        "{err}"
    );
    assert!(err.to_string().contains("301"), "{err}");
    let err = s.set_parameter("SS_NO_SUCH_THING", "1").await.unwrap_err();
    assert!(err.to_string().contains("SS_NO_SUCH_THING"), "{err}");
    assert!(s.parameter("SS_NO_SUCH_THING").await.is_err());
    // The refused values were not written.
    assert_eq!(
        s.parameter("SS_SIP_TIMEOUT_INVITE")
            .await
            .unwrap()
            .as_deref(),
        Some("31")
    );
    assert!(s.reset_parameter("SS_SIP_TIMEOUT_INVITE").await.unwrap());
    assert!(!s.reset_parameter("SS_SIP_TIMEOUT_INVITE").await.unwrap());
    assert_eq!(s.parameters().await.unwrap().sip_timeout_invite_secs(), 10);
    assert!(s.stored_parameters().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rate import
// ---------------------------------------------------------------------------------------------

fn csv(text: &str) -> std::io::Cursor<Vec<u8>> {
    std::io::Cursor::new(text.as_bytes().to_vec())
}

fn rates_of(p: &Provisioning, table: &str) -> Vec<Rate> {
    p.rate_tables
        .iter()
        .find(|t| t.name == table)
        .unwrap()
        .rates
        .clone()
}

async fn rate_import_succeeds(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let file = "\u{feff}Prefix,Area Name,Rate,First Increment,Next Increment,Connect Fee,Effective From,Effective Until\n\
                44,United Kingdom,0.012345,30,6,0.05,2023-11-14T22:13:20Z,\n\
                44,\"United Kingdom, old\",0.02,,,,,1700000000\n\
                1,USA,0.01,60,60,0,,\n\
                \n\
                4420,London,1234567890123.123456,1,1,,1700000000,2026-01-01T08:00:00+08:00\n";
    let summary = s
        .import_rates("retail", csv(file), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.imported, 4);
    assert_eq!(summary.replaced, 3);
    let rates = rates_of(&s.export().await.unwrap(), "retail");
    let expected: Vec<Rate> = toml::from_str::<toml::Table>(
        r#"
        [[r]]
        prefix = "1"
        area = "USA"
        price = "0.01"
        [[r]]
        prefix = "44"
        area = "United Kingdom, old"
        price = "0.02"
        effective_until = 1700000000
        [[r]]
        prefix = "44"
        area = "United Kingdom"
        price = "0.012345"
        first_increment_secs = 30
        next_increment_secs = 6
        connect_fee = "0.05"
        effective_from = 1700000000
        [[r]]
        prefix = "4420"
        area = "London"
        price = "1234567890123.123456"
        first_increment_secs = 1
        next_increment_secs = 1
        effective_from = 1700000000
        effective_until = 1767225600
        "#,
    )
    .unwrap()["r"]
        .clone()
        .try_into()
        .unwrap();
    assert_eq!(rates, expected);
    // Other tables are untouched.
    assert_eq!(
        rates_of(&s.export().await.unwrap(), "vendor-a"),
        rates_of(&normalized(full()), "vendor-a")
    );
}

async fn rate_import_reports_row_errors_with_line_numbers(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let file = "prefix,area,price,first_increment,next_increment,connect_fee,effective_from,effective_until\n\
                44,ok,0.01,60,60,0,,\n\
                4x,bad prefix,0.01,60,60,0,,\n\
                45,bad price,0.0000001,60,60,0,,\n\
                46,negative,-1,0,60,0,,\n\
                47,dates,0.01,60,60,0,2026-01-01T00:00:00Z,2025-01-01T00:00:00Z\n\
                48,short row\n\
                49,bad date,0.01,60,60,0,yesterday,\n";
    let Err(ImportError::Rows {
        table,
        errors,
        truncated,
    }) = s
        .import_rates("retail", csv(file), ImportOptions::default())
        .await
    else {
        panic!("bad rows must be refused");
    };
    assert_eq!(table, "retail");
    assert!(!truncated);
    let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "prefix"),
            (4, "price"),
            (5, "price"),
            (5, "first_increment"),
            (6, "effective_until"),
            (7, "row"),
            (8, "effective_from"),
        ],
        "{errors:#?}"
    );
    assert!(
        errors[1].message.contains("6 decimal places"),
        "{errors:#?}"
    );
    // The error's text lists every row.
    let text = ImportError::Rows {
        table,
        errors,
        truncated,
    }
    .to_string();
    assert!(text.contains("line 8: effective_from:"), "{text}");

    // max_errors stops early and says so.
    let Err(ImportError::Rows {
        errors, truncated, ..
    }) = s
        .import_rates("retail", csv(file), ImportOptions { max_errors: 2 })
        .await
    else {
        panic!("bad rows must be refused");
    };
    assert!(truncated);
    assert_eq!(errors.len(), 2);
}

async fn rate_import_is_all_or_nothing(s: &Storage) {
    s.apply(&full()).await.unwrap();
    // Many good rows (several batches already inserted) and one bad row at the very end.
    let mut file = String::from("prefix,price\n");
    for i in 0..12_000 {
        file.push_str(&format!("{},0.{:06}\n", 100_000 + i, i));
    }
    file.push_str("999,free\n");
    let err = s
        .import_rates("retail", csv(&file), ImportOptions::default())
        .await
        .unwrap_err();
    let ImportError::Rows { errors, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 12_002);
    assert_eq!(s.export().await.unwrap(), normalized(full()));
}

async fn rate_import_replaces_the_table_rates(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let mut file = String::from("prefix,area,price\n");
    for i in 0..7_001 {
        file.push_str(&format!("{},Area {i},0.{:06}\n", 200_000 + i, i));
    }
    let first = s
        .import_rates("retail", csv(&file), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((first.imported, first.replaced), (7_001, 3));
    let second = s
        .import_rates(
            "retail",
            csv("prefix,price\n1,0.5\n"),
            ImportOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!((second.imported, second.replaced), (1, 7_001));
    let rates = rates_of(&s.export().await.unwrap(), "retail");
    assert_eq!(rates.len(), 1);
    assert_eq!(rates[0].price, "0.5".parse().unwrap());
    assert_eq!(rates[0].first_increment_secs, 60);
    // An empty file (header only) empties the table.
    let third = s
        .import_rates("retail", csv("prefix,price\n"), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!((third.imported, third.replaced), (0, 1));
    assert!(rates_of(&s.export().await.unwrap(), "retail").is_empty());
}

async fn rate_import_refuses_overlapping_versions(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let file = "prefix,price,effective_from,effective_until\n\
                44,0.01,,1700000000\n\
                44,0.02,1700000000,\n\
                1,0.01,,\n\
                1,0.02,1600000000,\n";
    let Err(ImportError::Rows { errors, .. }) = s
        .import_rates("retail", csv(file), ImportOptions::default())
        .await
    else {
        panic!("overlapping versions must be refused");
    };
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].line, 5);
    assert_eq!(errors[0].field, "effective_from");
    assert!(errors[0].message.contains("line 4"), "{errors:#?}");
    assert_eq!(s.export().await.unwrap(), normalized(full()));
}

async fn rate_import_refuses_bad_headers_and_unknown_tables(s: &Storage) {
    s.apply(&full()).await.unwrap();
    let err = s
        .import_rates("nope", csv("prefix,price\n1,1\n"), ImportOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ImportError::UnknownTable(t) if t == "nope"),
        "{err}"
    );
    let err = s
        .import_rates(
            "retail",
            csv("prefix,cost\n1,1\n"),
            ImportOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Header { .. }), "{err}");
    assert!(err.to_string().contains("\"cost\""), "{err}");
    let err = s
        .import_rates("retail", csv(""), ImportOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Header { .. }), "{err}");
    assert_eq!(s.export().await.unwrap(), normalized(full()));
}

async fn gateway_settings_are_the_provisioned_ones(s: &Storage) {
    assert!(s.gateway_settings().await.unwrap().is_empty());
    let p = full();
    s.apply(&p).await.unwrap();
    let routing = p.routing_gateways.iter().map(|g| GatewaySettings {
        kind: GatewayKind::RoutingGateway,
        name: g.name.clone(),
        enabled: g.enabled,
        line_limit: g.line_limit,
    });
    let mapping = p.mapping_gateways.iter().map(|g| GatewaySettings {
        kind: GatewayKind::MappingGateway,
        name: g.name.clone(),
        enabled: g.enabled,
        line_limit: g.line_limit,
    });
    let mut want: Vec<GatewaySettings> = routing.chain(mapping).collect();
    want.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let got = s.gateway_settings().await.unwrap();
    assert_eq!(got, want);
    // The data set has one of each worth showing: disabled, limited, unlimited.
    assert!(got.iter().any(|g| !g.enabled));
    assert!(got.iter().any(|g| g.line_limit == Some(100)));
    assert!(got.iter().any(|g| g.line_limit.is_none()));
}
