//! Kafka for the tests: the sandbox's mock cluster ([`MockKafka`], as `sluice sandbox kafka`
//! runs it) with topic `t`, numbered messages, the `kafka` input's config for it, and the
//! offsets a group committed.

#![allow(dead_code)] // not every test binary uses every helper

use std::collections::BTreeSet;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::BaseProducer;
use rdkafka::{Offset, TopicPartitionList};
use sluice::standin::kafka::{Message, MockKafka};

use super::input::PATIENCE;

pub type Cluster = MockKafka;

/// A mock cluster of 3 brokers with topic `t` of `partitions` partitions.
pub fn cluster(partitions: i32) -> Cluster {
    let cluster = MockKafka::new().unwrap();
    cluster.create_topic("t", partitions).unwrap();
    cluster
}

pub fn producer(cluster: &Cluster) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap()
}

/// Produces `n` messages `p<partition>-<i>` to each of `partitions`, and waits until the
/// cluster has them.
pub fn produce(cluster: &Cluster, partitions: i32, n: usize) -> BTreeSet<String> {
    let payloads: Vec<(i32, String)> = (0..partitions)
        .flat_map(|p| (0..n).map(move |i| (p, format!("p{p}-{i}"))))
        .collect();
    let messages = payloads
        .iter()
        .map(|(p, payload)| Message::new(payload.as_bytes()).with_partition(*p));
    cluster.produce("t", messages).unwrap();
    payloads.into_iter().map(|(_, payload)| payload).collect()
}

/// A kafka input on `cluster`'s topic `t` in group `group`, fast to join and commit.
pub fn config(cluster: &Cluster, group: &str, extra: &str) -> String {
    config_with(cluster, group, extra, "")
}

/// [`config`] with more `kafka_properties`.
pub fn config_with(cluster: &Cluster, group: &str, extra: &str, props: &str) -> String {
    format!(
        r#"input {{ kafka {{
            bootstrap_servers => "{servers}" topics => ["t"] group_id => "{group}"
            auto_offset_reset => "earliest"
            heartbeat_interval_ms => 100
            auto_commit_interval_ms => "100"
            kafka_properties => {{ {props} }}
            {extra}
        }} }}"#,
        servers = cluster.bootstrap_servers()
    )
}

/// The mock cluster's shortest session timeout (and so poll deadline): a member that went away
/// without leaving the group holds its partitions this long.
pub const SHORT_SESSION: &str =
    r#""session.timeout.ms" => "6000" "max.poll.interval.ms" => "6000""#;

/// [`SHORT_SESSION`] in logstash-input-kafka's option names.
pub const SHORT_SESSION_OPTIONS: &str = "session_timeout_ms => 6000 max_poll_interval_ms => 6000";

/// The offsets group `group` has committed for partitions `0..partitions` of topic `t`.
pub fn committed(cluster: &Cluster, group: &str, partitions: i32) -> Vec<i64> {
    try_committed(cluster, group, partitions, PATIENCE).unwrap()
}

/// [`committed`], or the error when the group's coordinator does not answer within `wait`.
pub fn try_committed(
    cluster: &Cluster,
    group: &str,
    partitions: i32,
    wait: std::time::Duration,
) -> rdkafka::error::KafkaResult<Vec<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", group)
        .create()?;
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition("t", p);
    }
    let committed = consumer.committed_offsets(list, wait)?;
    Ok((0..partitions)
        .map(
            |p| match committed.find_partition("t", p).map(|e| e.offset()) {
                Some(Offset::Offset(n)) => n,
                _ => -1,
            },
        )
        .collect())
}
