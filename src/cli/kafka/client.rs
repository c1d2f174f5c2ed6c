//! The librdkafka side of `sluice kafka rewind`: [`Connection`] asks the brokers for partitions,
//! watermarks, offsets-for-times, committed offsets and single messages' timestamps; [`Member`]
//! is the tool's own membership of the group, the only way it may commit the group's offsets.

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::search::{Span, Stamp};

/// How long one poll waits before deadlines are looked at again.
const POLL: Duration = Duration::from_millis(100);

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Part {
    pub topic: String,
    pub partition: i32,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A topic partition list of `parts`, each at the offset `offset` gives it.
fn list(parts: &[Part], offset: impl Fn(usize) -> Offset) -> anyhow::Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        tpl.add_partition_offset(&part.topic, part.partition, offset(i))?;
    }
    Ok(tpl)
}

/// The offset `tpl` holds for `part`: `None` when it has none (no committed offset).
fn offset_in(tpl: &TopicPartitionList, part: &Part) -> anyhow::Result<Option<i64>> {
    let elem = tpl
        .find_partition(&part.topic, part.partition)
        .ok_or_else(|| anyhow!("the brokers did not answer for {part}"))?;
    elem.error().with_context(|| format!("{part}"))?;
    Ok(match elem.offset() {
        Offset::Offset(offset) => Some(offset),
        _ => None,
    })
}

/// A client of the cluster that reads without joining the group.
pub struct Connection {
    /// `bootstrap.servers` and the `--kafka-property` settings.
    config: ClientConfig,
    group: String,
    timeout: Duration,
    /// Reads single messages by assigning itself one partition at a time, and the group's
    /// committed offsets. librdkafka assigns only with a group id; it is the group's own (the
    /// one id the cluster's ACLs surely let these credentials use), and the reader neither
    /// subscribes (joins) nor commits.
    reader: BaseConsumer,
}

impl Connection {
    /// A connection; nothing is sent to the brokers yet.
    pub fn open(config: ClientConfig, group: &str, timeout: Duration) -> anyhow::Result<Self> {
        let reader = group_config(&config, group)
            .set("enable.partition.eof", "true")
            // An offset deleted since the watermarks were read: the next one is what a read
            // of "the first message at or after" wants.
            .set("auto.offset.reset", "earliest")
            // Each read wants one message now, not a full fetch later: no waiting for more
            // data, no backing off between fetches.
            .set("fetch.wait.max.ms", "10")
            .set("fetch.error.backoff.ms", "10")
            .set("fetch.queue.backoff.ms", "10")
            .create()
            .context("cannot make a Kafka client")?;
        Ok(Connection {
            config,
            group: group.to_string(),
            timeout,
            reader,
        })
    }

    /// The partitions of `topic`.
    pub fn partitions(&self, topic: &str) -> anyhow::Result<Vec<i32>> {
        let metadata = self
            .reader
            .fetch_metadata(Some(topic), self.timeout)
            .map_err(|e| self.unreachable(e))?;
        let found = metadata.topics().iter().find(|t| t.name() == topic);
        let Some(found) = found.filter(|t| t.error().is_none() && !t.partitions().is_empty())
        else {
            bail!("topic `{topic}` does not exist");
        };
        Ok(found.partitions().iter().map(|p| p.id()).collect())
    }

    /// What a failed first request most likely means.
    fn unreachable(&self, error: KafkaError) -> anyhow::Error {
        let servers = self.config.get("bootstrap.servers").unwrap_or("?");
        anyhow!(
            "no answer from the Kafka brokers at {servers} within {:?} ({error}); check \
             --bootstrap-servers and the security settings (--kafka-property)",
            self.timeout
        )
    }

    /// The partition's watermarks: its messages are at `low..high`.
    pub fn span(&self, part: &Part) -> anyhow::Result<Span> {
        let (low, high) = self
            .reader
            .fetch_watermarks(&part.topic, part.partition, self.timeout)
            .with_context(|| format!("cannot read the offsets of {part}"))?;
        Ok(Span { low, high })
    }

    /// The brokers' offsets-for-times answer for each of `parts`: `Ok(None)` for "the end", an
    /// error for a partition the brokers could not answer for.
    pub fn offsets_for_time(
        &self,
        parts: &[Part],
        millis: i64,
    ) -> anyhow::Result<Vec<anyhow::Result<Option<i64>>>> {
        let times = list(parts, |_| Offset::Offset(millis))?;
        let answer = self.reader.offsets_for_times(times, self.timeout)?;
        Ok(parts.iter().map(|part| offset_in(&answer, part)).collect())
    }

    /// The first message of `part` at or after `offset` and before `high`, by assigning the
    /// reader to the partition at that offset and taking the first message that comes.
    pub fn read(&self, part: &Part, offset: i64, high: i64) -> anyhow::Result<Option<Stamp>> {
        if offset >= high {
            return Ok(None);
        }
        self.reader.assign(&list(std::slice::from_ref(part), |_| {
            Offset::Offset(offset)
        })?)?;
        let deadline = Instant::now() + self.timeout;
        while Instant::now() < deadline {
            let message = match self.reader.poll(POLL) {
                None => continue,
                Some(Err(KafkaError::PartitionEOF(p))) if p == part.partition => return Ok(None),
                Some(Err(e)) => return Err(e).with_context(|| format!("reading {part}")),
                Some(Ok(message)) => message,
            };
            let ours = message.topic() == part.topic && message.partition() == part.partition;
            if !ours || message.offset() < offset {
                continue;
            }
            if message.offset() >= high {
                return Ok(None);
            }
            let timestamp = message.timestamp().to_millis().ok_or_else(|| {
                anyhow!(
                    "the message at {part} offset {} has no timestamp",
                    message.offset()
                )
            })?;
            return Ok(Some(Stamp {
                offset: message.offset(),
                timestamp,
            }));
        }
        bail!(
            "no message of {part} at offset {offset} came within {:?}",
            self.timeout
        )
    }

    /// The group's committed offsets of `parts`, read without joining the group (an
    /// OffsetFetch does not disturb its members).
    pub fn committed(&self, parts: &[Part]) -> anyhow::Result<Vec<Option<i64>>> {
        committed_of(&self.reader, parts, self.timeout)
    }

    /// Joins the group subscribed to `topics`, and waits until the group assigned it every one
    /// of `parts`: then no other member consumes them, and the tool's commits count.
    pub fn join(&self, topics: &[String], parts: &[Part]) -> anyhow::Result<Member> {
        let consumer: BaseConsumer = group_config(&self.config, &self.group).create()?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let deadline = Instant::now() + self.timeout;
        let mut last_error = None;
        loop {
            // Polling serves the rebalance; messages that come are not used or committed.
            if let Some(Err(e)) = consumer.poll(POLL) {
                last_error = Some(e);
            }
            let missing = missing(&consumer.assignment()?, parts);
            if missing.is_empty() {
                let timeout = self.timeout;
                return Ok(Member { consumer, timeout });
            }
            if Instant::now() >= deadline {
                return Err(self.refusal(&missing, last_error));
            }
        }
    }

    fn refusal(&self, missing: &[&Part], error: Option<KafkaError>) -> anyhow::Error {
        let group = &self.group;
        let names: Vec<String> = missing.iter().map(|p| p.to_string()).collect();
        let error = error
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        anyhow!(
            "group {group} has other active members holding partitions [{}]{error}; nothing \
             committed. Stop its workers first, e.g. scale the Marathon app to 0 instances, \
             or wait longer with --timeout (now {:?})",
            names.join(", "),
            self.timeout
        )
    }
}

/// `config` for a consumer of `group` that commits only when told to.
fn group_config(config: &ClientConfig, group: &str) -> ClientConfig {
    let mut config = config.clone();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    config
}

/// The partitions of `parts` that `assignment` lacks.
fn missing<'a>(assignment: &TopicPartitionList, parts: &'a [Part]) -> Vec<&'a Part> {
    let held = |p: &Part| assignment.find_partition(&p.topic, p.partition).is_some();
    parts.iter().filter(|p| !held(p)).collect()
}

fn committed_of(
    consumer: &BaseConsumer,
    parts: &[Part],
    timeout: Duration,
) -> anyhow::Result<Vec<Option<i64>>> {
    let tpl = list(parts, |_| Offset::Invalid)?;
    let committed = consumer
        .committed_offsets(tpl, timeout)
        .context("cannot read the group's committed offsets")?;
    parts.iter().map(|p| offset_in(&committed, p)).collect()
}

/// The tool as the group's only consumer of the partitions it rewinds. Dropping it closes the
/// consumer: it leaves the group, which rebalances without it.
pub struct Member {
    consumer: BaseConsumer,
    timeout: Duration,
}

impl Member {
    /// The group's committed offsets of `parts`.
    pub fn committed(&self, parts: &[Part]) -> anyhow::Result<Vec<Option<i64>>> {
        committed_of(&self.consumer, parts, self.timeout)
    }

    /// Commits `offsets[i]` for `parts[i]` and reads them back: an error unless the group has
    /// exactly those offsets afterwards.
    pub fn commit(&self, parts: &[Part], offsets: &[i64]) -> anyhow::Result<()> {
        let tpl = list(parts, |i| Offset::Offset(offsets[i]))?;
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .context("the group refused the commit")?;
        let now = self.committed(parts)?;
        for ((part, want), got) in parts.iter().zip(offsets).zip(now) {
            if got != Some(*want) {
                bail!("committed {want} for {part} but the group reports {got:?}");
            }
        }
        Ok(())
    }
}
