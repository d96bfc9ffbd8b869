//! The benchmark's provisioning: a 1,000,000-prefix customer rate deck and 200 routing
//! gateways with 5,000–20,000-prefix vendor decks, generated deterministically from a seeded
//! PRNG. Shared by `benches/route.rs` and `examples/route_profile.rs`.

use std::collections::HashSet;
use tollswitch_model::provisioning::{
    Account, AccountKind, AccountStatus, MappingGateway, MediaProxy, PaiMode, PaymentMode,
    Provisioning, Rate, RateTable, RoutePolicy, RoutingGateway, Target, Transport,
};
use tollswitch_model::{Currency, Money};

pub const CUSTOMER_PREFIXES: usize = 1_000_000;
const ROUTING_GATEWAYS: usize = 200;
const COUNTRIES_PER_GATEWAY: usize = 6;
const VENDOR_DECK_MIN: usize = 5_000;
const VENDOR_DECK_MAX: usize = 20_000;

/// SplitMix64: small, seeded, good enough to spread prefixes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }
}

const COUNTRY_CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98", "212",
    "213", "234", "254", "255", "351", "353", "380", "420", "852", "880", "886", "966", "971",
];

fn rate(prefix: String, area: &str, micros: i64) -> Rate {
    Rate {
        prefix,
        area: area.to_owned(),
        price: Money::from_micros(micros),
        first_increment_secs: 60,
        next_increment_secs: 60,
        connect_fee: Money::ZERO,
        effective_from: None,
        effective_until: None,
    }
}

fn account(name: &str, kind: AccountKind, table: Option<&str>) -> Account {
    Account {
        name: name.to_owned(),
        kind,
        parent_agent: None,
        currency: Currency::USD,
        balance: Money::from_micros(1_000_000_000_000),
        credit_limit: Money::ZERO,
        payment_mode: PaymentMode::Prepaid,
        status: AccountStatus::Active,
        expiry: None,
        rate_table: table.map(str::to_owned),
        line_limit: None,
        cps_limit: None,
    }
}

/// The provisioning set and a list of callees that all have a customer rate.
pub fn generate() -> (Provisioning, Vec<String>) {
    let mut rng = Rng(0x7011_5717_c400_0001);
    // Customer deck: grow a prefix tree under the country codes, half the time by one digit,
    // half the time by two to four (leaving value-less inner nodes, as real decks do).
    let mut seen: HashSet<String> = COUNTRY_CODES.iter().map(|c| (*c).to_owned()).collect();
    let mut prefixes: Vec<String> = COUNTRY_CODES.iter().map(|c| (*c).to_owned()).collect();
    while prefixes.len() < CUSTOMER_PREFIXES {
        let base = &prefixes[rng.below(prefixes.len())];
        if base.len() >= 12 {
            continue;
        }
        let grow = if rng.below(2) == 0 {
            1
        } else {
            2 + rng.below(3)
        };
        let mut p = base.clone();
        for _ in 0..grow {
            p.push(rng.digit());
        }
        if seen.insert(p.clone()) {
            prefixes.push(p);
        }
    }
    drop(seen);
    let country_of = |p: &str| {
        COUNTRY_CODES
            .iter()
            .position(|c| p.starts_with(c))
            .unwrap_or(0)
    };
    let mut by_country: Vec<Vec<usize>> = vec![Vec::new(); COUNTRY_CODES.len()];
    for (i, p) in prefixes.iter().enumerate() {
        by_country[country_of(p)].push(i);
    }
    let retail = RateTable {
        name: "retail".into(),
        currency: Currency::USD,
        rates: prefixes
            .iter()
            .map(|p| {
                let area = COUNTRY_CODES[country_of(p)];
                rate(p.clone(), area, 10_000 + rng.below(90_000) as i64)
            })
            .collect(),
    };

    let mut p = Provisioning::default();
    p.accounts
        .push(account("customer", AccountKind::Customer, Some("retail")));
    p.rate_tables.push(retail);
    p.mapping_gateways.push(MappingGateway {
        name: "customer-sbc".into(),
        account: "customer".into(),
        sources: vec!["10.0.0.0/8".parse().expect("static source")],
        digest: None,
        line_limit: Some(10_000),
        cps_limit: Some(1_000),
        caller_rules: vec![],
        callee_rules: vec![],
        allowed_prefixes: vec![],
        forbidden_prefixes: vec!["1900".into(), "44870".into()],
        allowed_groups: vec![],
        route_policy: RoutePolicy::PriorityThenLcr,
        replace_failed_reason: vec![],
        max_call_duration_secs: 7200,
        media_proxy: MediaProxy::Inherit,
        codecs: vec![],
        enabled: true,
    });

    for g in 0..ROUTING_GATEWAYS {
        let vendor = format!("vendor-{g}");
        let table = format!("cost-{g}");
        p.accounts.push(account(&vendor, AccountKind::Vendor, None));
        let mut countries: Vec<usize> = Vec::new();
        while countries.len() < COUNTRIES_PER_GATEWAY {
            let c = rng.below(COUNTRY_CODES.len());
            if !countries.contains(&c) {
                countries.push(c);
            }
        }
        let size = VENDOR_DECK_MIN + rng.below(VENDOR_DECK_MAX - VENDOR_DECK_MIN + 1);
        let mut picked: HashSet<usize> = HashSet::new();
        let mut rates: Vec<Rate> = countries
            .iter()
            .map(|&c| {
                rate(
                    COUNTRY_CODES[c].to_owned(),
                    "",
                    5_000 + rng.below(50_000) as i64,
                )
            })
            .collect();
        let pool: usize = countries.iter().map(|&c| by_country[c].len()).sum();
        let target = size.min(pool);
        while picked.len() < target {
            let c = countries[rng.below(countries.len())];
            let bucket = &by_country[c];
            let i = bucket[rng.below(bucket.len())];
            if picked.insert(i) && prefixes[i] != COUNTRY_CODES[c] {
                rates.push(rate(
                    prefixes[i].clone(),
                    "",
                    5_000 + rng.below(50_000) as i64,
                ));
            }
        }
        p.rate_tables.push(RateTable {
            name: table.clone(),
            currency: Currency::USD,
            rates,
        });
        p.routing_gateways.push(RoutingGateway {
            name: format!("gw-{g}"),
            vendor_account: vendor,
            targets: vec![Target {
                host: format!("192.0.2.{}", g % 250 + 1),
                port: 5060,
                transport: Transport::Udp,
            }],
            prefixes: countries
                .iter()
                .map(|&c| COUNTRY_CODES[c].to_owned())
                .collect(),
            priority: rng.below(5) as u32,
            line_limit: Some(500),
            cps_limit: Some(50),
            groups: vec![],
            rate_table: Some(table),
            caller_rules: vec![],
            callee_rules: vec![],
            busy_stop: g % 2 == 0,
            stop_codes: vec![],
            allow_publish: false,
            options_check: true,
            options_period_secs: 60,
            invite_timeout_secs: None,
            ringing_timeout_secs: None,
            time_rules: vec![],
            media_proxy: MediaProxy::Inherit,
            codecs: vec![],
            enabled: true,
            p_asserted_identity: PaiMode::Pass,
        });
    }

    let callees = (0..100_000)
        .map(|_| {
            let mut n = prefixes[rng.below(prefixes.len())].clone();
            while n.len() < 12 {
                n.push(rng.digit());
            }
            n
        })
        .collect();
    (p, callees)
}
