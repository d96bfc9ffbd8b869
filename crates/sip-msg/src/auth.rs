//! HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760): MD5 and SHA-256,
//! `qop=auth`. The switch challenges customers and answers vendors' challenges.

use crate::scan::{Cursor, is_token, text, trim};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt::Write as _;

/// Digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (RFC 2617; the default when absent).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl Algorithm {
    fn parse(s: &str) -> Option<Algorithm> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    /// The name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// What is wrong with a digest header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The scheme is not `Digest`.
    #[error("authentication scheme is not Digest")]
    Scheme,
    /// An auth-param is malformed.
    #[error("malformed auth-param")]
    Syntax,
    /// A required parameter is missing.
    #[error("missing {0} parameter")]
    Missing(&'static str),
    /// The algorithm is not supported.
    #[error("unsupported digest algorithm")]
    Algorithm,
}

/// A challenge (WWW-Authenticate / Proxy-Authenticate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Whether `qop="auth"` is offered.
    pub qop_auth: bool,
    /// The previous nonce was stale (RFC 2617 §3.2.1).
    pub stale: bool,
}

/// Credentials (Authorization / Proxy-Authorization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Realm.
    pub realm: String,
    /// Nonce being answered.
    pub nonce: String,
    /// The digest-uri.
    pub uri: String,
    /// The response hash (hex).
    pub response: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// `(nc, cnonce)` when `qop=auth`.
    pub qop: Option<(String, String)>,
    /// Opaque echoed from the challenge.
    pub opaque: Option<String>,
}

fn auth_params(v: &[u8]) -> Result<Vec<(String, String)>, DigestError> {
    let mut c = Cursor::new(trim(v));
    let scheme = c.token().ok_or(DigestError::Scheme)?;
    if !scheme.eq_ignore_ascii_case(b"Digest") {
        return Err(DigestError::Scheme);
    }
    let mut out = Vec::new();
    loop {
        c.skip_ws();
        if c.at_end() {
            break;
        }
        let name = text(c.token().ok_or(DigestError::Syntax)?).to_ascii_lowercase();
        if !c.sep(b'=') {
            return Err(DigestError::Syntax);
        }
        let value = if c.peek() == Some(b'"') {
            let q = c.quoted().ok_or(DigestError::Syntax)?;
            unescape(q)
        } else {
            text(c.take_while(|b| is_token(b) || b == b'/' || b == b':')).to_owned()
        };
        out.push((name, value));
        c.skip_ws();
        if !c.at_end() && !c.sep(b',') {
            return Err(DigestError::Syntax);
        }
    }
    Ok(out)
}

fn unescape(q: &[u8]) -> String {
    let mut out = Vec::with_capacity(q.len());
    let mut i = 0;
    while i < q.len() {
        if q[i] == b'\\' && i + 1 < q.len() {
            i += 1;
        }
        out.push(q[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        if ch != '\r' && ch != '\n' {
            out.push(ch);
        }
    }
    out.push('"');
    out
}

fn take(params: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = params.iter().position(|(n, _)| n == name)?;
    Some(params.swap_remove(i).1)
}

impl Challenge {
    /// A challenge with `qop="auth"`.
    pub fn new(realm: &str, nonce: &str, algorithm: Algorithm) -> Challenge {
        Challenge {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            opaque: None,
            algorithm,
            qop_auth: true,
            stale: false,
        }
    }

    /// Parses a WWW-Authenticate / Proxy-Authenticate value.
    pub fn parse(v: &[u8]) -> Result<Challenge, DigestError> {
        let mut p = auth_params(v)?;
        let algorithm = match take(&mut p, "algorithm") {
            Some(a) => Algorithm::parse(&a).ok_or(DigestError::Algorithm)?,
            None => Algorithm::Md5,
        };
        Ok(Challenge {
            realm: take(&mut p, "realm").ok_or(DigestError::Missing("realm"))?,
            nonce: take(&mut p, "nonce").ok_or(DigestError::Missing("nonce"))?,
            opaque: take(&mut p, "opaque"),
            algorithm,
            qop_auth: take(&mut p, "qop")
                .is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth"))),
            stale: take(&mut p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The header value.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest realm={}, nonce={}, algorithm={}",
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm.as_str()
        );
        if self.qop_auth {
            s.push_str(", qop=\"auth\"");
        }
        if let Some(o) = &self.opaque {
            s.push_str(", opaque=");
            s.push_str(&quote(o));
        }
        if self.stale {
            s.push_str(", stale=true");
        }
        s
    }

    /// Answers this challenge (client side, e.g. toward a vendor that challenges the switch).
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> Credentials {
        let qop = self
            .qop_auth
            .then(|| (format!("{nc:08x}"), cnonce.to_owned()));
        let response = compute_response(
            self.algorithm,
            username,
            &self.realm,
            password,
            method,
            uri,
            &self.nonce,
            qop.as_ref().map(|(n, c)| (n.as_str(), c.as_str())),
        );
        Credentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response,
            algorithm: self.algorithm,
            qop,
            opaque: self.opaque.clone(),
        }
    }
}

impl Credentials {
    /// Parses an Authorization / Proxy-Authorization value.
    pub fn parse(v: &[u8]) -> Result<Credentials, DigestError> {
        let mut p = auth_params(v)?;
        let algorithm = match take(&mut p, "algorithm") {
            Some(a) => Algorithm::parse(&a).ok_or(DigestError::Algorithm)?,
            None => Algorithm::Md5,
        };
        let qop = match take(&mut p, "qop") {
            Some(q) if q.eq_ignore_ascii_case("auth") => Some((
                take(&mut p, "nc").ok_or(DigestError::Missing("nc"))?,
                take(&mut p, "cnonce").ok_or(DigestError::Missing("cnonce"))?,
            )),
            Some(_) => return Err(DigestError::Syntax),
            None => None,
        };
        Ok(Credentials {
            username: take(&mut p, "username").ok_or(DigestError::Missing("username"))?,
            realm: take(&mut p, "realm").ok_or(DigestError::Missing("realm"))?,
            nonce: take(&mut p, "nonce").ok_or(DigestError::Missing("nonce"))?,
            uri: take(&mut p, "uri").ok_or(DigestError::Missing("uri"))?,
            response: take(&mut p, "response").ok_or(DigestError::Missing("response"))?,
            algorithm,
            qop,
            opaque: take(&mut p, "opaque"),
        })
    }

    /// The header value.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm.as_str()
        );
        if let Some((nc, cnonce)) = &self.qop {
            let _ = write!(s, ", qop=auth, nc={nc}, cnonce={}", quote(cnonce));
        }
        if let Some(o) = &self.opaque {
            let _ = write!(s, ", opaque={}", quote(o));
        }
        s
    }
}

/// The digest response (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1); `qop` is `(nc, cnonce)`.
#[allow(clippy::too_many_arguments)]
pub fn compute_response(
    algorithm: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let mut ha1 = algorithm.hash(&format!("{username}:{realm}:{password}"));
    if algorithm.is_sess() {
        let cnonce = qop.map_or("", |(_, c)| c);
        ha1 = algorithm.hash(&format!("{ha1}:{nonce}:{cnonce}"));
    }
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// Checks credentials against the password; compares in constant time.
pub fn verify(creds: &Credentials, method: &str, password: &str) -> bool {
    let expected = compute_response(
        creds.algorithm,
        &creds.username,
        &creds.realm,
        password,
        method,
        &creds.uri,
        &creds.nonce,
        creds.qop.as_ref().map(|(n, c)| (n.as_str(), c.as_str())),
    );
    let a = expected.as_bytes();
    let b = creds.response.to_ascii_lowercase();
    let b = b.as_bytes();
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_response() {
        // RFC 2617 §3.5 (HTTP example; the maths is the same for SIP).
        let r = compute_response(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 §3.9.1.
        let r = compute_response(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
        );
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn challenge_answer_verify_round_trip() {
        for alg in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5Sess] {
            let ch = Challenge::new("tollswitch", "abc123", alg);
            let parsed = Challenge::parse(ch.to_header_value().as_bytes()).expect("challenge");
            assert_eq!(parsed, ch);
            let creds = parsed.answer("gw1", "s3cret", "INVITE", "sip:100@switch", "cn", 1);
            let back = Credentials::parse(creds.to_header_value().as_bytes()).expect("creds");
            assert_eq!(back, creds);
            assert!(verify(&back, "INVITE", "s3cret"));
            assert!(!verify(&back, "INVITE", "wrong"));
            assert!(!verify(&back, "BYE", "s3cret"));
        }
        assert_eq!(
            Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here"),
            Err(DigestError::Scheme)
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x\""),
            Err(DigestError::Missing("nonce"))
        );
    }
}
