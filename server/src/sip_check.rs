//! `tollswitch sip check`: read files as SIP messages and report each verdict.

use bytes::Bytes;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tollswitch_sip_msg::{Message, ParseError, Verdict};

/// Turns bare LF line ends into CRLF (files edited by hand); CRLF stays as it is. Only this CLI
/// does this: on the wire a message is parsed exactly as received.
pub fn normalise_line_ends(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// One line of verdict for one message.
pub fn verdict_line(bytes: &[u8]) -> (Result<Message, ParseError>, String) {
    // A server reads the From and To URIs before it acts on a request: part of the verdict.
    let parsed =
        Message::parse(Bytes::copy_from_slice(bytes)).and_then(|m| m.check_addresses().map(|()| m));
    let line = match &parsed {
        Ok(m) => {
            let what = match (m.method(), m.status()) {
                (Some(method), _) => method.to_string(),
                (None, Some(code)) => code.to_string(),
                (None, None) => String::from("?"),
            };
            format!("ok {what} {}", m.call_id())
        }
        Err(e) => {
            let answer = match e.verdict(Message::looks_like_request(bytes)) {
                Verdict::Respond(code, reason) => format!("answer {code} {reason}"),
                Verdict::Drop => String::from("drop"),
            };
            format!("invalid {e} ({answer})")
        }
    };
    (parsed, line)
}

pub fn run(files: &[PathBuf], print: bool) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut all_ok = true;
    for path in files {
        let raw = match std::fs::read(path) {
            Ok(raw) => raw,
            Err(e) => {
                all_ok = false;
                let _ = writeln!(out, "invalid cannot read file: {e}\t{}", path.display());
                continue;
            }
        };
        let (parsed, line) = verdict_line(&normalise_line_ends(&raw));
        let _ = writeln!(out, "{line}\t{}", path.display());
        match parsed {
            Ok(m) if print => {
                let _ = out.write_all(&m.to_bytes());
                let _ = writeln!(out);
            }
            Ok(_) => {}
            Err(_) => all_ok = false,
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_becomes_crlf_once() {
        assert_eq!(normalise_line_ends(b"a\nb\r\nc"), b"a\r\nb\r\nc");
    }
}
