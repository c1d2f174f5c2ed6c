//! End-to-end: Kafka (the mock cluster) -> flume codec -> grok -> the Elasticsearch stand-in.

fn main() {
    todo!("kafka bench")
}
