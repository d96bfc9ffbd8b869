//! Differential test against the sipx-sip parser on the RFC 4475 messages and on messages
//! generated from them. Where the two disagree, the disagreement must be one this file names,
//! with the RFC 3261 rule that decides it; anything else fails with the message shown.

use bytes::Bytes;
use tollswitch_sip_msg::{Message, ParseError};

fn torture() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/torture", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("torture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("torture file"))
        })
        .collect()
}

/// sipx's verdict: parses, and its validator finds nothing a server must reject.
fn sipx(bytes: &[u8]) -> Result<(), String> {
    let m = sipx_sip::parse_datagram(Bytes::copy_from_slice(bytes), &sipx_sip::Limits::default())
        .map_err(|e| format!("{e:?}"))?;
    let findings = sipx_sip::validate(&m);
    if findings.is_empty() {
        Ok(())
    } else {
        Err(format!("{findings:?}"))
    }
}

/// Our verdict: the message parses and its From and To URIs read (what the switch checks
/// before acting on a request).
fn ours(bytes: &[u8]) -> Result<(), ParseError> {
    Message::parse(Bytes::copy_from_slice(bytes))?.check_addresses()
}

/// A disagreement this project has decided, and the rule that decides it.
fn explained(ours: &Result<(), ParseError>, theirs: &Result<(), String>) -> Option<&'static str> {
    match (ours, theirs) {
        (Err(ParseError::Header { name: "Date", .. }), Ok(())) => Some(
            "RFC 3261 §20.17/§25.1: Date is rfc1123-date in GMT; RFC 4475 §3.1.2.12 rejects others",
        ),
        (
            Err(ParseError::Header {
                name: "Contact",
                fault,
            }),
            Ok(()),
        ) if fault.contains("angle brackets") => Some(
            "RFC 3261 §20.10: a Contact URI with headers or commas must be a name-addr (RFC 4475 §3.1.2.13)",
        ),
        (Err(ParseError::Header { .. }), Ok(())) => Some(
            "RFC 3261 §25.1: a core header whose value does not match its grammar is answered 400; \
             sipx leaves this header's grammar unchecked",
        ),
        (Err(ParseError::RequestUri(_)), Ok(())) => Some(
            "RFC 3261 §19.1.1/§25.1: the Request-URI does not match SIP-URI (e.g. ';' in the password \
             part) and is answered 400",
        ),
        (Ok(()), Err(e)) if e.contains("MissingRequiredHeader(\"Max-Forwards\")") => Some(
            "RFC 3261 §16.6 step 3 / RFC 4475 §3.4.1: a request without Max-Forwards (RFC 2543 peers) is accepted",
        ),
        (Ok(()), Err(e)) if e.contains("BareNewline") => Some(
            "RFC 3261 §7 writes CRLF; a bare LF line end is read as one (robustness, as Kamailio does)",
        ),
        (Ok(()), Err(e)) if e.contains("NoHeaderTerminator") => Some(
            "RFC 3261 §18.3: a datagram bounds its message; a header section ending with the packet is read",
        ),
        _ => None,
    }
}

#[test]
fn torture_messages_agree_or_the_rfc_decides() {
    let mut report = Vec::new();
    for (name, bytes) in torture() {
        let (a, b) = (ours(&bytes), sipx(&bytes));
        if a.is_ok() != b.is_ok() {
            report.push(format!(
                "{name}: tollswitch {a:?}, sipx {b:?}, {:?}",
                explained(&a, &b)
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        report.iter().all(|r| !r.ends_with("None")),
        "unexplained:\n{}",
        report.join("\n")
    );
}

/// SplitMix64, seeded: the generated messages are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    const SPECIAL: &[u8] = b":;,\"<> %@[]\\=?&/\t0aZ";
    for _ in 0..1 + rng.below(3) {
        if v.is_empty() {
            break;
        }
        let i = rng.below(v.len());
        match rng.below(3) {
            0 => v[i] = SPECIAL[rng.below(SPECIAL.len())],
            1 => v.insert(i, SPECIAL[rng.below(SPECIAL.len())]),
            _ => {
                let end = (i + 1 + rng.below(8)).min(v.len());
                v.drain(i..end);
            }
        }
    }
    v
}

#[test]
fn generated_messages_agree_or_the_rfc_decides() {
    let base: Vec<Vec<u8>> = torture()
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| ours(b).is_ok() && sipx(b).is_ok())
        .collect();
    let mut rng = Rng(0x5171_4475);
    let mut counts: std::collections::BTreeMap<String, (usize, String)> = Default::default();
    for _ in 0..4000 {
        let pick = rng.below(base.len());
        let m = mutate(&mut rng, base[pick].clone());
        let (a, b) = (ours(&m), sipx(&m));
        if a.is_ok() != b.is_ok() {
            let key = match explained(&a, &b) {
                Some(rule) => format!("explained: {rule}"),
                None => format!(
                    "UNEXPLAINED tollswitch {} / sipx {}",
                    a.as_ref()
                        .err()
                        .map_or(String::from("ok"), ToString::to_string),
                    b.as_ref()
                        .err()
                        .map_or("ok", |e| e.split(", line").next().unwrap_or(e))
                ),
            };
            let entry = counts
                .entry(key)
                .or_insert((0, String::from_utf8_lossy(&m).into_owned()));
            entry.0 += 1;
        }
    }
    for (k, (n, ex)) in &counts {
        println!("{n:5}  {k}");
        if std::env::var("SHOW").is_ok_and(|f| k.contains(&f)) {
            println!("---\n{ex}\n---");
        }
    }
    let unexplained: Vec<_> = counts
        .iter()
        .filter(|(k, _)| k.starts_with("UNEXPLAINED"))
        .collect();
    if let Some((k, (_, example))) = unexplained.first() {
        panic!(
            "{} kinds of unexplained disagreement; first: {k}\n{example}",
            unexplained.len()
        );
    }
}
