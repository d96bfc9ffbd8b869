//! Users' sessions and tokens, and rate table summaries, run against every backend (see
//! `common` for the fixture).

#[macro_use]
mod common;

use tollswitch_model::provisioning::Provisioning;
use tollswitch_storage::{Role, SESSION_TOUCH_MS, Storage};

backend_tests!(
    sessions_expire_when_idle_and_tokens_do_not,
    a_session_in_use_stays_valid,
    deleted_sessions_are_gone_and_tokens_stay,
    rate_tables_are_listed_with_their_rate_counts,
);

const HOUR: i64 = 3_600_000;

async fn user(s: &Storage, name: &str) -> i64 {
    s.put_user(name, "$argon2id$fake", Role::Operator, 0)
        .await
        .unwrap();
    s.user(name).await.unwrap().unwrap().id
}

async fn sessions_expire_when_idle_and_tokens_do_not(s: &Storage) {
    let id = user(s, "noc").await;
    s.add_session(id, "session-1", 1_000, 12 * HOUR)
        .await
        .unwrap();
    s.add_token(id, "script-1", "script", 1_000).await.unwrap();
    let at = |ms| async move { s.user_for_token("session-1", ms).await.unwrap() };
    assert_eq!(
        at(1_000 + 12 * HOUR - 1).await.map(|u| u.name),
        Some("noc".into())
    );
    // That use moved the idle clock: valid until 12 h after it.
    assert!(at(1_000 + 24 * HOUR - 2).await.is_some());
    assert!(at(1_000 + 36 * HOUR).await.is_none(), "idle for 12 h");
    // Expired sessions are deleted, not just refused.
    assert!(at(1_000).await.is_none());
    let script = s
        .user_for_token("script-1", 1_000 + 1_000 * HOUR)
        .await
        .unwrap();
    assert_eq!(script.map(|u| u.role), Some(Role::Operator));
    assert!(s.user_for_token("unknown", 0).await.unwrap().is_none());
}

async fn a_session_in_use_stays_valid(s: &Storage) {
    let id = user(s, "noc").await;
    s.add_session(id, "s", 0, 10 * SESSION_TOUCH_MS)
        .await
        .unwrap();
    // Used every 5 touch periods for 100: never idle for 10.
    for k in 1..=20 {
        let now = k * 5 * SESSION_TOUCH_MS;
        assert!(s.user_for_token("s", now).await.unwrap().is_some(), "{k}");
    }
    assert_eq!(
        s.delete_expired_sessions(100 * SESSION_TOUCH_MS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.delete_expired_sessions(111 * SESSION_TOUCH_MS)
            .await
            .unwrap(),
        1
    );
}

async fn deleted_sessions_are_gone_and_tokens_stay(s: &Storage) {
    let noc = user(s, "noc").await;
    let ops = user(s, "ops").await;
    s.add_session(noc, "a", 0, HOUR).await.unwrap();
    s.add_session(noc, "b", 0, HOUR).await.unwrap();
    s.add_session(ops, "c", 0, HOUR).await.unwrap();
    s.add_token(noc, "t", "script", 0).await.unwrap();
    assert!(s.delete_token("a").await.unwrap());
    assert!(!s.delete_token("a").await.unwrap());
    assert!(s.user_for_token("a", 1).await.unwrap().is_none());
    assert_eq!(s.delete_sessions_of("noc").await.unwrap(), 1);
    assert!(s.user_for_token("b", 1).await.unwrap().is_none());
    assert!(s.user_for_token("c", 1).await.unwrap().is_some());
    assert!(s.user_for_token("t", 1).await.unwrap().is_some());
}

async fn rate_tables_are_listed_with_their_rate_counts(s: &Storage) {
    let p: Provisioning = toml::from_str(
        r#"
[[rate_table]]
name = "retail"
currency = "USD"
rate = [{ prefix = "1", price = "0.01" }, { prefix = "44", price = "0.02" }]

[[rate_table]]
name = "empty"
currency = "EUR"
"#,
    )
    .unwrap();
    s.apply(&p).await.unwrap();
    let tables: Vec<(String, String, u64)> = s
        .rate_tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.currency, t.rates))
        .collect();
    assert_eq!(
        tables,
        [
            ("empty".into(), "EUR".into(), 0),
            ("retail".into(), "USD".into(), 2)
        ]
    );
}
