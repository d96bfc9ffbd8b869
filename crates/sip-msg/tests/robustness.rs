//! Input from the network never panics the parser, and what parses prints back to something
//! that parses the same. Large adversarial inputs are included so that any super-linear path
//! shows up as a hung test rather than a slow production switch.

use bytes::Bytes;
use proptest::prelude::*;
use tollswitch_sip_msg::{
    Challenge, Credentials, Frame, Message, ParseOptions, StreamFramer, reject_response,
};

fn torture() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/torture", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("torture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).expect("torture file"))
        .collect()
}

/// Reads every typed view a B2BUA might ask for; none may panic.
fn touch_everything(m: &Message) -> usize {
    let mut n = 0;
    n += m.call_id().len() + m.cseq().seq as usize;
    n += m.from().and_then(|f| f.tag()).map_or(0, str::len);
    n += m.to().map_or(0, |t| t.uri().as_str().len());
    n += m.top_via().branch().map_or(0, str::len) + m.vias().count();
    n += m.contacts().count() + m.routes().count() + m.record_routes().count();
    n += m.p_asserted_identity().count() + m.diversion().count() + m.reasons().count();
    n += m.allow().count() + m.supported().count() + m.require().count();
    n += m.expires().unwrap_or(0) as usize + m.retry_after().unwrap_or(0) as usize;
    n += m.session_expires().map_or(0, |s| s.interval as usize) + m.min_se().unwrap_or(0) as usize;
    n += m.request_uri().map_or(0, |u| u.params().iter().count());
    n += m.headers().count() + m.body().len();
    for h in m.headers() {
        if let Ok(c) = Challenge::parse(h.value) {
            n += c.realm.len();
        }
        if let Ok(c) = Credentials::parse(h.value) {
            n += c.username.len();
        }
    }
    n
}

fn check(bytes: &[u8]) {
    match Message::parse(Bytes::copy_from_slice(bytes)) {
        Ok(m) => {
            touch_everything(&m);
            let printed = m.to_bytes();
            let again = Message::parse(printed.clone())
                .unwrap_or_else(|e| panic!("printed message no longer parses: {e}\n{printed:?}"));
            assert_eq!(again.call_id(), m.call_id());
            assert_eq!(again.cseq(), m.cseq());
            assert_eq!(again.method(), m.method());
            assert_eq!(again.status(), m.status());
            assert_eq!(again.headers().count(), m.headers().count());
            assert_eq!(again.body(), m.body());
        }
        Err(e) => {
            let _ = e.to_string();
            if let Some(resp) = reject_response(bytes, &e) {
                assert!(resp.starts_with(b"SIP/2.0 "));
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(b":;,\"<>\r\n %@[]\\=?&/\t0\xff\xc3".to_vec());
    prop_oneof![
        (any::<usize>(), special.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), special).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1usize..80).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if v.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip(i, b) => {
                let i = i % v.len();
                v[i] = b;
            }
            Mutation::Insert(i, b) => {
                let i = i % (v.len() + 1);
                v.insert(i, b);
            }
            Mutation::Delete(i, n) => {
                let i = i % v.len();
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Mutation::Duplicate(i, n) => {
                let i = i % v.len();
                let end = (i + n).min(v.len());
                let chunk = v[i..end].to_vec();
                v.splice(i..i, chunk);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        check(&bytes);
    }

    #[test]
    fn mutated_torture_messages_never_panic_and_round_trip(
        idx in 0usize..49,
        muts in prop::collection::vec(mutation(), 1..8),
    ) {
        let all = torture();
        let base = all[idx % all.len()].clone();
        check(&apply(base, &muts));
    }

    #[test]
    fn stream_framing_is_independent_of_read_boundaries(
        idxs in prop::collection::vec(0usize..49, 1..6),
        cuts in prop::collection::vec(1usize..300, 1..40),
    ) {
        let all = torture();
        // Only messages that are valid on a stream, with a Content-Length that frames them.
        let valid: Vec<Message> = idxs
            .iter()
            .filter_map(|i| Message::parse(Bytes::from(all[i % all.len()].clone())).ok())
            .filter(|m| m.header(tollswitch_sip_msg::HeaderName::ContentLength).is_some())
            .collect();
        let mut wire = Vec::new();
        for m in &valid {
            wire.extend_from_slice(&m.to_bytes());
        }
        let mut f = StreamFramer::new(ParseOptions::default());
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < wire.len() {
            let n = cuts[k % cuts.len()].min(wire.len() - pos);
            k += 1;
            f.push(&wire[pos..pos + n]);
            pos += n;
            while let Ok(Some(frame)) = f.next_frame() {
                if let Frame::Message(m) = frame {
                    out.push(m.call_id().to_owned());
                }
            }
        }
        let expected: Vec<String> = valid.iter().map(|m| m.call_id().to_owned()).collect();
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn stream_of_garbage_never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut f = StreamFramer::new(ParseOptions { max_message_size: 4096 });
        for c in chunks {
            f.push(&c);
            for _ in 0..4 {
                match f.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) if f.is_broken() => break,
                    Err(_) => {}
                }
            }
        }
    }
}

/// Big adversarial inputs near the 64 KiB limit: each must be handled in one linear pass.
#[test]
fn adversarial_large_inputs_are_handled() {
    let head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n";
    let n = 60_000;
    let cases: Vec<Vec<u8>> = vec![
        format!("{head}Via: SIP/2.0/UDP h{}\r\n\r\n", ";a=b".repeat(n / 4)).into_bytes(),
        format!("{head}Contact: {}\r\n\r\n", "<sip:a@b>,".repeat(n / 10)).into_bytes(),
        format!("{head}X-Many: {}\r\n\r\n", ",".repeat(n)).into_bytes(),
        format!("{head}{}\r\n", "X: y\r\n".repeat(n / 6)).into_bytes(),
        format!("{head}X-Fold: a{}\r\n\r\n", "\r\n b".repeat(n / 4)).into_bytes(),
        format!("{head}To: \"{}\r\n\r\n", "\\\"".repeat(n / 2)).into_bytes(),
        format!("{head}Route: {}\r\n\r\n", "<sip:h;lr>,".repeat(n / 11)).into_bytes(),
        "\r\n".repeat(n / 2).into_bytes(),
        vec![b'A'; n],
    ];
    for c in &cases {
        check(c);
        let mut f = StreamFramer::new(ParseOptions::default());
        for chunk in c.chunks(7) {
            f.push(chunk);
            let _ = f.next_frame();
        }
    }
}
