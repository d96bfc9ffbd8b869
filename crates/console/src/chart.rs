//! Bar charts as inline SVG, drawn on the server from integers (no script, no floats). The
//! stylesheet colours them; each chart carries a title and an `aria-label` for screen readers,
//! and the page shows the same figures in a table.

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
