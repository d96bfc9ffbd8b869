//! SIP status codes with the operator's reading of them (SPEC §3).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A SIP status code, 100..=699.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct SipCode(u16);

/// The class of a status code (its first digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipCodeClass {
    /// 1xx: provisional.
    Provisional,
    /// 2xx: success.
    Success,
    /// 3xx: redirect.
    Redirect,
    /// 4xx: client error (configuration, routing).
    ClientError,
    /// 5xx: server error (upstream, capacity).
    ServerError,
    /// 6xx: global failure; stops failover.
    GlobalFailure,
}

impl SipCode {
    /// 100 Trying.
    pub const TRYING: SipCode = SipCode(100);
    /// 180 Ringing.
    pub const RINGING: SipCode = SipCode(180);
    /// 183 Session Progress.
    pub const SESSION_PROGRESS: SipCode = SipCode(183);
    /// 200 OK.
    pub const OK: SipCode = SipCode(200);
    /// 400 Bad Request.
    pub const BAD_REQUEST: SipCode = SipCode(400);
    /// 401 Unauthorized.
    pub const UNAUTHORIZED: SipCode = SipCode(401);
    /// 403 Forbidden.
    pub const FORBIDDEN: SipCode = SipCode(403);
    /// 404 Not Found.
    pub const NOT_FOUND: SipCode = SipCode(404);
    /// 407 Proxy Authentication Required.
    pub const PROXY_AUTH_REQUIRED: SipCode = SipCode(407);
    /// 408 Request Timeout.
    pub const REQUEST_TIMEOUT: SipCode = SipCode(408);
    /// 480 Temporarily Unavailable.
    pub const TEMPORARILY_UNAVAILABLE: SipCode = SipCode(480);
    /// 481 Call/Transaction Does Not Exist.
    pub const NO_TRANSACTION: SipCode = SipCode(481);
    /// 482 Loop Detected.
    pub const LOOP_DETECTED: SipCode = SipCode(482);
    /// 483 Too Many Hops.
    pub const TOO_MANY_HOPS: SipCode = SipCode(483);
    /// 486 Busy Here.
    pub const BUSY_HERE: SipCode = SipCode(486);
    /// 487 Request Terminated.
    pub const REQUEST_TERMINATED: SipCode = SipCode(487);
    /// 500 Server Internal Error.
    pub const SERVER_INTERNAL_ERROR: SipCode = SipCode(500);
    /// 503 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: SipCode = SipCode(503);
    /// 505 Version Not Supported.
    pub const VERSION_NOT_SUPPORTED: SipCode = SipCode(505);
    /// 603 Decline.
    pub const DECLINE: SipCode = SipCode(603);

    /// A code in 100..=699, or `None`.
    pub const fn new(code: u16) -> Option<SipCode> {
        if code >= 100 && code <= 699 {
            Some(SipCode(code))
        } else {
            None
        }
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class (first digit).
    pub const fn class(self) -> SipCodeClass {
        match self.0 / 100 {
            1 => SipCodeClass::Provisional,
            2 => SipCodeClass::Success,
            3 => SipCodeClass::Redirect,
            4 => SipCodeClass::ClientError,
            5 => SipCodeClass::ServerError,
            _ => SipCodeClass::GlobalFailure,
        }
    }

    /// True for 1xx.
    pub const fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// True for 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// True for 200..=699.
    pub const fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The RFC 3261 §21 reason phrase (or the class's default for unlisted codes).
    pub fn reason_phrase(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            181 => "Call Is Being Forwarded",
            182 => "Queued",
            183 => "Session Progress",
            200 => "OK",
            202 => "Accepted",
            300 => "Multiple Choices",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            305 => "Use Proxy",
            380 => "Alternative Service",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            410 => "Gone",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            421 => "Extension Required",
            422 => "Session Interval Too Small",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            482 => "Loop Detected",
            483 => "Too Many Hops",
            484 => "Address Incomplete",
            485 => "Ambiguous",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            491 => "Request Pending",
            493 => "Undecipherable",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            600 => "Busy Everywhere",
            603 => "Decline",
            604 => "Does Not Exist Anywhere",
            606 => "Not Acceptable",
            _ => match self.class() {
                SipCodeClass::Provisional => "Provisional",
                SipCodeClass::Success => "Success",
                SipCodeClass::Redirect => "Redirect",
                SipCodeClass::ClientError => "Client Error",
                SipCodeClass::ServerError => "Server Error",
                SipCodeClass::GlobalFailure => "Global Failure",
            },
        }
    }

    /// What an operator should check when a gateway returns this code (SPEC §3).
    pub fn troubleshooting_hint(self) -> &'static str {
        match self.0 {
            200..=299 => "answered",
            300..=399 => "redirected; check whether the vendor expects redirects to be followed",
            400 => "malformed request: compare the SIP trace with the peer's expectations",
            401 | 407 => {
                "credentials required or wrong: check the gateway's digest user and password"
            }
            403 => {
                "IP not authorised or account blocked: check the peer's IP list and account status"
            }
            404 => "number not routable: add the prefix to routing or check number transformation",
            408 => "no response from the gateway within the timeout: check reachability and timers",
            480 => "callee unavailable",
            486 => "busy; failover continues unless the gateway's busy stop switch is on",
            487 => "cancelled by the caller",
            488 | 606 => "no common codec: check the codec lists on both gateways",
            500 => "gateway internal error",
            502 => "bad response from upstream",
            503 => "gateway overloaded or in maintenance: route to an alternate gateway",
            504 => "upstream timeout",
            600 => "busy everywhere; failover stops",
            603 => "declined; failover stops",
            604 => "number does not exist anywhere; failover stops",
            _ => match self.class() {
                SipCodeClass::Provisional => "provisional, not a final answer",
                SipCodeClass::ClientError => "client error: configuration or routing",
                SipCodeClass::ServerError => {
                    "server error: upstream or capacity, usually fail over"
                }
                SipCodeClass::GlobalFailure => "global failure; failover stops",
                _ => "",
            },
        }
    }
}

impl TryFrom<u16> for SipCode {
    type Error = String;
    fn try_from(code: u16) -> Result<SipCode, String> {
        SipCode::new(code).ok_or_else(|| format!("SIP code must be 100..=699, got {code}"))
    }
}

impl From<SipCode> for u16 {
    fn from(c: SipCode) -> u16 {
        c.0
    }
}

impl fmt::Display for SipCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_range() {
        assert_eq!(SipCode::new(99), None);
        assert_eq!(SipCode::new(700), None);
        assert_eq!(SipCode::DECLINE.class(), SipCodeClass::GlobalFailure);
        assert_eq!(SipCode::BUSY_HERE.reason_phrase(), "Busy Here");
        assert_eq!(
            SipCode::new(499).map(SipCode::reason_phrase),
            Some("Client Error")
        );
        assert!(
            SipCode::SERVICE_UNAVAILABLE
                .troubleshooting_hint()
                .contains("alternate")
        );
    }
}
