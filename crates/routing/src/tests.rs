//! Table-driven tests of admission, skipping, ordering and failover over one small fixture.

use crate::*;
use proptest::prelude::*;
use std::net::SocketAddr;
use tollswitch_model::provisioning::*;
use tollswitch_model::{Currency, Money, SipCode};

/// Friday 2026-01-02 00:00 UTC.
const NOW: i64 = 1_767_312_000;

const FIXTURE: &str = r#"
[parameters]
SS_SIP_TIMEOUT_INVITE = "10"

[[account]]
name = "acme"
kind = "customer"
currency = "USD"
balance = "10.00"
rate_table = "retail"

[[account]]
name = "agent"
kind = "agent"
currency = "USD"

[[account]]
name = "sub"
kind = "customer"
parent_agent = "agent"
currency = "USD"
balance = 5
rate_table = "retail"

[[account]]
name = "v1"
kind = "vendor"
currency = "USD"

[[account]]
name = "v2"
kind = "vendor"
currency = "USD"

[[account]]
name = "v3"
kind = "vendor"
currency = "USD"

[[mapping_gateway]]
name = "pbx"
account = "acme"
sources = ["192.0.2.10", "198.51.100.0/24:5060"]
callee_rules = [{ replace_prefix = { from = "00", to = "" } }]
forbidden_prefixes = ["4490"]
replace_failed_reason = [{ from = 503, to = 486 }]
codecs = ["PCMA", "PCMU"]

[[mapping_gateway]]
name = "soft"
account = "sub"
digest = { username = "alice", password = "secret" }

[[routing_gateway]]
name = "gw-a"
vendor_account = "v1"
targets = [{ host = "203.0.113.1" }, { host = "carrier.example", port = 5080, transport = "tcp" }]
prefixes = ["44"]
priority = 1
rate_table = "cost-a"
busy_stop = true
stop_codes = [480]

[[routing_gateway]]
name = "gw-b"
vendor_account = "v2"
targets = [{ host = "203.0.113.2" }]
prefixes = ["44", "4420"]
priority = 2
rate_table = "cost-b"
callee_rules = [{ add_prefix = "1234" }]
caller_rules = [{ strip = 1 }]

[[routing_gateway]]
name = "gw-c"
vendor_account = "v3"
targets = [{ host = "203.0.113.3" }]
prefixes = ["44"]
priority = 3
rate_table = "cost-c"

[[gateway_group]]
name = "grp"
members = ["gw-a"]

[[rate_table]]
name = "retail"
currency = "USD"
[[rate_table.rate]]
prefix = "44"
area = "United Kingdom"
price = "0.05"
[[rate_table.rate]]
prefix = "4420"
area = "London"
price = "0.10"
first_increment_secs = 30
next_increment_secs = 6
connect_fee = "0.01"
[[rate_table.rate]]
prefix = "1"
area = "NANP"
price = "0.01"

[[rate_table]]
name = "cost-a"
currency = "USD"
rate = [{ prefix = "44", price = "0.03" }, { prefix = "4420", price = "0.08" }]

[[rate_table]]
name = "cost-b"
currency = "USD"
rate = [{ prefix = "44", price = "0.02" }, { prefix = "4420", price = "0.09" }]

[[rate_table]]
name = "cost-c"
currency = "USD"
rate = [{ prefix = "44", price = "0.04" }]
"#;

fn fixture() -> Provisioning {
    toml::from_str(FIXTURE).unwrap()
}

fn snap(p: &Provisioning) -> RoutingSnapshot {
    RoutingSnapshot::compile(p).unwrap()
}

fn req<'a>(source: &str, callee: &'a str) -> CallRequest<'a> {
    CallRequest {
        source: source.parse::<SocketAddr>().unwrap(),
        digest_user: None,
        caller: "15551234567",
        callee,
    }
}

const PBX: &str = "192.0.2.10:5060";

fn order(d: &RouteDecision) -> Vec<&str> {
    d.candidates.iter().map(|c| &*c.gateway.name).collect()
}

fn skips(d: &RouteDecision) -> Vec<(&str, &'static str)> {
    d.skipped
        .iter()
        .map(|s| (&*s.gateway.name, s.reason.as_str()))
        .collect()
}

fn mgw<'a>(p: &'a mut Provisioning, name: &str) -> &'a mut MappingGateway {
    p.mapping_gateways
        .iter_mut()
        .find(|g| g.name == name)
        .unwrap()
}

fn rgw<'a>(p: &'a mut Provisioning, name: &str) -> &'a mut RoutingGateway {
    p.routing_gateways
        .iter_mut()
        .find(|g| g.name == name)
        .unwrap()
}

fn acct<'a>(p: &'a mut Provisioning, name: &str) -> &'a mut Account {
    p.accounts.iter_mut().find(|a| a.name == name).unwrap()
}

#[test]
fn fixture_is_valid_and_round_trips_through_toml() {
    let p = fixture();
    assert_eq!(p.validate(), Ok(()));
    let text = toml::to_string(&p).unwrap();
    assert!(text.contains("price = \"0.05\""), "{text}");
    let back: Provisioning = toml::from_str(&text).unwrap();
    assert_eq!(back, p);
}

#[test]
fn money_floats_and_unknown_fields_are_refused() {
    let float = FIXTURE.replace("balance = \"10.00\"", "balance = 10.5");
    let err = toml::from_str::<Provisioning>(&float)
        .unwrap_err()
        .to_string();
    assert!(err.contains("decimal string"), "{err}");
    let unknown = FIXTURE.replace("kind = \"agent\"", "kind = \"agent\"\ncolour = \"red\"");
    assert!(toml::from_str::<Provisioning>(&unknown).is_err());
}

#[test]
fn routed_call_carries_everything_leg_b_needs() {
    let p = fixture();
    let s = snap(&p);
    let d = route(&s, &req(PBX, "00442071234567"), &IdleCounters, NOW);
    assert!(d.is_routed(), "{d}");
    assert_eq!(d.mapping_gateway.as_ref().map(|m| &*m.name), Some("pbx"));
    assert_eq!(d.account.as_ref().map(|a| &*a.name), Some("acme"));
    assert_eq!(
        d.callee_out.as_ref().map(|n| n.as_str()),
        Some("442071234567")
    );
    assert_eq!(d.callee_steps.len(), 1);
    assert_eq!(d.callee_steps[0].before, "00442071234567");
    let rate = d.customer_rate.as_ref().unwrap();
    assert_eq!(
        (rate.prefix.as_str(), rate.area.as_deref()),
        ("4420", Some("London"))
    );
    assert_eq!(rate.price, "0.10".parse::<Money>().unwrap());
    assert_eq!(rate.first_increment_secs, 30);
    // Longest prefix first (gw-b on 4420), then priority.
    assert_eq!(order(&d), ["gw-b", "gw-a", "gw-c"]);
    let b = &d.candidates[0];
    assert_eq!(b.prefix.as_str(), "4420");
    assert_eq!(b.callee.as_str(), "1234442071234567");
    assert_eq!(b.caller, "5551234567");
    assert_eq!(b.callee_steps.len(), 1);
    assert_eq!(
        b.vendor_rate.as_ref().map(|r| r.price.micros()),
        Some(90_000)
    );
    let a = &d.candidates[1];
    assert_eq!(a.callee.as_str(), "442071234567");
    assert_eq!(a.gateway.targets.len(), 2);
    assert_eq!(a.gateway.targets[1].transport, Transport::Tcp);
    assert!(a.gateway.busy_stop);
    assert_eq!(a.gateway.stop_codes, [SipCode::TEMPORARILY_UNAVAILABLE]);
    assert_eq!(&*a.gateway.vendor_account.name, "v1");
    assert_eq!(&*d.codecs, &["PCMA".to_owned(), "PCMU".to_owned()]);
    assert!(d.to_string().contains("gw-b prefix 4420"));
}

#[test]
fn explain_json_has_exactly_the_documented_keys() {
    let mut p = fixture();
    rgw(&mut p, "gw-c").enabled = false;
    let s = snap(&p);
    let d = route(&s, &req(PBX, "442071234567"), &IdleCounters, NOW);
    let v = serde_json::to_value(d.explain()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "reject",
        "mapping_gateway",
        "account",
        "callee_out",
        "caller_out",
        "customer_rate",
        "candidates",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    assert!(v["reject"].is_null());
    let c = &v["candidates"];
    assert_eq!(c.as_array().unwrap().len(), 3);
    let mut ck: Vec<&str> = c[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    ck.sort_unstable();
    assert_eq!(
        ck,
        [
            "gateway",
            "prefix",
            "priority",
            "selected",
            "skip_reason",
            "vendor_rate"
        ]
    );
    assert_eq!(c[0]["gateway"], "gw-b");
    assert_eq!(c[0]["vendor_rate"], "0.09");
    assert_eq!(c[2]["selected"], false);
    assert_eq!(c[2]["skip_reason"], "disabled");
    assert_eq!(v["customer_rate"]["price"], "0.10");

    let d = route(&s, &req("203.0.113.99:5060", "44"), &IdleCounters, NOW);
    let v = serde_json::to_value(d.explain()).unwrap();
    assert_eq!(v["reject"]["code"], 403);
    assert_eq!(v["reject"]["reason"], "unknown_source");
    // The full decision serializes too.
    assert!(serde_json::to_string(&d).is_ok());
}

type Setup = fn(&mut Provisioning);
type SkipCase = (&'static str, Setup, Live, Vec<(&'static str, &'static str)>);
type FailoverCase = (&'static str, bool, Vec<CodeReplacement>, usize, u16, Next);
type Live = fn(&RoutingSnapshot, &mut MemoryCounters);

fn nothing(_: &mut Provisioning) {}
fn idle(_: &RoutingSnapshot, _: &mut MemoryCounters) {}

#[test]
fn rejections() {
    let cases: Vec<(&str, Setup, Live, CallRequest<'static>, u16, &str)> = vec![
        (
            "unknown source",
            nothing,
            idle,
            req("203.0.113.9:5060", "4420"),
            403,
            "unknown_source",
        ),
        (
            "cidr needs its port",
            nothing,
            idle,
            req("198.51.100.7:5070", "4420"),
            403,
            "unknown_source",
        ),
        (
            "unknown digest user",
            nothing,
            idle,
            CallRequest {
                digest_user: Some("bob"),
                ..req("203.0.113.9:5060", "4420")
            },
            403,
            "unknown_source",
        ),
        (
            "digest user from outside its sources",
            |p| mgw(p, "soft").sources = vec!["192.0.2.50".parse().unwrap()],
            idle,
            CallRequest {
                digest_user: Some("alice"),
                ..req("192.0.2.99:5060", "4420")
            },
            403,
            "source_not_allowed",
        ),
        (
            "source of a digest gateway without credentials",
            |p| mgw(p, "soft").sources = vec!["192.0.2.50".parse().unwrap()],
            idle,
            req("192.0.2.50:5060", "4420"),
            407,
            "digest_required",
        ),
        (
            "mapping gateway disabled",
            |p| mgw(p, "pbx").enabled = false,
            idle,
            req(PBX, "4420"),
            403,
            "mapping_gateway_disabled",
        ),
        (
            "account locked",
            |p| acct(p, "acme").status = AccountStatus::Locked,
            idle,
            req(PBX, "4420"),
            403,
            "account_locked",
        ),
        (
            "account expired",
            |p| acct(p, "acme").expiry = Some(NOW),
            idle,
            req(PBX, "4420"),
            403,
            "account_expired",
        ),
        (
            "agent locked",
            |p| acct(p, "agent").status = AccountStatus::Locked,
            idle,
            CallRequest {
                digest_user: Some("alice"),
                ..req("203.0.113.9:5060", "4420")
            },
            403,
            "account_locked",
        ),
        (
            "callee not digits",
            nothing,
            idle,
            req(PBX, "44abc"),
            484,
            "invalid_callee",
        ),
        (
            "callee emptied by rules",
            |p| mgw(p, "pbx").callee_rules = vec![NumberRule::Strip(32)],
            idle,
            req(PBX, "4420"),
            484,
            "invalid_callee",
        ),
        (
            "forbidden prefix",
            nothing,
            idle,
            req(PBX, "44901234"),
            403,
            "forbidden_prefix",
        ),
        (
            "forbidden after transformation",
            nothing,
            idle,
            req(PBX, "0044901234"),
            403,
            "forbidden_prefix",
        ),
        (
            "not an allowed prefix",
            |p| mgw(p, "pbx").allowed_prefixes = vec!["1".into()],
            idle,
            req(PBX, "4420"),
            403,
            "prefix_not_allowed",
        ),
        (
            "mapping gateway line limit",
            |p| mgw(p, "pbx").line_limit = Some(2),
            |s, c| {
                c.mapping_gateway_calls
                    .insert(s.mapping_gateway_id("pbx").unwrap(), 2);
            },
            req(PBX, "4420"),
            503,
            "mapping_gateway_line_limit",
        ),
        (
            "account line limit",
            |p| acct(p, "acme").line_limit = Some(1),
            |s, c| {
                c.account_calls.insert(s.account_id("acme").unwrap(), 1);
            },
            req(PBX, "4420"),
            503,
            "account_line_limit",
        ),
        (
            "agent line limit",
            |p| acct(p, "agent").line_limit = Some(0),
            idle,
            CallRequest {
                digest_user: Some("alice"),
                ..req("203.0.113.9:5060", "4420")
            },
            503,
            "account_line_limit",
        ),
        (
            "mapping gateway cps",
            |p| mgw(p, "pbx").cps_limit = Some(10),
            |s, c| {
                c.mapping_gateway_cps
                    .insert(s.mapping_gateway_id("pbx").unwrap(), 10);
            },
            req(PBX, "4420"),
            503,
            "mapping_gateway_cps_limit",
        ),
        (
            "account cps",
            |p| acct(p, "acme").cps_limit = Some(3),
            |s, c| {
                c.account_cps.insert(s.account_id("acme").unwrap(), 3);
            },
            req(PBX, "4420"),
            503,
            "account_cps_limit",
        ),
        (
            "no customer rate for the prefix",
            nothing,
            idle,
            req(PBX, "33123"),
            403,
            "no_customer_rate",
        ),
        (
            "account without rate table",
            |p| acct(p, "acme").rate_table = None,
            idle,
            req(PBX, "4420"),
            403,
            "no_customer_rate",
        ),
        (
            "balance too low",
            |p| acct(p, "acme").balance = Money::ZERO,
            idle,
            req(PBX, "4420"),
            402,
            "insufficient_balance",
        ),
        (
            "live balance too low",
            nothing,
            |s, c| {
                c.account_balance
                    .insert(s.account_id("acme").unwrap(), Money::from_micros(-1));
            },
            req(PBX, "4420"),
            402,
            "insufficient_balance",
        ),
        (
            "no routing prefix",
            nothing,
            idle,
            req(PBX, "1212555"),
            404,
            "no_route",
        ),
        (
            "every gateway disabled",
            |p| {
                p.routing_gateways
                    .iter_mut()
                    .for_each(|g| g.enabled = false)
            },
            idle,
            req(PBX, "4420"),
            404,
            "no_route_permitted",
        ),
        (
            "every gateway down or full",
            |p| {
                p.routing_gateways
                    .iter_mut()
                    .for_each(|g| g.options_check = true);
                rgw(p, "gw-c").enabled = false;
            },
            |s, c| {
                for n in ["gw-a", "gw-b"] {
                    c.routing_gateway_down
                        .insert(s.routing_gateway_id(n).unwrap(), true);
                }
            },
            req(PBX, "4420"),
            503,
            "all_routes_busy",
        ),
    ];
    for (what, setup, live, request, code, reason) in cases {
        let mut p = fixture();
        setup(&mut p);
        let s = snap(&p);
        let mut c = MemoryCounters::default();
        live(&s, &mut c);
        let d = route(&s, &request, &c, NOW);
        let r = d
            .reject
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: routed\n{d}"));
        assert_eq!(
            (r.code.as_u16(), r.reason.as_str()),
            (code, reason),
            "{what}\n{d}"
        );
        assert_eq!(r.reason.code(), r.code, "{what}");
    }
}

#[test]
fn credit_limit_and_free_calls_pass_the_balance_check() {
    let mut p = fixture();
    acct(&mut p, "acme").balance = Money::ZERO;
    acct(&mut p, "acme").credit_limit = "1".parse().unwrap();
    let d = route(&snap(&p), &req(PBX, "4420"), &IdleCounters, NOW);
    assert!(d.is_routed(), "{d}");
    // Required for London: 0.01 connect + 30 s of 0.10/min = 0.06.
    acct(&mut p, "acme").credit_limit = "0.059999".parse().unwrap();
    let d = route(&snap(&p), &req(PBX, "4420"), &IdleCounters, NOW);
    assert!(
        matches!(d.reject.as_ref().map(|r| &r.reason), Some(RejectReason::InsufficientBalance { required, .. }) if *required == Money::from_micros(60_000)),
        "{d}"
    );
}

#[test]
fn digest_and_source_identification() {
    let p = fixture();
    let s = snap(&p);
    let alice = CallRequest {
        digest_user: Some("alice"),
        ..req("203.0.113.9:5060", "4420")
    };
    let d = route(&s, &alice, &IdleCounters, NOW);
    assert_eq!(
        d.mapping_gateway.as_ref().map(|m| &*m.name),
        Some("soft"),
        "{d}"
    );
    assert_eq!(d.account.as_ref().map(|a| &*a.name), Some("sub"));
    assert!(d.is_routed());
    assert_eq!(
        s.digest_credentials("alice").map(|(_, pw)| pw),
        Some("secret")
    );
    assert!(s.has_digest_gateways());
    // CIDR with port.
    let d = route(&s, &req("198.51.100.7:5060", "4420"), &IdleCounters, NOW);
    assert_eq!(d.mapping_gateway.as_ref().map(|m| &*m.name), Some("pbx"));
}

#[test]
fn most_specific_source_wins() {
    let mut p = fixture();
    let mut narrow = p.mapping_gateways[0].clone();
    narrow.name = "narrow".into();
    narrow.sources = vec!["198.51.100.7".parse().unwrap()];
    p.mapping_gateways.push(narrow);
    let mut ported = p.mapping_gateways[0].clone();
    ported.name = "ported".into();
    ported.sources = vec!["198.51.100.8:5070".parse().unwrap()];
    p.mapping_gateways.push(ported);
    let mut v6 = p.mapping_gateways[0].clone();
    v6.name = "v6".into();
    v6.sources = vec!["2001:db8::/32".parse().unwrap()];
    p.mapping_gateways.push(v6);
    let mut any_port = p.mapping_gateways[0].clone();
    any_port.name = "any-port".into();
    any_port.sources = vec!["198.51.100.8".parse().unwrap()];
    p.mapping_gateways.push(any_port);
    let s = snap(&p);
    for (src, want) in [
        ("198.51.100.7:5060", Some("narrow")),
        ("198.51.100.9:5060", Some("pbx")),
        ("198.51.100.8:5070", Some("ported")),
        ("198.51.100.8:5060", Some("any-port")),
        ("[2001:db8::5]:5060", Some("v6")),
        ("[2001:db9::5]:5060", None),
    ] {
        let got = s
            .mapping_gateway_for_source(src.parse().unwrap())
            .and_then(|id| s.mapping_gateway_name(id));
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn skip_reasons() {
    let cases: Vec<SkipCase> = vec![
        (
            "disabled",
            |p| rgw(p, "gw-a").enabled = false,
            idle,
            vec![("gw-a", "disabled")],
        ),
        (
            "not in allowed groups",
            |p| mgw(p, "pbx").allowed_groups = vec!["grp".into()],
            idle,
            vec![
                ("gw-b", "not_in_allowed_groups"),
                ("gw-c", "not_in_allowed_groups"),
            ],
        ),
        (
            "out of hours",
            |p| {
                rgw(p, "gw-a").time_rules = vec![TimeRule {
                    days: vec![Weekday::Mon],
                    from: "09:00".parse().unwrap(),
                    to: "17:00".parse().unwrap(),
                    utc_offset: UtcOffset::UTC,
                }]
            },
            idle,
            vec![("gw-a", "out_of_hours")],
        ),
        (
            "vendor locked",
            |p| acct(p, "v3").status = AccountStatus::Locked,
            idle,
            vec![("gw-c", "vendor_account_inactive")],
        ),
        (
            "down under OPTIONS check",
            |p| rgw(p, "gw-a").options_check = true,
            |s, c| {
                c.routing_gateway_down
                    .insert(s.routing_gateway_id("gw-a").unwrap(), true);
            },
            vec![("gw-a", "down")],
        ),
        (
            "down is ignored without OPTIONS check",
            nothing,
            |s, c| {
                c.routing_gateway_down
                    .insert(s.routing_gateway_id("gw-a").unwrap(), true);
            },
            vec![],
        ),
        (
            "gateway full",
            |p| rgw(p, "gw-c").line_limit = Some(5),
            |s, c| {
                c.routing_gateway_calls
                    .insert(s.routing_gateway_id("gw-c").unwrap(), 5);
            },
            vec![("gw-c", "gateway_full")],
        ),
        (
            "group full",
            |p| p.gateway_groups[0].line_limit = Some(3),
            |s, c| {
                c.gateway_group_calls
                    .insert(s.gateway_group_id("grp").unwrap(), 3);
            },
            vec![("gw-a", "group_full")],
        ),
        (
            "over cps",
            |p| rgw(p, "gw-b").cps_limit = Some(1),
            |s, c| {
                c.routing_gateway_cps
                    .insert(s.routing_gateway_id("gw-b").unwrap(), 1);
            },
            vec![("gw-b", "over_cps")],
        ),
        (
            "no vendor rate",
            |p| {
                p.rate_tables
                    .iter_mut()
                    .find(|t| t.name == "cost-c")
                    .unwrap()
                    .rates[0]
                    .prefix = "33".into()
            },
            idle,
            vec![("gw-c", "no_vendor_rate")],
        ),
        (
            "invalid number after the gateway's rules",
            |p| {
                rgw(p, "gw-c").callee_rules = vec![NumberRule::Regex {
                    pattern: "^44".into(),
                    replacement: "x".into(),
                }]
            },
            idle,
            vec![("gw-c", "invalid_number")],
        ),
    ];
    for (what, setup, live, want) in cases {
        let mut p = fixture();
        setup(&mut p);
        let s = snap(&p);
        let mut c = MemoryCounters::default();
        live(&s, &mut c);
        let d = route(&s, &req(PBX, "442071234567"), &c, NOW);
        assert!(d.is_routed(), "{what}\n{d}");
        assert_eq!(skips(&d), want, "{what}\n{d}");
        assert_eq!(
            d.candidates.len() + d.skipped.len(),
            3,
            "{what}: every match is listed"
        );
    }
}

#[test]
fn ordering_under_each_policy() {
    // Callee 4430…: all three gateways match on "44" only.
    // priority a=1 b=2 c=3; vendor rate a=0.03 b=0.02 c=0.04; ASR a=20% b=50% c=90%.
    let live = |s: &RoutingSnapshot| {
        let mut c = MemoryCounters::default();
        for (n, asr) in [("gw-a", 200), ("gw-b", 500), ("gw-c", 900)] {
            c.routing_gateway_asr
                .insert(s.routing_gateway_id(n).unwrap(), asr);
        }
        c
    };
    for (policy, want) in [
        (RoutePolicy::PriorityThenLcr, ["gw-a", "gw-b", "gw-c"]),
        (RoutePolicy::LcrThenPriority, ["gw-b", "gw-a", "gw-c"]),
        (RoutePolicy::Quality, ["gw-c", "gw-b", "gw-a"]),
    ] {
        let mut p = fixture();
        mgw(&mut p, "pbx").route_policy = policy;
        let s = snap(&p);
        let d = route(&s, &req(PBX, "443012345"), &live(&s), NOW);
        assert_eq!(order(&d), want, "{policy:?}\n{d}");
        // The longer routing prefix beats every policy.
        let d = route(&s, &req(PBX, "442012345"), &live(&s), NOW);
        assert_eq!(order(&d)[0], "gw-b", "{policy:?}");
    }
}

#[test]
fn equal_keys_fall_back_to_load_then_file_order() {
    let mut p = fixture();
    for g in &mut p.routing_gateways {
        g.priority = 7;
        g.rate_table = None;
        g.line_limit = Some(10);
    }
    let s = snap(&p);
    let d = route(&s, &req(PBX, "4430"), &IdleCounters, NOW);
    assert_eq!(order(&d), ["gw-a", "gw-b", "gw-c"]);
    let mut c = MemoryCounters::default();
    c.routing_gateway_calls
        .insert(s.routing_gateway_id("gw-a").unwrap(), 5);
    c.routing_gateway_calls
        .insert(s.routing_gateway_id("gw-b").unwrap(), 1);
    let d = route(&s, &req(PBX, "4430"), &c, NOW);
    assert_eq!(order(&d), ["gw-c", "gw-b", "gw-a"]);
}

#[test]
fn effective_dates_pick_the_rate_in_force() {
    let mut p = fixture();
    let retail = p
        .rate_tables
        .iter_mut()
        .find(|t| t.name == "retail")
        .unwrap();
    let london = retail
        .rates
        .iter_mut()
        .find(|r| r.prefix == "4420")
        .unwrap();
    london.effective_until = Some(NOW);
    let mut new_london = london.clone();
    new_london.effective_from = Some(NOW + 100);
    new_london.effective_until = None;
    new_london.price = "0.20".parse().unwrap();
    retail.rates.push(new_london);
    let s = snap(&p);
    let price_at = |t: i64| {
        let d = route(&s, &req(PBX, "442071234567"), &IdleCounters, t);
        d.customer_rate
            .map(|r| (r.prefix.to_string(), r.price.to_string()))
    };
    assert_eq!(price_at(NOW - 1), Some(("4420".into(), "0.10".into())));
    // In the gap the shorter prefix applies.
    assert_eq!(price_at(NOW), Some(("44".into(), "0.05".into())));
    assert_eq!(price_at(NOW + 100), Some(("4420".into(), "0.20".into())));
}

#[test]
fn compile_reports_validation_and_regex_errors() {
    let mut p = fixture();
    rgw(&mut p, "gw-a").targets.clear();
    rgw(&mut p, "gw-b").vendor_account = "nobody".into();
    match RoutingSnapshot::compile(&p) {
        Err(CompileError::Invalid(errs)) => assert_eq!(errs.len(), 2, "{errs:?}"),
        other => panic!("{other:?}"),
    }
    let mut p = fixture();
    rgw(&mut p, "gw-a").callee_rules = vec![NumberRule::Regex {
        pattern: "([".into(),
        replacement: String::new(),
    }];
    assert!(matches!(
        RoutingSnapshot::compile(&p),
        Err(CompileError::Regex { ref owner, .. }) if owner == "gw-a"
    ));
}

fn decision_for_failover(busy_stop: bool, replace: Vec<CodeReplacement>) -> RouteDecision {
    let mut p = fixture();
    rgw(&mut p, "gw-b").busy_stop = busy_stop;
    rgw(&mut p, "gw-b").stop_codes = vec![SipCode::new(404).unwrap()];
    mgw(&mut p, "pbx").replace_failed_reason = replace;
    let d = route(&snap(&p), &req(PBX, "442071234567"), &IdleCounters, NOW);
    assert_eq!(order(&d), ["gw-b", "gw-a", "gw-c"]);
    d
}

fn code(c: u16) -> SipCode {
    SipCode::new(c).unwrap()
}

#[test]
fn failover_rules() {
    let r = |from, to| CodeReplacement {
        from: code(from),
        to: code(to),
    };
    let cases: Vec<FailoverCase> = vec![
        ("503 fails over", false, vec![], 0, 503, Next::Continue(1)),
        ("408 fails over", false, vec![], 0, 408, Next::Continue(1)),
        (
            "486 fails over without busy stop",
            false,
            vec![],
            0,
            486,
            Next::Continue(1),
        ),
        (
            "486 stops with busy stop",
            true,
            vec![],
            0,
            486,
            Next::Stop(code(486)),
        ),
        ("487 stops", false, vec![], 0, 487, Next::Stop(code(487))),
        ("600 stops", false, vec![], 0, 600, Next::Stop(code(600))),
        ("603 stops", false, vec![], 0, 603, Next::Stop(code(603))),
        ("604 stops", false, vec![], 0, 604, Next::Stop(code(604))),
        ("606 stops", false, vec![], 0, 606, Next::Stop(code(606))),
        (
            "gateway stop code",
            false,
            vec![],
            0,
            404,
            Next::Stop(code(404)),
        ),
        (
            "stop code is per gateway",
            false,
            vec![],
            1,
            404,
            Next::Continue(2),
        ),
        (
            "gw-a stops on 480",
            false,
            vec![],
            1,
            480,
            Next::Stop(code(480)),
        ),
        (
            "200 is not a failure",
            false,
            vec![],
            0,
            200,
            Next::Stop(code(200)),
        ),
        (
            "last candidate",
            false,
            vec![],
            2,
            503,
            Next::Stop(code(503)),
        ),
        (
            "index out of range",
            false,
            vec![],
            9,
            503,
            Next::Stop(code(503)),
        ),
        (
            "replaced 503 -> 486 meets busy stop",
            true,
            vec![r(503, 486)],
            0,
            503,
            Next::Stop(code(486)),
        ),
        (
            "replaced 503 -> 486 without busy stop",
            false,
            vec![r(503, 486)],
            0,
            503,
            Next::Continue(1),
        ),
        (
            "replaced to a 6xx stops",
            false,
            vec![r(503, 603)],
            0,
            503,
            Next::Stop(code(603)),
        ),
        (
            "replaced away from 6xx continues",
            false,
            vec![r(603, 503)],
            0,
            603,
            Next::Continue(1),
        ),
        (
            "replaced code is what is finally sent",
            false,
            vec![r(503, 480)],
            2,
            503,
            Next::Stop(code(480)),
        ),
        (
            "replaced into a stop code",
            false,
            vec![r(500, 404)],
            0,
            500,
            Next::Stop(code(404)),
        ),
    ];
    for (what, busy, replace, attempt, final_code, want) in cases {
        let d = decision_for_failover(busy, replace);
        assert_eq!(next_after(&d, attempt, code(final_code)), want, "{what}");
    }
}

proptest! {
    #[test]
    fn next_after_never_continues_after_6xx(
        final_code in 300u16..700,
        replace in proptest::collection::vec((300u16..700, 300u16..700), 0..4),
        attempt in 0usize..4,
        busy in any::<bool>(),
    ) {
        let mut seen = std::collections::HashSet::new();
        let table: Vec<CodeReplacement> = replace
            .into_iter()
            .filter(|(f, _)| seen.insert(*f))
            .map(|(f, t)| CodeReplacement { from: code(f), to: code(t) })
            .collect();
        let rewritten = table
            .iter()
            .find(|r| r.from.as_u16() == final_code)
            .map_or(final_code, |r| r.to.as_u16());
        let d = decision_for_failover(busy, table);
        let next = next_after(&d, attempt, code(final_code));
        if rewritten >= 600 || rewritten == 487 {
            prop_assert_eq!(next, Next::Stop(code(rewritten)));
        }
        if let Next::Stop(c) = next {
            prop_assert_eq!(c.as_u16(), rewritten);
        }
        if let Next::Continue(i) = next {
            prop_assert_eq!(i, attempt + 1);
        }
    }

    #[test]
    fn candidate_order_respects_policy(
        gws in proptest::collection::vec((0u32..4, proptest::option::of(1i64..5), proptest::option::of(0u16..=1000)), 1..12),
        policy in prop_oneof![
            Just(RoutePolicy::PriorityThenLcr),
            Just(RoutePolicy::LcrThenPriority),
            Just(RoutePolicy::Quality),
        ],
    ) {
        let mut p = fixture();
        p.routing_gateways.clear();
        p.gateway_groups.clear();
        p.rate_tables.retain(|t| t.name == "retail");
        mgw(&mut p, "pbx").route_policy = policy;
        for (i, (prio, price, _)) in gws.iter().enumerate() {
            let mut g = fixture().routing_gateways[0].clone();
            g.name = format!("g{i}");
            g.priority = *prio;
            g.rate_table = price.map(|_| format!("t{i}"));
            if let Some(price) = price {
                p.rate_tables.push(RateTable {
                    name: format!("t{i}"),
                    currency: Currency::USD,
                    rates: vec![Rate {
                        prefix: "44".into(),
                        area: String::new(),
                        price: Money::from_micros(price * 10_000),
                        first_increment_secs: 60,
                        next_increment_secs: 60,
                        connect_fee: Money::ZERO,
                        effective_from: None,
                        effective_until: None,
                    }],
                });
            }
            p.routing_gateways.push(g);
        }
        let s = snap(&p);
        let mut c = MemoryCounters::default();
        for (i, (_, _, asr)) in gws.iter().enumerate() {
            if let Some(asr) = asr {
                c.routing_gateway_asr.insert(s.routing_gateway_id(&format!("g{i}")).unwrap(), *asr);
            }
        }
        let d = route(&s, &req(PBX, "4430"), &c, NOW);
        prop_assert_eq!(d.candidates.len(), gws.len());
        let key = |cand: &Candidate| {
            let prio = i64::from(cand.gateway.priority);
            let price = cand.vendor_rate.as_ref().map_or(i64::MAX, |r| r.price.micros());
            let asr = cand.asr_permille.map_or(i64::MAX, |a| 1000 - i64::from(a));
            match policy {
                RoutePolicy::PriorityThenLcr => (prio, price, asr),
                RoutePolicy::LcrThenPriority => (price, prio, asr),
                RoutePolicy::Quality => (asr, prio, price),
            }
        };
        for w in d.candidates.windows(2) {
            prop_assert!(key(&w[0]) <= key(&w[1]), "{:?} before {:?}", key(&w[0]), key(&w[1]));
        }
    }
}
