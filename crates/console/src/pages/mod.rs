//! One module per page or group of pages. Handlers read with [`tollswitch_api::ops`] or the
//! storage, render with [`crate::layout`], and answer a successful form post with a 303 back to
//! the page (with a notice), or with the form again and the error next to its field.

pub mod accounts;
pub mod admin;
pub mod calls;
pub mod cdrs;
pub mod dashboard;
pub mod login;
pub mod objects;
pub mod parameters;
pub mod rates;
pub mod reports;

use crate::layout::{self, Notice};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;
use serde_json::Value;

/// What a page handler returns.
pub type PageResult = Result<Response, crate::session::PageError>;

/// The notice a redirect after a successful post carries: `?done=saved&name=…`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Done {
    /// What was done (one of a fixed set of words).
    pub done: Option<String>,
    /// To what.
    pub name: Option<String>,
}

impl Done {
    /// The notice to show, if the word is one the console sends.
    pub fn notice(&self) -> Option<Markup> {
        let name = self.name.as_deref().unwrap_or_default();
        let text = match self.done.as_deref()? {
            "created" => format!("Created {name}."),
            "saved" => format!("Saved {name}."),
            "deleted" => format!("Deleted {name}."),
            "paid" => format!("Payment recorded for {name}."),
            "hung-up" => format!("Hung up call {name}."),
            _ => return None,
        };
        Some(layout::notice(Notice::Done, &text))
    }
}

/// 303 to `path` with a [`Done`] notice.
pub fn done(path: &str, what: &str, name: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!(
        "{path}{sep}done={what}&name={}",
        layout::query_value(name)
    ))
    .into_response()
}

/// A JSON value as table text: strings bare, arrays joined, null empty.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// Basis points as a percentage with one decimal (`5000` → `50.0 %`).
pub fn percent(bp: u64) -> String {
    format!("{}.{} %", bp / 100, bp % 100 / 10)
}

/// `count` per `secs` with one decimal.
pub fn per_second(count: u64, secs: u64) -> String {
    let tenths = count.saturating_mul(10) / secs.max(1);
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_read_as_the_operator_expects() {
        assert_eq!(percent(5_000), "50.0 %");
        assert_eq!(percent(3_333), "33.3 %");
        assert_eq!(percent(10_000), "100.0 %");
        assert_eq!(per_second(17, 10), "1.7");
        assert_eq!(per_second(0, 0), "0.0");
        assert_eq!(cell(Some(&json!(["44", "1"]))), "44, 1");
        assert_eq!(cell(Some(&json!(false))), "no");
        assert_eq!(cell(None), "");
    }

    #[test]
    fn only_known_notices_are_shown() {
        let d = Done {
            done: Some("saved".into()),
            name: Some("<gw>".into()),
        };
        let text = d.notice().map(Markup::into_string).unwrap_or_default();
        assert!(text.contains("Saved &lt;gw&gt;."), "{text}");
        let forged = Done {
            done: Some("you have won".into()),
            name: None,
        };
        assert!(forged.notice().is_none());
    }
}
