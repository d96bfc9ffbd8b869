//! `tollswitch sip check` on the RFC 4475 messages, through the real binary.

use std::process::Command;

fn torture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/sip-msg/tests/torture")
}

const MUST_REJECT: [&str; 22] = [
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
    "insuf",
    "multi01",
    "mcl01",
];

#[test]
fn sip_check_accepts_and_rejects_exactly_what_rfc4475_says() {
    let mut files: Vec<_> = std::fs::read_dir(torture_dir())
        .expect("torture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let out = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .arg("sip")
        .arg("check")
        .args(&files)
        .output()
        .expect("run tollswitch");
    assert_eq!(
        out.status.code(),
        Some(1),
        "some files are invalid, so the exit status is 1"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 49);
    for line in lines {
        let (verdict, path) = line.rsplit_once('\t').expect("verdict<TAB>file");
        let name = std::path::Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("");
        if MUST_REJECT.contains(&name) {
            assert!(verdict.starts_with("invalid "), "{name}: {verdict}");
            assert!(
                verdict.len() > "invalid ".len() + 5,
                "{name}: the reason names the fault"
            );
        } else {
            assert!(verdict.starts_with("ok "), "{name}: {verdict}");
        }
    }
}

#[test]
fn sip_check_prints_and_exits_zero_for_valid_lf_files() {
    let dir = std::env::temp_dir().join(format!("tollswitch-sipcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("options.sip");
    std::fs::write(
        &file,
        "OPTIONS sip:100@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\n\
         From: <sip:a@b>;tag=1\nTo: <sip:100@127.0.0.1>\nCall-ID: lf-file\nCSeq: 1 OPTIONS\n\
         Content-Length: 0\n\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollswitch"))
        .args(["sip", "check", "--print"])
        .arg(&file)
        .output()
        .expect("run tollswitch");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("ok OPTIONS lf-file\t"), "{stdout}");
    assert!(
        stdout.contains("Call-ID: lf-file\r\n"),
        "re-serialised with CRLF: {stdout}"
    );
}
