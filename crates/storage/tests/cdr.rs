//! CDRs, the ledger, payments and reports, run against every backend (see `common` for the
//! fixture). The report tests use a small data set whose every figure is computed by hand below.

#[macro_use]
mod common;

use std::time::Instant;
use tollswitch_model::cdr::{Cdr, EndReason, EndedBy, GatewayAttempt, LedgerEntry, LedgerKind};
use tollswitch_model::provisioning::Provisioning;
use tollswitch_model::{Money, SipCode, SipCodeClass};
use tollswitch_storage::{
    CdrFilter, GatewayPoint, SeriesStep, Storage, StorageError, TimeRange, TrafficStats,
};

backend_tests!(
    cdr_insert_is_idempotent,
    cdr_json_spelling_matches_the_stored_text,
    cdr_search_filters,
    cdr_search_range_is_capped,
    ledger_is_idempotent_and_moves_balances,
    ledger_refuses_overflow_and_keeps_orphans,
    agent_rollups_are_recorded_without_moving_the_agent_balance,
    a_running_switch_sees_revisions_and_external_balance_changes,
    payments_are_recorded_with_history,
    report_by_account_and_mapping_gateway,
    report_by_routing_gateway,
    report_by_vendor,
    report_by_area,
    report_by_hour,
    report_codes_by_gateway,
    report_gateway_series_per_hour_and_day,
    traffic_sums_every_cdr_of_the_range,
    bulk_insert_100k_cdrs,
);

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn micros(m: i64) -> Money {
    Money::from_micros(m)
}

fn tried(list: &[(&str, u16)]) -> Vec<GatewayAttempt> {
    list.iter()
        .map(|(g, c)| GatewayAttempt {
            gateway: (*g).into(),
            code: SipCode::new(*c).unwrap(),
            reason: (*c != 200).then(|| SipCode::new(*c).unwrap().reason_phrase().to_owned()),
        })
        .collect()
}

/// An unanswered attempt at `start` with nothing tried; the cases below fill in the rest.
fn base(id: &str, account: &str, mapping: &str, callee: &str, start: i64) -> Cdr {
    Cdr {
        id: id.into(),
        call_id: format!("{id}@192.0.2.10"),
        account: account.into(),
        agent: None,
        mapping_gateway: mapping.into(),
        caller_received: "15550001".into(),
        callee_received: callee.into(),
        caller_sent: "15550001".into(),
        callee_sent: callee.trim_start_matches("00").into(),
        caller_ip: "192.0.2.10".into(),
        routing_gateway: None,
        tried: Vec::new(),
        start_ms: start,
        ring_ms: None,
        connect_ms: None,
        end_ms: start + 1_000,
        pdd_ms: None,
        hold_time_ms: 0,
        billed_secs: 0,
        rate_prefix: None,
        area: None,
        charge: Money::ZERO,
        cost: Money::ZERO,
        vendor_rate_prefix: None,
        final_code: SipCode::FORBIDDEN,
        ended_by: EndedBy::Switch,
        end_reason: EndReason::Rejected,
    }
}

/// Rated for `area`.
fn rated(mut c: Cdr, prefix: &str, area: &str) -> Cdr {
    c.rate_prefix = Some(prefix.into());
    c.area = Some(area.into());
    c.vendor_rate_prefix = Some(prefix.into());
    c
}

/// Answered on the last gateway tried after `pdd` ms, talking `hold` ms.
fn answered(mut c: Cdr, gws: &[(&str, u16)], pdd: i64, hold: i64, charge: i64, cost: i64) -> Cdr {
    c.tried = tried(gws);
    c.routing_gateway = gws.last().map(|(g, _)| (*g).into());
    c.ring_ms = Some(c.start_ms + pdd);
    c.pdd_ms = Some(pdd as u64);
    c.connect_ms = Some(c.start_ms + pdd + 2_000);
    c.end_ms = c.start_ms + pdd + 2_000 + hold;
    c.hold_time_ms = hold as u64;
    c.billed_secs = (hold / 1_000) as u64;
    c.charge = micros(charge);
    c.cost = micros(cost);
    c.final_code = SipCode::OK;
    c.ended_by = EndedBy::Caller;
    c.end_reason = EndReason::NormalClearing;
    c
}

/// Failed on every gateway tried; the last code is final.
fn failed(mut c: Cdr, gws: &[(&str, u16)], pdd: Option<i64>, reason: EndReason) -> Cdr {
    c.tried = tried(gws);
    c.routing_gateway = gws.last().map(|(g, _)| (*g).into());
    c.ring_ms = pdd.map(|p| c.start_ms + p);
    c.pdd_ms = pdd.map(|p| p as u64);
    c.final_code = c.tried.last().map_or(SipCode::FORBIDDEN, |a| a.code);
    c.ended_by = if reason == EndReason::Cancelled {
        EndedBy::Caller
    } else {
        EndedBy::Callee
    };
    c.end_reason = reason;
    c
}

/// Six calls in `[T0, T0 + 2 h)` and two just outside it.
///
/// | id | account / mapping | hour | tried | routing | pdd | hold s | billed | area | charge | cost |
/// |---|---|---|---|---|---|---|---|---|---|---|
/// | c1 | acme / pbx-1 | 0 | gw-a 200 | gw-a | 1000 | 60 | 60 | 44 UK | 100 000 | 60 000 |
/// | c2 | acme / pbx-1 | 0 | gw-a 503, gw-b 200 | gw-b | 2000 | 30 | 30 | 44 UK | 50 000 | 40 000 |
/// | c3 | acme / pbx-1 | 0 | gw-a 486 | gw-a | – | 0 | 0 | 1 USA | 0 | 0 |
/// | c4 | beta / pbx-2 | 1 | gw-b 200 | gw-b | 500 | 90 | 90 | 1 USA | 30 000 | 45 000 |
/// | c5 | beta / pbx-2 | 1 | – (403) | – | – | 0 | 0 | – | 0 | 0 |
/// | c6 | acme / pbx-1 | 1 | gw-b 487 | gw-b | 1000 | 0 | 0 | 44 UK | 0 | 0 |
fn calls() -> Vec<Cdr> {
    let uk = |c| rated(c, "44", "UK");
    let usa = |c| rated(c, "1", "USA");
    vec![
        answered(
            uk(base("c1", "acme", "pbx-1", "0044201", T0)),
            &[("gw-a", 200)],
            1_000,
            60_000,
            100_000,
            60_000,
        ),
        answered(
            uk(base("c2", "acme", "pbx-1", "0044202", T0 + 10_000)),
            &[("gw-a", 503), ("gw-b", 200)],
            2_000,
            30_000,
            50_000,
            40_000,
        ),
        failed(
            usa(base("c3", "acme", "pbx-1", "1555", T0 + 20_000)),
            &[("gw-a", 486)],
            None,
            EndReason::RoutingFailed,
        ),
        answered(
            usa(base("c4", "beta", "pbx-2", "1666", T0 + HOUR + 5_000)),
            &[("gw-b", 200)],
            500,
            90_000,
            30_000,
            45_000,
        ),
        base("c5", "beta", "pbx-2", "1777", T0 + HOUR + 7_000),
        failed(
            uk(base("c6", "acme", "pbx-1", "0044203", T0 + HOUR + 8_000)),
            &[("gw-b", 487)],
            Some(1_000),
            EndReason::Cancelled,
        ),
    ]
}

/// Calls outside `range()`: one just before, one exactly at its end.
fn outside() -> Vec<Cdr> {
    vec![
        answered(
            base("before", "acme", "pbx-1", "0044", T0 - 1),
            &[("gw-a", 503), ("gw-b", 200)],
            100,
            10_000,
            1,
            1,
        ),
        failed(
            base("after", "beta", "pbx-2", "1", T0 + 2 * HOUR),
            &[("gw-a", 503)],
            None,
            EndReason::RoutingFailed,
        ),
    ]
}

fn range() -> TimeRange {
    TimeRange::new(T0, T0 + 2 * HOUR)
}

async fn loaded(s: &Storage) {
    let mut all = calls();
    all.extend(outside());
    assert_eq!(s.insert_cdrs(&all).await.unwrap(), 8);
}

fn ids(cdrs: &[Cdr]) -> Vec<&str> {
    cdrs.iter().map(|c| c.id.as_str()).collect()
}

#[allow(clippy::too_many_arguments)]
fn stats(
    attempts: u64,
    answered: u64,
    asr_bp: u64,
    acd_secs: u64,
    avg_pdd_ms: u64,
    hold_time_ms: u64,
    billed_secs: u64,
    revenue: i64,
    cost: i64,
) -> TrafficStats {
    TrafficStats {
        attempts,
        answered,
        asr_bp,
        acd_secs,
        avg_pdd_ms,
        hold_time_ms,
        billed_secs,
        revenue: micros(revenue),
        cost: micros(cost),
        profit: micros(revenue - cost),
    }
}

const ACCOUNTS: &str = r#"
[[account]]
name = "acme"
currency = "USD"
balance = "10"

[[account]]
name = "beta"
currency = "USD"
"#;

async fn with_accounts(s: &Storage) {
    let p: Provisioning = toml::from_str(ACCOUNTS).unwrap();
    s.apply(&p).await.unwrap();
}

fn entry(id: &str, account: &str, kind: LedgerKind, amount: i64, at: i64) -> LedgerEntry {
    LedgerEntry {
        id: id.into(),
        account: account.into(),
        kind,
        amount: micros(amount),
        at_ms: at,
        cdr_id: (kind == LedgerKind::Charge).then(|| format!("cdr-{id}")),
        note: None,
    }
}

async fn balance(s: &Storage, account: &str) -> i64 {
    s.account_balance(account).await.unwrap().unwrap().micros()
}

// ---------------------------------------------------------------------------------------------
// CDRs
// ---------------------------------------------------------------------------------------------

async fn cdr_insert_is_idempotent(s: &Storage) {
    assert_eq!(s.insert_cdrs(&[]).await.unwrap(), 0);
    loaded(s).await;
    let codes = s.report_codes_by_gateway(range()).await.unwrap();
    // The same batch again, and a batch mixing old, new and a repeated new id.
    let mut all = calls();
    all.extend(outside());
    assert_eq!(s.insert_cdrs(&all).await.unwrap(), 0);
    let c7 = answered(
        base("c7", "acme", "pbx-1", "0044", T0 + 2 * HOUR + 1),
        &[("gw-a", 200)],
        1_000,
        5_000,
        10,
        5,
    );
    let mut c7_again = c7.clone();
    c7_again.charge = micros(999);
    assert_eq!(
        s.insert_cdrs(&[calls()[1].clone(), c7.clone(), c7_again])
            .await
            .unwrap(),
        1
    );
    // Nothing counted twice, not even the attempts.
    assert_eq!(s.report_codes_by_gateway(range()).await.unwrap(), codes);
    let found = s
        .cdr_search(&CdrFilter::new(TimeRange::new(T0 - 1, T0 + DAY)), 31)
        .await
        .unwrap();
    assert_eq!(found.len(), 9);
    // Stored exactly as given; the first of two records with one id wins.
    let mut want = vec![outside()[0].clone()];
    want.extend(calls());
    want.push(outside()[1].clone());
    want.push(c7);
    assert_eq!(found, want);

    // A bad record refuses the whole batch.
    let mut bad = calls()[0].clone();
    bad.id = "bad".into();
    bad.hold_time_ms = u64::MAX;
    let mut ok = calls()[0].clone();
    ok.id = "ok".into();
    let err = s.insert_cdrs(&[ok, bad]).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::InvalidRecord { table: "cdr", id, field: "hold_time_ms", .. } if id == "bad"),
        "{err}"
    );
    let found = s
        .cdr_search(&CdrFilter::new(TimeRange::new(T0 - 1, T0 + DAY)), 31)
        .await
        .unwrap();
    assert_eq!(found.len(), 9);
}

async fn cdr_json_spelling_matches_the_stored_text(s: &Storage) {
    // The serde spelling (JSON, CDR files, API) is the text the database holds.
    let c = &calls()[5];
    let json = serde_json::to_value(c).unwrap();
    assert_eq!(json["end_reason"], c.end_reason.as_str());
    assert_eq!(json["ended_by"], c.ended_by.as_str());
    assert_eq!(json["final_code"], 487);
    assert_eq!(json["charge"], "0.00");
    assert_eq!(json["tried"][0]["gateway"], "gw-b");
    let back: Cdr = serde_json::from_value(json).unwrap();
    assert_eq!(&back, c);
    for k in LedgerKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    for r in EndReason::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    for e in EndedBy::ALL {
        assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
    }
    // And through the database.
    s.insert_cdrs(std::slice::from_ref(c)).await.unwrap();
    let found = s.cdr_search(&CdrFilter::new(range()), 1).await.unwrap();
    assert_eq!(found, vec![c.clone()]);
}

async fn cdr_search_filters(s: &Storage) {
    loaded(s).await;
    let search = |f: CdrFilter| async move { s.cdr_search(&f, 31).await.unwrap() };
    let all = CdrFilter::new(range());
    assert_eq!(
        ids(&search(all.clone()).await),
        ["c1", "c2", "c3", "c4", "c5", "c6"]
    );
    let f = CdrFilter {
        account: Some("beta".into()),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c4", "c5"]);
    let f = CdrFilter {
        mapping_gateway: Some("pbx-1".into()),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c1", "c2", "c3", "c6"]);
    let f = CdrFilter {
        routing_gateway: Some("gw-b".into()),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c2", "c4", "c6"]);
    let f = CdrFilter {
        callee_prefix: Some("0044".into()),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c1", "c2", "c6"]);
    // LIKE wildcards in the prefix are plain characters.
    for p in ["1%", "1_", "%", "_"] {
        let f = CdrFilter {
            callee_prefix: Some(p.into()),
            ..all.clone()
        };
        assert!(search(f).await.is_empty(), "{p}");
    }
    let f = CdrFilter {
        final_code: Some(SipCode::OK),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c1", "c2", "c4"]);
    // Filters combine.
    let f = CdrFilter {
        account: Some("acme".into()),
        routing_gateway: Some("gw-b".into()),
        final_code: Some(SipCode::OK),
        callee_prefix: Some("00442".into()),
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c2"]);
    // Paging.
    let f = CdrFilter {
        limit: 2,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c2", "c3"]);
    let f = CdrFilter {
        limit: 10,
        offset: 5,
        ..all.clone()
    };
    assert_eq!(ids(&search(f).await), ["c6"]);
    // The range is half-open.
    let f = CdrFilter::new(TimeRange::new(T0 - 1, T0));
    assert_eq!(ids(&search(f).await), ["before"]);
}

async fn cdr_search_range_is_capped(s: &Storage) {
    loaded(s).await;
    let days = |n: i64| CdrFilter::new(TimeRange::new(T0, T0 + n * DAY));
    assert_eq!(s.cdr_search(&days(31), 31).await.unwrap().len(), 7);
    let err = s.cdr_search(&days(31), 30).await.unwrap_err();
    assert!(matches!(err, StorageError::QueryRange(_)), "{err}");
    assert!(
        err.to_string()
            .contains("SERVER_QUERY_CDR_MAX_DAY_INTERVAL"),
        "{err}"
    );
    let one_ms_too_long = CdrFilter::new(TimeRange::new(T0, T0 + DAY + 1));
    assert!(s.cdr_search(&one_ms_too_long, 1).await.is_err());
    let empty = CdrFilter::new(TimeRange::new(T0, T0));
    assert!(matches!(
        s.cdr_search(&empty, 31).await,
        Err(StorageError::QueryRange(_))
    ));
    let reversed = CdrFilter::new(TimeRange::new(T0, T0 - 1));
    assert!(s.cdr_search(&reversed, 31).await.is_err());
    assert!(s.report_by_hour(TimeRange::new(T0, T0)).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// Ledger and payments
// ---------------------------------------------------------------------------------------------

async fn ledger_is_idempotent_and_moves_balances(s: &Storage) {
    with_accounts(s).await;
    assert_eq!(balance(s, "acme").await, 10_000_000);
    let batch = [
        entry("ch-1", "acme", LedgerKind::Charge, -100_000, T0),
        entry("ch-2", "acme", LedgerKind::Charge, -50_000, T0 + 1),
        entry("adj-1", "beta", LedgerKind::Adjustment, 2_500_000, T0 + 2),
    ];
    let done = s.apply_ledger(&batch).await.unwrap();
    assert_eq!((done.inserted, done.duplicates), (3, 0));
    assert!(done.orphaned.is_empty());
    assert_eq!(balance(s, "acme").await, 9_850_000);
    assert_eq!(balance(s, "beta").await, 2_500_000);

    // Again: nothing changes.
    let done = s.apply_ledger(&batch).await.unwrap();
    assert_eq!((done.inserted, done.duplicates), (0, 3));
    assert_eq!(balance(s, "acme").await, 9_850_000);

    // Old and new mixed, a new id repeated: only the first new one counts.
    let mut twice = entry("ch-3", "acme", LedgerKind::Charge, -1, T0 + 3);
    let done = s
        .apply_ledger(&[batch[1].clone(), twice.clone(), {
            twice.amount = micros(-1_000_000);
            twice
        }])
        .await
        .unwrap();
    assert_eq!((done.inserted, done.duplicates), (1, 2));
    assert_eq!(balance(s, "acme").await, 9_849_999);

    let history = s
        .ledger_for("acme", TimeRange::new(T0, T0 + DAY))
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ch-1", "ch-2", "ch-3"]
    );
    assert_eq!(history[0], batch[0]);
    assert_eq!(
        s.ledger_for("acme", TimeRange::new(T0 + 1, T0 + 3))
            .await
            .unwrap()
            .len(),
        1
    );
    // Provisioning leaves the ledger's balance alone.
    with_accounts(s).await;
    assert_eq!(balance(s, "acme").await, 9_849_999);
}

async fn agent_rollups_are_recorded_without_moving_the_agent_balance(s: &Storage) {
    with_accounts(s).await;
    let before = balance(s, "beta").await;
    let done = s
        .apply_ledger(&[
            entry("call-9", "acme", LedgerKind::Charge, -300_000, T0),
            entry("call-9#1", "beta", LedgerKind::AgentRollup, -300_000, T0),
        ])
        .await
        .unwrap();
    assert_eq!(done.inserted, 2);
    assert_eq!(balance(s, "acme").await, 9_700_000, "the caller paid");
    assert_eq!(balance(s, "beta").await, before, "once");
    let books = s
        .ledger_for("beta", TimeRange::new(T0, T0 + DAY))
        .await
        .unwrap();
    assert_eq!(books.len(), 1, "the roll-up is on the agent's books");
}

async fn a_running_switch_sees_revisions_and_external_balance_changes(s: &Storage) {
    let r0 = s.provisioning_revision().await.unwrap();
    with_accounts(s).await;
    let r1 = s.provisioning_revision().await.unwrap();
    assert!(r1 > r0, "apply bumps the revision");
    s.set_parameter("SS_SIP_TIMEOUT_INVITE", "5").await.unwrap();
    assert!(
        s.provisioning_revision().await.unwrap() > r1,
        "so does a parameter"
    );

    let live = s.live_balances(1000).await.unwrap();
    assert!(live.recent_external.is_empty());
    assert_eq!(live.balances.get("acme"), Some(&micros(10_000_000)));
    s.apply_ledger(&[entry("call-1", "acme", LedgerKind::Charge, -100, T0)])
        .await
        .unwrap();
    let paid = s
        .pay("acme", micros(5_000_000), Some("top-up"), T0)
        .await
        .unwrap();
    s.apply_ledger(&[entry("adj-1", "beta", LedgerKind::Adjustment, 7, T0)])
        .await
        .unwrap();
    let ext = s.external_ledger_since(live.ledger_seq, 100).await.unwrap();
    assert_eq!(
        ext.iter().map(|(_, e)| e.id.as_str()).collect::<Vec<_>>(),
        [paid.id.as_str(), "adj-1"],
        "payments and adjustments, not the switch's own charges"
    );
    assert!(ext[0].0 < ext[1].0);
    let after = s.external_ledger_since(ext[1].0, 100).await.unwrap();
    assert!(after.is_empty());
    let live = s.live_balances(1000).await.unwrap();
    assert_eq!(live.ledger_seq, ext[1].0);
    assert_eq!(
        live.recent_external
            .iter()
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>(),
        [paid.id.as_str(), "adj-1"]
    );
}

async fn ledger_refuses_overflow_and_keeps_orphans(s: &Storage) {
    with_accounts(s).await;
    // An entry for an account that is gone is kept, and moves no balance.
    let done = s
        .apply_ledger(&[
            entry("gone-1", "ghost", LedgerKind::Charge, -5, T0),
            entry("ok-1", "acme", LedgerKind::Charge, -5, T0),
        ])
        .await
        .unwrap();
    assert_eq!(done.inserted, 2);
    assert_eq!(done.orphaned, ["gone-1"]);
    assert_eq!(
        s.ledger_for("ghost", TimeRange::new(T0, T0 + 1))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(balance(s, "acme").await, 9_999_995);

    // Overflow refuses the whole batch.
    let err = s
        .apply_ledger(&[
            entry("big-0", "beta", LedgerKind::Adjustment, 1, T0),
            entry("big-1", "acme", LedgerKind::Adjustment, i64::MAX, T0),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::BalanceOverflow(a) if a == "acme"),
        "{err}"
    );
    let err = s
        .apply_ledger(&[
            entry("big-2", "acme", LedgerKind::Adjustment, i64::MAX, T0),
            entry("big-3", "acme", LedgerKind::Adjustment, i64::MAX, T0),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::BalanceOverflow(_)), "{err}");
    assert_eq!(balance(s, "acme").await, 9_999_995);
    assert_eq!(balance(s, "beta").await, 0);
    assert!(
        s.ledger_for("beta", TimeRange::new(T0, T0 + 1))
            .await
            .unwrap()
            .is_empty()
    );
    // The refused ids are free again.
    let done = s
        .apply_ledger(&[entry("big-0", "beta", LedgerKind::Adjustment, 1, T0)])
        .await
        .unwrap();
    assert_eq!(done.inserted, 1);
    assert_eq!(balance(s, "beta").await, 1);

    let err = s
        .apply_ledger(&[entry("", "acme", LedgerKind::Charge, -1, T0)])
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidRecord { .. }), "{err}");
}

async fn payments_are_recorded_with_history(s: &Storage) {
    with_accounts(s).await;
    let p1 = s
        .pay("acme", "5.5".parse().unwrap(), Some("wire 1"), T0 + 10)
        .await
        .unwrap();
    let p2 = s
        .pay("acme", "1".parse().unwrap(), None, T0 + 10)
        .await
        .unwrap();
    let p3 = s
        .pay("beta", "2".parse().unwrap(), Some("card"), T0 + 5)
        .await
        .unwrap();
    let refund = s
        .pay("acme", "-0.5".parse().unwrap(), Some("reversal"), T0 + 20)
        .await
        .unwrap();
    assert_eq!(p1.kind, LedgerKind::Payment);
    assert_eq!(p1.note.as_deref(), Some("wire 1"));
    assert_eq!(p1.amount, micros(5_500_000));
    assert!(p1.id.starts_with("payment-") && p1.id.ends_with(&format!("-{}-1", T0 + 10)));
    assert!(p2.id.ends_with(&format!("-{}-2", T0 + 10)), "{}", p2.id);
    assert_ne!(p1.id, p2.id);
    assert_eq!(balance(s, "acme").await, 16_000_000);
    assert_eq!(balance(s, "beta").await, 2_000_000);

    // A charge is in the ledger but not in the payment history.
    s.apply_ledger(&[entry(
        "ch-1",
        "acme",
        LedgerKind::Charge,
        -1_000_000,
        T0 + 15,
    )])
    .await
    .unwrap();
    let r = TimeRange::new(T0, T0 + DAY);
    assert_eq!(
        s.payments(Some("acme"), r).await.unwrap(),
        [p1.clone(), p2.clone(), refund.clone()]
    );
    assert_eq!(
        s.payments(None, r).await.unwrap(),
        [p3.clone(), p1.clone(), p2.clone(), refund.clone()]
    );
    assert_eq!(
        s.ledger_for("acme", r)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        [p1.id.as_str(), p2.id.as_str(), "ch-1", refund.id.as_str()]
    );
    assert_eq!(balance(s, "acme").await, 15_000_000);

    let err = s
        .pay("nobody", "1".parse().unwrap(), None, T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::UnknownAccount(a) if a == "nobody"),
        "{err}"
    );
    assert!(s.pay("acme", Money::ZERO, None, T0).await.is_err());
    assert!(
        s.pay("acme", Money::from_micros(i64::MAX), None, T0)
            .await
            .is_err()
    );
    assert_eq!(balance(s, "acme").await, 15_000_000);
    assert_eq!(s.payments(Some("acme"), r).await.unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Reports (figures from the table on `calls`)
// ---------------------------------------------------------------------------------------------

async fn report_by_account_and_mapping_gateway(s: &Storage) {
    loaded(s).await;
    // acme: c1 c2 c3 c6; answered c1 c2 (hold 90 s → ACD 45 s); PDD (1000+2000+1000)/3.
    let acme = stats(4, 2, 5_000, 45, 1_333, 90_000, 90, 150_000, 100_000);
    // beta: c4 c5; answered c4; PDD 500.
    let beta = stats(2, 1, 5_000, 90, 500, 90_000, 90, 30_000, 45_000);
    let by_account = s.report_by_account(range()).await.unwrap();
    assert_eq!(
        by_account
            .iter()
            .map(|r| (r.account.as_str(), r.stats))
            .collect::<Vec<_>>(),
        [("acme", acme), ("beta", beta)]
    );
    assert_eq!(beta.profit, micros(-15_000));
    let by_mapping = s.report_by_mapping_gateway(range()).await.unwrap();
    assert_eq!(
        by_mapping
            .iter()
            .map(|r| (r.mapping_gateway.as_str(), r.stats))
            .collect::<Vec<_>>(),
        [("pbx-1", acme), ("pbx-2", beta)]
    );
    // Serialised flat, money as decimal text.
    let json = serde_json::to_value(&by_account[1]).unwrap();
    assert_eq!(json["account"], "beta");
    assert_eq!(json["asr_bp"], 5_000);
    assert_eq!(json["profit"], "-0.015");
}

async fn traffic_sums_every_cdr_of_the_range(s: &Storage) {
    loaded(s).await;
    // acme and beta together: 6 calls, 3 answered (hold 180 s), PDD (1000+2000+1000+500)/4.
    let all = stats(6, 3, 5_000, 60, 1_125, 180_000, 180, 180_000, 145_000);
    assert_eq!(s.traffic(range()).await.unwrap(), all);
    let empty = TimeRange::new(T0 - 2 * DAY, T0 - DAY);
    assert_eq!(s.traffic(empty).await.unwrap(), TrafficStats::default());
    assert!(s.traffic(TimeRange::new(T0, T0)).await.is_err());
}

async fn report_by_routing_gateway(s: &Storage) {
    loaded(s).await;
    // Tries: gw-a c1 200, c2 503, c3 486 → 3 attempts, 1 answer; gw-b c2 200, c4 200, c6 487
    // → 3 attempts, 2 answers. Carried: gw-a c1 c3 (hold 60 s over 1 answered call, PDD 1000);
    // gw-b c2 c4 c6 (hold 120 s over 2 answered calls, PDD (2000+500+1000)/3 = 1166.7).
    let report = s.report_by_routing_gateway(range()).await.unwrap();
    assert_eq!(
        report
            .iter()
            .map(|r| (r.routing_gateway.as_str(), r.stats))
            .collect::<Vec<_>>(),
        [
            (
                "gw-a",
                stats(3, 1, 3_333, 60, 1_000, 60_000, 60, 100_000, 60_000)
            ),
            (
                "gw-b",
                stats(3, 2, 6_667, 60, 1_167, 120_000, 120, 80_000, 85_000)
            ),
        ]
    );
}

async fn report_by_vendor(s: &Storage) {
    let p: Provisioning = toml::from_str(
        r#"
[[account]]
name = "carrier-1"
kind = "vendor"
currency = "USD"

[[account]]
name = "carrier-2"
kind = "vendor"
currency = "USD"

[[routing_gateway]]
name = "gw-a"
vendor_account = "carrier-1"
targets = [{ host = "192.0.2.1", port = 5060 }]
prefixes = ["44"]

[[routing_gateway]]
name = "gw-b"
vendor_account = "carrier-2"
targets = [{ host = "192.0.2.2", port = 5060 }]
prefixes = ["44"]
"#,
    )
    .unwrap();
    s.apply(&p).await.unwrap();
    loaded(s).await;
    // The calls each vendor's gateway carried (or ended on): gw-a c1 c3, gw-b c2 c4 c6.
    let report = s.report_by_vendor(range()).await.unwrap();
    assert_eq!(
        report
            .iter()
            .map(|r| (r.vendor.as_str(), r.stats))
            .collect::<Vec<_>>(),
        [
            (
                "carrier-1",
                stats(2, 1, 5_000, 60, 1_000, 60_000, 60, 100_000, 60_000)
            ),
            (
                "carrier-2",
                stats(3, 2, 6_667, 60, 1_167, 120_000, 120, 80_000, 85_000)
            ),
        ]
    );
}

async fn report_by_area(s: &Storage) {
    loaded(s).await;
    let report = s.report_by_area(range()).await.unwrap();
    let got: Vec<_> = report
        .iter()
        .map(|r| (r.rate_prefix.as_deref(), r.area.as_deref(), r.stats))
        .collect();
    assert_eq!(
        got,
        [
            // c5, never rated.
            (None, None, stats(1, 0, 0, 0, 0, 0, 0, 0, 0)),
            // c3 c4.
            (
                Some("1"),
                Some("USA"),
                stats(2, 1, 5_000, 90, 500, 90_000, 90, 30_000, 45_000)
            ),
            // c1 c2 c6.
            (
                Some("44"),
                Some("UK"),
                stats(3, 2, 6_667, 45, 1_333, 90_000, 90, 150_000, 100_000)
            ),
        ]
    );
}

async fn report_by_hour(s: &Storage) {
    loaded(s).await;
    let report = s.report_by_hour(range()).await.unwrap();
    let got: Vec<_> = report.iter().map(|r| (r.hour_start_ms, r.stats)).collect();
    assert_eq!(
        got,
        [
            // c1 c2 c3: PDD (1000+2000)/2.
            (
                T0,
                stats(3, 2, 6_667, 45, 1_500, 90_000, 90, 150_000, 100_000)
            ),
            // c4 c5 c6: PDD (500+1000)/2.
            (
                T0 + HOUR,
                stats(3, 1, 3_333, 90, 750, 90_000, 90, 30_000, 45_000)
            ),
        ]
    );
    // An hour with nothing in it is left out; a range with nothing gives nothing.
    assert!(
        s.report_by_hour(TimeRange::new(T0 + 3 * HOUR, T0 + 4 * HOUR))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn report_codes_by_gateway(s: &Storage) {
    loaded(s).await;
    let report = s.report_codes_by_gateway(range()).await.unwrap();
    let got: Vec<_> = report
        .iter()
        .map(|c| (c.gateway.as_deref(), c.code.as_u16(), c.count))
        .collect();
    assert_eq!(
        got,
        [
            (None, 403, 1),
            (Some("gw-a"), 200, 1),
            (Some("gw-a"), 486, 1),
            (Some("gw-a"), 503, 1),
            (Some("gw-b"), 200, 2),
            (Some("gw-b"), 487, 1),
        ]
    );
    let busy = &report[2];
    assert_eq!(busy.class, SipCodeClass::ClientError);
    assert_eq!(busy.reason_phrase, "Busy Here");
    assert_eq!(busy.hint, SipCode::BUSY_HERE.troubleshooting_hint());
    let json = serde_json::to_value(&report[3]).unwrap();
    assert_eq!(json["code"], 503);
    assert_eq!(json["class"], "servererror");
    assert!(json["hint"].as_str().unwrap().contains("alternate"));
}

// ---------------------------------------------------------------------------------------------
// Bulk
// ---------------------------------------------------------------------------------------------

/// A series point; `acd` and `hold` in seconds.
fn point(start_ms: i64, attempts: u64, answered: u64, acd: u64, hold: u64) -> GatewayPoint {
    let asr_bp = if attempts == 0 {
        0
    } else {
        (answered * 20_000 + attempts) / (attempts * 2)
    };
    GatewayPoint {
        start_ms,
        attempts,
        answered,
        asr_bp,
        acd_secs: acd,
        hold_time_ms: hold * 1_000,
        // Every call of the data set is billed by the second.
        billed_secs: hold,
    }
}

async fn report_gateway_series_per_hour_and_day(s: &Storage) {
    loaded(s).await;
    let series = |r: &[tollswitch_storage::GatewaySeries]| -> Vec<(String, Vec<GatewayPoint>)> {
        r.iter()
            .map(|g| (g.routing_gateway.clone(), g.points.clone()))
            .collect()
    };
    // Hour T0: gw-a tried by c1 (200), c2 (503), c3 (486), carried c1 (60 s) and c3; gw-b
    // tried and carried c2 (200, 30 s). Hour T0+1: gw-b tried and carried c4 (200, 90 s) and
    // c6 (487). c5 never reached a gateway.
    let hourly = s
        .report_gateway_series(range(), SeriesStep::Hour)
        .await
        .unwrap();
    assert_eq!(
        series(&hourly),
        [
            ("gw-a".to_owned(), vec![point(T0, 3, 1, 60, 60)]),
            (
                "gw-b".to_owned(),
                vec![point(T0, 1, 1, 30, 30), point(T0 + HOUR, 2, 1, 90, 90)]
            ),
        ]
    );
    assert_eq!(hourly[0].points[0].asr_bp, 3_333);
    assert_eq!(hourly[1].attempts(), 3);
    // Per day the two hours of gw-b are one point, the same figures as the whole-range report.
    let daily = s
        .report_gateway_series(range(), SeriesStep::Day)
        .await
        .unwrap();
    let whole = s.report_by_routing_gateway(range()).await.unwrap();
    assert_eq!(daily.len(), whole.len());
    for (d, w) in daily.iter().zip(&whole) {
        assert_eq!(d.routing_gateway, w.routing_gateway);
        assert_eq!(d.points.len(), 1, "{d:?}");
        let p = d.points[0];
        assert_eq!(p.start_ms, T0);
        assert_eq!(
            (p.attempts, p.answered, p.asr_bp, p.acd_secs, p.billed_secs),
            (
                w.stats.attempts,
                w.stats.answered,
                w.stats.asr_bp,
                w.stats.acd_secs,
                w.stats.billed_secs
            )
        );
    }
    // The range's ends hold: `before` (T0 - 1) and `after` (T0 + 2 h) are not counted, but a
    // range around them sees them in their own hours.
    let wide = s
        .report_gateway_series(TimeRange::new(T0 - HOUR, T0 + 3 * HOUR), SeriesStep::Hour)
        .await
        .unwrap();
    let starts = |g: &str| -> Vec<i64> {
        wide.iter()
            .find(|x| x.routing_gateway == g)
            .map(|x| x.points.iter().map(|p| p.start_ms).collect())
            .unwrap_or_default()
    };
    assert_eq!(starts("gw-a"), [T0 - HOUR, T0, T0 + 2 * HOUR]);
    assert_eq!(starts("gw-b"), [T0 - HOUR, T0, T0 + HOUR]);
    assert!(
        s.report_gateway_series(
            TimeRange::new(T0 + 3 * HOUR, T0 + 4 * HOUR),
            SeriesStep::Hour
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert!(matches!(
        s.report_gateway_series(TimeRange::new(T0, T0), SeriesStep::Hour)
            .await,
        Err(StorageError::QueryRange(_))
    ));
}

async fn bulk_insert_100k_cdrs(s: &Storage) {
    const TOTAL: usize = 100_000;
    const BATCH: usize = 1_000;
    let gateways = ["gw-a", "gw-b", "gw-c", "gw-d"];
    let cdrs: Vec<Cdr> = (0..TOTAL)
        .map(|i| {
            let start = T0 + i as i64 * 500;
            let c = rated(
                base(
                    &format!("node1-{start}-{i}"),
                    ["acme", "beta", "gamma"][i % 3],
                    ["pbx-1", "pbx-2"][i % 2],
                    &format!("0044{:07}", i % 9_999_991),
                    start,
                ),
                "44",
                "UK",
            );
            let gw = gateways[i % 4];
            if i % 3 == 0 {
                failed(c, &[(gw, 503)], Some(800), EndReason::RoutingFailed)
            } else if i % 3 == 1 {
                let next = gateways[(i + 1) % 4];
                answered(c, &[(gw, 503), (next, 200)], 1_200, 45_000, 9_000, 6_000)
            } else {
                answered(c, &[(gw, 200)], 900, 120_000, 24_000, 16_000)
            }
        })
        .collect();
    let started = Instant::now();
    let mut inserted = 0;
    for batch in cdrs.chunks(BATCH) {
        inserted += s.insert_cdrs(batch).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(inserted, TOTAL as u64);
    println!(
        "{:?}: inserted {TOTAL} CDRs in batches of {BATCH} in {:.2?}: {:.0} CDR/s",
        s.backend(),
        elapsed,
        TOTAL as f64 / elapsed.as_secs_f64()
    );
    let all = TimeRange::new(T0, T0 + DAY);
    let started = Instant::now();
    let by_gateway = s.report_by_routing_gateway(all).await.unwrap();
    println!(
        "{:?}: routing gateway report over {TOTAL} CDRs in {:.2?}",
        s.backend(),
        started.elapsed()
    );
    // 100 000 calls: 33 334 fail once, 33 333 fail over once, 33 333 answer at once.
    let attempts: u64 = by_gateway.iter().map(|r| r.stats.attempts).sum();
    let answered: u64 = by_gateway.iter().map(|r| r.stats.answered).sum();
    assert_eq!(attempts, 33_334 + 2 * 33_333 + 33_333);
    assert_eq!(answered, 2 * 33_333);
    let by_hour = s.report_by_hour(all).await.unwrap();
    assert_eq!(
        by_hour.iter().map(|r| r.stats.attempts).sum::<u64>(),
        TOTAL as u64
    );
    assert_eq!(
        by_hour
            .iter()
            .map(|r| r.stats.revenue.micros())
            .sum::<i64>(),
        33_333 * 9_000 + 33_333 * 24_000
    );
    // A replay of the whole journal writes nothing.
    assert_eq!(s.insert_cdrs(&cdrs[..5_000]).await.unwrap(), 0);
}
