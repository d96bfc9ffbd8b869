//! Pure routing engine.
