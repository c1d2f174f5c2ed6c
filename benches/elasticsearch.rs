//! End-to-end: the `sluice` binary into the Elasticsearch stand-in (being written).

fn main() {}
