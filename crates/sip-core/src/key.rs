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

/// Identifies a transaction from a message: one string holding the kind, the method and the
/// matching fields, separated by line feeds (which none of them but the last may hold), so a
/// key costs one allocation and the index and the transaction share it (as an `Arc<str>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TxKey(String);

impl KeyMethod {
    fn push_to(&self, key: &mut String) {
        key.push_str(match self {
            KeyMethod::Invite => "INVITE",
            KeyMethod::Cancel => "CANCEL",
            KeyMethod::Other(m) => m.as_str(),
        });
    }
}

impl TxKey {
    /// The server key of a request; `method` overrides the request's (CANCEL looks up its
    /// INVITE with [`KeyMethod::Invite`]). RFC 3261 §17.2.3: branch, sent-by (case-insensitive)
    /// and method; without a magic-cookie branch the RFC 2543 fallback: Request-URI, From tag,
    /// Call-ID, CSeq number, top Via and method.
    pub(crate) fn server(req: &Message, method: KeyMethod) -> TxKey {
        let via = req.top_via();
        let mut key = String::with_capacity(96);
        if via.has_rfc3261_branch() {
            key.push_str("S\n");
            method.push_to(&mut key);
            key.push('\n');
            key.push_str(via.branch().unwrap_or_default());
            key.push('\n');
            key.extend(via.sent_by().chars().map(|c| c.to_ascii_lowercase()));
        } else {
            key.push_str("O\n");
            method.push_to(&mut key);
            for part in [
                req.request_uri_str().unwrap_or_default(),
                req.from_tag().unwrap_or_default(),
                req.call_id(),
            ] {
                key.push('\n');
                key.push_str(part);
            }
            key.push('\n');
            key.push_str(&req.cseq().seq.to_string());
            // Last: a folded Via may hold line feeds.
            key.push('\n');
            key.push_str(&String::from_utf8_lossy(req.top_via_raw()));
        }
        TxKey(key)
    }

    /// The client key of a response (or of a request we send): our branch and the CSeq
    /// method (§17.1.3).
    pub(crate) fn client(msg: &Message) -> Option<TxKey> {
        let method = match &msg.cseq().method {
            Method::Ack => return None,
            m => KeyMethod::of(m),
        };
        let branch = msg.branch()?;
        let mut key = String::with_capacity(branch.len() + 12);
        key.push_str("C\n");
        method.push_to(&mut key);
        key.push('\n');
        key.push_str(branch);
        Some(TxKey(key))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored (exact size, shared by the index and the transaction).
    pub(crate) fn into_arc(self) -> std::sync::Arc<str> {
        self.0.into()
    }
}

/// A request without To tag is a merged copy (forked back to us) when another transaction
/// already has the same From tag, Call-ID and CSeq (RFC 3261 §8.2.2.2): those and the method
/// in one string, as [`TxKey`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MergeKey(String);

impl MergeKey {
    pub(crate) fn of(req: &Message) -> Option<MergeKey> {
        if req.to_tag().is_some() {
            return None;
        }
        let (tag, call_id) = (req.from_tag()?, req.call_id());
        let cseq = req.cseq();
        let mut key = String::with_capacity(tag.len() + call_id.len() + 24);
        key.push_str(tag);
        key.push('\n');
        key.push_str(call_id);
        key.push('\n');
        key.push_str(&cseq.seq.to_string());
        key.push('\n');
        key.push_str(cseq.method.as_str());
        Some(MergeKey(key))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as stored.
    pub(crate) fn into_arc(self) -> std::sync::Arc<str> {
        self.0.into()
    }
}
