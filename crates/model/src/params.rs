//! System parameters (SPEC §9): catalogue, defaults, ranges and validation.
