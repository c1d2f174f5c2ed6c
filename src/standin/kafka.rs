//! A Kafka cluster for tests, benchmarks and the sandbox: librdkafka's mock cluster
//! ([`MockKafka`]) with topics created and messages loaded from files.
//!
//! Kafka cannot be installed on build machines, but librdkafka ships an in-process mock
//! cluster that speaks the real protocol over TCP (produce, fetch, consumer groups, offset
//! commits, fault injection). [`MockKafka`] owns one, creates topics on it, and loads
//! messages into it through an ordinary rdkafka producer, returning only once the cluster
//! acknowledged every message, so a consumer started afterwards sees them all.
//!
//! Main items:
//! - [`MockKafka`]: the cluster ([`MockKafka::bootstrap_servers`], [`MockKafka::create_topic`],
//!   [`MockKafka::cluster`] for fault injection), [`MockKafka::produce`] and
//!   [`MockKafka::load_file`];
//! - [`Message`]: one message to produce (value, key, partition, headers, timestamp);
//! - [`Format`]: how a file becomes messages: `lines` (a message per line), `json` (a JSON
//!   object per line naming value, key, partition, timestamp, headers, topic) or `flume` (each
//!   line the body of an Avro `AvroFlumeEvent`, as Flume's Kafka sink writes with
//!   `useFlumeEventFormat`);
//! - [`MockKafkaError`]: what went wrong; bad lines are `path:line: what is wrong`.
//!
//! Topics a message names that the cluster does not have yet are created on first use with
//! the partition count of the topic the messages were sent to (rather than left to the mock's
//! auto-creation, whose partition count is its own), so partition numbers can be checked.
//!
//! The mock cluster is not `Send` (librdkafka hands out a raw handle): a [`MockKafka`] lives on
//! the thread that made it, and is shut down when dropped.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::ProducerContext;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::ClientContext;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::codecs::flume::write_event;

/// Brokers of a cluster unless told otherwise.
pub const DEFAULT_BROKERS: i32 = 3;
/// The most brokers a [`MockKafka`] runs (each is a listening socket and a thread's work).
pub const MAX_BROKERS: i32 = 64;
/// The most partitions a topic may have here (the mock allocates them all up front).
pub const MAX_PARTITIONS: i32 = 10_000;
/// How long the cluster may take to acknowledge loaded messages (it answers in milliseconds;
/// this only bounds a cluster whose brokers were taken down through fault injection).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The header Flume's interceptors add with the event's time in milliseconds.
const FLUME_TIMESTAMP: &str = "timestamp";
/// The header Flume's Kafka sink uses as the Kafka message key.
const FLUME_KEY: &str = "key";

/// The mock cluster's own type.
pub type Cluster = MockCluster<'static, DefaultProducerContext>;

/// Why a cluster could not be made, or messages not loaded into it.
///
/// Each message includes its cause (none is a `source()`), so it reads whole when printed
/// alone or through anyhow's `{:#}`.
#[derive(Debug, thiserror::Error)]
pub enum MockKafkaError {
    #[error("a mock cluster has 1 to {MAX_BROKERS} brokers, not {0}")]
    Brokers(i32),
    #[error("cannot start a mock Kafka cluster: {0}")]
    Start(KafkaError),
    #[error("invalid topic name {name:?}: {why}")]
    TopicName { name: String, why: &'static str },
    #[error("topic {topic}: a topic has 1 to {MAX_PARTITIONS} partitions, not {partitions}")]
    PartitionCount { topic: String, partitions: i32 },
    #[error("cannot create topic {topic}: {error}")]
    CreateTopic { topic: String, error: KafkaError },
    #[error("cannot read the metadata of topic {topic}: {why}")]
    Metadata { topic: String, why: String },
    #[error("partition {partition} out of range: topic {topic} has {partitions} partitions")]
    Partition {
        topic: String,
        partition: i32,
        partitions: i32,
    },
    #[error("timestamp {0} is negative (milliseconds since 1970 expected)")]
    Timestamp(i64),
    #[error("cannot create a producer: {0}")]
    Producer(KafkaError),
    #[error("cannot produce to topic {topic}: {error}")]
    Send { topic: String, error: KafkaError },
    #[error("{failed} of {sent} messages were not acknowledged: {first}")]
    Delivery {
        failed: usize,
        sent: usize,
        first: KafkaError,
    },
    #[error(
        "topic {topic} partition {partition}: the mock cluster dropped its first {lost} \
         messages (it keeps about 5 MiB or 100,000 messages per partition): give the messages \
         more partitions (`--topic NAME:PARTITIONS`) or topics"
    )]
    Trimmed {
        topic: String,
        partition: i32,
        lost: i64,
    },
    #[error("messages not acknowledged within {}s: {error}", ACK_TIMEOUT.as_secs())]
    Flush { error: KafkaError },
    #[error("{}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("{}:{line}: {what}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

/// One message to produce. Unset fields are left to the producer: no key, the default
/// partitioner, no headers, the time of sending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The topic, when not the one [`MockKafka::produce`] was given.
    pub topic: Option<String>,
    pub value: Vec<u8>,
    pub key: Option<Vec<u8>>,
    pub partition: Option<i32>,
    /// In order; Kafka allows a key more than once.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Milliseconds since 1970.
    pub timestamp: Option<i64>,
}

impl Message {
    pub fn new(value: impl Into<Vec<u8>>) -> Message {
        Message {
            value: value.into(),
            ..Message::default()
        }
    }

    pub fn to_topic(mut self, topic: impl Into<String>) -> Message {
        self.topic = Some(topic.into());
        self
    }

    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Message {
        self.key = Some(key.into());
        self
    }

    pub fn with_partition(mut self, partition: i32) -> Message {
        self.partition = Some(partition);
        self
    }

    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Message {
        self.headers.push((key.into(), value.into()));
        self
    }

    pub fn with_timestamp(mut self, millis: i64) -> Message {
        self.timestamp = Some(millis);
        self
    }
}

/// How a file's lines become messages. A line ends at `\n` (a `\r` before it is dropped); a
/// file's last line needs no `\n`, and the empty "line" after a final `\n` is no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Each line is one message's value.
    Lines,
    /// Each line is a JSON object: `value` (string, required), `key` (string), `partition`,
    /// `timestamp` (milliseconds), `headers` (object of strings), `topic` (instead of the
    /// default topic). Blank lines are skipped.
    Json,
    /// Each line is the body of an Avro `AvroFlumeEvent` (Flume's Kafka sink with
    /// `useFlumeEventFormat`) with these headers plus a `timestamp` header (milliseconds, the
    /// time of loading, as Flume's timestamp interceptor adds) unless these name one. A `key`
    /// header is also the Kafka key, as the sink does.
    Flume { headers: Vec<(String, String)> },
}

/// librdkafka's mock cluster with topics made here and a producer to load messages.
pub struct MockKafka {
    // Fields drop in order: the producer before the cluster it talks to.
    producer: OnceCell<BaseProducer<Deliveries>>,
    /// Partition counts of the topics known to exist.
    topics: RefCell<BTreeMap<String, i32>>,
    cluster: Cluster,
}

impl fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .field("topics", &self.topics.borrow())
            .finish()
    }
}

impl MockKafka {
    /// A cluster of [`DEFAULT_BROKERS`] brokers without topics.
    pub fn new() -> Result<MockKafka, MockKafkaError> {
        MockKafka::with_brokers(DEFAULT_BROKERS)
    }

    /// A cluster of `brokers` brokers without topics.
    pub fn with_brokers(brokers: i32) -> Result<MockKafka, MockKafkaError> {
        if !(1..=MAX_BROKERS).contains(&brokers) {
            return Err(MockKafkaError::Brokers(brokers));
        }
        let cluster = MockCluster::new(brokers).map_err(MockKafkaError::Start)?;
        Ok(MockKafka {
            producer: OnceCell::new(),
            topics: RefCell::new(BTreeMap::new()),
            cluster,
        })
    }

    /// `host:port,...` of the brokers, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// The mock cluster itself, for fault injection (`broker_down`, `request_errors`, ...).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Creates topic `name` with `partitions` partitions (replication factor 1).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), MockKafkaError> {
        check_topic_name(name)?;
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(MockKafkaError::PartitionCount {
                topic: name.to_string(),
                partitions,
            });
        }
        self.cluster
            .create_topic(name, partitions, 1)
            .map_err(|error| MockKafkaError::CreateTopic {
                topic: name.to_string(),
                error,
            })?;
        self.topics
            .borrow_mut()
            .insert(name.to_string(), partitions);
        Ok(())
    }

    /// The topics known here (made by [`MockKafka::create_topic`] or on first use) and their
    /// partition counts, by name.
    pub fn topics(&self) -> Vec<(String, i32)> {
        let topics = self.topics.borrow();
        topics.iter().map(|(t, p)| (t.clone(), *p)).collect()
    }

    /// Produces `messages` to `topic` (or each message's own topic) and waits until the
    /// cluster acknowledged them all. Returns how many there were. A topic that does not
    /// exist yet is created with `topic`'s partition count (4 when `topic` is new too).
    pub fn produce(
        &self,
        topic: &str,
        messages: impl IntoIterator<Item = Message>,
    ) -> Result<usize, MockKafkaError> {
        let mut load = self.loader(topic)?;
        for message in messages {
            load.send(&message)?;
        }
        load.finish()
    }

    /// Produces the messages of the file at `path`, read as `format`, to `topic` (JSON lines
    /// may name others), and waits until the cluster acknowledged them all. Returns how many
    /// there were. On a bad line the messages of the lines before it are already produced.
    pub fn load_file(
        &self,
        path: impl AsRef<Path>,
        format: &Format,
        topic: &str,
    ) -> Result<usize, MockKafkaError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|error| read_error(path, error))?;
        let mut load = self.loader(topic)?;
        let mut read = LineReader::new(file);
        while let Some((number, line)) =
            read.next_line().map_err(|error| read_error(path, error))?
        {
            let line_error = |what: String| MockKafkaError::Line {
                path: path.to_path_buf(),
                line: number,
                what,
            };
            let Some(message) = parse_line(line, format).map_err(line_error)? else {
                continue;
            };
            match load.send(&message) {
                Err(
                    e @ (MockKafkaError::Partition { .. }
                    | MockKafkaError::TopicName { .. }
                    | MockKafkaError::Timestamp(_)),
                ) => {
                    return Err(line_error(e.to_string()));
                }
                other => other?,
            }
        }
        load.finish()
    }

    /// A load into `topic`, which is created with 4 partitions (the mock's own default) if it
    /// is not known yet.
    fn loader<'a>(&'a self, topic: &'a str) -> Result<Load<'a>, MockKafkaError> {
        let producer = self.producer()?;
        let partitions = self.partitions(producer, topic, 4)?;
        Ok(Load {
            kafka: self,
            producer,
            topic,
            partitions,
            sent: 0,
            touched: BTreeSet::new(),
        })
    }

    fn producer(&self) -> Result<&BaseProducer<Deliveries>, MockKafkaError> {
        if let Some(producer) = self.producer.get() {
            return Ok(producer);
        }
        let producer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("message.timeout.ms", ACK_TIMEOUT.as_millis().to_string())
            .create_with_context(Deliveries::default())
            .map_err(MockKafkaError::Producer)?;
        Ok(self.producer.get_or_init(|| producer))
    }

    /// The partition count of `topic`, which is created with `partitions` partitions if it
    /// does not exist (or asked of the cluster if it exists but was not made here).
    fn partitions(
        &self,
        producer: &BaseProducer<Deliveries>,
        topic: &str,
        partitions: i32,
    ) -> Result<i32, MockKafkaError> {
        if let Some(&known) = self.topics.borrow().get(topic) {
            return Ok(known);
        }
        match self.create_topic(topic, partitions) {
            Ok(()) => Ok(partitions),
            Err(MockKafkaError::CreateTopic {
                error: KafkaError::MockCluster(RDKafkaErrorCode::TopicAlreadyExists),
                ..
            }) => {
                let existing = partition_count(producer, topic)?;
                self.topics.borrow_mut().insert(topic.to_string(), existing);
                Ok(existing)
            }
            Err(e) => Err(e),
        }
    }
}

/// The partition count of an existing topic, from the cluster's metadata.
fn partition_count(
    producer: &BaseProducer<Deliveries>,
    topic: &str,
) -> Result<i32, MockKafkaError> {
    let metadata_error = |why: String| MockKafkaError::Metadata {
        topic: topic.to_string(),
        why,
    };
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), ACK_TIMEOUT)
        .map_err(|e| metadata_error(e.to_string()))?;
    let found = metadata.topics().iter().find(|t| t.name() == topic);
    match found {
        Some(t) if t.error().is_none() => Ok(t.partitions().len() as i32),
        Some(t) => Err(metadata_error(format!("{:?}", t.error()))),
        None => Err(metadata_error("not in the metadata".to_string())),
    }
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn check_topic_name(name: &str) -> Result<(), MockKafkaError> {
    let why = if name.is_empty() {
        Some("empty")
    } else if name.len() > 249 {
        Some("longer than 249 characters")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not allowed")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only ASCII letters, digits, `.`, `_` and `-` are allowed")
    } else {
        None
    };
    match why {
        Some(why) => Err(MockKafkaError::TopicName {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

fn read_error(path: &Path, error: io::Error) -> MockKafkaError {
    MockKafkaError::Read {
        path: path.to_path_buf(),
        error,
    }
}

/// Messages on their way into the cluster: checked, sent, then all flushed.
struct Load<'a> {
    kafka: &'a MockKafka,
    producer: &'a BaseProducer<Deliveries>,
    /// The default topic and its partition count (the count for topics made on first use).
    topic: &'a str,
    partitions: i32,
    sent: usize,
    /// The topics messages went to.
    touched: BTreeSet<String>,
}

impl Load<'_> {
    /// Checks `message` against its topic and hands it to the producer, waiting for room in
    /// the producer's queue when it is full.
    fn send(&mut self, message: &Message) -> Result<(), MockKafkaError> {
        let topic = message.topic.as_deref().unwrap_or(self.topic);
        self.check(topic, message)?;
        let mut record = record(topic, message);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((error, _)) => {
                    let topic = topic.to_string();
                    return Err(MockKafkaError::Send { topic, error });
                }
            }
        }
        self.sent += 1;
        if !self.touched.contains(topic) {
            self.touched.insert(topic.to_string());
        }
        Ok(())
    }

    /// The timestamp is not negative, the topic exists (made now if new) and has the
    /// partition.
    fn check(&self, topic: &str, message: &Message) -> Result<(), MockKafkaError> {
        if let Some(millis) = message.timestamp.filter(|t| *t < 0) {
            return Err(MockKafkaError::Timestamp(millis));
        }
        let partitions = if topic == self.topic {
            self.partitions
        } else {
            check_topic_name(topic)?;
            self.kafka
                .partitions(self.producer, topic, self.partitions)?
        };
        match message.partition {
            Some(partition) if !(0..partitions).contains(&partition) => {
                Err(MockKafkaError::Partition {
                    topic: topic.to_string(),
                    partition,
                    partitions,
                })
            }
            _ => Ok(()),
        }
    }

    /// Waits until every message sent was acknowledged; fails if any was refused.
    fn finish(self) -> Result<usize, MockKafkaError> {
        let flushed = self.producer.flush(ACK_TIMEOUT);
        // Delivery reports flush has waited for are handed out by the next poll at the latest.
        self.producer.poll(Duration::ZERO);
        let (failed, first) = self.producer.context().take();
        if let Some(first) = first {
            return Err(MockKafkaError::Delivery {
                failed,
                sent: self.sent,
                first,
            });
        }
        flushed.map_err(|error| MockKafkaError::Flush { error })?;
        self.check_nothing_trimmed()?;
        Ok(self.sent)
    }

    /// The mock cluster keeps only about 5 MiB (or 100,000 messages) per partition and drops
    /// the oldest beyond that without a word (librdkafka hard-codes it): a partition whose
    /// first offset is no longer 0 lost messages.
    fn check_nothing_trimmed(&self) -> Result<(), MockKafkaError> {
        for topic in &self.touched {
            let partitions = self.kafka.topics.borrow().get(topic).copied().unwrap_or(0);
            for partition in 0..partitions {
                let (low, _) = self
                    .producer
                    .client()
                    .fetch_watermarks(topic, partition, ACK_TIMEOUT)
                    .map_err(|e| MockKafkaError::Metadata {
                        topic: topic.clone(),
                        why: e.to_string(),
                    })?;
                if low > 0 {
                    return Err(MockKafkaError::Trimmed {
                        topic: topic.clone(),
                        partition,
                        lost: low,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The producer's record of `message`, borrowing its bytes.
fn record<'m>(topic: &'m str, message: &'m Message) -> BaseRecord<'m, [u8], [u8]> {
    let mut record = BaseRecord::to(topic).payload(message.value.as_slice());
    if let Some(key) = &message.key {
        record = record.key(key.as_slice());
    }
    if let Some(partition) = message.partition {
        record = record.partition(partition);
    }
    if let Some(millis) = message.timestamp {
        record = record.timestamp(millis);
    }
    if !message.headers.is_empty() {
        let headers = message.headers.iter().fold(
            OwnedHeaders::new_with_capacity(message.headers.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_slice()),
                })
            },
        );
        record = record.headers(headers);
    }
    record
}

/// The producer's context: counts refused messages and keeps the first reason.
#[derive(Default)]
struct Deliveries {
    failed: AtomicUsize,
    first: Mutex<Option<KafkaError>>,
}

impl Deliveries {
    /// How many failed since the last call, and the first error among them.
    fn take(&self) -> (usize, Option<KafkaError>) {
        let failed = self.failed.swap(0, Ordering::Relaxed);
        let first = self.first.lock().map(|mut e| e.take()).unwrap_or(None);
        (failed, first)
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first.lock() {
                first.get_or_insert_with(|| error.clone());
            }
        }
    }
}

/// Reads lines as bytes (values need not be UTF-8), numbering them from 1.
struct LineReader {
    reader: BufReader<File>,
    buf: Vec<u8>,
    number: usize,
}

impl LineReader {
    fn new(file: File) -> LineReader {
        LineReader {
            reader: BufReader::new(file),
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The next line's number and the line without its `\n` or `\r\n`; `None` at the end of
    /// the file.
    fn next_line(&mut self) -> io::Result<Option<(usize, &[u8])>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        let mut line = self.buf.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(Some((self.number, line)))
    }
}

/// The message of one line, `None` for a line that is none (a blank JSON line), or what is
/// wrong with it.
fn parse_line(line: &[u8], format: &Format) -> Result<Option<Message>, String> {
    match format {
        Format::Lines => Ok(Some(Message::new(line))),
        Format::Json if line.trim_ascii().is_empty() => Ok(None),
        Format::Json => json_message(line).map(Some),
        Format::Flume { headers } => Ok(Some(flume_message(line, headers, now_millis()))),
    }
}

/// One line of the `json` format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    value: String,
    key: Option<String>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    #[serde(default)]
    headers: JsonHeaders,
    topic: Option<String>,
}

fn json_message(line: &[u8]) -> Result<Message, String> {
    let parsed: JsonLine = serde_json::from_slice(line).map_err(|e| json_error(&e))?;
    Ok(Message {
        topic: parsed.topic,
        value: parsed.value.into_bytes(),
        key: parsed.key.map(String::into_bytes),
        partition: parsed.partition,
        headers: parsed.headers.0,
        timestamp: parsed.timestamp,
    })
}

/// serde_json's message with the column but without its "line 1" (the file's line is known).
fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(what) => format!("{what} (column {})", error.column()),
        None => text,
    }
}

/// A JSON object of string values, in the file's order.
#[derive(Default)]
struct JsonHeaders(Vec<(String, Vec<u8>)>);

impl<'de> Deserialize<'de> for JsonHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonHeaders, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = JsonHeaders;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonHeaders, A::Error> {
        let mut headers = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, String>()? {
            headers.push((key, value.into_bytes()));
        }
        Ok(JsonHeaders(headers))
    }
}

/// One line as Flume's Kafka sink writes it: an Avro `AvroFlumeEvent` of the line and the
/// headers, with a `timestamp` header of `now` unless `headers` has one, and the `key` header
/// as the Kafka key. The Kafka timestamp is the event's.
fn flume_message(line: &[u8], headers: &[(String, String)], now: i64) -> Message {
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let stamp = now.to_string();
    let timestamp = header(FLUME_TIMESTAMP).map_or(now, |v| v.parse().unwrap_or(now));
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if header(FLUME_TIMESTAMP).is_none() {
        all.push((FLUME_TIMESTAMP, &stamp));
    }
    let mut value = Vec::with_capacity(line.len() + 32);
    write_event(all.into_iter(), line, &mut value);
    Message {
        value,
        key: header(FLUME_KEY).map(|k| k.clone().into_bytes()),
        timestamp: Some(timestamp),
        ..Message::default()
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    use crate::codecs::flume::parse_event;
    use crate::event::Value;

    #[test]
    fn flume_lines_carry_headers_and_a_timestamp() {
        let headers = vec![("host".to_string(), "web1".to_string())];
        let message = flume_message(b"hello", &headers, 1_700_000_000_123);
        let (map, body) = parse_event(&Bytes::from(message.value)).unwrap();
        assert_eq!(&body[..], b"hello");
        assert_eq!(map.get("host"), Some(&Value::Str("web1".into())));
        assert_eq!(
            map.get("timestamp"),
            Some(&Value::Str("1700000000123".into()))
        );
        assert_eq!(message.timestamp, Some(1_700_000_000_123));
        assert_eq!(message.key, None);
    }

    #[test]
    fn a_flume_key_header_is_the_kafka_key_and_a_given_timestamp_wins() {
        let headers = vec![
            ("key".to_string(), "k1".to_string()),
            ("timestamp".to_string(), "42".to_string()),
        ];
        let message = flume_message(b"x", &headers, 1_000);
        let (map, _) = parse_event(&Bytes::from(message.value)).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("timestamp"), Some(&Value::Str("42".into())));
        assert_eq!(message.key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(message.timestamp, Some(42));
    }

    #[test]
    fn json_lines_keep_header_order_and_refuse_unknown_fields() {
        let message =
            json_message(br#"{"value":"v","headers":{"z":"1","a":"2"},"partition":1}"#).unwrap();
        assert_eq!(
            message.headers,
            vec![("z".into(), b"1".to_vec()), ("a".into(), b"2".to_vec())]
        );
        assert_eq!(message.partition, Some(1));
        let error = json_message(br#"{"value":"v","vlaue":"w"}"#).unwrap_err();
        assert!(error.starts_with("unknown field `vlaue`"), "{error}");
        assert!(error.ends_with("(column 20)"), "{error}");
        let error = json_message(br#"{"value":"v","headers":{"a":1}}"#).unwrap_err();
        assert!(error.contains("invalid type: integer `1`"), "{error}");
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(check_topic_name("logs.app-1_x").is_ok());
        for bad in ["", ".", "..", "a b", "caf\u{e9}", &"x".repeat(250)] {
            assert!(check_topic_name(bad).is_err(), "{bad:?}");
        }
    }
}
