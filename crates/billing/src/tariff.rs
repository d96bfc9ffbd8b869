//! Rating: a hold time and a tariff become a [`Charge`] (SPEC §4).
//!
//! The steps, all in integers:
//!
//! 1. `hold_ms` is rounded **up** to a multiple of `SERVER_BILLING_HOLD_TIME_PRECISION`, then
//!    up to whole seconds (a started second is a second).
//! 2. `SERVER_BILLING_FREE_TIME` seconds are taken off (never below zero).
//! 3. The rest is billed as the first increment, then whole next increments, rounding up: the
//!    billed time is the smallest `first + k × next ≥ rest` (`k ≥ 0`), or zero when nothing
//!    is left.
//! 4. The time part is `price × billed / 60`, rounded **up** to the fee quantum
//!    (`SERVER_BILLING_FEE_UNIT × 10^-SERVER_BILLING_FEE_PRECISION`); the charge is that plus
//!    the connect fee, which is charged as provisioned (not rounded).
//!
//! **A call with no billed time costs nothing, not even the connect fee**: an unanswered call
//! (hold time 0) and a call that ended inside its free time are free. The connect fee is the
//! price of an answered, billable call.
//!
//! Everything rounds toward the carrier (a fraction is never given away) and the same function
//! rates the customer's charge and the vendor's cost.

use crate::BillingError;
use crate::config::{BillingConfig, RatingRules};
use serde::Serialize;
use tollswitch_model::Money;
use tollswitch_model::provisioning::{Rate, money_text};

/// What a call costs per minute, how it is rounded, and which rate it came from.
///
/// Built with [`Tariff::new`] (which refuses negative money and zero increments) or from a
/// provisioned [`Rate`]. Prefix and area are only carried for the CDR and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tariff {
    #[serde(with = "money_text")]
    price_per_minute: Money,
    first_increment_secs: u32,
    next_increment_secs: u32,
    #[serde(with = "money_text")]
    connect_fee: Money,
    prefix: String,
    area: String,
}

/// How much billed time a budget buys at a tariff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affordable {
    /// The time part is free: any duration fits once the connect fee is paid.
    Unlimited,
    /// The longest increment-aligned billed time (seconds) whose cost fits; 0 when not even
    /// the first increment does.
    Secs(u64),
}

impl Tariff {
    /// A tariff; refuses a negative price or connect fee and an increment of 0 seconds.
    pub fn new(
        price_per_minute: Money,
        first_increment_secs: u32,
        next_increment_secs: u32,
        connect_fee: Money,
    ) -> Result<Tariff, BillingError> {
        if price_per_minute.is_negative() {
            return Err(BillingError::NegativePrice {
                field: "price_per_minute",
                amount: price_per_minute,
            });
        }
        if connect_fee.is_negative() {
            return Err(BillingError::NegativePrice {
                field: "connect_fee",
                amount: connect_fee,
            });
        }
        if first_increment_secs == 0 {
            return Err(BillingError::ZeroIncrement {
                field: "first_increment_secs",
            });
        }
        if next_increment_secs == 0 {
            return Err(BillingError::ZeroIncrement {
                field: "next_increment_secs",
            });
        }
        Ok(Tariff {
            price_per_minute,
            first_increment_secs,
            next_increment_secs,
            connect_fee,
            prefix: String::new(),
            area: String::new(),
        })
    }

    /// A tariff that costs nothing (1/1 increments).
    pub fn free() -> Tariff {
        Tariff {
            price_per_minute: Money::ZERO,
            first_increment_secs: 1,
            next_increment_secs: 1,
            connect_fee: Money::ZERO,
            prefix: String::new(),
            area: String::new(),
        }
    }

    /// This tariff with no price and no connect fee, keeping its increments, prefix and area
    /// (used for `SERVER_BILLING_FREE_E164S`).
    pub fn into_free(self) -> Tariff {
        Tariff {
            price_per_minute: Money::ZERO,
            connect_fee: Money::ZERO,
            ..self
        }
    }

    /// Sets the rate prefix shown in CDRs.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Tariff {
        self.prefix = prefix.into();
        self
    }

    /// Sets the area name shown in CDRs.
    pub fn with_area(mut self, area: impl Into<String>) -> Tariff {
        self.area = area.into();
        self
    }

    /// Price per minute.
    pub const fn price_per_minute(&self) -> Money {
        self.price_per_minute
    }

    /// First billing increment, seconds (at least 1).
    pub const fn first_increment_secs(&self) -> u32 {
        self.first_increment_secs
    }

    /// Next billing increments, seconds (at least 1).
    pub const fn next_increment_secs(&self) -> u32 {
        self.next_increment_secs
    }

    /// Connect fee, charged once per call with billed time.
    pub const fn connect_fee(&self) -> Money {
        self.connect_fee
    }

    /// The rate prefix (for CDRs and reports).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The area name (for CDRs and reports).
    pub fn area(&self) -> &str {
        &self.area
    }

    /// True when calls at this tariff cost nothing at all.
    pub fn is_free(&self) -> bool {
        self.price_per_minute == Money::ZERO && self.connect_fee == Money::ZERO
    }

    /// The billed time for `chargeable_secs` (hold seconds after free time): 0 for 0, else the
    /// smallest `first + k × next ≥ chargeable_secs`. Saturates at `u64::MAX`.
    pub fn billed_secs(&self, chargeable_secs: u64) -> u64 {
        let first = u64::from(self.first_increment_secs);
        let next = u64::from(self.next_increment_secs);
        if chargeable_secs == 0 {
            0
        } else if chargeable_secs <= first {
            first
        } else {
            let steps = (chargeable_secs - first).div_ceil(next);
            steps.saturating_mul(next).saturating_add(first)
        }
    }

    /// What `billed_secs` of billed time costs: connect fee + the rounded time part; zero for
    /// zero seconds. `Err(Overflow)` when the amount does not fit [`Money`].
    pub fn cost_of(&self, billed_secs: u64, rules: &RatingRules) -> Result<Money, BillingError> {
        money(self.cost_micros(billed_secs, rules)).ok_or(BillingError::Overflow)
    }

    /// The time part of `billed_secs`: `price × billed / 60` rounded up to the fee quantum,
    /// in micro-units; saturates at `i128::MAX`.
    pub(crate) fn duration_micros(&self, billed_secs: u64, rules: &RatingRules) -> i128 {
        let q = i128::from(rules.fee_quantum_micros());
        let Some(num) =
            i128::from(self.price_per_minute.micros()).checked_mul(i128::from(billed_secs))
        else {
            return i128::MAX;
        };
        // num ≥ 0 (price is never negative) and den ≥ 60.
        let den = 60 * q;
        let Some(units) = num.checked_add(den - 1).map(|n| n / den) else {
            return i128::MAX;
        };
        units.checked_mul(q).unwrap_or(i128::MAX)
    }

    /// [`Tariff::cost_of`] in micro-units, saturating at `i128::MAX`.
    pub(crate) fn cost_micros(&self, billed_secs: u64, rules: &RatingRules) -> i128 {
        if billed_secs == 0 {
            return 0;
        }
        self.duration_micros(billed_secs, rules)
            .saturating_add(i128::from(self.connect_fee.micros()))
    }

    /// The longest increment-aligned billed time whose [`cost`](Tariff::cost_of) is within
    /// `budget` micro-units.
    ///
    /// `ceil_q(x) ≤ m ⇔ x ≤ floor_q(m)` for a multiple-of-`q` rounding, so with `m` the budget
    /// left after the connect fee, the billed time may be at most
    /// `S = ⌊60 × floor_q(m) / price⌋`, and the answer is the largest `first + k × next ≤ S`.
    pub(crate) fn max_billed_within(&self, budget: i128, rules: &RatingRules) -> Affordable {
        let first = u64::from(self.first_increment_secs);
        if budget < self.cost_micros(first, rules) {
            return Affordable::Secs(0);
        }
        let price = i128::from(self.price_per_minute.micros());
        if price == 0 {
            return Affordable::Unlimited;
        }
        let q = i128::from(rules.fee_quantum_micros());
        let m = budget - i128::from(self.connect_fee.micros());
        let floor_q = m / q * q;
        let s = floor_q.saturating_mul(60) / price;
        let s = u64::try_from(s).unwrap_or(u64::MAX);
        if s < first {
            // Unreachable when the first increment is affordable; kept total.
            return Affordable::Secs(0);
        }
        let next = u64::from(self.next_increment_secs);
        Affordable::Secs(first + (s - first) / next * next)
    }
}

impl From<&Rate> for Tariff {
    /// A provisioned rate. Provisioning validation already refuses negative prices and zero
    /// increments; should one get through anyway it is read as zero money and a 1-second
    /// increment rather than panicking.
    fn from(r: &Rate) -> Tariff {
        let non_negative = |m: Money| if m.is_negative() { Money::ZERO } else { m };
        Tariff {
            price_per_minute: non_negative(r.price),
            first_increment_secs: r.first_increment_secs.max(1),
            next_increment_secs: r.next_increment_secs.max(1),
            connect_fee: non_negative(r.connect_fee),
            prefix: r.prefix.clone(),
            area: r.area.clone(),
        }
    }
}

/// What one call leg costs, with every intermediate step for the CDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// The hold time as measured (answer → hangup), milliseconds.
    pub measured_hold_ms: u64,
    /// The hold time rounded up to `SERVER_BILLING_HOLD_TIME_PRECISION`: the CDR hold time.
    pub hold_ms: u64,
    /// Seconds taken off by `SERVER_BILLING_FREE_TIME` (at most the hold seconds).
    pub free_secs: u64,
    /// Billed time: first increment then whole next increments, seconds.
    pub billed_secs: u64,
    /// The tariff's price per minute.
    #[serde(with = "money_text")]
    pub price_per_minute: Money,
    /// The connect fee charged (zero when nothing is billed).
    #[serde(with = "money_text")]
    pub connect_fee: Money,
    /// `price × billed / 60` rounded up to the fee quantum.
    #[serde(with = "money_text")]
    pub duration_charge: Money,
    /// `connect_fee + duration_charge`.
    #[serde(with = "money_text")]
    pub charge: Money,
}

/// Rates one call: `hold_ms` of talk time at `tariff` under the configured free time and
/// precisions (the steps are in the [module docs](self)). Customer charges and vendor costs
/// both use it. `Err(Overflow)` only for amounts that do not fit [`Money`].
pub fn rate_call(
    tariff: &Tariff,
    hold_ms: u64,
    cfg: &BillingConfig,
) -> Result<Charge, BillingError> {
    rate_with(tariff, hold_ms, &cfg.rating)
}

/// [`rate_call`] with explicit [`RatingRules`] (a grant rates with the rules it was reserved
/// under).
pub fn rate_with(
    tariff: &Tariff,
    hold_ms: u64,
    rules: &RatingRules,
) -> Result<Charge, BillingError> {
    let (charge, exact) = rate_saturating(tariff, hold_ms, rules);
    if exact {
        Ok(charge)
    } else {
        Err(BillingError::Overflow)
    }
}

/// Rates without failing: amounts that overflow are clamped to the largest [`Money`]; the flag
/// is false when anything was clamped.
pub(crate) fn rate_saturating(
    tariff: &Tariff,
    hold_ms: u64,
    rules: &RatingRules,
) -> (Charge, bool) {
    let (rounded, mut exact) = match rules.round_hold_ms(hold_ms) {
        Some(r) => (r, true),
        None => (u64::MAX, false),
    };
    let secs = RatingRules::hold_secs(rounded);
    let free_secs = secs.min(u64::from(rules.free_time_secs()));
    let billed_secs = tariff.billed_secs(secs - free_secs);
    let (connect_fee, duration) = if billed_secs == 0 {
        (Money::ZERO, 0)
    } else {
        (
            tariff.connect_fee,
            tariff.duration_micros(billed_secs, rules),
        )
    };
    let total = duration.saturating_add(i128::from(connect_fee.micros()));
    let clamp = |v: i128, exact: &mut bool| {
        money(v).unwrap_or_else(|| {
            *exact = false;
            Money::from_micros(i64::MAX)
        })
    };
    let duration_charge = clamp(duration, &mut exact);
    let charge = clamp(total, &mut exact);
    (
        Charge {
            measured_hold_ms: hold_ms,
            hold_ms: rounded,
            free_secs,
            billed_secs,
            price_per_minute: tariff.price_per_minute,
            connect_fee,
            duration_charge,
            charge,
        },
        exact,
    )
}

/// Micro-units as [`Money`] when they fit.
pub(crate) fn money(micros: i128) -> Option<Money> {
    i64::try_from(micros).ok().map(Money::from_micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        s.parse().expect("money literal")
    }

    fn tariff(price: &str, first: u32, next: u32, fee: &str) -> Tariff {
        Tariff::new(m(price), first, next, m(fee)).expect("valid tariff")
    }

    /// Exact rules: 1 ms precision, micro-unit fees, no free time.
    fn exact() -> RatingRules {
        RatingRules::new(0, 1, 6, 1)
    }

    fn billed(t: &Tariff, hold_ms: u64, rules: &RatingRules) -> (u64, Money) {
        let c = rate_with(t, hold_ms, rules).expect("no overflow");
        (c.billed_secs, c.charge)
    }

    #[test]
    fn increments_60_60() {
        let t = tariff("0.60", 60, 60, "0");
        let r = RatingRules::default();
        assert_eq!(billed(&t, 1, &r), (60, m("0.60")));
        assert_eq!(billed(&t, 60_000, &r), (60, m("0.60")));
        assert_eq!(billed(&t, 60_001, &r), (120, m("1.20")));
        assert_eq!(billed(&t, 119_000, &r), (120, m("1.20")));
        assert_eq!(billed(&t, 121_000, &r), (180, m("1.80")));
    }

    #[test]
    fn increments_30_6() {
        let t = tariff("0.60", 30, 6, "0");
        let r = RatingRules::default();
        assert_eq!(billed(&t, 1_000, &r), (30, m("0.30")));
        assert_eq!(billed(&t, 30_000, &r), (30, m("0.30")));
        assert_eq!(billed(&t, 30_500, &r), (36, m("0.36")));
        assert_eq!(billed(&t, 36_000, &r), (36, m("0.36")));
        assert_eq!(billed(&t, 37_000, &r), (42, m("0.42")));
        assert_eq!(billed(&t, 95_000, &r), (96, m("0.96")));
    }

    #[test]
    fn increments_1_1() {
        let t = tariff("0.60", 1, 1, "0");
        let r = RatingRules::default();
        assert_eq!(billed(&t, 1, &r), (1, m("0.01")));
        assert_eq!(billed(&t, 999, &r), (1, m("0.01")));
        assert_eq!(billed(&t, 1_000, &r), (1, m("0.01")));
        assert_eq!(billed(&t, 1_001, &r), (2, m("0.02")));
        assert_eq!(billed(&t, 61_000, &r), (61, m("0.61")));
    }

    #[test]
    fn increments_6_6() {
        let t = tariff("0.60", 6, 6, "0");
        let r = RatingRules::default();
        assert_eq!(billed(&t, 1_000, &r), (6, m("0.06")));
        assert_eq!(billed(&t, 6_000, &r), (6, m("0.06")));
        assert_eq!(billed(&t, 6_001, &r), (12, m("0.12")));
        assert_eq!(billed(&t, 59_000, &r), (60, m("0.60")));
    }

    #[test]
    fn zero_hold_costs_nothing_not_even_the_connect_fee() {
        let t = tariff("0.60", 60, 60, "0.05");
        let c = rate_call(&t, 0, &BillingConfig::default()).expect("rated");
        assert_eq!(c.charge, Money::ZERO);
        assert_eq!(c.connect_fee, Money::ZERO);
        assert_eq!(c.billed_secs, 0);
    }

    #[test]
    fn connect_fee_is_added_once() {
        let t = tariff("0.60", 60, 60, "0.05");
        let c = rate_call(&t, 61_000, &BillingConfig::default()).expect("rated");
        assert_eq!(c.connect_fee, m("0.05"));
        assert_eq!(c.duration_charge, m("1.20"));
        assert_eq!(c.charge, m("1.25"));
    }

    #[test]
    fn free_time_comes_off_before_the_increments() {
        let t = tariff("0.60", 30, 6, "0.05");
        let r = RatingRules::new(5, 1000, 4, 1);
        // 4 s is inside the free time: nothing billed, no connect fee.
        let c = rate_with(&t, 4_000, &r).expect("rated");
        assert_eq!((c.free_secs, c.billed_secs, c.charge), (4, 0, Money::ZERO));
        // 5.2 s → 6 s → 1 s chargeable → the 30 s first increment.
        let c = rate_with(&t, 5_200, &r).expect("rated");
        assert_eq!((c.free_secs, c.billed_secs, c.charge), (5, 30, m("0.35")));
        // 40 s → 35 s chargeable → 36 s.
        let c = rate_with(&t, 40_000, &r).expect("rated");
        assert_eq!((c.billed_secs, c.charge), (36, m("0.41")));
    }

    #[test]
    fn hold_time_precision_rounds_up() {
        let t = tariff("0.60", 1, 1, "0");
        // 100 ms precision: 30.05 s → 30.1 s → 31 s billed.
        let r = RatingRules::new(0, 100, 4, 1);
        let c = rate_with(&t, 30_050, &r).expect("rated");
        assert_eq!((c.hold_ms, c.billed_secs), (30_100, 31));
        // 60 s precision: 61 s → 120 s.
        let r = RatingRules::new(0, 60_000, 4, 1);
        let c = rate_with(&t, 61_000, &r).expect("rated");
        assert_eq!((c.hold_ms, c.billed_secs), (120_000, 120));
        // 1 ms precision keeps the measured time.
        let c = rate_with(&t, 30_001, &exact()).expect("rated");
        assert_eq!((c.hold_ms, c.billed_secs), (30_001, 31));
    }

    #[test]
    fn fee_precision_rounds_the_time_part_up() {
        // 0.01/min for 1 s = 166.67 micro.
        let t = tariff("0.01", 1, 1, "0.000150");
        let c = rate_with(&t, 1_000, &RatingRules::new(0, 1000, 6, 1)).expect("rated");
        assert_eq!(c.duration_charge, Money::from_micros(167));
        let c = rate_with(&t, 1_000, &RatingRules::new(0, 1000, 4, 1)).expect("rated");
        assert_eq!(c.duration_charge, m("0.0002"));
        // The connect fee is charged as provisioned, not rounded.
        assert_eq!(c.charge, Money::from_micros(350));
        let c = rate_with(&t, 1_000, &RatingRules::new(0, 1000, 2, 5)).expect("rated");
        assert_eq!(c.duration_charge, m("0.05"));
        // Exact multiples are not pushed up.
        let t = tariff("0.60", 1, 1, "0");
        let c = rate_with(&t, 1_000, &RatingRules::new(0, 1000, 2, 1)).expect("rated");
        assert_eq!(c.duration_charge, m("0.01"));
    }

    #[test]
    fn free_tariffs_cost_nothing() {
        let cfg = BillingConfig {
            free_e164s: ["112".to_string()].into_iter().collect(),
            ..BillingConfig::default()
        };
        let t = cfg.tariff_for("112", tariff("0.60", 60, 60, "0.05").with_area("Emergency"));
        assert!(t.is_free());
        assert_eq!(t.area(), "Emergency");
        let c = rate_call(&t, 3_600_000, &cfg).expect("rated");
        assert_eq!(c.charge, Money::ZERO);
        assert!(
            !cfg.tariff_for("113", tariff("0.60", 60, 60, "0.05"))
                .is_free()
        );
    }

    #[test]
    fn from_rate_keeps_everything() {
        let r = Rate {
            prefix: "4420".into(),
            area: "London".into(),
            price: m("0.012"),
            first_increment_secs: 30,
            next_increment_secs: 6,
            connect_fee: m("0.01"),
            effective_from: None,
            effective_until: None,
        };
        let t = Tariff::from(&r);
        assert_eq!(t.price_per_minute(), m("0.012"));
        assert_eq!((t.first_increment_secs(), t.next_increment_secs()), (30, 6));
        assert_eq!(t.connect_fee(), m("0.01"));
        assert_eq!((t.prefix(), t.area()), ("4420", "London"));
        let bad = Rate {
            price: m("-1"),
            first_increment_secs: 0,
            ..r
        };
        let t = Tariff::from(&bad);
        assert_eq!(t.price_per_minute(), Money::ZERO);
        assert_eq!(t.first_increment_secs(), 1);
    }

    #[test]
    fn new_refuses_what_cannot_be_billed() {
        assert!(Tariff::new(m("-0.01"), 60, 60, Money::ZERO).is_err());
        assert!(Tariff::new(m("0.01"), 60, 60, m("-1")).is_err());
        assert!(Tariff::new(m("0.01"), 0, 60, Money::ZERO).is_err());
        assert!(Tariff::new(m("0.01"), 60, 0, Money::ZERO).is_err());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let t = Tariff::new(
            Money::from_micros(i64::MAX),
            60,
            60,
            Money::from_micros(i64::MAX),
        )
        .expect("valid");
        assert_eq!(
            rate_with(&t, u64::MAX, &RatingRules::default()),
            Err(BillingError::Overflow)
        );
        assert_eq!(
            rate_with(&t, 60_000, &RatingRules::default()),
            Err(BillingError::Overflow)
        );
        let (c, exact) = rate_saturating(&t, u64::MAX, &RatingRules::default());
        assert!(!exact);
        assert_eq!(c.charge, Money::from_micros(i64::MAX));
    }

    fn any_tariff() -> impl Strategy<Value = Tariff> {
        (
            0i64..5_000_000,
            prop::sample::select(vec![1u32, 6, 30, 60, 1, 7, 90]),
            prop::sample::select(vec![1u32, 6, 30, 60, 10]),
            0i64..100_000,
        )
            .prop_map(|(p, f, n, c)| {
                Tariff::new(Money::from_micros(p), f, n, Money::from_micros(c))
                    .expect("valid tariff")
            })
    }

    fn any_rules() -> impl Strategy<Value = RatingRules> {
        (
            0u32..20,
            prop::sample::select(vec![1u32, 10, 100, 500, 1000, 1500, 6000, 60_000]),
            0u8..=6,
            prop::sample::select(vec![0u32, 1, 5, 10]),
        )
            .prop_map(|(f, p, d, u)| RatingRules::new(f, p, d, u))
    }

    proptest! {
        #[test]
        fn charge_is_monotonic_in_duration(
            t in any_tariff(),
            r in any_rules(),
            a in 0u64..10_000_000,
            b in 0u64..10_000_000,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let cl = rate_with(&t, lo, &r).expect("no overflow");
            let ch = rate_with(&t, hi, &r).expect("no overflow");
            prop_assert!(cl.charge <= ch.charge);
            prop_assert!(cl.billed_secs <= ch.billed_secs);
            prop_assert!(cl.hold_ms <= ch.hold_ms);
        }

        #[test]
        fn billed_time_is_the_smallest_aligned_cover(
            t in any_tariff(),
            r in any_rules(),
            hold in 0u64..10_000_000,
        ) {
            let c = rate_with(&t, hold, &r).expect("no overflow");
            prop_assert!(c.hold_ms >= hold && c.hold_ms - hold < u64::from(r.hold_time_precision_ms()));
            let chargeable = c.hold_ms.div_ceil(1000).saturating_sub(u64::from(r.free_time_secs()));
            let first = u64::from(t.first_increment_secs());
            let next = u64::from(t.next_increment_secs());
            if chargeable == 0 {
                prop_assert_eq!(c.billed_secs, 0);
                prop_assert_eq!(c.charge, Money::ZERO);
            } else {
                // Aligned, covering, and the previous aligned value does not cover.
                prop_assert!(c.billed_secs >= chargeable);
                prop_assert!(c.billed_secs >= first);
                prop_assert_eq!((c.billed_secs - first) % next, 0);
                if c.billed_secs > first {
                    prop_assert!(c.billed_secs - next < chargeable);
                }
                prop_assert_eq!(c.charge, c.connect_fee.saturating_add(c.duration_charge));
                prop_assert_eq!(c.connect_fee, t.connect_fee());
            }
        }

        #[test]
        fn duration_charge_is_the_quantum_ceiling_of_the_exact_price(
            t in any_tariff(),
            r in any_rules(),
            hold in 1u64..10_000_000,
        ) {
            let c = rate_with(&t, hold, &r).expect("no overflow");
            let exact = i128::from(t.price_per_minute().micros()) * i128::from(c.billed_secs);
            let charged = i128::from(c.duration_charge.micros()) * 60;
            let q = i128::from(r.fee_quantum().micros());
            prop_assert_eq!(c.duration_charge.micros() % r.fee_quantum().micros(), 0);
            prop_assert!(charged >= exact);
            prop_assert!(charged - exact < 60 * q);
        }

        #[test]
        fn max_billed_within_is_exact(
            t in any_tariff(),
            r in any_rules(),
            budget in 0i64..2_000_000,
        ) {
            let budget = i128::from(budget);
            match t.max_billed_within(budget, &r) {
                Affordable::Unlimited => {
                    prop_assert_eq!(t.price_per_minute(), Money::ZERO);
                    prop_assert!(t.cost_micros(u64::from(t.first_increment_secs()), &r) <= budget);
                }
                Affordable::Secs(0) => {
                    prop_assert!(t.cost_micros(u64::from(t.first_increment_secs()), &r) > budget);
                }
                Affordable::Secs(s) => {
                    prop_assert_eq!(t.billed_secs(s), s, "aligned");
                    prop_assert!(t.cost_micros(s, &r) <= budget);
                    let next = t.billed_secs(s + 1);
                    prop_assert!(t.cost_micros(next, &r) > budget);
                }
            }
        }

        #[test]
        fn max_hold_is_the_longest_hold_within_a_reservation(
            t in any_tariff(),
            r in any_rules(),
            k in 0u64..50,
        ) {
            let reserved = u64::from(t.first_increment_secs()) + k * u64::from(t.next_increment_secs());
            let h = r.max_hold_ms(reserved);
            let c = rate_with(&t, h, &r).expect("no overflow");
            prop_assert!(c.billed_secs <= reserved);
            let over = rate_with(&t, h + 1, &r).expect("no overflow");
            prop_assert!(over.billed_secs > reserved);
        }
    }
}
