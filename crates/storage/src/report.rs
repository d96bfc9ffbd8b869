//! Traffic reports over CDRs (SPEC §5): ASR, ACD, PDD, billed time, revenue, cost and profit per
//! routing gateway, mapping gateway, account, area and hour, the final-code distribution per
//! gateway, and ASR and ACD per routing gateway per hour or day (a time series).
//!
//! The database aggregates (`GROUP BY` over the start-time index, sums and counts only), so a
//! report over millions of CDRs returns one row per group; the ratios are computed here from
//! the integer sums, rounded half up. No floats anywhere: ASR is in basis points (10 000 =
//! 100 %), ACD in whole seconds, PDD in whole milliseconds.
//!
//! Which CDRs count: those whose start time is in the range. A CDR is *answered* when it has a
//! connect time. Per routing gateway, attempts and answers count every gateway tried (a call
//! that failed over from A to B is an attempt on both), while talk time, PDD, billed time and
//! money belong to the gateway that carried the call (or was tried last).

use crate::cdr::{Arg, DAY_MS, Sql, TimeRange};
use crate::{Storage, StorageError};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;
use tollswitch_model::provisioning::money_text;
use tollswitch_model::{Money, SipCode, SipCodeClass};

/// Milliseconds in an hour.
const HOUR_MS: i64 = 3_600_000;

/// Traffic figures of one report row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrafficStats {
    /// Call attempts (per routing gateway: times the gateway was tried).
    pub attempts: u64,
    /// Answered attempts.
    pub answered: u64,
    /// Answer-seizure ratio, answered / attempts, in basis points (0..=10 000).
    pub asr_bp: u64,
    /// Average call duration of answered calls, whole seconds.
    pub acd_secs: u64,
    /// Average post-dial delay of the calls that had one, whole milliseconds.
    pub avg_pdd_ms: u64,
    /// Total talk time (hold time), milliseconds.
    pub hold_time_ms: u64,
    /// Total billed time (answered minutes × 60), seconds.
    pub billed_secs: u64,
    /// Sum of the customers' charges.
    #[serde(serialize_with = "money_text::serialize")]
    pub revenue: Money,
    /// Sum of the vendors' costs.
    #[serde(serialize_with = "money_text::serialize")]
    pub cost: Money,
    /// Revenue − cost.
    #[serde(serialize_with = "money_text::serialize")]
    pub profit: Money,
}

/// One routing gateway's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingGatewayReport {
    /// The routing gateway.
    pub routing_gateway: String,
    /// Its figures.
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// One mapping gateway's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingGatewayReport {
    /// The mapping gateway (empty: unrecognised sources).
    pub mapping_gateway: String,
    /// Its figures.
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// One account's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountReport {
    /// The account (empty: unrecognised sources).
    pub account: String,
    /// Its figures.
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// One vendor account's traffic: the calls its routing gateways carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorReport {
    /// The vendor account, as the routing gateway belongs to it now (empty: the gateway no
    /// longer exists).
    pub vendor: String,
    /// Its figures (attempts count the calls it carried or ended on it).
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// One area's traffic (customer rate prefix and area name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaReport {
    /// The customer rate's prefix; `None` for calls that were not rated.
    pub rate_prefix: Option<String>,
    /// The area name.
    pub area: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// One hour's traffic (UTC hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourReport {
    /// The hour's first millisecond, unix time.
    pub hour_start_ms: i64,
    /// Its figures.
    #[serde(flatten)]
    pub stats: TrafficStats,
}

/// How long one point of a time series spans (UTC hours or days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesStep {
    /// One point per UTC hour.
    Hour,
    /// One point per UTC day.
    Day,
}

impl SeriesStep {
    /// The step in milliseconds.
    pub const fn millis(self) -> i64 {
        match self {
            SeriesStep::Hour => HOUR_MS,
            SeriesStep::Day => DAY_MS,
        }
    }

    /// The first millisecond of the step `ms` falls in.
    pub const fn start_of(self, ms: i64) -> i64 {
        ms.div_euclid(self.millis()) * self.millis()
    }
}

/// One routing gateway's traffic in one hour or day of a [`Storage::report_gateway_series`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GatewayPoint {
    /// The step's first millisecond, unix time.
    pub start_ms: i64,
    /// Times the gateway was tried.
    pub attempts: u64,
    /// Tries it answered.
    pub answered: u64,
    /// answered / attempts in basis points.
    pub asr_bp: u64,
    /// Average talk time of the answered calls it carried, whole seconds.
    pub acd_secs: u64,
    /// Total talk time of the calls it carried, milliseconds.
    pub hold_time_ms: u64,
    /// Total billed time of the calls it carried, seconds.
    pub billed_secs: u64,
}

/// One routing gateway's points, oldest first; steps without a try or a carried call are
/// left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewaySeries {
    /// The routing gateway.
    pub routing_gateway: String,
    /// Its points.
    pub points: Vec<GatewayPoint>,
}

impl GatewaySeries {
    /// Attempts over every point.
    pub fn attempts(&self) -> u64 {
        self.points.iter().map(|p| p.attempts).sum()
    }
}

/// How often a gateway answered with one final code, with the operator's reading of the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeCount {
    /// The routing gateway; `None` for calls the switch ended before trying any (rejections,
    /// no route).
    pub gateway: Option<String>,
    /// The code.
    pub code: SipCode,
    /// Its class.
    pub class: SipCodeClass,
    /// Its reason phrase.
    pub reason_phrase: String,
    /// What to check (SPEC §3).
    pub hint: String,
    /// How many times.
    pub count: u64,
}

/// `num / den × scale`, rounded half up; 0 when `den` is 0.
fn ratio(num: u64, den: u64, scale: u64) -> u64 {
    if den == 0 {
        return 0;
    }
    let q = (u128::from(num) * u128::from(scale) * 2 + u128::from(den)) / (u128::from(den) * 2);
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// The sums and counts the database returns for one group.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    attempts: u64,
    answered: u64,
    hold_ms: u64,
    billed_secs: u64,
    pdd_count: u64,
    pdd_sum: u64,
    revenue: Money,
    cost: Money,
}

impl Sums {
    fn read(row: &AnyRow) -> Result<Sums, StorageError> {
        let count = |column: &'static str| -> Result<u64, StorageError> {
            let v: i64 = row.try_get(column)?;
            u64::try_from(v).map_err(|_| StorageError::CorruptRecord {
                table: "cdr",
                id: String::new(),
                field: column,
                message: format!("sum {v} is negative"),
            })
        };
        Ok(Sums {
            attempts: count("attempts")?,
            answered: count("answered")?,
            hold_ms: count("hold_ms")?,
            billed_secs: count("billed_secs")?,
            pdd_count: count("pdd_count")?,
            pdd_sum: count("pdd_sum")?,
            revenue: Money::from_micros(row.try_get("revenue")?),
            cost: Money::from_micros(row.try_get("cost")?),
        })
    }

    fn stats(&self) -> TrafficStats {
        TrafficStats {
            attempts: self.attempts,
            answered: self.answered,
            asr_bp: ratio(self.answered, self.attempts, 10_000),
            acd_secs: ratio(self.hold_ms, self.answered.saturating_mul(1_000), 1),
            avg_pdd_ms: ratio(self.pdd_sum, self.pdd_count, 1),
            hold_time_ms: self.hold_ms,
            billed_secs: self.billed_secs,
            revenue: self.revenue,
            cost: self.cost,
            profit: self.revenue.saturating_sub(self.cost),
        }
    }
}

/// The per-group sums over `cdr`: `keys` are selected and grouped by.
fn sums_sql(keys: &[(&str, &str)], extra_where: &str, range: TimeRange) -> Sql {
    let select: String = keys.iter().map(|(e, a)| format!("{e} AS {a}, ")).collect();
    let group: Vec<&str> = keys.iter().map(|(_, a)| *a).collect();
    let mut sql = Sql::new(&format!(
        "SELECT {}COUNT(*) AS attempts, COUNT(connect_ms) AS answered, \
         CAST(COALESCE(SUM(hold_time_ms), 0) AS BIGINT) AS hold_ms, \
         CAST(COALESCE(SUM(billed_secs), 0) AS BIGINT) AS billed_secs, \
         COUNT(pdd_ms) AS pdd_count, \
         CAST(COALESCE(SUM(pdd_ms), 0) AS BIGINT) AS pdd_sum, \
         CAST(COALESCE(SUM(charge_micros), 0) AS BIGINT) AS revenue, \
         CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost \
         FROM cdr WHERE",
        select
    ));
    sql.arg(" start_ms >= ", Arg::I64(range.from_ms));
    sql.arg(" AND start_ms < ", Arg::I64(range.until_ms));
    sql.text.push_str(extra_where);
    if !group.is_empty() {
        sql.text.push_str(" GROUP BY ");
        sql.text.push_str(&group.join(", "));
    }
    sql
}

impl Storage {
    /// Sums per `column` (a text column of `cdr`), sorted by its value.
    async fn sums_by(
        &self,
        column: &str,
        extra_where: &str,
        range: TimeRange,
    ) -> Result<BTreeMap<String, Sums>, StorageError> {
        let range = range.check()?;
        sums_sql(&[(column, "k")], extra_where, range)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("k")?, Sums::read(row)?)))
            .collect()
    }

    /// Traffic over every CDR that started in `range` (the dashboard's ASR and call rate).
    pub async fn traffic(&self, range: TimeRange) -> Result<TrafficStats, StorageError> {
        let range = range.check()?;
        let rows = sums_sql(&[], "", range).fetch_all(&self.pool).await?;
        Ok(rows
            .first()
            .map(Sums::read)
            .transpose()?
            .unwrap_or_default()
            .stats())
    }

    /// Traffic per routing gateway: attempts and answers count every time a gateway was
    /// tried; talk time, PDD, billed time and money come from the calls it carried.
    pub async fn report_by_routing_gateway(
        &self,
        range: TimeRange,
    ) -> Result<Vec<RoutingGatewayReport>, StorageError> {
        let mut by = self
            .sums_by("routing_gateway", " AND routing_gateway IS NOT NULL", range)
            .await?;
        let mut sql = Sql::new(
            "SELECT gateway, COUNT(*) AS attempts, \
             CAST(COALESCE(SUM(CASE WHEN code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) \
             AS BIGINT) AS answered FROM cdr_attempt WHERE",
        );
        sql.arg(" start_ms >= ", Arg::I64(range.from_ms));
        sql.arg(" AND start_ms < ", Arg::I64(range.until_ms));
        sql.text.push_str(" GROUP BY gateway");
        let mut tries: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for row in sql.fetch_all(&self.pool).await? {
            let attempts: i64 = row.try_get("attempts")?;
            let answered: i64 = row.try_get("answered")?;
            tries.insert(
                row.try_get("gateway")?,
                (
                    u64::try_from(attempts).unwrap_or(0),
                    u64::try_from(answered).unwrap_or(0),
                ),
            );
        }
        for name in tries.keys() {
            by.entry(name.clone()).or_default();
        }
        Ok(by
            .into_iter()
            .map(|(routing_gateway, carried)| {
                let (attempts, answered) = tries.get(&routing_gateway).copied().unwrap_or_default();
                let mut stats = carried.stats();
                stats.attempts = attempts;
                stats.answered = answered;
                stats.asr_bp = ratio(answered, attempts, 10_000);
                RoutingGatewayReport {
                    routing_gateway,
                    stats,
                }
            })
            .collect())
    }

    /// Traffic, revenue, cost and profit per vendor account: the calls carried (or last tried)
    /// by its routing gateways.
    pub async fn report_by_vendor(
        &self,
        range: TimeRange,
    ) -> Result<Vec<VendorReport>, StorageError> {
        let vendor = "COALESCE((SELECT a.name FROM routing_gateway g JOIN account a \
                      ON a.id = g.vendor_account_id WHERE g.name = cdr.routing_gateway), '')";
        Ok(self
            .sums_by(vendor, " AND routing_gateway IS NOT NULL", range)
            .await?
            .into_iter()
            .map(|(vendor, s)| VendorReport {
                vendor,
                stats: s.stats(),
            })
            .collect())
    }

    /// Traffic per mapping gateway.
    pub async fn report_by_mapping_gateway(
        &self,
        range: TimeRange,
    ) -> Result<Vec<MappingGatewayReport>, StorageError> {
        Ok(self
            .sums_by("mapping_gateway", "", range)
            .await?
            .into_iter()
            .map(|(mapping_gateway, s)| MappingGatewayReport {
                mapping_gateway,
                stats: s.stats(),
            })
            .collect())
    }

    /// Traffic per account.
    pub async fn report_by_account(
        &self,
        range: TimeRange,
    ) -> Result<Vec<AccountReport>, StorageError> {
        Ok(self
            .sums_by("account", "", range)
            .await?
            .into_iter()
            .map(|(account, s)| AccountReport {
                account,
                stats: s.stats(),
            })
            .collect())
    }

    /// Traffic per area (customer rate prefix and area name), sorted by prefix; unrated calls
    /// first.
    pub async fn report_by_area(&self, range: TimeRange) -> Result<Vec<AreaReport>, StorageError> {
        let range = range.check()?;
        let rows = sums_sql(&[("rate_prefix", "p"), ("area", "a")], "", range)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(AreaReport {
                    rate_prefix: row.try_get("p")?,
                    area: row.try_get("a")?,
                    stats: Sums::read(row)?.stats(),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        out.sort_by(|x, y| (&x.rate_prefix, &x.area).cmp(&(&y.rate_prefix, &y.area)));
        Ok(out)
    }

    /// Traffic per UTC hour of the start time, oldest first; hours without calls are left out.
    pub async fn report_by_hour(&self, range: TimeRange) -> Result<Vec<HourReport>, StorageError> {
        let range = range.check()?;
        let hour = format!("(start_ms / {HOUR_MS}) * {HOUR_MS}");
        let rows = sums_sql(&[(hour.as_str(), "hour_start_ms")], "", range)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(HourReport {
                    hour_start_ms: row.try_get("hour_start_ms")?,
                    stats: Sums::read(row)?.stats(),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        out.sort_by_key(|h| h.hour_start_ms);
        Ok(out)
    }

    /// ASR and ACD per routing gateway over time: one point per hour or day with traffic,
    /// counted like [`Storage::report_by_routing_gateway`] (attempts and answers per try, talk
    /// and billed time per carried call). Sorted by gateway, points oldest first. Two grouped
    /// queries over the start-time indexes of `cdr_attempt` and `cdr`.
    pub async fn report_gateway_series(
        &self,
        range: TimeRange,
        step: SeriesStep,
    ) -> Result<Vec<GatewaySeries>, StorageError> {
        let range = range.check()?;
        let ms = step.millis();
        // Integer division on both databases (BIGINT / integer): floors for times after 1970.
        let bucket = format!("(start_ms / {ms}) * {ms}");
        let mut tries = Sql::new(&format!(
            "SELECT gateway, {bucket} AS bucket_ms, COUNT(*) AS attempts, \
             CAST(COALESCE(SUM(CASE WHEN code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) \
             AS BIGINT) AS answered FROM cdr_attempt WHERE"
        ));
        tries.arg(" start_ms >= ", Arg::I64(range.from_ms));
        tries.arg(" AND start_ms < ", Arg::I64(range.until_ms));
        tries.text.push_str(" GROUP BY gateway, bucket_ms");
        let count = |row: &AnyRow, column: &'static str| -> Result<u64, StorageError> {
            let v: i64 = row.try_get(column)?;
            u64::try_from(v).map_err(|_| StorageError::CorruptRecord {
                table: "cdr_attempt",
                id: String::new(),
                field: column,
                message: format!("count {v} is negative"),
            })
        };
        let mut by: BTreeMap<(String, i64), ((u64, u64), Sums)> = BTreeMap::new();
        for row in tries.fetch_all(&self.pool).await? {
            let key = (row.try_get("gateway")?, row.try_get("bucket_ms")?);
            by.entry(key).or_default().0 = (count(&row, "attempts")?, count(&row, "answered")?);
        }
        let carried = sums_sql(
            &[("routing_gateway", "k"), (bucket.as_str(), "bucket_ms")],
            " AND routing_gateway IS NOT NULL",
            range,
        );
        for row in carried.fetch_all(&self.pool).await? {
            let key = (row.try_get("k")?, row.try_get("bucket_ms")?);
            by.entry(key).or_default().1 = Sums::read(&row)?;
        }
        let mut out: Vec<GatewaySeries> = Vec::new();
        for ((gateway, start_ms), ((attempts, answered), sums)) in by {
            let stats = sums.stats();
            let point = GatewayPoint {
                start_ms,
                attempts,
                answered,
                asr_bp: ratio(answered, attempts, 10_000),
                acd_secs: stats.acd_secs,
                hold_time_ms: stats.hold_time_ms,
                billed_secs: stats.billed_secs,
            };
            match out.last_mut() {
                Some(s) if s.routing_gateway == gateway => s.points.push(point),
                _ => out.push(GatewaySeries {
                    routing_gateway: gateway,
                    points: vec![point],
                }),
            }
        }
        Ok(out)
    }

    /// The distribution of final codes per routing gateway: every answer of every gateway
    /// tried, plus (gateway `None`) the final codes of calls that never reached one. Sorted by
    /// gateway (`None` first), then most frequent first, then by code.
    pub async fn report_codes_by_gateway(
        &self,
        range: TimeRange,
    ) -> Result<Vec<CodeCount>, StorageError> {
        let range = range.check()?;
        let mut tried = Sql::new("SELECT gateway, code, COUNT(*) AS n FROM cdr_attempt WHERE");
        tried.arg(" start_ms >= ", Arg::I64(range.from_ms));
        tried.arg(" AND start_ms < ", Arg::I64(range.until_ms));
        tried.text.push_str(" GROUP BY gateway, code");
        let mut switch = Sql::new(
            "SELECT CAST(NULL AS TEXT) AS gateway, final_code AS code, COUNT(*) AS n \
             FROM cdr WHERE",
        );
        switch.arg(" start_ms >= ", Arg::I64(range.from_ms));
        switch.arg(" AND start_ms < ", Arg::I64(range.until_ms));
        switch
            .text
            .push_str(" AND routing_gateway IS NULL GROUP BY final_code");
        let mut out = Vec::new();
        for sql in [switch, tried] {
            for row in sql.fetch_all(&self.pool).await? {
                let gateway: Option<String> = row.try_get("gateway")?;
                let raw: i64 = row.try_get("code")?;
                let code = u16::try_from(raw)
                    .ok()
                    .and_then(SipCode::new)
                    .ok_or_else(|| StorageError::CorruptRecord {
                        table: "cdr",
                        id: String::new(),
                        field: "code",
                        message: format!("{raw} is not a SIP code"),
                    })?;
                let n: i64 = row.try_get("n")?;
                out.push(CodeCount {
                    gateway,
                    code,
                    class: code.class(),
                    reason_phrase: code.reason_phrase().to_owned(),
                    hint: code.troubleshooting_hint().to_owned(),
                    count: u64::try_from(n).unwrap_or(0),
                });
            }
        }
        out.sort_by(|a, b| {
            (&a.gateway, std::cmp::Reverse(a.count), a.code).cmp(&(
                &b.gateway,
                std::cmp::Reverse(b.count),
                b.code,
            ))
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_half_up() {
        assert_eq!(ratio(2, 3, 10_000), 6_667);
        assert_eq!(ratio(1, 3, 10_000), 3_333);
        assert_eq!(ratio(1, 8, 10_000), 1_250);
        assert_eq!(ratio(5, 0, 10_000), 0);
        assert_eq!(ratio(u64::MAX, 1, 10_000), u64::MAX);
    }

    #[test]
    fn acd_rounds_to_the_nearest_second() {
        let s = Sums {
            answered: 2,
            hold_ms: 61_000 + 2_000, // 31.5 s average
            ..Sums::default()
        };
        assert_eq!(s.stats().acd_secs, 32);
    }
}
