//! Bar and line charts as inline SVG, drawn on the server from integers (no script, no
//! floats). The stylesheet colours them; each chart carries a title and an `aria-label` for
//! screen readers, and the page shows the same figures in a table.

use maud::{Markup, html};

/// One bar: a label, its length, an optional inner bar (e.g. answered inside attempts) and the
/// text written after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// What the bar is.
    pub label: String,
    /// Its length, against the largest bar.
    pub value: u64,
    /// A part of it drawn darker.
    pub inner: Option<u64>,
    /// The figure as the operator reads it.
    pub text: String,
}

/// Chart width in SVG units; the chart scales to its box.
const WIDTH: u64 = 640;
const LABEL_WIDTH: u64 = 150;
const VALUE_WIDTH: u64 = 90;
const ROW: u64 = 22;

/// `value` scaled to `span` against `max`.
fn scaled(value: u64, max: u64, span: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    u64::try_from(u128::from(value.min(max)) * u128::from(span) / u128::from(max)).unwrap_or(span)
}

fn short(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(chars.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Horizontal bars, one per row, longest = full width (or `max` when given, e.g. 100 % ASR).
pub fn horizontal(title: &str, bars: &[Bar], max: Option<u64>) -> Markup {
    let max = max.unwrap_or_else(|| bars.iter().map(|b| b.value).max().unwrap_or(0));
    let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let height = ROW * bars.len().max(1) as u64 + 8;
    html! {
        figure.chart {
            figcaption { (title) }
            @if bars.is_empty() {
                p.empty { "No calls in this period." }
            } @else {
                svg viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(title)
                    preserveAspectRatio="xMinYMin meet" {
                    @for (i, b) in bars.iter().enumerate() {
                        @let y = 4 + ROW * i as u64;
                        @let w = scaled(b.value, max, span);
                        text.label x=(LABEL_WIDTH - 8) y=(y + 15) text-anchor="end" {
                            title { (b.label) }
                            (short(&b.label, 20))
                        }
                        rect.bar x=(LABEL_WIDTH) y=(y + 2) width=(w.max(1)) height=(ROW - 6) {}
                        @if let Some(inner) = b.inner {
                            rect.bar-inner x=(LABEL_WIDTH) y=(y + 2)
                                width=(scaled(inner, max, span)) height=(ROW - 6) {}
                        }
                        text.value x=(LABEL_WIDTH + w + 6) y=(y + 15) { (b.text) }
                    }
                }
            }
        }
    }
}

/// Vertical columns (e.g. calls per hour), labels under every `every`-th column.
pub fn columns(title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let height: u64 = 180;
    let plot = height - 34;
    let n = bars.len().max(1) as u64;
    let slot = (WIDTH - 20) / n;
    let every = (bars.len() / 12).max(1);
    html! {
        figure.chart {
            figcaption { (title) }
            @if bars.is_empty() {
                p.empty { "No calls in this period." }
            } @else {
                svg viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(title)
                    preserveAspectRatio="xMinYMin meet" {
                    line.axis x1="10" y1=(plot + 4) x2=(WIDTH - 10) y2=(plot + 4) {}
                    @for (i, b) in bars.iter().enumerate() {
                        @let x = 10 + slot * i as u64;
                        @let h = scaled(b.value, max, plot - 14);
                        @let bar_width = slot.saturating_sub(3).max(1);
                        rect.bar x=(x + 1) y=(plot + 4 - h) width=(bar_width) height=(h) {
                            title { (b.label) ": " (b.text) }
                        }
                        @if let Some(inner) = b.inner {
                            @let ih = scaled(inner, max, plot - 14);
                            rect.bar-inner x=(x + 1) y=(plot + 4 - ih) width=(bar_width) height=(ih) {}
                        }
                        @if i % every == 0 {
                            text.label x=(x + slot / 2) y=(height - 8) text-anchor="middle" {
                                (short(&b.label, 6))
                            }
                        }
                    }
                    text.value x="12" y="12" { "max " (max) }
                }
            }
        }
    }
}

/// One line of a [`lines`] chart: a value per x position, `None` where there is none (the
/// line breaks there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What the line is (the legend).
    pub label: String,
    /// One per x position.
    pub values: Vec<Option<u64>>,
}

/// Lines drawn in the stylesheet's series colours (`s0`…`s7`, then again).
pub const LINE_COLOURS: usize = 8;

const LINE_HEIGHT: u64 = 220;
const LINE_LEFT: u64 = 56;
/// Room for half of the last x label.
const LINE_RIGHT: u64 = 40;
const LINE_TOP: u64 = 10;
const LINE_BOTTOM: u64 = 26;
/// At most this many x labels, so they do not run into each other.
const LINE_X_LABELS: usize = 7;

/// The smallest of 2, 4, 6, 8, 10 × 10ⁿ at least `v`: a y axis top whose half is a whole
/// number.
fn nice_top(v: u64) -> u64 {
    let mut unit: u64 = 1;
    while unit.saturating_mul(10) < v {
        unit = unit.saturating_mul(10);
    }
    [2, 4, 6, 8, 10]
        .iter()
        .map(|m| unit.saturating_mul(*m))
        .find(|top| *top >= v)
        .unwrap_or(v)
}

/// Lines over shared x positions (`x_labels`, one per position), y from 0 to `max` (or a
/// round number above the largest value), values written by `show`; a legend below names
/// each line. Every value is also a dot with a tooltip, so a lone value between two gaps is
/// seen.
pub fn lines(
    title: &str,
    x_labels: &[String],
    lines: &[Line],
    max: Option<u64>,
    show: impl Fn(u64) -> String,
) -> Markup {
    let max = max
        .unwrap_or_else(|| {
            nice_top(
                lines
                    .iter()
                    .flat_map(|l| l.values.iter().flatten())
                    .copied()
                    .max()
                    .unwrap_or(0),
            )
        })
        .max(1);
    let plot_w = WIDTH - LINE_LEFT - LINE_RIGHT;
    let plot_h = LINE_HEIGHT - LINE_TOP - LINE_BOTTOM;
    let n = x_labels.len() as u64;
    let x = |i: usize| match n {
        0 | 1 => LINE_LEFT + plot_w / 2,
        _ => LINE_LEFT + i as u64 * plot_w / (n - 1),
    };
    let y = |v: u64| LINE_TOP + plot_h - scaled(v, max, plot_h);
    let every = x_labels.len().div_ceil(LINE_X_LABELS).max(1);
    let empty = lines.iter().all(|l| l.values.iter().all(Option::is_none));
    html! {
        figure.chart.lines {
            figcaption { (title) }
            @if empty {
                p.empty { "No calls in this period." }
            } @else {
                svg viewBox=(format!("0 0 {WIDTH} {LINE_HEIGHT}")) role="img" aria-label=(title)
                    preserveAspectRatio="xMinYMin meet" {
                    @for step in [0, 1, 2] {
                        @let v = max * step / 2;
                        line.grid x1=(LINE_LEFT) y1=(y(v)) x2=(WIDTH - LINE_RIGHT) y2=(y(v)) {}
                        text.value x=(LINE_LEFT - 6) y=(y(v) + 4) text-anchor="end" { (show(v)) }
                    }
                    @for (i, label) in x_labels.iter().enumerate() {
                        @if i % every == 0 {
                            text.label x=(x(i)) y=(LINE_HEIGHT - 8) text-anchor="middle" { (label) }
                        }
                    }
                    @for (k, line) in lines.iter().enumerate() {
                        @let class = format!("series s{}", k % LINE_COLOURS);
                        @for run in runs(&line.values) {
                            @if run.len() > 1 {
                                polyline class=(class) points=(run.iter().map(|(i, v)| format!("{},{}", x(*i), y(*v))).collect::<Vec<_>>().join(" ")) {}
                            }
                        }
                        @for (i, v) in line.values.iter().enumerate() {
                            @if let Some(v) = v {
                                circle class=(class) cx=(x(i)) cy=(y(*v)) r="2.5" {
                                    title {
                                        (line.label) ", "
                                        (x_labels.get(i).map_or("", String::as_str)) ": " (show(*v))
                                    }
                                }
                            }
                        }
                    }
                }
                ul.legend {
                    @for (k, line) in lines.iter().enumerate() {
                        li { span class=(format!("swatch s{}", k % LINE_COLOURS)) {} (line.label) }
                    }
                }
            }
        }
    }
}

/// The runs of consecutive values, each as (position, value).
fn runs(values: &[Option<u64>]) -> Vec<Vec<(usize, u64)>> {
    let mut out: Vec<Vec<(usize, u64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => current.push((i, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: u64) -> Bar {
        Bar {
            label: label.into(),
            value,
            inner: None,
            text: value.to_string(),
        }
    }

    #[test]
    fn bars_scale_to_the_largest_and_labels_are_escaped() {
        assert_eq!(scaled(50, 100, 400), 200);
        assert_eq!(scaled(500, 100, 400), 400, "clamped");
        assert_eq!(scaled(1, 0, 400), 0);
        let svg = horizontal("ASR", &[bar("<gw>", 100), bar("b", 50)], None).into_string();
        assert!(svg.contains("&lt;gw&gt;") && !svg.contains("<gw>"), "{svg}");
        assert!(svg.contains(&format!("width=\"{}\"", WIDTH - LABEL_WIDTH - VALUE_WIDTH)));
        assert!(svg.contains(&format!(
            "width=\"{}\"",
            (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / 2
        )));
    }

    #[test]
    fn lines_break_at_gaps_and_every_value_is_a_dot_with_a_legend() {
        assert_eq!(
            runs(&[
                Some(1),
                Some(2),
                None,
                Some(3),
                None,
                None,
                Some(4),
                Some(5)
            ]),
            [vec![(0, 1), (1, 2)], vec![(3, 3)], vec![(6, 4), (7, 5)]]
        );
        let labels: Vec<String> = (0..24).map(|h| format!("{h:02}h")).collect();
        let a = Line {
            label: "<gw-a>".into(),
            values: (0..24).map(|h| (h != 5).then_some(h * 100)).collect(),
        };
        let b = Line {
            label: "gw-b".into(),
            values: (0..24).map(|h| (h == 7).then_some(10_000)).collect(),
        };
        let svg = lines("ASR", &labels, &[a, b], Some(10_000), |v| v.to_string()).into_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "gw-a broken at 05h");
        assert_eq!(svg.matches("<circle").count(), 23 + 1);
        assert!(svg.contains("series s1"), "{svg}");
        assert!(svg.contains("&lt;gw-a&gt;") && !svg.contains("<gw-a>"));
        assert_eq!(svg.matches("<li>").count(), 2, "a legend entry per line");
        assert_eq!(
            svg.matches("text-anchor=\"middle\"").count(),
            6,
            "every 4th label"
        );
        // 100 % is the top of the plot, 0 its bottom.
        let top = format!("cy=\"{LINE_TOP}\"");
        let bottom = format!("cy=\"{}\"", LINE_HEIGHT - LINE_BOTTOM);
        assert!(svg.contains(&top) && svg.contains(&bottom), "{svg}");
        assert_eq!(
            [0, 1, 2, 3, 5, 9, 10, 11, 45, 130, 1_000, 1_001].map(nice_top),
            [2, 2, 2, 4, 6, 10, 10, 20, 60, 200, 1_000, 2_000]
        );
        assert_eq!(nice_top(u64::MAX), u64::MAX);
        let none = Line {
            label: "gw".into(),
            values: vec![None; 24],
        };
        assert!(
            lines("ASR", &labels, &[none], None, |v| v.to_string())
                .into_string()
                .contains("No calls")
        );
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(
            columns("Calls per hour", &[])
                .into_string()
                .contains("No calls")
        );
        let many: Vec<Bar> = (0..48).map(|h| bar(&format!("{h:02}h"), h)).collect();
        let svg = columns("Calls per hour", &many).into_string();
        assert_eq!(svg.matches("<rect").count(), 48);
        assert_eq!(
            svg.matches("text-anchor=\"middle\"").count(),
            12,
            "every 4th label"
        );
    }
}
