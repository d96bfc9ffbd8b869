//! The provisioning objects as forms: which fields each kind shows, how a field's text becomes
//! the JSON the API's object `PUT` takes, and how stored JSON becomes text again.
//!
//! A form edits the stored object: fields the form does not show (number rules, time rules,
//! digest credentials) are kept as they are. Text that cannot even be read (a port that is not
//! a number, an amount with seven decimals) is refused here, naming the field; everything else
//! is validated by [`tollswitch_api::ops::put_object`], like any other change.

use crate::layout::Nav;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use tollswitch_model::provisioning::SourceMatch;
use tollswitch_model::{Currency, Money, SipCode};

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Text that must not be empty.
    Required,
    /// Text; empty leaves it unset.
    Optional,
    /// A currency code.
    Currency,
    /// A whole number; empty leaves it unset (unlimited, or the default).
    Number,
    /// A decimal amount of money; empty is zero.
    Money,
    /// Words separated by commas, spaces or lines.
    List,
    /// Source addresses or networks (`192.0.2.10`, `192.0.2.0/24:5060`).
    Sources,
    /// Targets `host[:port][/tcp]`.
    Targets,
    /// SIP codes.
    Codes,
    /// A yes/no checkbox.
    Check,
    /// One of these values.
    Select(&'static [&'static str]),
}

/// One field of a form.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The JSON key (and the form field's name).
    pub key: &'static str,
    /// What the operator reads.
    pub label: &'static str,
    /// How it is entered.
    pub input: Input,
    /// A hint under the field.
    pub help: &'static str,
    /// Shown only when creating (the stored balance moves only through the ledger).
    pub new_only: bool,
}

const fn f(key: &'static str, label: &'static str, input: Input, help: &'static str) -> Field {
    Field {
        key,
        label,
        input,
        help,
        new_only: false,
    }
}

/// The limits every account and gateway form carries.
const LINE_LIMIT: Field = f(
    "line_limit",
    "Line limit",
    Input::Number,
    "concurrent calls; empty: unlimited",
);
const CPS_LIMIT: Field = f(
    "cps_limit",
    "CPS limit",
    Input::Number,
    "new calls per second; empty: unlimited",
);

/// A kind of provisioning object, as the console shows it.
#[derive(Debug)]
pub struct Kind {
    /// The URL segment (`/objects/{url}`), the API's kind.
    pub url: &'static str,
    /// Plural title.
    pub title: &'static str,
    /// What one is called.
    pub singular: &'static str,
    /// Its navigation entry.
    pub nav: Nav,
    /// The form.
    pub fields: &'static [Field],
    /// The keys shown as list columns.
    pub columns: &'static [&'static str],
}

const MEDIA: Input = Input::Select(&["inherit", "off", "on", "auto", "must_on"]);

const ACCOUNT: &[Field] = &[
    f(
        "name",
        "Name",
        Input::Required,
        "unique; cannot change later",
    ),
    f(
        "kind",
        "Kind",
        Input::Select(&["customer", "vendor", "agent"]),
        "",
    ),
    f(
        "parent_agent",
        "Parent agent",
        Input::Optional,
        "agent account its charges roll up to",
    ),
    f(
        "currency",
        "Currency",
        Input::Currency,
        "ISO 4217 code, e.g. USD",
    ),
    Field {
        new_only: true,
        ..f(
            "balance",
            "Opening balance",
            Input::Money,
            "later changes go through payments",
        )
    },
    f(
        "credit_limit",
        "Credit limit",
        Input::Money,
        "how far below zero the balance may go",
    ),
    f(
        "payment_mode",
        "Payment",
        Input::Select(&["prepaid", "postpaid"]),
        "",
    ),
    f(
        "status",
        "Status",
        Input::Select(&["active", "locked"]),
        "locked: every call is refused",
    ),
    f(
        "rate_table",
        "Rate table",
        Input::Optional,
        "what the account is charged",
    ),
    LINE_LIMIT,
    CPS_LIMIT,
];

const MAPPING_GATEWAY: &[Field] = &[
    f(
        "name",
        "Name",
        Input::Required,
        "unique; cannot change later",
    ),
    f(
        "account",
        "Account",
        Input::Required,
        "the customer account charged",
    ),
    f(
        "sources",
        "Sources",
        Input::Sources,
        "addresses or networks, e.g. 192.0.2.10, 198.51.100.0/24:5060",
    ),
    LINE_LIMIT,
    CPS_LIMIT,
    f(
        "allowed_prefixes",
        "Allowed prefixes",
        Input::List,
        "empty: every callee",
    ),
    f(
        "forbidden_prefixes",
        "Forbidden prefixes",
        Input::List,
        "callees refused",
    ),
    f(
        "allowed_groups",
        "Allowed gateway groups",
        Input::List,
        "empty: every routing gateway",
    ),
    f(
        "route_policy",
        "Route policy",
        Input::Select(&["priority_then_lcr", "lcr_then_priority", "quality"]),
        "",
    ),
    f(
        "max_call_duration_secs",
        "Max call duration (s)",
        Input::Number,
        "0 or empty: unlimited",
    ),
    f(
        "media_proxy",
        "Media proxy",
        MEDIA,
        "inherit: SS_MEDIA_PROXY_MODE",
    ),
    f(
        "codecs",
        "Codecs",
        Input::List,
        "in preference order; empty: as offered",
    ),
    f(
        "enabled",
        "Enabled",
        Input::Check,
        "a disabled gateway's calls are refused",
    ),
];

const ROUTING_GATEWAY: &[Field] = &[
    f(
        "name",
        "Name",
        Input::Required,
        "unique; cannot change later",
    ),
    f(
        "vendor_account",
        "Vendor account",
        Input::Required,
        "the vendor that bills us",
    ),
    f(
        "targets",
        "Targets",
        Input::Targets,
        "host[:port][/tcp], e.g. 192.0.2.20:5060, sbc.example.net/tcp",
    ),
    f(
        "prefixes",
        "Prefixes",
        Input::List,
        "callee prefixes served",
    ),
    f(
        "priority",
        "Priority",
        Input::Number,
        "smaller is tried first",
    ),
    LINE_LIMIT,
    CPS_LIMIT,
    f("groups", "Gateway groups", Input::List, ""),
    f(
        "rate_table",
        "Rate table",
        Input::Optional,
        "the vendor's prices (our cost)",
    ),
    f("busy_stop", "486 stops failover", Input::Check, ""),
    f(
        "stop_codes",
        "Stop codes",
        Input::Codes,
        "further final codes that stop failover",
    ),
    f(
        "options_check",
        "OPTIONS probe",
        Input::Check,
        "skip the gateway while it does not answer",
    ),
    f(
        "invite_timeout_secs",
        "INVITE timeout (s)",
        Input::Number,
        "empty: SS_SIP_TIMEOUT_INVITE",
    ),
    f(
        "ringing_timeout_secs",
        "Ringing timeout (s)",
        Input::Number,
        "empty: SS_SIP_TIMEOUT_RINGING",
    ),
    f(
        "media_proxy",
        "Media proxy",
        MEDIA,
        "inherit: SS_MEDIA_PROXY_MODE",
    ),
    f(
        "p_asserted_identity",
        "P-Asserted-Identity",
        Input::Select(&["pass", "strip"]),
        "",
    ),
    f(
        "enabled",
        "Enabled",
        Input::Check,
        "a disabled gateway is skipped",
    ),
];

const GATEWAY_GROUP: &[Field] = &[
    f(
        "name",
        "Name",
        Input::Required,
        "unique; cannot change later",
    ),
    f(
        "line_limit",
        "Line limit",
        Input::Number,
        "over all members; empty: unlimited",
    ),
    f("members", "Members", Input::List, "routing gateway names"),
];

/// Every kind, in navigation order.
pub const KINDS: &[Kind] = &[
    Kind {
        url: "accounts",
        title: "Accounts",
        singular: "account",
        nav: Nav::Accounts,
        fields: ACCOUNT,
        columns: &[
            "kind",
            "currency",
            "balance",
            "credit_limit",
            "status",
            "rate_table",
            "line_limit",
        ],
    },
    Kind {
        url: "mapping-gateways",
        title: "Mapping gateways",
        singular: "mapping gateway",
        nav: Nav::MappingGateways,
        fields: MAPPING_GATEWAY,
        columns: &[
            "account",
            "sources",
            "route_policy",
            "line_limit",
            "cps_limit",
            "enabled",
        ],
    },
    Kind {
        url: "routing-gateways",
        title: "Routing gateways",
        singular: "routing gateway",
        nav: Nav::RoutingGateways,
        fields: ROUTING_GATEWAY,
        columns: &[
            "vendor_account",
            "targets",
            "prefixes",
            "priority",
            "line_limit",
            "rate_table",
            "enabled",
        ],
    },
    Kind {
        url: "gateway-groups",
        title: "Gateway groups",
        singular: "gateway group",
        nav: Nav::GatewayGroups,
        fields: GATEWAY_GROUP,
        columns: &["line_limit", "members"],
    },
];

/// The kind of a URL segment.
pub fn kind(url: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.url == url)
}

impl Kind {
    /// The field with this key.
    pub fn field(&self, key: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The form field an API error's `field` (`targets[0].host`, `digest.username`) is about.
    pub fn field_of_error(&self, api_field: &str) -> Option<&'static str> {
        let head = api_field.split(['[', '.']).next().unwrap_or(api_field);
        self.field(head).map(|f| f.key)
    }
}

/// Form values by key, as text.
pub type Values = BTreeMap<String, String>;

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
}

fn target_text(t: &Value) -> String {
    let host = t.get("host").and_then(Value::as_str).unwrap_or_default();
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let port = t.get("port").and_then(Value::as_u64).unwrap_or(5060);
    match t.get("transport").and_then(Value::as_str) {
        Some("tcp") => format!("{host}:{port}/tcp"),
        _ => format!("{host}:{port}"),
    }
}

/// A stored value as the text its field shows.
pub fn text_of(field: &Field, v: Option<&Value>) -> String {
    let Some(v) = v else {
        // Unset: a choice shows the model's default, which is always the first.
        return match field.input {
            Input::Select(options) => options.first().copied().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
    };
    match (field.input, v) {
        (Input::Check, Value::Bool(true)) => "on".into(),
        (Input::Check, _) => String::new(),
        (Input::Targets, Value::Array(items)) => {
            items.iter().map(target_text).collect::<Vec<_>>().join(", ")
        }
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

/// The form values of a stored object.
pub fn values_of(kind: &Kind, object: &Value) -> Values {
    kind.fields
        .iter()
        .map(|f| (f.key.to_owned(), text_of(f, object.get(f.key))))
        .collect()
}

/// The values of a new object's form: the defaults the model would take.
pub fn defaults(kind: &Kind) -> Values {
    kind.fields
        .iter()
        .map(|f| {
            let v = match (f.input, f.key) {
                (Input::Check, "enabled") => "on",
                (Input::Select(options), _) => options.first().copied().unwrap_or_default(),
                (Input::Currency, _) => "USD",
                _ => "",
            };
            (f.key.to_owned(), v.to_owned())
        })
        .collect()
}

/// The submitted values of a form (a missing checkbox is off).
pub fn values_from(kind: &Kind, form: &crate::session::Fields) -> Values {
    kind.fields
        .iter()
        .map(|f| {
            let v = match f.input {
                Input::Check if form.get(f.key).is_some() => "on".to_owned(),
                Input::Check => String::new(),
                _ => form.get(f.key).unwrap_or_default().trim().to_owned(),
            };
            (f.key.to_owned(), v)
        })
        .collect()
}

fn parse_target(entry: &str) -> Result<Value, String> {
    let (address, transport) = match entry.rsplit_once('/') {
        Some((a, t)) if t.eq_ignore_ascii_case("tcp") => (a, "tcp"),
        Some((a, t)) if t.eq_ignore_ascii_case("udp") => (a, "udp"),
        Some(_) => return Err(format!("{entry:?}: the transport after / is udp or tcp")),
        None => (entry, "udp"),
    };
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{entry:?}: no ] after the IPv6 address"))?;
        (host, after.strip_prefix(':'))
    } else if address.matches(':').count() == 1 {
        let (h, p) = address.split_once(':').unwrap_or((address, ""));
        (h, Some(p))
    } else {
        (address, None)
    };
    let mut t = Map::new();
    t.insert("host".into(), json!(host));
    if let Some(p) = port {
        let port: u16 = p
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{entry:?}: the port must be 1..=65535"))?;
        t.insert("port".into(), json!(port));
    }
    t.insert("transport".into(), json!(transport));
    Ok(Value::Object(t))
}

/// The JSON of one field's text; `Ok(None)` leaves the key unset.
fn field_json(field: &Field, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    let label = field.label;
    Ok(Some(match field.input {
        Input::Required if text.is_empty() => return Err(format!("{label} is required")),
        Input::Required => json!(text),
        Input::Optional if text.is_empty() => return Ok(None),
        Input::Optional => json!(text),
        Input::Currency => {
            let c: Currency = text.parse().map_err(|e| format!("{label}: {e}"))?;
            json!(c.as_str())
        }
        Input::Number if text.is_empty() => return Ok(None),
        Input::Number => json!(
            text.parse::<u32>()
                .map_err(|_| format!("{label}: {text:?} is not a whole number 0..=4294967295"))?
        ),
        Input::Money if text.is_empty() => json!("0"),
        Input::Money => {
            let m: Money = text.parse().map_err(|e| format!("{label}: {e}"))?;
            json!(m.to_string())
        }
        Input::List => json!(words(text).collect::<Vec<_>>()),
        Input::Sources => {
            let mut out = Vec::new();
            for w in words(text) {
                let m: SourceMatch = w.parse().map_err(|e| format!("{label}: {e}"))?;
                out.push(json!(m.to_string()));
            }
            Value::Array(out)
        }
        Input::Targets => Value::Array(
            words(text)
                .map(parse_target)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{label}: {e}"))?,
        ),
        Input::Codes => {
            let mut out = Vec::new();
            for w in words(text) {
                let code = w
                    .parse::<u16>()
                    .ok()
                    .and_then(SipCode::new)
                    .ok_or_else(|| format!("{label}: {w:?} is not a SIP code (100..=699)"))?;
                out.push(json!(code.as_u16()));
            }
            Value::Array(out)
        }
        Input::Check => json!(text == "on"),
        Input::Select(options) if options.contains(&text) => json!(text),
        Input::Select(options) => {
            return Err(format!("{label}: choose one of {}", options.join(", ")));
        }
    }))
}

/// The object a form describes: `base` (the stored object, or `{}` for a new one) with the
/// form's fields written over it. Every field that cannot be read is reported, by key.
pub fn object_from(
    kind: &Kind,
    values: &Values,
    mut base: Value,
    creating: bool,
) -> Result<Value, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    if !base.is_object() {
        base = json!({});
    }
    let Some(map) = base.as_object_mut() else {
        return Err(errors);
    };
    for field in kind.fields {
        if field.new_only && !creating {
            continue;
        }
        let text = values.get(field.key).map_or("", String::as_str);
        match field_json(field, text) {
            Ok(Some(v)) => {
                map.insert(field.key.into(), v);
            }
            Ok(None) => {
                map.remove(field.key);
            }
            Err(e) => {
                errors.insert(field.key, e);
            }
        }
    }
    if errors.is_empty() {
        Ok(base)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing() -> &'static Kind {
        kind("routing-gateways").expect("kind")
    }

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_routing_gateway_form_becomes_the_api_json() {
        let v = values(&[
            ("name", "gw"),
            ("vendor_account", "v"),
            (
                "targets",
                "192.0.2.20, [2001:db8::1]:5070/tcp\nsbc.example.net",
            ),
            ("prefixes", "44 1"),
            ("priority", "2"),
            ("line_limit", ""),
            ("stop_codes", "404, 486"),
            ("media_proxy", "inherit"),
            ("p_asserted_identity", "strip"),
            ("enabled", "on"),
        ]);
        let o = object_from(routing(), &v, json!({"time_rules": [1]}), true).expect("valid");
        assert_eq!(
            o["targets"],
            json!([
                {"host": "192.0.2.20", "transport": "udp"},
                {"host": "2001:db8::1", "port": 5070, "transport": "tcp"},
                {"host": "sbc.example.net", "transport": "udp"},
            ])
        );
        assert_eq!(o["prefixes"], json!(["44", "1"]));
        assert_eq!(o["stop_codes"], json!([404, 486]));
        assert_eq!(
            (o["priority"].clone(), o["enabled"].clone()),
            (json!(2), json!(true))
        );
        assert_eq!(o["busy_stop"], json!(false), "an unchecked box is off");
        assert!(o.get("line_limit").is_none(), "empty: unlimited");
        assert_eq!(
            o["time_rules"],
            json!([1]),
            "fields not on the form are kept"
        );
    }

    #[test]
    fn unreadable_text_is_refused_naming_every_field() {
        let v = values(&[
            ("name", ""),
            ("vendor_account", "v"),
            ("targets", "192.0.2.20:99999"),
            ("priority", "first"),
            ("stop_codes", "42"),
            ("media_proxy", "sometimes"),
            ("p_asserted_identity", "pass"),
        ]);
        let errors = object_from(routing(), &v, json!({}), true).expect_err("invalid");
        let keys: Vec<&str> = errors.keys().copied().collect();
        assert_eq!(
            keys,
            ["media_proxy", "name", "priority", "stop_codes", "targets"]
        );
        assert!(errors["targets"].contains("port"), "{errors:?}");
    }

    #[test]
    fn stored_objects_read_back_as_the_same_text() {
        let stored = json!({
            "name": "gw", "vendor_account": "v", "enabled": false,
            "targets": [{"host": "192.0.2.20", "port": 5060, "transport": "udp"},
                        {"host": "2001:db8::1", "port": 5070, "transport": "tcp"}],
            "prefixes": ["44", "1"], "stop_codes": [404],
        });
        let v = values_of(routing(), &stored);
        assert_eq!(v["targets"], "192.0.2.20:5060, [2001:db8::1]:5070/tcp");
        assert_eq!(
            (v["prefixes"].as_str(), v["enabled"].as_str()),
            ("44, 1", "")
        );
        assert_eq!(v["stop_codes"], "404");
        let again = object_from(routing(), &v, stored.clone(), false).expect("valid");
        assert_eq!(again["targets"][1]["port"], 5070);
    }

    #[test]
    fn api_error_fields_point_at_form_fields() {
        let k = routing();
        assert_eq!(k.field_of_error("targets[0].host"), Some("targets"));
        assert_eq!(k.field_of_error("priority"), Some("priority"));
        assert_eq!(k.field_of_error("body"), None);
        let accounts = kind("accounts").expect("kind");
        let v = values(&[
            ("name", "a"),
            ("currency", "usd"),
            ("credit_limit", "1.0000001"),
        ]);
        let errors = object_from(accounts, &v, json!({}), true).expect_err("invalid");
        assert!(errors.contains_key("currency") && errors.contains_key("credit_limit"));
    }
}
