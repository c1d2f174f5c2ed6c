//! The `kafka` input under the mock cluster's fault injection: failing fetches and commits,
//! a broker down, partition leaders moving, slow round trips and a lost group coordinator.
//! Every time, each message arrives once, in its partition's order, and the group's committed
//! offsets still reach the end once the fault heals (nothing would be replayed by a successor).

mod common;

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCoordinator;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use common::input::{messages, Running, PATIENCE};
use common::kafka::{
    cluster, committed, config, producer, try_committed, Cluster, SHORT_SESSION_OPTIONS,
};
use common::{no_env, wait_for_value};

const PARTITIONS: i32 = 3;
/// Messages per partition and round; two rounds, the second produced while the fault lasts.
const ROUND: usize = 20;
/// How long a fault lasts before it heals.
const FAULT: Duration = Duration::from_millis(1500);
/// How long a look at the group's offsets may take while a fault lasts.
const QUICK: Duration = Duration::from_millis(500);

/// Produces round `round` of messages `p<partition>-<i>` on a thread of its own (a producer may
/// have to wait out the fault too).
fn produce_round(cluster: &Cluster, round: usize) -> thread::JoinHandle<()> {
    let producer = producer(cluster);
    thread::spawn(move || {
        for p in 0..PARTITIONS {
            for i in round * ROUND..(round + 1) * ROUND {
                let payload = format!("p{p}-{i}");
                let record = BaseRecord::<(), _>::to("t").partition(p).payload(&payload);
                producer.send(record).expect("queued");
            }
        }
        producer
            .flush(3 * PATIENCE)
            .expect("produced despite the fault");
    })
}

/// The messages of `events` per partition, in arrival order.
fn by_partition(messages: &[String]) -> BTreeMap<i32, Vec<String>> {
    let mut parts: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for message in messages {
        let p = message[1..message.find('-').unwrap()].parse().unwrap();
        parts.entry(p).or_default().push(message.clone());
    }
    parts
}

/// Runs an input of group `group` through two rounds of messages: the first before `fault` is
/// applied, the second while it lasts; `heal` undoes it after [`FAULT`]. Checks order, no loss,
/// no duplicates, and that the committed offsets reach the end. Returns what the fault could
/// be seen doing: the messages that arrived while it lasted, and whether the group's
/// committed offsets could be read then.
fn survives(
    group: &str,
    fault: impl FnOnce(&Cluster),
    heal: impl FnOnce(&Cluster),
) -> (Vec<String>, bool) {
    let cluster = cluster(PARTITIONS);
    let input = Running::config(
        &config(&cluster, group, SHORT_SESSION_OPTIONS),
        &no_env,
        10,
        64,
    );
    produce_round(&cluster, 0).join().unwrap();
    let mut got = messages(&input.events(PARTITIONS as usize * ROUND));

    fault(&cluster);
    let second = produce_round(&cluster, 1);
    let faulty = Instant::now();
    let mut during = Vec::new();
    while faulty.elapsed() < FAULT {
        if let Some(batch) = input.next_batch(Duration::from_millis(50)) {
            during.extend(messages(&batch.events));
        }
    }
    let offsets_readable = try_committed(&cluster, group, PARTITIONS, QUICK).is_ok();
    heal(&cluster);
    second.join().unwrap();
    let rest = PARTITIONS as usize * ROUND - during.len();
    got.extend(during.iter().cloned());
    got.extend(messages(&input.events(rest)));
    input.nothing_more();

    for (p, arrived) in by_partition(&got) {
        let expected: Vec<String> = (0..2 * ROUND).map(|i| format!("p{p}-{i}")).collect();
        assert_eq!(arrived, expected, "partition {p}");
    }
    let end = vec![2 * ROUND as i64; PARTITIONS as usize];
    wait_for_value("committed offsets", end, || {
        committed(&cluster, group, PARTITIONS)
    });
    input.stop();
    (during, offsets_readable)
}

#[test]
fn failing_fetches_are_retried() {
    use RDKafkaRespErr::*;
    let errors = [
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
    ];
    survives(
        "fetch-errors",
        |c| c.cluster().request_errors(RDKafkaApiKey::Fetch, &errors),
        |c| c.cluster().clear_request_errors(RDKafkaApiKey::Fetch),
    );
}

#[test]
fn failing_commits_are_committed_later() {
    use RDKafkaRespErr::*;
    let errors = [RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE; 8];
    survives(
        "commit-errors",
        |c| {
            c.cluster()
                .request_errors(RDKafkaApiKey::OffsetCommit, &errors)
        },
        |c| {
            c.cluster()
                .clear_request_errors(RDKafkaApiKey::OffsetCommit)
        },
    );
}

#[test]
fn a_broker_down_for_a_while() {
    let (during, _) = survives(
        "broker-down",
        |c| {
            c.cluster().partition_leader("t", 0, Some(2)).unwrap();
            c.cluster().broker_down(2).unwrap();
        },
        |c| c.cluster().broker_up(2).unwrap(),
    );
    let led_by_the_down_broker = by_partition(&during).remove(&0);
    assert_eq!(led_by_the_down_broker, None, "partition 0 was readable");
    assert!(!during.is_empty(), "the other partitions were readable");
}

#[test]
fn partition_leaders_moving() {
    survives(
        "leaders",
        |c| {
            for p in 0..PARTITIONS {
                c.cluster()
                    .partition_leader("t", p, Some(1 + (p + 1) % 3))
                    .unwrap();
            }
        },
        |c| {
            for p in 0..PARTITIONS {
                c.cluster()
                    .partition_leader("t", p, Some(1 + (p + 2) % 3))
                    .unwrap();
            }
        },
    );
}

#[test]
fn slow_round_trips() {
    let slow = Duration::from_millis(300);
    survives(
        "slow",
        |c| (1..=3).for_each(|b| c.cluster().broker_round_trip_time(b, slow).unwrap()),
        |c| {
            (1..=3).for_each(|b| {
                c.cluster()
                    .broker_round_trip_time(b, Duration::ZERO)
                    .unwrap()
            })
        },
    );
}

#[test]
fn the_group_coordinator_lost_for_a_while() {
    let (during, offsets_readable) = survives(
        "coordinator",
        |c| {
            // Partitions stay readable on brokers 1 and 2; the group's coordinator goes down.
            for p in 0..PARTITIONS {
                c.cluster()
                    .partition_leader("t", p, Some(1 + p % 2))
                    .unwrap();
            }
            c.cluster()
                .coordinator(MockCoordinator::Group("coordinator".to_string()), 3)
                .unwrap();
            c.cluster().broker_down(3).unwrap();
        },
        |c| c.cluster().broker_up(3).unwrap(),
    );
    assert!(
        !during.is_empty(),
        "consuming went on without the coordinator"
    );
    assert!(!offsets_readable, "the coordinator was not down");
}
