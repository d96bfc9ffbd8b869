//! Billing settings read from the `SERVER_BILLING_*` system parameters (SPEC §4, §9).

use crate::BillingError;
use crate::tariff::Tariff;
use std::collections::{BTreeMap, BTreeSet};
use tollswitch_model::Money;
use tollswitch_model::params::{ParamValue, Parameters};

/// How profit is computed (`SERVER_BILLING_PROFIT_CALCULATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfitFormula {
    /// "Call charges – Sub – Call expense": charge − agent commission − vendor cost (the
    /// VOS3000 default).
    #[default]
    ChargeMinusCommissionMinusCost,
    /// "Call charges – Call expense": charge − vendor cost; agent commissions are ignored.
    ChargeMinusCost,
}

/// The parameters that turn a hold time into money. Small and `Copy`: every grant keeps the
/// rules it was reserved under, so a parameter change in the middle of a call cannot make the
/// final charge disagree with what was reserved for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RatingRules {
    free_time_secs: u32,
    hold_time_precision_ms: u32,
    fee_quantum_micros: i64,
}

impl Default for RatingRules {
    /// The catalogue defaults: no free time, 1000 ms precision, 4 decimals, fee unit 1.
    fn default() -> Self {
        RatingRules::new(0, 1000, 4, 1)
    }
}

impl RatingRules {
    /// Rules from the raw parameter values.
    ///
    /// - `free_time_secs` (`SERVER_BILLING_FREE_TIME`): seconds taken off every call's
    ///   rounded hold time before the increments are applied.
    /// - `hold_time_precision_ms` (`SERVER_BILLING_HOLD_TIME_PRECISION`): the measured hold
    ///   time is rounded **up** to a multiple of this; 0 is read as 1.
    /// - `fee_precision` (`SERVER_BILLING_FEE_PRECISION`, decimals, at most 6) and `fee_unit`
    ///   (`SERVER_BILLING_FEE_UNIT`, 0–1000): the time part of a charge is rounded **up** to a
    ///   multiple of `fee_unit × 10^-fee_precision` currency units (the *fee quantum*). With the
    ///   defaults 4 and 1 charges are kept to 0.0001; precision 2 and unit 5 rounds to 0.05.
    ///   A fee unit of 0 is read as 1 (no coarser step); more than 6 decimals is read as 6
    ///   (money holds micro-units).
    pub fn new(
        free_time_secs: u32,
        hold_time_precision_ms: u32,
        fee_precision: u8,
        fee_unit: u32,
    ) -> RatingRules {
        let decimals = u32::from(fee_precision.min(6));
        // 10^(6 - decimals) ≤ 10^6 and fee_unit ≤ u32::MAX: the product fits an i64.
        let step = 10i64.pow(6 - decimals);
        let unit = i64::from(fee_unit.max(1));
        RatingRules {
            free_time_secs,
            hold_time_precision_ms: hold_time_precision_ms.max(1),
            fee_quantum_micros: step.saturating_mul(unit),
        }
    }

    /// `SERVER_BILLING_FREE_TIME` in seconds.
    pub const fn free_time_secs(&self) -> u32 {
        self.free_time_secs
    }

    /// `SERVER_BILLING_HOLD_TIME_PRECISION` in milliseconds (at least 1).
    pub const fn hold_time_precision_ms(&self) -> u32 {
        self.hold_time_precision_ms
    }

    /// The smallest step a computed charge is rounded up to (at least one micro-unit).
    pub const fn fee_quantum(&self) -> Money {
        Money::from_micros(self.fee_quantum_micros)
    }

    pub(crate) const fn fee_quantum_micros(&self) -> i64 {
        self.fee_quantum_micros
    }

    /// The measured hold time rounded up to the hold-time precision; `None` on overflow.
    pub fn round_hold_ms(&self, hold_ms: u64) -> Option<u64> {
        let p = u64::from(self.hold_time_precision_ms);
        hold_ms.div_ceil(p).checked_mul(p)
    }

    /// Whole seconds of a rounded hold time (rounded up: a started second is a second),
    /// before free time.
    pub fn hold_secs(rounded_hold_ms: u64) -> u64 {
        rounded_hold_ms.div_ceil(1000)
    }

    /// The longest measured hold time whose charge stays within `billed_secs` of billed time
    /// (an increment-aligned value): `floor_precision((billed_secs + free_time) × 1000)`.
    /// Saturates at `u64::MAX`.
    pub fn max_hold_ms(&self, billed_secs: u64) -> u64 {
        let p = u64::from(self.hold_time_precision_ms);
        let ms = billed_secs
            .saturating_add(u64::from(self.free_time_secs))
            .saturating_mul(1000);
        ms / p * p
    }

    /// Fewest chargeable seconds a reservation must cover so that some positive hold time fits
    /// in it: the first precision step after free time, and at least one second.
    pub(crate) fn min_useful_secs(&self) -> u64 {
        u64::from(self.hold_time_precision_ms)
            .div_ceil(1000)
            .saturating_sub(u64::from(self.free_time_secs))
            .max(1)
    }

    /// One precision step in whole seconds, at least one.
    pub(crate) fn precision_secs(&self) -> u64 {
        u64::from(self.hold_time_precision_ms).div_ceil(1000).max(1)
    }
}

/// Everything billing reads from the system parameters, plus two Tollswitch knobs for the
/// reservation slices (not VOS3000 parameters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BillingConfig {
    /// Free time, hold-time precision and fee precision/unit.
    pub rating: RatingRules,
    /// `SERVER_BILLING_FREE_E164S`: callees (exact numbers, as rated) that are free to call
    /// with no time limit.
    pub free_e164s: BTreeSet<String>,
    /// `SERVER_BILLING_NO_CDR_E164S`: callees (exact numbers) whose calls write no CDR.
    pub no_cdr_e164s: BTreeSet<String>,
    /// `SERVER_BILLING_PROFIT_CALCULATE`.
    pub profit_formula: ProfitFormula,
    /// `SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME` in minutes (1–15 as a parameter; 0 is
    /// accepted here and disables the margin). Authorising and extending always leave this
    /// many minutes at the call's own price unreserved, so a call is released that many
    /// minutes before the money runs out and late releases are still paid for.
    pub overdraft_advance_minutes: u32,
    /// Billed seconds reserved per slice (at authorise and at every extension), rounded up to
    /// the tariff's increments. Default 60. Shorter slices tie up less money per call and cost
    /// more extensions.
    pub slice_secs: u32,
    /// How long before the reserved time runs out the engine should ask for the next slice
    /// ([`Grant::extend_at`](crate::Grant::extend_at)), milliseconds. Default 5000; capped at
    /// half a slice.
    pub extend_lead_ms: u32,
}

impl Default for BillingConfig {
    /// Every parameter at its catalogue default, 60 s slices, 5 s extension lead.
    fn default() -> Self {
        BillingConfig::from_parameters(&Parameters::new())
    }
}

impl BillingConfig {
    /// Reads the `SERVER_BILLING_*` values of a parameter set. Values entered through
    /// [`Parameters::set`] are valid; anything unexpected falls back to the catalogue default.
    pub fn from_parameters(p: &Parameters) -> BillingConfig {
        let int = |name: &str, fallback: i64| match p.value(name) {
            Some(ParamValue::Int(v)) => *v,
            _ => fallback,
        };
        let list = |name: &str| -> BTreeSet<String> {
            match p.value(name) {
                Some(ParamValue::TextList(v)) => v.iter().cloned().collect(),
                _ => BTreeSet::new(),
            }
        };
        let profit_formula = match p.value("SERVER_BILLING_PROFIT_CALCULATE") {
            Some(ParamValue::Choice("Call charges – Call expense")) => {
                ProfitFormula::ChargeMinusCost
            }
            _ => ProfitFormula::ChargeMinusCommissionMinusCost,
        };
        let u32_of = |v: i64, fallback: u32| u32::try_from(v).unwrap_or(fallback);
        BillingConfig {
            rating: RatingRules::new(
                u32_of(int("SERVER_BILLING_FREE_TIME", 0), 0),
                u32_of(int("SERVER_BILLING_HOLD_TIME_PRECISION", 1000), 1000),
                u8::try_from(int("SERVER_BILLING_FEE_PRECISION", 4)).unwrap_or(4),
                u32_of(int("SERVER_BILLING_FEE_UNIT", 1), 1),
            ),
            free_e164s: list("SERVER_BILLING_FREE_E164S"),
            no_cdr_e164s: list("SERVER_BILLING_NO_CDR_E164S"),
            profit_formula,
            overdraft_advance_minutes: u32_of(
                int("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME", 1),
                1,
            ),
            slice_secs: 60,
            extend_lead_ms: 5000,
        }
    }

    /// Reads a name → text parameter map (the `[parameters]` table of a provisioning file).
    /// Only `SERVER_BILLING_*` entries are looked at; each is validated against the catalogue
    /// and the first invalid or unknown one is reported.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<BillingConfig, BillingError> {
        let mut p = Parameters::new();
        for (name, value) in map {
            if name.starts_with("SERVER_BILLING_") {
                p.set(name, value)
                    .map_err(|e| BillingError::Parameter(e.to_string()))?;
            }
        }
        Ok(BillingConfig::from_parameters(&p))
    }

    /// True when `callee` is a free number (`SERVER_BILLING_FREE_E164S`, exact match).
    pub fn is_free_number(&self, callee: &str) -> bool {
        self.free_e164s.contains(callee)
    }

    /// False when `callee` is listed in `SERVER_BILLING_NO_CDR_E164S` (exact match).
    pub fn writes_cdr(&self, callee: &str) -> bool {
        !self.no_cdr_e164s.contains(callee)
    }

    /// The tariff a call to `callee` is billed at: `tariff` itself, or a free copy of it (same
    /// prefix and area, no price, no connect fee) when `callee` is a free number. A free
    /// tariff costs nothing, needs no balance and has no time limit.
    pub fn tariff_for(&self, callee: &str, tariff: Tariff) -> Tariff {
        if self.is_free_number(callee) {
            tariff.into_free()
        } else {
            tariff
        }
    }

    /// The anti-overdraft margin at a price: `overdraft_advance_minutes × price`. `None` on
    /// overflow.
    pub fn overdraft_margin(&self, price_per_minute: Money) -> Option<Money> {
        price_per_minute
            .micros()
            .checked_mul(i64::from(self.overdraft_advance_minutes))
            .map(Money::from_micros)
    }

    /// Reserved seconds per slice: at least one second and one hold-time precision step.
    pub(crate) fn slice_target_secs(&self) -> u64 {
        u64::from(self.slice_secs.max(1)).max(self.rating.precision_secs())
    }
}

/// Profit of one call under `SERVER_BILLING_PROFIT_CALCULATE`:
/// charge − agent commission − cost, or charge − cost. `Err(Overflow)` on overflow.
pub fn profit(
    charge: Money,
    cost: Money,
    agent_commission: Money,
    cfg: &BillingConfig,
) -> Result<Money, BillingError> {
    let after_commission = match cfg.profit_formula {
        ProfitFormula::ChargeMinusCommissionMinusCost => charge.checked_sub(agent_commission),
        ProfitFormula::ChargeMinusCost => Some(charge),
    };
    after_commission
        .and_then(|m| m.checked_sub(cost))
        .ok_or(BillingError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_catalogue() {
        let c = BillingConfig::default();
        assert_eq!(c.rating.free_time_secs(), 0);
        assert_eq!(c.rating.hold_time_precision_ms(), 1000);
        assert_eq!(c.rating.fee_quantum(), Money::from_micros(100));
        assert_eq!(c.overdraft_advance_minutes, 1);
        assert_eq!(
            c.profit_formula,
            ProfitFormula::ChargeMinusCommissionMinusCost
        );
        assert!(c.free_e164s.is_empty() && c.no_cdr_e164s.is_empty());
        assert_eq!(c.slice_secs, 60);
    }

    #[test]
    fn reads_every_billing_parameter_from_a_map() {
        let map: BTreeMap<String, String> = [
            ("SERVER_BILLING_FREE_TIME", "3"),
            ("SERVER_BILLING_HOLD_TIME_PRECISION", "100"),
            ("SERVER_BILLING_FEE_PRECISION", "2"),
            ("SERVER_BILLING_FEE_UNIT", "5"),
            ("SERVER_BILLING_FREE_E164S", "110,119"),
            ("SERVER_BILLING_NO_CDR_E164S", "12345"),
            (
                "SERVER_BILLING_PROFIT_CALCULATE",
                "Call charges - Call expense",
            ),
            ("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME", "15"),
            ("SS_SIP_TIMEOUT_INVITE", "not looked at"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = BillingConfig::from_map(&map).expect("valid");
        assert_eq!(c.rating.free_time_secs(), 3);
        assert_eq!(c.rating.hold_time_precision_ms(), 100);
        assert_eq!(c.rating.fee_quantum(), "0.05".parse().expect("money"));
        assert!(c.is_free_number("110") && c.is_free_number("119"));
        assert!(!c.is_free_number("1190"));
        assert!(!c.writes_cdr("12345") && c.writes_cdr("1234"));
        assert_eq!(c.profit_formula, ProfitFormula::ChargeMinusCost);
        assert_eq!(c.overdraft_advance_minutes, 15);
    }

    #[test]
    fn invalid_parameters_are_reported_by_name() {
        let map: BTreeMap<String, String> = [(
            "SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME".to_string(),
            "16".to_string(),
        )]
        .into_iter()
        .collect();
        let e = BillingConfig::from_map(&map).expect_err("out of range");
        assert!(
            e.to_string()
                .contains("SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME"),
            "{e}"
        );
        let map: BTreeMap<String, String> =
            [("SERVER_BILLING_NOT_A_THING".to_string(), "1".to_string())]
                .into_iter()
                .collect();
        assert!(BillingConfig::from_map(&map).is_err());
    }

    #[test]
    fn fee_quantum_edges() {
        assert_eq!(RatingRules::new(0, 1000, 6, 1).fee_quantum().micros(), 1);
        assert_eq!(RatingRules::new(0, 1000, 9, 0).fee_quantum().micros(), 1);
        assert_eq!(
            RatingRules::new(0, 1000, 0, 1000).fee_quantum().micros(),
            1_000_000_000
        );
        assert_eq!(RatingRules::new(0, 0, 4, 1).hold_time_precision_ms(), 1);
    }

    #[test]
    fn profit_formulas() {
        let m = |s: &str| s.parse::<Money>().expect("money");
        let mut c = BillingConfig::default();
        assert_eq!(profit(m("1.00"), m("0.60"), m("0.10"), &c), Ok(m("0.30")));
        c.profit_formula = ProfitFormula::ChargeMinusCost;
        assert_eq!(profit(m("1.00"), m("0.60"), m("0.10"), &c), Ok(m("0.40")));
        assert_eq!(
            profit(Money::from_micros(i64::MIN), m("1"), Money::ZERO, &c),
            Err(BillingError::Overflow)
        );
    }

    #[test]
    fn max_hold_inverts_the_hold_rounding() {
        let r = RatingRules::new(5, 1000, 4, 1);
        assert_eq!(r.max_hold_ms(60), 65_000);
        let r = RatingRules::new(0, 60_000, 4, 1);
        assert_eq!(r.max_hold_ms(90), 60_000);
        assert_eq!(r.min_useful_secs(), 60);
        assert_eq!(RatingRules::new(0, 300, 4, 1).min_useful_secs(), 1);
    }
}
