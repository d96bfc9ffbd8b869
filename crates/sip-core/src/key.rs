//! Transaction keys (RFC 3261 §17.1.3, §17.2.3) and the merged-request key (§8.2.2.2).

use tollswitch_sip_msg::{Message, Method};

/// The method part of a key: ACK matches the INVITE transaction, CANCEL has its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyMethod {
    Invite,
    Cancel,
    Other(Method),
}

impl KeyMethod {
    pub(crate) fn of(m: &Method) -> KeyMethod {
        match m {
            Method::Invite | Method::Ack => KeyMethod::Invite,
            Method::Cancel => KeyMethod::Cancel,
            other => KeyMethod::Other(other.clone()),
        }
    }
}

/// Identifies a transaction from a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TxKey {
    /// RFC 3261 server key: branch (with magic cookie), sent-by, method.
    Server {
        /// The branch, a line feed (which neither may hold) and the sent-by in lower case: one
        /// allocation for the two.
        branch_sent_by: Box<str>,
        method: KeyMethod,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via, method.
    Server2543 {
        ruri: Box<str>,
        from_tag: Box<str>,
        call_id: Box<str>,
        cseq: u32,
        via: Box<str>,
        method: KeyMethod,
    },
    /// Client key: our branch and the CSeq method.
    Client { branch: Box<str>, method: KeyMethod },
}

impl TxKey {
    /// The server key of a request; `method` overrides the request's (CANCEL looks up its
    /// INVITE with [`KeyMethod::Invite`]).
    pub(crate) fn server(req: &Message, method: KeyMethod) -> TxKey {
        let via = req.top_via();
        if via.has_rfc3261_branch() {
            let branch = via.branch().unwrap_or_default();
            let sent_by = via.sent_by();
            let mut key = String::with_capacity(branch.len() + 1 + sent_by.len());
            key.push_str(branch);
            key.push('\n');
            key.extend(sent_by.chars().map(|c| c.to_ascii_lowercase()));
            TxKey::Server {
                branch_sent_by: key.into(),
                method,
            }
        } else {
            TxKey::Server2543 {
                ruri: req.request_uri_str().unwrap_or_default().into(),
                from_tag: req.from_tag().unwrap_or_default().into(),
                call_id: req.call_id().into(),
                cseq: req.cseq().seq,
                via: String::from_utf8_lossy(req.top_via_raw()).into(),
                method,
            }
        }
    }

    /// The client key of a response (or of a request we send).
    pub(crate) fn client(msg: &Message) -> Option<TxKey> {
        Some(TxKey::Client {
            branch: msg.branch()?.into(),
            method: match &msg.cseq().method {
                Method::Ack => return None,
                m => KeyMethod::of(m),
            },
        })
    }
}

/// A request without To tag is a merged copy (forked back to us) when another transaction
/// already has the same From tag, Call-ID and CSeq (RFC 3261 §8.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MergeKey {
    /// From tag, a line feed (which neither may hold) and Call-ID: one allocation.
    tag_call_id: Box<str>,
    cseq: u32,
    method: Method,
}

impl MergeKey {
    pub(crate) fn of(req: &Message) -> Option<MergeKey> {
        if req.to_tag().is_some() {
            return None;
        }
        let (tag, call_id) = (req.from_tag()?, req.call_id());
        let mut key = String::with_capacity(tag.len() + 1 + call_id.len());
        key.push_str(tag);
        key.push('\n');
        key.push_str(call_id);
        Some(MergeKey {
            tag_call_id: key.into(),
            cseq: req.cseq().seq,
            method: req.cseq().method.clone(),
        })
    }
}
