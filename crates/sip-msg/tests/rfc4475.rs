//! RFC 4475 torture messages (byte-exact copies in `tests/torture/`), each test named after its
//! section. Valid messages must parse with the values the RFC describes; invalid ones must be
//! rejected with the answer a server sends (or dropped where no answer is allowed).

use bytes::Bytes;
use tollswitch_sip_msg::{
    HeaderName, Message, Method, ParseError, Scheme, Verdict, reject_response,
};

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/torture/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ok(name: &str) -> Message {
    let m = Message::parse(Bytes::from(load(name)))
        .unwrap_or_else(|e| panic!("{name} must parse: {e}"));
    m.check_addresses()
        .unwrap_or_else(|e| panic!("{name}: From and To must read: {e}"));
    m
}

fn rejected(name: &str) -> (ParseError, Verdict) {
    let raw = load(name);
    let err = Message::parse(Bytes::from(raw.clone()))
        .err()
        .unwrap_or_else(|| panic!("{name} must be rejected"));
    let verdict = err.verdict(Message::looks_like_request(&raw));
    if let Verdict::Respond(code, _) = verdict {
        let resp = reject_response(&raw, &err);
        if let Some(resp) = resp {
            assert!(
                resp.starts_with(format!("SIP/2.0 {code} ").as_bytes()),
                "{name}"
            );
        }
    }
    (err, verdict)
}

fn answered_400(name: &str) -> ParseError {
    let (err, verdict) = rejected(name);
    assert!(
        matches!(verdict, Verdict::Respond(400, _)),
        "{name}: {verdict:?} for {err}"
    );
    err
}

// §3.1.1 Valid messages.

#[test]
fn wsinv_short_tortuous_invite_3_1_1_1() {
    let m = ok("wsinv");
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.to_tag(), Some("1918181833n"));
    assert_eq!(m.from_tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.cseq().seq, 9);
    assert_eq!(m.vias().count(), 3);
    assert_eq!(m.top_via().branch(), Some("390skdjuw"));
    assert_eq!(m.header(HeaderName::Subject), Some(&b""[..]));
    assert_eq!(m.body().len(), 150);
    let odd = m
        .header_named("UnknownHeaderWithUnusualValue")
        .expect("kept");
    assert_eq!(odd, b";;,,;;,;");
    let routes: Vec<_> = m
        .routes()
        .map(|r| r.uri().params().contains("lr"))
        .collect();
    assert_eq!(routes, [true]);
}

#[test]
fn intmeth_wide_range_of_valid_characters_3_1_1_2() {
    let m = ok("intmeth");
    assert_eq!(
        m.method().map(Method::as_str),
        Some("!interesting-Method0123456789_*+`.%indeed'~")
    );
    assert_eq!(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(m.from().expect("from").tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.max_forwards(), Some(255));
    let uri = m.request_uri().expect("uri");
    assert_eq!(
        uri.host().map(|h| h.to_string()),
        Some("example.com".into())
    );
}

#[test]
fn esc01_valid_use_of_percent_escapes_3_1_1_3() {
    let m = ok("esc01");
    assert_eq!(
        m.request_uri().and_then(|u| u.user()),
        Some("sips%3Auser%40example.com")
    );
    assert_eq!(m.to().expect("to").uri().user(), Some("%75se%72"));
    assert_eq!(
        m.contact().map(|c| c.uri().params().get("n%61me")),
        Some(Some(Some("v%61lue%25%34%31")))
    );
    assert_eq!(m.body().len(), 150);
}

#[test]
fn escnull_escaped_nulls_in_uris_3_1_1_4() {
    let m = ok("escnull");
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.to().expect("to").uri().user(), Some("null-%00-null"));
}

#[test]
fn esc02_use_of_percent_when_not_an_escape_3_1_1_5() {
    let m = ok("esc02");
    assert_eq!(m.method().map(Method::as_str), Some("RE%47IST%45R"));
    assert_eq!(m.from().expect("from").display_name(), Some("%Z%45"));
    // "C%6Fntact" is an extension header, not Contact.
    assert_eq!(m.contacts().count(), 2);
    assert!(m.header_named("C%6Fntact").is_some());
}

#[test]
fn lwsdisp_no_lws_between_display_name_and_laquot_3_1_1_6() {
    assert_eq!(
        ok("lwsdisp").from().and_then(|f| f.display_name()),
        Some("caller")
    );
}

#[test]
fn longreq_long_values_in_header_fields_3_1_1_7() {
    let m = ok("longreq");
    assert!(
        m.to()
            .expect("to")
            .display_name()
            .is_some_and(|d| d.len() > 90)
    );
    assert!(m.to().expect("to").uri().params().contains("unknownparam1"));
    assert!(m.call_id().len() > 100);
    let last = m.vias().last().expect("vias");
    assert!(last.branch().is_some_and(|b| b.len() > 100));
    assert_eq!(last.received(), Some("192.0.2.5"));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn dblreq_extra_trailing_octets_in_udp_datagram_3_1_1_8() {
    let m = ok("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(m.body(), b"");
    assert!(!m.as_bytes().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn semiuri_semicolon_separated_parameters_in_uri_user_part_3_1_1_9() {
    let m = ok("semiuri");
    let uri = m.request_uri().expect("uri");
    assert_eq!(uri.user(), Some("user;par=u%40example.net"));
    assert_eq!(
        uri.host().map(|h| h.to_string()),
        Some("example.com".into())
    );
    assert!(uri.params().is_empty());
}

#[test]
fn transports_varied_and_unknown_transport_types_3_1_1_10() {
    let m = ok("transports");
    let t: Vec<_> = m.vias().map(|v| v.transport().to_owned()).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

#[test]
fn mpart01_multipart_mime_message_3_1_1_11() {
    let m = ok("mpart01");
    assert!(
        m.content_type()
            .is_some_and(|c| c.starts_with("multipart/mixed"))
    );
    assert_eq!(m.body().len(), 553);
}

#[test]
fn unreason_unusual_reason_phrase_3_1_1_12() {
    let m = ok("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(m.reason_phrase().is_some_and(|r| r.contains("простое")));
}

#[test]
fn noreason_empty_reason_phrase_3_1_1_13() {
    let m = ok("noreason");
    assert_eq!((m.status(), m.reason_phrase()), (Some(100), Some("")));
}

// §3.1.2 Invalid messages.

#[test]
fn badinv01_extraneous_header_field_separators_3_1_2_1() {
    assert!(matches!(
        answered_400("badinv01"),
        ParseError::Header { name: "Via", .. }
    ));
}

#[test]
fn clerr_content_length_larger_than_message_3_1_2_2() {
    assert_eq!(answered_400("clerr"), ParseError::BodyTruncated);
}

#[test]
fn ncl_negative_content_length_3_1_2_3() {
    assert!(matches!(
        answered_400("ncl"),
        ParseError::Header {
            name: "Content-Length",
            ..
        }
    ));
}

#[test]
fn scalar02_request_scalar_fields_with_overlarge_values_3_1_2_4() {
    assert!(matches!(
        answered_400("scalar02"),
        ParseError::Header { name: "CSeq", .. }
    ));
}

#[test]
fn scalarlg_response_scalar_fields_with_overlarge_values_3_1_2_5() {
    let (err, verdict) = rejected("scalarlg");
    assert!(matches!(err, ParseError::Header { name: "CSeq", .. }));
    assert_eq!(verdict, Verdict::Drop);
}

#[test]
fn quotbal_unterminated_quoted_string_in_display_name_3_1_2_6() {
    assert!(matches!(
        answered_400("quotbal"),
        ParseError::Header { name: "To", .. }
    ));
}

#[test]
fn ltgtruri_request_uri_in_angle_brackets_3_1_2_7() {
    assert!(matches!(
        answered_400("ltgtruri"),
        ParseError::RequestUri(_)
    ));
}

#[test]
fn lwsruri_malformed_sip_request_uri_embedded_lws_3_1_2_8() {
    assert!(matches!(answered_400("lwsruri"), ParseError::RequestUri(_)));
}

#[test]
fn lwsstart_multiple_sp_separating_request_line_elements_3_1_2_9() {
    assert!(matches!(
        answered_400("lwsstart"),
        ParseError::RequestUri(_)
    ));
}

#[test]
fn trws_sp_characters_at_end_of_request_line_3_1_2_10() {
    assert!(matches!(answered_400("trws"), ParseError::RequestUri(_)));
}

#[test]
fn escruri_escaped_headers_in_sip_request_uri_3_1_2_11() {
    assert!(matches!(answered_400("escruri"), ParseError::RequestUri(_)));
}

#[test]
fn baddate_invalid_time_zone_in_date_header_field_3_1_2_12() {
    assert!(matches!(
        answered_400("baddate"),
        ParseError::Header { name: "Date", .. }
    ));
}

#[test]
fn regbadct_failure_to_enclose_name_addr_uri_in_angle_brackets_3_1_2_13() {
    assert!(matches!(
        answered_400("regbadct"),
        ParseError::Header {
            name: "Contact",
            ..
        }
    ));
}

#[test]
fn badaspec_spaces_within_addr_spec_3_1_2_14() {
    assert!(matches!(
        answered_400("badaspec"),
        ParseError::Header { name: "To", .. }
    ));
}

#[test]
fn baddn_non_token_characters_in_display_name_3_1_2_15() {
    assert!(matches!(
        answered_400("baddn"),
        ParseError::Header { name: "From", .. }
    ));
}

#[test]
fn badvers_unknown_protocol_version_3_1_2_16() {
    let (err, verdict) = rejected("badvers");
    assert_eq!(err, ParseError::Version);
    assert_eq!(verdict, Verdict::Respond(505, "Version Not Supported"));
}

#[test]
fn mismatch01_start_line_and_cseq_method_mismatch_3_1_2_17() {
    assert_eq!(answered_400("mismatch01"), ParseError::CSeqMethod);
}

#[test]
fn mismatch02_unknown_method_with_cseq_method_mismatch_3_1_2_18() {
    assert_eq!(answered_400("mismatch02"), ParseError::CSeqMethod);
}

#[test]
fn bigcode_overlarge_response_code_3_1_2_19() {
    let (err, verdict) = rejected("bigcode");
    assert_eq!(err, ParseError::StatusCode);
    assert_eq!(verdict, Verdict::Drop);
}

// §3.2 Transaction layer semantics.

#[test]
fn badbranch_missing_transaction_identifier_parses_3_2_1() {
    let m = ok("badbranch");
    assert_eq!(m.branch(), Some("z9hG4bK"));
    assert!(
        !m.top_via().has_rfc3261_branch(),
        "a bare cookie is no RFC 3261 branch"
    );
}

// §3.3 Application-layer semantics.

#[test]
fn insuf_missing_required_header_fields_3_3_1() {
    assert!(matches!(answered_400("insuf"), ParseError::Missing(_)));
}

#[test]
fn unkscm_request_uri_with_unknown_scheme_3_3_2() {
    assert_eq!(
        ok("unkscm").request_uri().map(|u| u.scheme()),
        Some(Scheme::Other)
    );
}

#[test]
fn novelsc_request_uri_with_known_but_atypical_scheme_3_3_3() {
    assert_eq!(
        ok("novelsc").request_uri().map(|u| u.scheme()),
        Some(Scheme::Other)
    );
}

#[test]
fn unksm2_unknown_uri_schemes_in_header_fields_3_3_4() {
    let m = ok("unksm2");
    assert_eq!(m.to().expect("to").uri().scheme(), Scheme::Other);
    assert_eq!(
        m.from().expect("from").uri().as_str(),
        "http://www.example.com"
    );
}

#[test]
fn bext01_proxy_require_and_require_3_3_5() {
    let m = ok("bext01");
    assert_eq!(
        m.require().collect::<Vec<_>>(),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
}

#[test]
fn invut_unknown_content_type_3_3_6() {
    assert_eq!(
        ok("invut").content_type(),
        Some("application/unknownformat")
    );
}

#[test]
fn regaut01_unknown_authorization_scheme_3_3_7() {
    let m = ok("regaut01");
    let auth = m.header(HeaderName::Authorization).expect("kept");
    assert!(tollswitch_sip_msg::Credentials::parse(auth).is_err());
}

#[test]
fn multi01_multiple_values_in_single_value_required_fields_3_3_8() {
    assert!(matches!(answered_400("multi01"), ParseError::Duplicate(_)));
}

#[test]
fn mcl01_multiple_content_length_values_3_3_9() {
    assert_eq!(
        answered_400("mcl01"),
        ParseError::Duplicate("Content-Length")
    );
}

#[test]
fn bcast_200_ok_response_with_broadcast_via_3_3_10() {
    let m = ok("bcast");
    assert_eq!(
        m.vias().nth(1).map(|v| v.host().to_string()),
        Some("255.255.255.255".into())
    );
}

#[test]
fn zeromf_max_forwards_of_zero_3_3_11() {
    assert_eq!(ok("zeromf").max_forwards(), Some(0));
}

#[test]
fn cparam01_rest_of_line_contact_params_are_header_params_3_3_12() {
    let m = ok("cparam01");
    let c = m.contact().expect("contact");
    assert!(c.params().contains("unknownparam"));
    assert!(c.uri().params().is_empty());
}

#[test]
fn cparam02_contact_params_inside_angle_brackets_are_uri_params_3_3_13() {
    let m = ok("cparam02");
    let c = m.contact().expect("contact");
    assert!(c.uri().params().contains("unknownparam"));
    assert!(c.params().is_empty());
}

#[test]
fn regescrt_registration_with_uri_headers_in_contact_3_3_14() {
    let m = ok("regescrt");
    assert_eq!(
        m.contact().and_then(|c| c.uri().headers()),
        Some("Route=%3Csip:sip.example.com%3E")
    );
}

#[test]
fn sdp01_unacceptable_accept_offering_3_3_15() {
    assert_eq!(
        ok("sdp01").header(HeaderName::Accept),
        Some(&b"text/nobodyKnowsThis"[..])
    );
}

// §3.4 Backward compatibility.

#[test]
fn inv2543_invite_with_rfc2543_syntax_3_4_1() {
    let m = ok("inv2543");
    assert_eq!(m.branch(), None);
    assert_eq!(m.from_tag(), None);
    assert_eq!(m.max_forwards(), None);
}

#[test]
fn every_torture_file_has_a_test() {
    let dir = format!("{}/tests/torture", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("torture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names.len(), 49);
    let me = include_str!("rfc4475.rs");
    for n in names {
        assert!(me.contains(&format!("\"{n}\"")), "no test for {n}");
    }
}

#[test]
fn a_from_uri_that_does_not_parse_is_found_when_the_addresses_are_checked() {
    let raw = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n\
From: <sip:alice@exa=mple.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: a\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";
    let m = Message::parse(Bytes::from_static(raw)).expect("structure and tag are valid");
    assert_eq!(m.from_tag(), Some("1"));
    assert!(m.from().is_none());
    let err = m
        .check_addresses()
        .expect_err("the From URI host is invalid");
    assert_eq!(err.verdict(true), Verdict::Respond(400, "Bad From"));
}
