//! The gateways as a status screen lists them: name, enabled and line limit of every routing
//! and mapping gateway, read straight from their two tables.
//!
//! [`Storage::load_provisioning`] would give the same and much more (every rate of every
//! table); a dashboard polling every few seconds needs only these columns, so it reads only
//! these: two small `SELECT`s, no transaction.

use crate::{Storage, StorageError};
use serde::Serialize;
use sqlx::Row;

/// Which side of the switch a gateway is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// A vendor trunk calls are sent to.
    RoutingGateway,
    /// A customer source calls come from.
    MappingGateway,
}

/// One gateway's settings that matter for its live status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewaySettings {
    /// Routing or mapping gateway.
    pub kind: GatewayKind,
    /// Its name.
    pub name: String,
    /// Whether it takes calls.
    pub enabled: bool,
    /// Maximum concurrent calls; `None` is unlimited.
    pub line_limit: Option<u32>,
}

impl Storage {
    /// Every routing gateway, then every mapping gateway, each sorted by name.
    pub async fn gateway_settings(&self) -> Result<Vec<GatewaySettings>, StorageError> {
        let mut out = Vec::new();
        for (kind, table) in [
            (GatewayKind::RoutingGateway, "routing_gateway"),
            (GatewayKind::MappingGateway, "mapping_gateway"),
        ] {
            let sql = match kind {
                GatewayKind::RoutingGateway => {
                    "SELECT name, enabled, line_limit FROM routing_gateway"
                }
                GatewayKind::MappingGateway => {
                    "SELECT name, enabled, line_limit FROM mapping_gateway"
                }
            };
            for row in sqlx::query(sql).fetch_all(&self.pool).await? {
                let name: String = row.try_get("name")?;
                let enabled: i64 = row.try_get("enabled")?;
                let limit: Option<i64> = row.try_get("line_limit")?;
                let line_limit = limit
                    .map(|v| {
                        u32::try_from(v).map_err(|_| StorageError::CorruptRecord {
                            table,
                            id: name.clone(),
                            field: "line_limit",
                            message: format!("{v} is not a line limit"),
                        })
                    })
                    .transpose()?;
                out.push(GatewaySettings {
                    kind,
                    name,
                    enabled: enabled != 0,
                    line_limit,
                });
            }
        }
        // In Rust, not SQL: the two databases' collations may sort names differently.
        out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(out)
    }
}
