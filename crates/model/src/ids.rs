//! Newtype ids: a gateway id can never be passed where an account id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A customer, vendor or agent account.
    AccountId
);
id!(
    /// An inbound gateway (a customer's switch).
    MappingGatewayId
);
id!(
    /// An outbound gateway (a vendor trunk).
    RoutingGatewayId
);
id!(
    /// A named set of gateways sharing a line limit.
    GatewayGroupId
);
id!(
    /// A rate table (prefix → price).
    RateTableId
);
