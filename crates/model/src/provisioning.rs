//! Provisioning objects (SPEC §1): accounts, gateways, groups, rate tables.
