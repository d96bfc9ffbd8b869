//! Virtual clock and simulated network for sans-IO tests.
