//! Real-time CDR push (`SERVER_CDR_REAL_TIME_REPORT_SERVER`): stored CDRs are POSTed as a JSON
//! array to `http://HOST[:PORT]/tollswitch/cdr`, oldest first. A batch leaves the database
//! outbox only when the receiver answers 2xx; otherwise it is retried with back-off (1 s
//! doubling to 60 s), across restarts too, so an unreachable receiver delays CDRs but never
//! loses one. Delivery is at least once: receivers deduplicate by CDR `id`.

use crate::store::StoreStats;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tollswitch_storage::Storage;

/// The path CDRs are posted to.
pub const PUSH_PATH: &str = "/tollswitch/cdr";

/// `host[:port]` → (host, port), port 80 by default; `[v6]:port` accepted.
fn split_target(target: &str) -> (String, u16) {
    if let Some(rest) = target.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        let port = after
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(80);
        return (host.to_owned(), port);
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host.to_owned(), port.parse().unwrap_or(80)),
        _ => (target.to_owned(), 80),
    }
}

/// One POST; the response status.
async fn post(target: &str, body: Vec<u8>) -> anyhow::Result<u16> {
    let (host, port) = split_target(target);
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connect to {target} timed out"))??;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::post(PUSH_PATH)
        .header(hyper::header::HOST, target)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .map_err(|_| anyhow::anyhow!("{target} did not answer within 10 s"))??;
    let status = resp.status().as_u16();
    // Read the body so the connection closes cleanly.
    let _ = tokio::time::timeout(Duration::from_secs(2), resp.into_body().collect()).await;
    Ok(status)
}

/// Pushes the outbox to `target` until the process ends.
pub async fn pusher(storage: Storage, target: String, stats: Arc<StoreStats>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let batch = match storage.outbox_next(500).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cdr push: outbox: {e}");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let Some(last) = batch.last().map(|(seq, _)| *seq) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let cdrs: Vec<_> = batch.iter().map(|(_, c)| c).collect();
        let body = match serde_json::to_vec(&cdrs) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cdr push: {e}");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        match post(&target, body).await {
            Ok(code) if (200..300).contains(&code) => {
                if storage.outbox_done(last).await.is_ok() {
                    stats
                        .pushed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                backoff = Duration::from_secs(1);
            }
            outcome => {
                stats.push_errors.fetch_add(1, Ordering::Relaxed);
                match outcome {
                    Ok(code) => eprintln!(
                        "cdr push: {target} answered {code}; {} CDRs kept, retrying in {} s",
                        batch.len(),
                        backoff.as_secs()
                    ),
                    Err(e) => eprintln!(
                        "cdr push: {e:#}; {} CDRs kept, retrying in {} s",
                        batch.len(),
                        backoff.as_secs()
                    ),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_target;

    #[test]
    fn targets_with_and_without_ports() {
        assert_eq!(
            split_target("cdr.example.net"),
            ("cdr.example.net".into(), 80)
        );
        assert_eq!(split_target("10.0.0.5:8088"), ("10.0.0.5".into(), 8088));
        assert_eq!(split_target("[::1]:9000"), ("::1".into(), 9000));
        assert_eq!(split_target("[::1]"), ("::1".into(), 80));
    }
}
