//! End-to-end: syslog over TCP into the `sluice` binary (being written).

fn main() {}
