//! Grok throughput (placeholder until the grok filter lands).
fn main() {}
