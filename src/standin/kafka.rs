//! A Kafka cluster for tests, benchmarks and the sandbox: librdkafka's mock cluster
//! ([`MockKafka`]) with topics created and messages loaded from files.

/// librdkafka's in-process mock cluster, reachable over TCP at [`MockKafka::bootstrap_servers`].
pub struct MockKafka {}
