//! `/reports`: traffic over a period (default the last 24 hours) — ASR and ACD per routing
//! gateway, the final-code distribution and calls per hour as server-drawn SVG bar charts; ASR
//! and ACD of the busiest routing gateways over time as line charts (hourly, daily over more
//! than 3 days); the figures in tables below.

use super::{PageResult, percent};
use crate::chart::{self, Bar};
use crate::layout::{self, Nav, Notice};
use crate::session::Session;
use crate::time;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use tollswitch_api::{ApiState, now_ms};
use tollswitch_storage::{
    CodeCount, GatewayPoint, GatewaySeries, HourReport, RoutingGatewayReport, SeriesStep,
    TimeRange, TrafficStats,
};

/// The period, as typed (UTC).
#[derive(Debug, Default, Deserialize)]
pub struct Period {
    from: Option<String>,
    until: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

impl Period {
    fn range(&self, now: i64) -> Result<TimeRange, String> {
        let read = |v: &Option<String>, name: &str| match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => time::parse_input(t).map(Some).ok_or_else(|| {
                format!("{name}: {t:?} is not a date and time (YYYY-MM-DD HH:MM, UTC)")
            }),
        };
        let until = read(&self.until, "until")?.unwrap_or(now);
        let from = read(&self.from, "from")?.unwrap_or(until - DAY_MS);
        if from >= until {
            return Err("from must be before until".into());
        }
        Ok(TimeRange::new(from, until))
    }
}

fn gateway_charts(gateways: &[RoutingGatewayReport]) -> Markup {
    let asr: Vec<Bar> = gateways
        .iter()
        .map(|g| Bar {
            label: g.routing_gateway.clone(),
            value: g.stats.asr_bp,
            inner: None,
            text: format!("{} of {}", percent(g.stats.asr_bp), g.stats.attempts),
        })
        .collect();
    let acd: Vec<Bar> = gateways
        .iter()
        .map(|g| Bar {
            label: g.routing_gateway.clone(),
            value: g.stats.acd_secs,
            inner: None,
            text: format!("{} s", g.stats.acd_secs),
        })
        .collect();
    html! {
        (chart::horizontal("ASR per routing gateway", &asr, Some(10_000)))
        (chart::horizontal("ACD per routing gateway", &acd, None))
    }
}

/// Every answer of every gateway, summed per code, most frequent first.
fn code_bars(codes: &[CodeCount]) -> Vec<Bar> {
    let mut by_code: BTreeMap<u16, (u64, &str)> = BTreeMap::new();
    for c in codes {
        let e = by_code
            .entry(c.code.as_u16())
            .or_insert((0, c.reason_phrase.as_str()));
        e.0 += c.count;
    }
    let mut bars: Vec<Bar> = by_code
        .into_iter()
        .map(|(code, (count, reason))| Bar {
            label: format!("{code} {reason}"),
            value: count,
            inner: None,
            text: count.to_string(),
        })
        .collect();
    bars.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
    bars
}

const HOUR_MS: i64 = 3_600_000;

/// Up to a week, every hour of the period gets a column (empty hours too); longer periods
/// show only the hours with calls.
const MAX_FILLED_HOURS: i64 = 7 * 24;

/// The report's hours with the empty hours of the period filled in (up to a week).
fn every_hour(hours: &[HourReport], range: TimeRange) -> Vec<HourReport> {
    let first = range.from_ms.div_euclid(HOUR_MS) * HOUR_MS;
    if (range.until_ms - first) / HOUR_MS > MAX_FILLED_HOURS {
        return hours.to_vec();
    }
    (0..)
        .map(|i| first + i * HOUR_MS)
        .take_while(|t| *t < range.until_ms)
        .map(|t| {
            hours
                .iter()
                .find(|h| h.hour_start_ms == t)
                .cloned()
                .unwrap_or(HourReport {
                    hour_start_ms: t,
                    stats: TrafficStats::default(),
                })
        })
        .collect()
}

fn hour_bars(hours: &[HourReport]) -> Vec<Bar> {
    hours
        .iter()
        .map(|h| Bar {
            label: time::utc(h.hour_start_ms)
                .get(11..13)
                .map_or_else(String::new, |hh| format!("{hh}h")),
            value: h.stats.attempts,
            inner: Some(h.stats.answered),
            text: format!(
                "{} calls, {} answered ({})",
                h.stats.attempts,
                h.stats.answered,
                time::utc(h.hour_start_ms)
            ),
        })
        .collect()
}

/// Periods longer than this are charted per day, shorter ones per hour.
const HOURLY_UP_TO_MS: i64 = 3 * DAY_MS;
/// The gateways with the most attempts that get a line.
const TOP_GATEWAYS: usize = 8;
/// Up to this many steps every step of the period gets an x position (empty ones too);
/// beyond, only the steps with traffic.
const MAX_FILLED_STEPS: i64 = 400;

/// Hourly for periods up to 3 days, daily beyond.
fn series_step(range: TimeRange) -> SeriesStep {
    if range.until_ms - range.from_ms > HOURLY_UP_TO_MS {
        SeriesStep::Day
    } else {
        SeriesStep::Hour
    }
}

/// The x positions of the period: the start of every step.
fn steps(series: &[&GatewaySeries], range: TimeRange, step: SeriesStep) -> Vec<i64> {
    let first = step.start_of(range.from_ms);
    if (range.until_ms - first) / step.millis() > MAX_FILLED_STEPS {
        let mut seen: Vec<i64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.start_ms))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        return seen;
    }
    (0..)
        .map(|i| first + i * step.millis())
        .take_while(|t| *t < range.until_ms)
        .collect()
}

/// The `TOP_GATEWAYS` gateways with the most attempts, most first (ties by name).
fn busiest(series: &[GatewaySeries]) -> Vec<&GatewaySeries> {
    let mut top: Vec<&GatewaySeries> = series.iter().collect();
    top.sort_by(|a, b| {
        b.attempts()
            .cmp(&a.attempts())
            .then_with(|| a.routing_gateway.cmp(&b.routing_gateway))
    });
    top.truncate(TOP_GATEWAYS);
    top
}

fn step_label(ms: i64, step: SeriesStep) -> String {
    let t = time::utc(ms);
    match step {
        // `MM-DD HHh`.
        SeriesStep::Hour => match (t.get(5..10), t.get(11..13)) {
            (Some(day), Some(hh)) => format!("{day} {hh}h"),
            _ => t,
        },
        SeriesStep::Day => t.get(..10).map_or_else(|| t.clone(), str::to_owned),
    }
}

/// The ASR and ACD line charts of the busiest gateways.
fn gateway_time_charts(series: &[GatewaySeries], range: TimeRange) -> Markup {
    let step = series_step(range);
    let top = busiest(series);
    let at = steps(&top, range, step);
    let labels: Vec<String> = at.iter().map(|t| step_label(*t, step)).collect();
    let line = |g: &GatewaySeries, value: &dyn Fn(&GatewayPoint) -> Option<u64>| chart::Line {
        label: format!("{} ({})", g.routing_gateway, g.attempts()),
        values: at
            .iter()
            .map(|t| g.points.iter().find(|p| p.start_ms == *t).and_then(value))
            .collect(),
    };
    let asr: Vec<chart::Line> = top
        .iter()
        .map(|g| line(g, &|p| (p.attempts > 0).then_some(p.asr_bp)))
        .collect();
    let acd: Vec<chart::Line> = top
        .iter()
        .map(|g| line(g, &|p| (p.answered > 0).then_some(p.acd_secs)))
        .collect();
    let per = match step {
        SeriesStep::Hour => "per hour",
        SeriesStep::Day => "per day",
    };
    html! {
        section.over-time {
            h2 { "ASR and ACD per routing gateway over time" }
            p.help {
                "The " (TOP_GATEWAYS) " routing gateways with the most attempts (in brackets), "
                (per) " (UTC; daily for periods over 3 days). A gap: no attempts (ASR) or no answered call (ACD) in that "
                @if step == SeriesStep::Hour { "hour" } @else { "day" } "."
            }
            div.charts {
                (chart::lines(&format!("ASR {per}"), &labels, &asr, Some(10_000), percent))
                (chart::lines(&format!("ACD {per}"), &labels, &acd, None, |v| format!("{v} s")))
            }
        }
    }
}

fn stats_cells(s: &TrafficStats) -> Markup {
    html! {
        td.num { (s.attempts) } td.num { (s.answered) } td.num { (percent(s.asr_bp)) }
        td.num { (s.acd_secs) " s" } td.num { (s.avg_pdd_ms) " ms" }
        td.num { (s.billed_secs / 60) } td.num { (s.revenue) } td.num { (s.cost) } td.num { (s.profit) }
    }
}

fn stats_head(first: &str) -> Markup {
    html! {
        thead { tr {
            th { (first) } th.num { "Attempts" } th.num { "Answered" } th.num { "ASR" } th.num { "ACD" }
            th.num { "PDD" } th.num { "Billed min" } th.num { "Revenue" } th.num { "Cost" } th.num { "Profit" }
        } }
    }
}

fn period_form(p: &Period, range: Option<TimeRange>) -> Markup {
    let shown = |typed: &Option<String>, ms: Option<i64>| match typed.as_deref().map(str::trim) {
        None | Some("") => ms.map(time::input_value).unwrap_or_default(),
        Some(t) => t.to_owned(),
    };
    html! {
        form.search method="get" action="/reports" {
            div.grid.wide {
                div.field { label for="from" { "From (UTC)" } input type="datetime-local" id="from" name="from" value=(shown(&p.from, range.map(|r| r.from_ms))); }
                div.field { label for="until" { "Until (UTC)" } input type="datetime-local" id="until" name="until" value=(shown(&p.until, range.map(|r| r.until_ms))); }
            }
            p.actions { button type="submit" { "Show" } " " a href="/reports" { "Last 24 hours" } }
        }
    }
}

/// `GET /reports`.
pub async fn show(
    session: Session,
    State(s): State<ApiState>,
    Query(p): Query<Period>,
) -> PageResult {
    let range = match p.range(now_ms()) {
        Ok(r) => r,
        Err(e) => {
            let content = html! { (period_form(&p, None)) (layout::notice(Notice::Error, &e)) };
            return Ok(layout::page_with_status(
                StatusCode::BAD_REQUEST,
                &session,
                Nav::Reports,
                "Reports",
                content,
            ));
        }
    };
    let st = &s.storage;
    let gateways = st.report_by_routing_gateway(range).await?;
    let codes = st.report_codes_by_gateway(range).await?;
    let hours = st.report_by_hour(range).await?;
    let accounts = st.report_by_account(range).await?;
    let series = st.report_gateway_series(range, series_step(range)).await?;
    let content = html! {
        (period_form(&p, Some(range)))
        div.charts {
            (gateway_charts(&gateways))
            (chart::horizontal("Final codes", &code_bars(&codes), None))
            (chart::columns("Calls per hour (UTC; dark: answered)", &hour_bars(&every_hour(&hours, range))))
        }
        (gateway_time_charts(&series, range))
        h2 { "Routing gateways" }
        div.scroll { table.data {
            (stats_head("Routing gateway"))
            tbody {
                @for g in &gateways { tr { td { (g.routing_gateway) } (stats_cells(&g.stats)) } }
                @if gateways.is_empty() { tr.empty { td colspan="10" { "No calls in this period." } } }
            }
        } }
        h2 { "Accounts" }
        div.scroll { table.data {
            (stats_head("Account"))
            tbody {
                @for a in &accounts { tr { td { (a.account) } (stats_cells(&a.stats)) } }
                @if accounts.is_empty() { tr.empty { td colspan="10" { "No calls in this period." } } }
            }
        } }
    };
    Ok(layout::page(&session, Nav::Reports, "Reports", content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_defaults_to_the_last_day_and_refuses_a_reversed_one() {
        let now = 1_767_225_600_000;
        assert_eq!(
            Period::default().range(now),
            Ok(TimeRange::new(now - DAY_MS, now))
        );
        let reversed = Period {
            from: Some("2026-01-02T00:00".into()),
            until: Some("2026-01-01T00:00".into()),
        };
        assert!(reversed.range(now).is_err());
        let bad = Period {
            from: Some("soon".into()),
            until: None,
        };
        assert!(bad.range(now).is_err_and(|e| e.starts_with("from")));
    }

    fn series(name: &str, points: &[(i64, u64, u64)]) -> GatewaySeries {
        GatewaySeries {
            routing_gateway: name.into(),
            points: points
                .iter()
                .map(
                    |&(start_ms, attempts, answered)| tollswitch_storage::GatewayPoint {
                        start_ms,
                        attempts,
                        answered,
                        asr_bp: answered * 10_000 / attempts.max(1),
                        acd_secs: 42,
                        hold_time_ms: 42_000 * answered,
                        billed_secs: 60 * answered,
                    },
                )
                .collect(),
        }
    }

    #[test]
    fn the_busiest_gateways_get_a_line_hourly_up_to_three_days() {
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let three_days = TimeRange::new(t0, t0 + 3 * DAY_MS);
        assert_eq!(series_step(three_days), SeriesStep::Hour);
        assert_eq!(
            series_step(TimeRange::new(t0, t0 + 3 * DAY_MS + 1)),
            SeriesStep::Day
        );
        assert_eq!(steps(&[], three_days, SeriesStep::Hour).len(), 72);
        let week = TimeRange::new(t0 + HOUR_MS / 2, t0 + 7 * DAY_MS);
        let days = steps(&[], week, SeriesStep::Day);
        assert_eq!((days.len(), days[0]), (7, t0), "from the day's start");
        let many: Vec<GatewaySeries> = (0..10)
            .map(|i| series(&format!("gw-{i}"), &[(t0, 10 + i % 3, 1)]))
            .collect();
        let top: Vec<&str> = busiest(&many)
            .iter()
            .map(|g| g.routing_gateway.as_str())
            .collect();
        assert_eq!(
            top,
            [
                "gw-2", "gw-5", "gw-8", "gw-1", "gw-4", "gw-7", "gw-0", "gw-3"
            ]
        );
        let html = gateway_time_charts(&many, TimeRange::new(t0, t0 + DAY_MS)).into_string();
        assert!(html.contains("ASR and ACD per routing gateway over time"));
        assert!(
            html.contains("gw-2 (12)") && !html.contains("gw-9"),
            "top 8 only"
        );
        assert!(
            html.contains("ASR per hour") && html.contains("01-01 04h"),
            "{html}"
        );
        // A year is charted per day with only the days that had calls.
        let year = TimeRange::new(t0, t0 + 500 * DAY_MS);
        let sparse = [series("gw", &[(t0 + 3 * DAY_MS, 1, 1)])];
        let refs: Vec<&GatewaySeries> = sparse.iter().collect();
        assert_eq!(steps(&refs, year, SeriesStep::Day), [t0 + 3 * DAY_MS]);
    }

    #[test]
    fn every_hour_of_a_short_period_gets_a_column() {
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let busy = HourReport {
            hour_start_ms: t0 + 2 * HOUR_MS,
            stats: TrafficStats {
                attempts: 3,
                ..TrafficStats::default()
            },
        };
        let day = every_hour(
            std::slice::from_ref(&busy),
            TimeRange::new(t0 + 1, t0 + DAY_MS),
        );
        assert_eq!(day.len(), 24);
        assert_eq!((day[2].stats.attempts, day[3].stats.attempts), (3, 0));
        let month = every_hour(&[busy], TimeRange::new(t0, t0 + 30 * DAY_MS));
        assert_eq!(month.len(), 1, "long periods: only hours with calls");
    }
}
