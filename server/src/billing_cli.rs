//! `tollswitch rate` and `tollswitch account …`: rating one call the way the switch would, and
//! an account's payments, balance and ledger (SPEC §4).
//!
//! ```text
//!   rate --table T --callee N --seconds S [--at T]
//!        load_provisioning ─► RoutingSnapshot (the switch's rate trie) ─► rate(T, N, at)
//!        parameters ─► BillingConfig ─► tariff_for(N) (free numbers) ─► rate_call ─► Charge
//!   account pay NAME AMOUNT   ─► Storage::pay (ledger row + balance, one transaction)
//!   account show NAME         ─► provisioned account + stored balance + recent ledger rows
//!   account ledger NAME       ─► Storage::ledger_for(range)
//! ```
//!
//! `rate` compiles the same snapshot the switch routes with, so the answer is the one a call
//! would get: longest prefix in force at the time, effective dates, free numbers and the
//! `SERVER_BILLING_*` rounding rules.

use crate::DbArgs;
use crate::cli_support::{
    Align, DAY_MS, Fail, RangeArgs, Table, UtcMs, connect, emit, emit_json, finish, now_ms,
    seconds, spelling,
};
use serde::Serialize;
use std::process::ExitCode;
use tollswitch_billing::{BillingConfig, Charge, Tariff, rate_call};
use tollswitch_model::cdr::LedgerEntry;
use tollswitch_model::provisioning::{Account, money_text};
use tollswitch_model::{Currency, Money};
use tollswitch_routing::RoutingSnapshot;
use tollswitch_storage::Storage;

/// Arguments of `rate`.
#[derive(Debug, clap::Args)]
pub struct RateArgs {
    /// The rate table (customer or vendor).
    #[arg(long, value_name = "TABLE")]
    table: String,
    /// The callee number as rated (digits; a leading + is allowed and ignored).
    #[arg(long, value_name = "NUMBER", value_parser = parse_callee)]
    callee: String,
    /// Hold time in seconds (up to three decimals, e.g. 61.5).
    #[arg(long = "seconds", value_name = "S", value_parser = parse_hold_ms)]
    hold_ms: u64,
    /// Rate as of this time (RFC 3339, e.g. 2026-11-28T10:00:00Z) [default: now].
    #[arg(long, value_name = "RFC3339")]
    at: Option<UtcMs>,
    /// Print one JSON object: prefix, area, price_per_minute, billed_seconds, connect_fee,
    /// charge.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// `account` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Record a payment or recharge (a negative amount reverses one) and print the new
    /// balance.
    Pay {
        /// The account.
        name: String,
        /// The amount, a decimal such as 25 or 12.50; negative reverses a payment; not zero.
        #[arg(value_parser = parse_amount, allow_negative_numbers = true)]
        amount: Money,
        /// A note kept with the ledger entry.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Print one JSON object: account, amount, balance, id.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Show an account: balance, credit limit, what it may still spend, recent ledger entries.
    Show {
        /// The account.
        name: String,
        /// How many of the latest ledger entries (of the past 7 days) to show.
        #[arg(long, value_name = "N", default_value_t = 10)]
        recent: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List an account's ledger entries (charges, payments, adjustments), oldest first.
    Ledger {
        /// The account (also one that no longer exists, when it has entries).
        name: String,
        /// The range; without --from and --until, the last 30 days.
        #[command(flatten)]
        range: RangeArgs,
        /// Print a JSON array of ledger entries.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// How far back `account show` looks for recent ledger entries.
const RECENT_WINDOW_MS: i64 = 7 * DAY_MS;
/// The default range of `account ledger`.
const LEDGER_DEFAULT_SPAN_MS: i64 = 30 * DAY_MS;

/// A callee to rate: digits, an optional leading `+` dropped.
fn parse_callee(text: &str) -> Result<String, String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a number: digits only, optionally after a leading +"
        ));
    }
    Ok(digits.to_owned())
}

/// Seconds with up to three decimals, as milliseconds: `61.5` → 61 500.
fn parse_hold_ms(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a number of seconds such as 60 or 61.5");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    if frac.len() > 3 || (text.contains('.') && frac.is_empty()) {
        return Err(format!(
            "{text:?}: seconds take at most three decimals (milliseconds)"
        ));
    }
    let secs: u64 = whole.parse().map_err(|_| bad())?;
    let ms: u64 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    secs.checked_mul(1000)
        .and_then(|s| s.checked_add(ms))
        .ok_or_else(|| format!("{text:?} is too long a hold time"))
}

/// A payment amount: decimal money, not zero.
fn parse_amount(text: &str) -> Result<Money, String> {
    let amount: Money = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if amount == Money::ZERO {
        return Err("a payment of zero changes nothing".into());
    }
    Ok(amount)
}

/// What `rate --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RateQuote {
    prefix: String,
    area: Option<String>,
    #[serde(serialize_with = "money_text::serialize")]
    price_per_minute: Money,
    billed_seconds: u64,
    #[serde(serialize_with = "money_text::serialize")]
    connect_fee: Money,
    #[serde(serialize_with = "money_text::serialize")]
    charge: Money,
}

impl RateQuote {
    fn new(prefix: &str, area: Option<&str>, charge: &Charge) -> RateQuote {
        RateQuote {
            prefix: prefix.to_owned(),
            area: area.map(str::to_owned),
            price_per_minute: charge.price_per_minute,
            billed_seconds: charge.billed_secs,
            connect_fee: charge.connect_fee,
            charge: charge.charge,
        }
    }
}

/// Runs `rate`.
pub async fn rate(args: RateArgs) -> ExitCode {
    finish(rate_inner(args).await)
}

async fn rate_inner(args: RateArgs) -> Result<(), Fail> {
    let at = args.at.unwrap_or(UtcMs(now_ms()));
    let storage = connect(&args.db).await?;
    let loaded = async {
        Ok::<_, Fail>((
            storage.load_provisioning().await?,
            storage.parameters().await?,
        ))
    }
    .await;
    storage.close().await;
    let (provisioning, params) = loaded?;
    if !provisioning
        .rate_tables
        .iter()
        .any(|t| t.name == args.table)
    {
        let names: Vec<&str> = provisioning
            .rate_tables
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        return Err(Fail::input(format!(
            "--table: no rate table named {:?} (there are: {})",
            args.table,
            if names.is_empty() {
                String::from("none")
            } else {
                names.join(", ")
            }
        )));
    }
    let snapshot = RoutingSnapshot::compile(&provisioning)
        .map_err(|e| Fail::runtime(format!("the stored provisioning does not compile: {e}")))?;
    let table = snapshot
        .rate_table_id(&args.table)
        .ok_or_else(|| Fail::runtime(format!("rate table {:?} is missing", args.table)))?;
    let rate = snapshot
        .rate(table, &args.callee, at.0.div_euclid(1000))
        .ok_or_else(|| {
            Fail::input(format!(
                "--callee: no rate of table {:?} matches {} at {at}",
                args.table, args.callee
            ))
        })?;
    let tariff = Tariff::new(
        rate.price,
        rate.first_increment_secs,
        rate.next_increment_secs,
        rate.connect_fee,
    )
    .map_err(|e| Fail::runtime(format!("stored rate {} is unusable: {e}", rate.prefix)))?;
    let cfg = BillingConfig::from_parameters(&params);
    let free = cfg.is_free_number(&args.callee);
    let tariff = cfg.tariff_for(&args.callee, tariff);
    let charge = rate_call(&tariff, args.hold_ms, &cfg)
        .map_err(|e| Fail::input(format!("--seconds: {e}")))?;
    let quote = RateQuote::new(rate.prefix.as_str(), rate.area.as_deref(), &charge);
    if args.json {
        return emit_json(&quote);
    }
    emit(&rate_text(
        &args.table,
        rate.currency,
        (rate.first_increment_secs, rate.next_increment_secs),
        free,
        &charge,
        &quote,
    ))
}

/// The human form of a rating.
fn rate_text(
    table: &str,
    currency: Currency,
    (first, next): (u32, u32),
    free: bool,
    charge: &Charge,
    quote: &RateQuote,
) -> String {
    let mut t = Table::new(&[("", Align::Left), ("", Align::Left)]);
    let mut line = |k: &str, v: String| t.row(vec![format!("{k}:"), v]);
    line("rate table", format!("{table} ({currency})"));
    line(
        "prefix",
        format!(
            "{} {}",
            quote.prefix,
            quote.area.as_deref().unwrap_or("(no area)")
        ),
    );
    line(
        "price",
        format!(
            "{} per minute, increments {first}/{next} s{}",
            quote.price_per_minute,
            if free {
                " (free number: SERVER_BILLING_FREE_E164S)"
            } else {
                ""
            }
        ),
    );
    line(
        "hold time",
        format!(
            "{} s (rounded {} s, free {} s)",
            seconds(charge.measured_hold_ms),
            seconds(charge.hold_ms),
            charge.free_secs
        ),
    );
    line("billed", format!("{} s", charge.billed_secs));
    line(
        "charge",
        format!(
            "{} = connect fee {} + time {}",
            charge.charge, charge.connect_fee, charge.duration_charge
        ),
    );
    t.render_rows()
}

/// Runs an `account` subcommand.
pub async fn run(command: AccountCommand) -> ExitCode {
    finish(match command {
        AccountCommand::Pay {
            name,
            amount,
            note,
            json,
            db,
        } => pay(&name, amount, note.as_deref(), json, &db).await,
        AccountCommand::Show {
            name,
            recent,
            json,
            db,
        } => show(&name, recent, json, &db).await,
        AccountCommand::Ledger {
            name,
            range,
            json,
            db,
        } => ledger(&name, &range, json, &db).await,
    })
}

/// Connects, runs `body`, closes the pool whatever happened.
async fn with_storage<T>(
    db: &DbArgs,
    body: impl AsyncFnOnce(&Storage) -> Result<T, Fail>,
) -> Result<T, Fail> {
    let storage = connect(db).await?;
    let result = body(&storage).await;
    storage.close().await;
    result
}

/// What `account pay --json` prints.
#[derive(Debug, Serialize)]
struct Paid<'a> {
    account: &'a str,
    #[serde(serialize_with = "money_text::serialize")]
    amount: Money,
    #[serde(serialize_with = "money_text::serialize")]
    balance: Money,
    id: &'a str,
}

async fn pay(
    name: &str,
    amount: Money,
    note: Option<&str>,
    json: bool,
    db: &DbArgs,
) -> Result<(), Fail> {
    let (entry, balance) = with_storage(db, async |s: &Storage| {
        let entry = s.pay(name, amount, note, now_ms()).await?;
        // Read after the payment committed: another payment in between would show here too.
        let balance = s
            .account_balance(name)
            .await?
            .ok_or_else(|| Fail::runtime(format!("account {name:?} vanished after the payment")))?;
        Ok((entry, balance))
    })
    .await?;
    if json {
        return emit_json(&Paid {
            account: name,
            amount,
            balance,
            id: &entry.id,
        });
    }
    emit(&format!(
        "{} {} {} account {name:?}: balance {balance} (ledger entry {})\n",
        if amount.is_negative() {
            "reversed"
        } else {
            "paid"
        },
        Money::from_micros(amount.micros().saturating_abs()),
        if amount.is_negative() { "from" } else { "to" },
        entry.id
    ))
}

/// What `account show --json` prints.
#[derive(Debug, Serialize)]
struct AccountView<'a> {
    account: &'a str,
    kind: tollswitch_model::provisioning::AccountKind,
    currency: Currency,
    #[serde(serialize_with = "money_text::serialize")]
    balance: Money,
    #[serde(serialize_with = "money_text::serialize")]
    credit_limit: Money,
    /// Balance + credit limit: what calls may still spend.
    #[serde(serialize_with = "money_text::serialize")]
    available: Money,
    payment_mode: tollswitch_model::provisioning::PaymentMode,
    status: tollswitch_model::provisioning::AccountStatus,
    rate_table: Option<&'a str>,
    parent_agent: Option<&'a str>,
    line_limit: Option<u32>,
    cps_limit: Option<u32>,
    /// RFC 3339.
    expiry: Option<String>,
    recent: &'a [LedgerEntry],
}

impl<'a> AccountView<'a> {
    fn new(a: &'a Account, balance: Money, recent: &'a [LedgerEntry]) -> AccountView<'a> {
        AccountView {
            account: &a.name,
            kind: a.kind,
            currency: a.currency,
            balance,
            credit_limit: a.credit_limit,
            available: balance.saturating_add(a.credit_limit),
            payment_mode: a.payment_mode,
            status: a.status,
            rate_table: a.rate_table.as_deref(),
            parent_agent: a.parent_agent.as_deref(),
            line_limit: a.line_limit,
            cps_limit: a.cps_limit,
            expiry: a.expiry.map(|s| UtcMs(s.saturating_mul(1000)).to_string()),
            recent,
        }
    }

    fn text(&self) -> String {
        let mut t = Table::new(&[("", Align::Left), ("", Align::Left)]);
        let mut line = |k: &str, v: String| t.row(vec![format!("{k}:"), v]);
        let or_none = |v: Option<&str>| v.unwrap_or("-").to_owned();
        let limit = |v: Option<u32>| v.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
        line(
            "account",
            format!(
                "{} ({}, {}, {})",
                self.account,
                spelling(&self.kind),
                spelling(&self.payment_mode),
                spelling(&self.status)
            ),
        );
        line("balance", format!("{} {}", self.balance, self.currency));
        line("credit limit", self.credit_limit.to_string());
        line("available", self.available.to_string());
        line("rate table", or_none(self.rate_table));
        line("agent", or_none(self.parent_agent));
        line("line limit", limit(self.line_limit));
        line("cps limit", limit(self.cps_limit));
        line("expiry", or_none(self.expiry.as_deref()));
        let mut out = t.render_rows();
        if self.recent.is_empty() {
            out.push_str("no ledger entries in the past 7 days\n");
        } else {
            out.push_str(&format!(
                "\nlatest {} ledger entr{} of the past 7 days:\n",
                self.recent.len(),
                if self.recent.len() == 1 { "y" } else { "ies" }
            ));
            out.push_str(&ledger_table(self.recent).render());
        }
        out
    }
}

async fn show(name: &str, recent: usize, json: bool, db: &DbArgs) -> Result<(), Fail> {
    let now = now_ms();
    let (account, balance, entries) = with_storage(db, async |s: &Storage| {
        let balance = s
            .account_balance(name)
            .await?
            .ok_or_else(|| Fail::input(format!("no account named {name:?}")))?;
        let account = s
            .load_provisioning()
            .await?
            .accounts
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Fail::input(format!("no account named {name:?}")))?;
        let range = tollswitch_storage::TimeRange::new(
            now.saturating_sub(RECENT_WINDOW_MS),
            now.saturating_add(1),
        );
        let mut entries = s.ledger_for(name, range).await?;
        entries.drain(..entries.len().saturating_sub(recent));
        Ok((account, balance, entries))
    })
    .await?;
    let view = AccountView::new(&account, balance, &entries);
    if json {
        emit_json(&view)
    } else {
        emit(&view.text())
    }
}

/// Ledger entries as a table, with a total row.
fn ledger_table(entries: &[LedgerEntry]) -> Table {
    let mut t = Table::new(&[
        ("at", Align::Left),
        ("kind", Align::Left),
        ("amount", Align::Right),
        ("cdr / note", Align::Left),
        ("id", Align::Left),
    ]);
    for e in entries {
        t.row(vec![
            UtcMs(e.at_ms).to_string(),
            e.kind.to_string(),
            e.amount.to_string(),
            e.cdr_id
                .as_deref()
                .or(e.note.as_deref())
                .unwrap_or("")
                .to_owned(),
            e.id.clone(),
        ]);
    }
    t
}

async fn ledger(name: &str, range: &RangeArgs, json: bool, db: &DbArgs) -> Result<(), Fail> {
    let range = range.resolve(now_ms(), LEDGER_DEFAULT_SPAN_MS)?;
    let (balance, entries) = with_storage(db, async |s: &Storage| {
        Ok((
            s.account_balance(name).await?,
            s.ledger_for(name, range).await?,
        ))
    })
    .await?;
    if balance.is_none() && entries.is_empty() {
        return Err(Fail::input(format!(
            "no account named {name:?} and no ledger entries for it from {} until {}",
            UtcMs(range.from_ms),
            UtcMs(range.until_ms)
        )));
    }
    if json {
        return emit_json(&entries);
    }
    let total = entries
        .iter()
        .fold(Money::ZERO, |sum, e| sum.saturating_add(e.amount));
    let mut out = ledger_table(&entries).render();
    out.push_str(&format!(
        "{} entr{} from {} until {}, net {total}; balance now {}\n",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" },
        UtcMs(range.from_ms),
        UtcMs(range.until_ms),
        balance.map_or_else(
            || String::from("- (the account no longer exists)"),
            |b| b.to_string()
        ),
    ));
    emit(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Just the commands of this module, to parse argument lists.
    #[derive(Debug, Parser)]
    enum Cli {
        Rate(RateArgs),
        Account {
            #[command(subcommand)]
            command: AccountCommand,
        },
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tollswitch").chain(args.iter().copied()))
    }

    #[test]
    fn callees_are_digits_with_an_optional_plus() {
        assert_eq!(parse_callee("+4420"), Ok("4420".into()));
        assert_eq!(parse_callee("0044"), Ok("0044".into()));
        assert!(parse_callee("").is_err());
        assert!(parse_callee("+").is_err());
        assert!(parse_callee("44-20").is_err());
        assert!(parse_callee("++44").is_err());
    }

    #[test]
    fn hold_times_are_seconds_with_milliseconds() {
        assert_eq!(parse_hold_ms("60"), Ok(60_000));
        assert_eq!(parse_hold_ms("61.5"), Ok(61_500));
        assert_eq!(parse_hold_ms("0.001"), Ok(1));
        assert_eq!(parse_hold_ms("0"), Ok(0));
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1.2345",
            "1e3",
            "ten",
            "18446744073709552",
        ] {
            assert!(parse_hold_ms(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_may_be_negative_but_not_zero() {
        assert_eq!(parse_amount("12.50"), Ok(Money::from_micros(12_500_000)));
        assert_eq!(parse_amount("-3"), Ok(Money::from_micros(-3_000_000)));
        assert!(parse_amount("0.00").is_err());
        assert!(parse_amount("1.0000001").is_err());
        assert!(parse_amount("ten").is_err());
    }

    #[test]
    fn rate_arguments_parse() {
        let Ok(Cli::Rate(a)) = parse(&[
            "rate",
            "--table",
            "retail",
            "--callee",
            "+442071234567",
            "--seconds",
            "61",
            "--at",
            "2026-11-28T10:00:00Z",
            "--json",
        ]) else {
            panic!("rate arguments refused");
        };
        assert_eq!(a.table, "retail");
        assert_eq!(a.callee, "442071234567");
        assert_eq!(a.hold_ms, 61_000);
        assert_eq!(a.at, Some(UtcMs(1_795_860_000_000)));
        assert!(a.json);
    }

    #[test]
    fn bad_rate_arguments_name_the_flag_and_exit_2() {
        for (args, flag) in [
            (&["--callee", "44x"][..], "--callee"),
            (&["--seconds", "abc"][..], "--seconds"),
            (&["--at", "tomorrow"][..], "--at"),
        ] {
            let mut all = vec!["rate", "--table", "t", "--callee", "44", "--seconds", "1"];
            all.extend_from_slice(args);
            let e = parse(&all).expect_err("refused");
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(flag), "{e}");
        }
    }

    #[test]
    fn account_pay_takes_negative_amounts() {
        let Ok(Cli::Account {
            command: AccountCommand::Pay { name, amount, .. },
        }) = parse(&["account", "pay", "acme", "-5.25", "--note", "refund"])
        else {
            panic!("pay arguments refused");
        };
        assert_eq!(name, "acme");
        assert_eq!(amount, Money::from_micros(-5_250_000));
        let e = parse(&["account", "pay", "acme", "0"]).expect_err("zero refused");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("AMOUNT"), "{e}");
    }

    #[test]
    fn quotes_serialise_money_as_text() {
        let charge = Charge {
            measured_hold_ms: 61_000,
            hold_ms: 61_000,
            free_secs: 0,
            billed_secs: 120,
            price_per_minute: Money::from_micros(50_000),
            connect_fee: Money::from_micros(10_000),
            duration_charge: Money::from_micros(100_000),
            charge: Money::from_micros(110_000),
        };
        let q = RateQuote::new("44", Some("United Kingdom"), &charge);
        assert_eq!(
            serde_json::to_string(&q).expect("json"),
            r#"{"prefix":"44","area":"United Kingdom","price_per_minute":"0.05","billed_seconds":120,"connect_fee":"0.01","charge":"0.11"}"#
        );
        let q = RateQuote::new("1", None, &charge);
        assert!(
            serde_json::to_string(&q)
                .expect("json")
                .contains(r#""area":null"#)
        );
        let text = rate_text("retail", Currency::USD, (60, 60), false, &charge, &q);
        assert!(text.contains("rate table:  retail (USD)"), "{text}");
        assert!(
            text.contains("charge:      0.11 = connect fee 0.01 + time 0.10"),
            "{text}"
        );
    }
}
