//! The `tollswitch` binary.
fn main() {}
