//! The fixture every storage test file shares: a fresh database per test, on every backend.
//! SQLite lives in a fresh temporary directory and PostgreSQL in a fresh schema of
//! `postgres://postgres@127.0.0.1:5432/test` (override with `TOLLSWITCH_TEST_POSTGRES_URL`).
//! PostgreSQL must be reachable: its tests fail, never skip.

#![allow(dead_code)]

use sqlx::{Connection, Executor, PgConnection};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tollswitch_storage::{Storage, sqlite_url_for_data_dir};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub enum Cleanup {
    Dir(PathBuf),
    Schema { url: String, schema: String },
}

/// A fresh, migrated database; removed again when dropped (even when the test panics).
pub struct TestDb {
    pub storage: Storage,
    pub cleanup: Cleanup,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique("tollswitch-storage-test"));
        let url = sqlite_url_for_data_dir(&dir).unwrap();
        let storage = Storage::connect(&url).await.unwrap();
        TestDb {
            storage,
            cleanup: Cleanup::Dir(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let url =
            std::env::var("TOLLSWITCH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let schema = unique("t");
        let mut admin = PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must be reachable at {url} for the storage tests: {e}")
        });
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let storage = Storage::connect(&format!("{url}{sep}options=-c%20search_path%3D{schema}"))
            .await
            .unwrap();
        TestDb {
            storage,
            cleanup: Cleanup::Schema { url, schema },
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { url, schema } => {
                // Drop runs inside the test's runtime: use a thread with its own.
                let (url, schema) = (url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        if let Ok(mut c) = PgConnection::connect(&url).await {
                            let _ = c
                                .execute(sqlx::AssertSqlSafe(format!(
                                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                                )))
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Every test below runs once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::common::TestDb::sqlite().await;
                    super::$name(&db.storage).await;
                    db.storage.close().await;
                    drop(db.cleanup);
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::common::TestDb::postgres().await;
                    super::$name(&db.storage).await;
                    db.storage.close().await;
                    drop(db.cleanup);
                }
            )*
        }
    };
}
