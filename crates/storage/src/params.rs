//! System parameters (SPEC §9): one row per parameter the operator has set; a parameter without a
//! row has its catalogue default. Every value is checked against [`tollswitch_model::params`]
//! before it is written, and stored as the operator wrote it.

use crate::{Storage, StorageError};
use sqlx::Row;
use std::collections::BTreeMap;
use tollswitch_model::params::{self, ParamError, Parameters};
use tollswitch_model::provisioning::ObjectKind;

fn refused(e: &ParamError) -> StorageError {
    StorageError::Parameter {
        name: e.name().to_owned(),
        message: e.to_string(),
    }
}

impl Storage {
    /// The value set for `name`, or `None` when it has its catalogue default. Unknown names are
    /// an error.
    pub async fn parameter(&self, name: &str) -> Result<Option<String>, StorageError> {
        if params::spec(name).is_none() {
            return Err(refused(&ParamError::Unknown {
                name: name.to_owned(),
            }));
        }
        let row = sqlx::query("SELECT value FROM parameter WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Validates `value` for `name` and stores it (replacing any earlier value).
    pub async fn set_parameter(&self, name: &str, value: &str) -> Result<(), StorageError> {
        params::validate(name, value).map_err(|e| refused(&e))?;
        sqlx::query(
            "INSERT INTO parameter (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        self.bump_revision().await
    }

    /// Tells running switches that provisioning changed.
    async fn bump_revision(&self) -> Result<(), StorageError> {
        sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'provisioning_revision'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the value set for `name`, so it has its default again. True when one was set.
    pub async fn reset_parameter(&self, name: &str) -> Result<bool, StorageError> {
        if params::spec(name).is_none() {
            return Err(refused(&ParamError::Unknown {
                name: name.to_owned(),
            }));
        }
        let done = sqlx::query("DELETE FROM parameter WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        self.bump_revision().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every parameter set by the operator, name → text as written.
    pub async fn stored_parameters(&self) -> Result<BTreeMap<String, String>, StorageError> {
        let rows = sqlx::query("SELECT name, value FROM parameter")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
            .collect()
    }

    /// The value of every catalogue parameter: the stored ones, defaults for the rest. A stored
    /// value the catalogue no longer accepts is an error naming it.
    pub async fn parameters(&self) -> Result<Parameters, StorageError> {
        let mut all = Parameters::new();
        for (name, value) in self.stored_parameters().await? {
            all.set(&name, &value).map_err(|e| StorageError::Corrupt {
                kind: ObjectKind::Parameter,
                name: name.clone(),
                field: "value".into(),
                message: e.to_string(),
            })?;
        }
        Ok(all)
    }
}
