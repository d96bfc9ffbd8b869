//! 200 concurrent calls on one prepaid account that can afford 10 minutes in total, driven
//! through the public API by a simulated clock, the way the engine drives it: authorise on
//! arrival, answer, extend at `extend_at`, release at `hard_end_at`, settle at hangup.

use std::collections::BTreeSet;
use tollswitch_billing::{
    AccountTerms, BalanceBook, BillingConfig, Extension, Grant, LedgerOpKind, OpId, Refusal,
    Tariff, rate_call,
};
use tollswitch_model::provisioning::{AccountStatus, PaymentMode};
use tollswitch_model::{AccountId, Money};

/// SplitMix64: a seeded, dependency-free generator; the same seed gives the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive,
    Answer,
    /// Try to extend; the time it was scheduled for (stale when the grant moved on).
    Extend(i64),
    /// Release at the hard end; the time it was scheduled for.
    HardEnd(i64),
    Hangup,
    Cancel,
}

struct Call {
    grant: Option<Grant>,
    ring_ms: i64,
    talk_ms: i64,
    answers: bool,
}

struct Outcome {
    refused: usize,
    cut_by_balance: usize,
    charged: Money,
    debited: Money,
    unbilled: Money,
    balance_change: Money,
    ledger_delta: Money,
    max_concurrent: usize,
}

const ACME: AccountId = AccountId(1);
const AGENT: AccountId = AccountId(2);
const START: i64 = 1_700_000_000_000;

fn m(s: &str) -> Money {
    s.parse().expect("money literal")
}

/// Runs one seeded simulation. `late_ms` is how late the engine releases calls at their hard
/// end (0 = exactly on time).
fn simulate(seed: u64, late_ms: i64, cfg: BillingConfig) -> Outcome {
    let mut rng = Rng(seed);
    // 0.10 per minute, 6/6, 0.01 connect fee; balance 0.70 + credit 0.30 = 10 minutes of time.
    let tariff = Tariff::new(m("0.10"), 6, 6, m("0.01"))
        .expect("valid tariff")
        .with_prefix("44")
        .with_area("United Kingdom");
    let credit = m("0.30");
    let opening = m("0.70");
    let mut book = BalanceBook::new(cfg.clone());
    book.insert_account(
        AGENT,
        Money::ZERO,
        AccountTerms {
            credit_limit: Money::ZERO,
            payment_mode: PaymentMode::Postpaid,
            status: AccountStatus::Active,
            expiry: None,
            parent_agent: None,
        },
    )
    .expect("new agent");
    book.insert_account(
        ACME,
        opening,
        AccountTerms {
            credit_limit: credit,
            payment_mode: PaymentMode::Prepaid,
            status: AccountStatus::Active,
            expiry: None,
            parent_agent: Some(AGENT),
        },
    )
    .expect("new account");

    let mut calls: Vec<Call> = Vec::new();
    let mut queue: BTreeSet<(i64, usize, Event)> = BTreeSet::new();
    for i in 0..200 {
        let arrive = START + i64::try_from(rng.below(20_000)).expect("small");
        calls.push(Call {
            grant: None,
            ring_ms: i64::try_from(rng.below(8_000)).expect("small"),
            talk_ms: i64::try_from(1 + rng.below(600_000)).expect("small"),
            answers: rng.below(10) != 0,
        });
        queue.insert((arrive, i, Event::Arrive));
    }

    let mut out = Outcome {
        refused: 0,
        cut_by_balance: 0,
        charged: Money::ZERO,
        debited: Money::ZERO,
        unbilled: Money::ZERO,
        balance_change: Money::ZERO,
        ledger_delta: Money::ZERO,
        max_concurrent: 0,
    };
    let mut ids = 0u64;
    let mut settle = |book: &mut BalanceBook, grant: Grant, hold_ms: i64, out: &mut Outcome| {
        ids += 1;
        let hold = u64::try_from(hold_ms).expect("non-negative hold");
        let s = book
            .settle(grant, hold, OpId(format!("cdr-{seed}-{ids}")))
            .expect("open grant");
        // The settlement's rating is exactly what rating the hold time alone gives.
        let alone = rate_call(&tariff, hold, &cfg).expect("rated");
        assert_eq!(s.charge, alone);
        out.charged = out.charged.saturating_add(s.charge.charge);
        out.debited = out.debited.saturating_add(s.debited);
        out.unbilled = out.unbilled.saturating_add(s.unbilled);
        for op in &s.ops {
            out.ledger_delta = out.ledger_delta.saturating_add(op.balance_delta());
            if op.account == AGENT {
                assert_eq!(
                    op.kind,
                    LedgerOpKind::AgentRollup {
                        sub_account: ACME,
                        level: 1
                    }
                );
            }
        }
    };
    let schedule_timers = |queue: &mut BTreeSet<(i64, usize, Event)>, i: usize, g: &Grant| {
        if let Some(at) = g.extend_at() {
            queue.insert((at, i, Event::Extend(at)));
        }
        if let Some(at) = g.hard_end_at() {
            queue.insert((at + late_ms, i, Event::HardEnd(at)));
        }
    };

    while let Some((now, i, ev)) = queue.pop_first() {
        let call = &mut calls[i];
        match ev {
            Event::Arrive => match book.authorise(ACME, &tariff, now) {
                Ok(g) => {
                    call.grant = Some(g);
                    let next = if call.answers {
                        Event::Answer
                    } else {
                        Event::Cancel
                    };
                    queue.insert((now + call.ring_ms, i, next));
                }
                Err(Refusal::InsufficientBalance { .. }) => out.refused += 1,
                Err(other) => panic!("unexpected refusal {other}"),
            },
            Event::Cancel => {
                if let Some(g) = call.grant.take() {
                    book.cancel(g).expect("open grant");
                }
            }
            Event::Answer => {
                if let Some(g) = call.grant.as_mut() {
                    g.answer(now);
                    queue.insert((now + call.talk_ms, i, Event::Hangup));
                    schedule_timers(&mut queue, i, g);
                }
            }
            Event::Extend(scheduled) => {
                if let Some(g) = call.grant.as_mut()
                    && g.extend_at() == Some(scheduled)
                {
                    match book.extend(g, now).expect("open grant") {
                        Extension::Extended { .. } => schedule_timers(&mut queue, i, g),
                        Extension::Exhausted { .. } | Extension::NotDue { .. } => {}
                        Extension::Unlimited => panic!("priced calls are limited"),
                    }
                }
            }
            Event::HardEnd(scheduled) => {
                if call
                    .grant
                    .as_ref()
                    .is_some_and(|g| g.hard_end_at() == Some(scheduled))
                    && let Some(g) = call.grant.take()
                {
                    let answered = g.answered_at().expect("answered");
                    out.cut_by_balance += 1;
                    settle(&mut book, g, now - answered, &mut out);
                }
            }
            Event::Hangup => {
                if let Some(g) = call.grant.take() {
                    let answered = g.answered_at().expect("answered");
                    settle(&mut book, g, now - answered, &mut out);
                }
            }
        }
        // The guarantee, after every event.
        let v = book.account(ACME).expect("known");
        assert!(
            v.balance >= Money::ZERO.saturating_sub(credit),
            "seed {seed}: balance {} below -{credit}",
            v.balance
        );
        assert!(v.headroom() >= Money::ZERO, "seed {seed}: over-reserved");
        out.max_concurrent = out.max_concurrent.max(v.open_grants as usize);
    }

    let v = book.account(ACME).expect("known");
    assert_eq!(v.reserved, Money::ZERO, "every reservation released");
    assert_eq!(book.open_grants(), 0);
    out.balance_change = opening.saturating_sub(v.balance);
    let agent = book.account(AGENT).expect("known");
    assert_eq!(
        agent.balance,
        Money::ZERO,
        "roll-ups do not move the agent's balance"
    );
    assert_eq!(agent.sub_account_charges, out.debited);
    out
}

#[test]
fn two_hundred_concurrent_calls_never_overdraw_and_add_up() {
    let short_slices = BillingConfig {
        slice_secs: 6,
        extend_lead_ms: 2_000,
        ..BillingConfig::default()
    };
    for cfg in [BillingConfig::default(), short_slices] {
        let mut cut = 0;
        let mut most_concurrent = 0;
        for seed in 0..20 {
            let o = simulate(seed, 0, cfg.clone());
            assert_eq!(
                o.unbilled,
                Money::ZERO,
                "released on time: nothing written off"
            );
            assert_eq!(
                o.charged, o.balance_change,
                "seed {seed}: charges = balance change"
            );
            assert_eq!(o.debited, o.balance_change);
            assert_eq!(Money::ZERO.saturating_sub(o.ledger_delta), o.balance_change);
            // 10 minutes of money (1.00) less the one-minute margin at 0.10/min: released on
            // time, calls never eat into the margin.
            assert!(
                o.balance_change <= m("0.90"),
                "seed {seed}: {}",
                o.balance_change
            );
            assert!(
                o.refused > 0,
                "seed {seed}: the account cannot carry 200 calls"
            );
            assert!(o.max_concurrent > 1, "seed {seed}: calls overlapped");
            cut += o.cut_by_balance;
            most_concurrent = most_concurrent.max(o.max_concurrent);
        }
        assert!(cut > 0, "some calls ran until the money ran out");
        assert!(most_concurrent >= 8, "{most_concurrent}");
    }
}

#[test]
fn late_releases_never_overdraw_either() {
    for seed in 100..120 {
        let o = simulate(seed, 3_000, BillingConfig::default());
        assert_eq!(o.debited, o.balance_change, "seed {seed}");
        assert_eq!(o.charged, o.debited.saturating_add(o.unbilled));
        assert!(o.balance_change <= m("1.00"), "seed {seed}");
    }
    // Without a margin the lateness has nothing to be paid from.
    let no_margin = BillingConfig {
        overdraft_advance_minutes: 0,
        slice_secs: 30,
        ..BillingConfig::default()
    };
    let mut unbilled = Money::ZERO;
    for seed in 200..220 {
        let o = simulate(seed, 3_000, no_margin.clone());
        assert_eq!(o.debited, o.balance_change, "seed {seed}");
        assert!(o.balance_change <= m("1.00"), "seed {seed}");
        unbilled = unbilled.saturating_add(o.unbilled);
    }
    assert!(
        unbilled > Money::ZERO,
        "lateness beyond the limit is written off"
    );
}

#[test]
fn the_same_seed_gives_the_same_ledger() {
    let a = simulate(7, 0, BillingConfig::default());
    let b = simulate(7, 0, BillingConfig::default());
    assert_eq!(
        (a.refused, a.cut_by_balance, a.charged, a.balance_change),
        (b.refused, b.cut_by_balance, b.charged, b.balance_change)
    );
    let mut seen = BTreeSet::new();
    for seed in 0..5 {
        let o = simulate(seed, 0, BillingConfig::default());
        seen.insert((o.refused, o.cut_by_balance));
    }
    assert!(seen.len() > 1, "different seeds drive different calls");
}
