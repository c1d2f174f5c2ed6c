//! The `kafka` input: consumes topics as a member of a consumer group, with logstash-input-kafka's
//! options, and commits offsets at least once, end to end.
//!
//! Each of `consumer_threads` runs a librdkafka [`BaseConsumer`] on a blocking thread of its own
//! ([`Kafka::consume`]). A message's payload is one chunk for the codec (decoded, then flushed).
//! Messages are sent in batches of one partition each, of at most `pipeline.batch.size` events;
//! every batch carries an [`AckToken`] from the consumer's [`Offsets`], keyed by the partition so
//! outputs keep each partition's order.
//!
//! At-least-once: librdkafka auto-commits only offsets the input stored
//! (`enable.auto.offset.store=false`), and an offset is stored ([`Committer`]) only once the batch
//! holding its message and every earlier batch of the partition were delivered. A failed batch
//! stops its partition's offset until the partition is assigned again. On revocation the
//! [`KafkaContext`] forgets the partition's batches in flight and commits what was stored; when a
//! consumer stops, its last [`Committer`] (dropped with the last batch in flight) commits and
//! closes it. Replay after a crash is bounded by the batches in flight (the queue's capacity).
//!
//! Consumer lag per owned partition comes from librdkafka's statistics
//! (`statistics.interval.ms`, 5 s unless `kafka_properties` says otherwise): [`ConsumerLag`],
//! the input's [`PartitionLag`], which the pipeline's stats read. It counts messages not yet
//! delivered (behind the stored offset), the figure ops compare with the group's backlog.
//!
//! Options keep logstash-input-kafka's names. Most are one librdkafka property each ([`DIRECT`]);
//! the rest are translated (`partition_assignment_strategy`, PEM/PKCS12 key stores, JAAS
//! credentials); settings only the Java client can honour (JKS stores, schema registries,
//! callback classes) are refused with what to do instead ([`JAVA_ONLY`]). `kafka_properties`
//! passes any librdkafka property through, last.

pub mod offsets;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Message};

use crate::codecs::{Codec, Decoder};
use crate::config::options::Pairs;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{AckStatus, Acknowledge, Batch, Event, Map, Text, Timestamp, Value};

use self::offsets::{Offsets, Partition};
use super::{Input, InputContext, InputError, PartitionLag};

/// Properties the input sets itself: at-least-once delivery depends on them.
const RESERVED: &[&str] = &["enable.auto.offset.store", "enable.auto.commit"];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_servers")]
    bootstrap_servers: String,
    #[serde(default = "default_topics")]
    topics: Vec<String>,
    topics_pattern: Option<String>,
    #[serde(default = "default_logstash")]
    group_id: String,
    #[serde(default = "default_logstash")]
    client_id: String,
    auto_offset_reset: Option<String>,
    #[serde(default = "default_threads")]
    consumer_threads: i64,
    #[serde(default = "default_max_poll_records")]
    max_poll_records: i64,
    #[serde(default = "default_poll_timeout_ms")]
    poll_timeout_ms: i64,
    #[serde(default)]
    decorate_events: DecorateEvents,
    /// `false`: offsets are committed as batches are delivered instead of every
    /// `auto_commit_interval_ms`; at-least-once either way.
    #[serde(default = "default_true")]
    enable_auto_commit: bool,
    #[serde(default = "default_true")]
    exclude_internal_topics: bool,
    #[serde(default)]
    partition_assignment_strategy: Option<String>,
    #[serde(default)]
    client_dns_lookup: Option<String>,
    #[serde(default)]
    key_deserializer_class: Option<String>,
    #[serde(default)]
    value_deserializer_class: Option<String>,
    security_protocol: Option<String>,
    sasl_mechanism: Option<String>,
    sasl_jaas_config: Option<String>,
    sasl_kerberos_service_name: Option<String>,
    ssl_truststore_location: Option<String>,
    ssl_truststore_type: Option<String>,
    ssl_truststore_password: Option<String>,
    ssl_keystore_location: Option<String>,
    ssl_keystore_type: Option<String>,
    ssl_keystore_password: Option<String>,
    ssl_key_password: Option<String>,
    ssl_endpoint_identification_algorithm: Option<String>,
    /// Any librdkafka consumer property, applied after the options above.
    #[serde(default)]
    kafka_properties: Pairs<String>,
}

/// logstash-input-kafka options that are one librdkafka property each, with the same meaning
/// (the Java client and librdkafka share most consumer settings); librdkafka checks the values.
const DIRECT: &[(&str, &str)] = &[
    ("auto_commit_interval_ms", "auto.commit.interval.ms"),
    ("auto_create_topics", "allow.auto.create.topics"),
    ("check_crcs", "check.crcs"),
    ("client_rack", "client.rack"),
    ("connections_max_idle_ms", "connections.max.idle.ms"),
    ("fetch_max_bytes", "fetch.max.bytes"),
    ("fetch_max_wait_ms", "fetch.wait.max.ms"),
    ("fetch_min_bytes", "fetch.min.bytes"),
    ("group_instance_id", "group.instance.id"),
    ("heartbeat_interval_ms", "heartbeat.interval.ms"),
    ("isolation_level", "isolation.level"),
    ("max_partition_fetch_bytes", "max.partition.fetch.bytes"),
    ("max_poll_interval_ms", "max.poll.interval.ms"),
    ("metadata_max_age_ms", "metadata.max.age.ms"),
    ("receive_buffer_bytes", "socket.receive.buffer.bytes"),
    ("reconnect_backoff_ms", "reconnect.backoff.ms"),
    ("request_timeout_ms", "socket.timeout.ms"),
    ("retry_backoff_ms", "retry.backoff.ms"),
    ("send_buffer_bytes", "socket.send.buffer.bytes"),
    ("session_timeout_ms", "session.timeout.ms"),
];

/// A [`DIRECT`] option's value: Logstash takes numbers and flags written bare or quoted.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Number(i64),
    Flag(bool),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Number(n) => n.to_string(),
            Scalar::Flag(b) => b.to_string(),
            Scalar::Text(t) => t,
        }
    }
}

/// logstash-input-kafka options that only make sense for the Java client, and what to do
/// instead: a clear error beats an "unknown option".
const JAVA_ONLY: &[(&str, &str)] = &[
    (
        "jaas_path",
        "write the credentials in sasl_jaas_config (PLAIN/SCRAM) instead",
    ),
    (
        "kerberos_config",
        "librdkafka reads the system krb5.conf; set sasl.kerberos.* in kafka_properties",
    ),
    (
        "sasl_client_callback_handler_class",
        "set sasl.oauthbearer.* in kafka_properties",
    ),
    (
        "sasl_login_callback_handler_class",
        "set sasl.oauthbearer.* in kafka_properties",
    ),
    (
        "schema_registry_url",
        "Avro with a schema registry is not supported; use codec => avro or flume",
    ),
    (
        "schema_registry_key",
        "Avro with a schema registry is not supported",
    ),
    (
        "schema_registry_secret",
        "Avro with a schema registry is not supported",
    ),
    (
        "schema_registry_proxy",
        "Avro with a schema registry is not supported",
    ),
    (
        "schema_registry_validation",
        "Avro with a schema registry is not supported",
    ),
];

fn default_servers() -> String {
    "localhost:9092".to_string()
}

fn default_topics() -> Vec<String> {
    vec!["logstash".to_string()]
}

fn default_logstash() -> String {
    "logstash".to_string()
}

fn default_threads() -> i64 {
    1
}

fn default_max_poll_records() -> i64 {
    500
}

fn default_poll_timeout_ms() -> i64 {
    100
}

fn default_true() -> bool {
    true
}

/// `decorate_events`: which `[@metadata][kafka]` fields events get.
#[derive(serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DecorateEvents {
    #[default]
    #[serde(alias = "false")]
    None,
    /// topic, consumer_group, partition, offset, key, timestamp.
    #[serde(alias = "true")]
    Basic,
    /// Basic, and the message's headers under `[@metadata][kafka][headers]`.
    Extended,
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    Ok(Box::new(Kafka::build(args, codec)?))
}

/// The `kafka` input.
pub struct Kafka {
    codec: Arc<dyn Codec>,
    config: ClientConfig,
    subscription: Vec<String>,
    group: Text,
    decorate: DecorateEvents,
    max_poll_records: usize,
    /// How long a poll waits for a message before the shutdown request is looked at again.
    poll_timeout: Duration,
    /// `enable_auto_commit => false`: commit as each batch is delivered, not on a timer.
    commit_each_delivery: bool,
    /// One per consumer thread.
    offsets: Vec<Arc<Offsets>>,
}

impl Kafka {
    /// Reads and checks the options (every librdkafka property they make included).
    pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Kafka, Diagnostics> {
        let mut errors = java_only_errors(args);
        let mut rest = args.clone();
        rest.split_off(&JAVA_ONLY.iter().map(|(name, _)| *name).collect::<Vec<_>>());
        let direct = rest.split_off(&DIRECT.iter().map(|(name, _)| *name).collect::<Vec<_>>());
        let options: Options = rest.options()?;
        let config = client_config(args, &options, &direct, &mut errors);
        let threads = positive(
            args,
            &mut errors,
            "consumer_threads",
            options.consumer_threads,
        );
        let max_poll_records = positive(
            args,
            &mut errors,
            "max_poll_records",
            options.max_poll_records,
        );
        let poll_timeout = positive(
            args,
            &mut errors,
            "poll_timeout_ms",
            options.poll_timeout_ms,
        );
        check_deserializers(args, &options, &mut errors);
        let subscription = subscription(&options).map_err(|msg| args.error("topics", msg));
        if let Err(e) = &subscription {
            errors.extend(e.clone());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Kafka {
            codec,
            config,
            subscription: subscription.unwrap_or_default(),
            group: Text::from_string(options.group_id),
            decorate: options.decorate_events,
            max_poll_records,
            poll_timeout: Duration::from_millis(poll_timeout as u64),
            commit_each_delivery: !options.enable_auto_commit,
            offsets: (0..threads).map(|_| Offsets::new()).collect(),
        })
    }

    /// The consumer lag of the partitions this input owns, for metrics.
    pub fn consumer_lag(&self) -> ConsumerLag {
        ConsumerLag(self.offsets.clone())
    }

    /// One consumer thread: polls, decodes, sends batches per partition until shutdown.
    fn consume(&self, offsets: Arc<Offsets>, ctx: &InputContext) -> Result<(), InputError> {
        let context = KafkaContext {
            offsets: offsets.clone(),
        };
        let consumer: BaseConsumer<KafkaContext> = self
            .config
            .create_with_context(context)
            .map_err(|e| InputError::Other(format!("kafka: cannot create a consumer: {e}")))?;
        let topics: Vec<&str> = self.subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| InputError::Other(format!("kafka: cannot subscribe: {e}")))?;
        let consumer = Arc::new(consumer);
        let committer = Arc::new(Committer {
            offsets,
            consumer: consumer.clone(),
            commit_each_delivery: self.commit_each_delivery,
        });
        let mut round = Round {
            input: self,
            ctx,
            committer: &committer,
            decoder: self.codec.decoder(),
            events: Vec::with_capacity(ctx.batch_size()),
            partition: None,
            now: ctx.now(),
            block: BytesMut::new(),
        };
        while !ctx.shutdown().is_requested() {
            round.now = ctx.now();
            let mut wait = self.poll_timeout;
            for _ in 0..self.max_poll_records {
                match consumer.poll(wait) {
                    None => break,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "kafka: consumer error");
                        break;
                    }
                    Some(Ok(message)) => round.take(&message)?,
                }
                wait = Duration::ZERO;
            }
            round.send()?;
        }
        Ok(())
    }
}

/// The lag of the partitions an input's consumers own: `((topic, partition), messages behind)`,
/// -1 where librdkafka has not reported it yet.
#[derive(Clone)]
pub struct ConsumerLag(Vec<Arc<Offsets>>);

impl PartitionLag for ConsumerLag {
    fn partitions(&self) -> Vec<(Partition, i64)> {
        let mut all: Vec<_> = self.0.iter().flat_map(|o| o.lag()).collect();
        all.sort();
        all
    }
}

/// The messages of one poll round on their way into batches of one partition each.
struct Round<'a> {
    input: &'a Kafka,
    ctx: &'a InputContext,
    committer: &'a Arc<Committer>,
    decoder: Box<dyn Decoder>,
    events: Vec<Event>,
    /// The partition of `events`, and the offset of its last message taken.
    partition: Option<(Partition, i64)>,
    now: Timestamp,
    /// Where payloads are copied to ([`Round::copy`]).
    block: BytesMut,
}

/// The size of the blocks payloads are copied into. Events keep their block alive, so it stays
/// small next to a batch's worth of messages.
const PAYLOAD_BLOCK: usize = 64 * 1024;

impl Round<'_> {
    /// Decodes `message` into the batch of its partition (sending the batch of another).
    fn take(&mut self, message: &BorrowedMessage<'_>) -> Result<(), InputError> {
        let same = matches!(&self.partition,
            Some(((topic, p), _)) if **topic == *message.topic() && *p == message.partition());
        if !same {
            self.send()?;
            let partition = (Arc::from(message.topic()), message.partition());
            self.partition = Some((partition, message.offset()));
        } else if let Some((_, last)) = &mut self.partition {
            *last = message.offset();
        }
        let start = self.events.len();
        if let Some(payload) = message.payload() {
            let chunk = self.copy(payload);
            self.decoder.decode(chunk, self.now, &mut self.events);
            self.decoder.flush(self.now, &mut self.events);
        }
        let new = &mut self.events[start..];
        self.ctx.decorate(new);
        if self.input.decorate != DecorateEvents::None && !new.is_empty() {
            let meta = Value::Map(metadata(self.input, message));
            for event in new {
                event.metadata_mut().insert(KAFKA, meta.clone());
            }
        }
        if self.events.len() >= self.ctx.batch_size() {
            self.send()?;
        }
        Ok(())
    }

    /// `payload` copied out of librdkafka's buffer into a block shared with the next messages:
    /// one allocation per [`PAYLOAD_BLOCK`] of payloads instead of one per message.
    fn copy(&mut self, payload: &[u8]) -> Bytes {
        if self.block.capacity() - self.block.len() < payload.len() {
            self.block = BytesMut::with_capacity(PAYLOAD_BLOCK.max(payload.len()));
        }
        self.block.extend_from_slice(payload);
        self.block.split().freeze()
    }

    /// Sends the batch being filled, with its token (even without events: its offsets count).
    fn send(&mut self) -> Result<(), InputError> {
        let Some((partition, last)) = self.partition.take() else {
            return Ok(());
        };
        let sink: Arc<dyn Acknowledge> = self.committer.clone();
        let token = self.committer.offsets.token(sink, &partition, last);
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(self.ctx.batch_size()));
        self.ctx.forward_blocking(Batch::with_ack(events, token))?;
        // Further messages of the partition in this round go into a new batch.
        Ok(())
    }
}

/// `[@metadata][kafka]` for the events of `message`.
fn metadata(input: &Kafka, message: &BorrowedMessage<'_>) -> Map {
    let mut meta = Map::with_capacity(7);
    meta.insert(TOPIC, Value::Str(Text::new(message.topic())));
    meta.insert(CONSUMER_GROUP, Value::Str(input.group.clone()));
    meta.insert(PARTITION, Value::Int(i64::from(message.partition())));
    meta.insert(OFFSET, Value::Int(message.offset()));
    let key = message.key().map_or(Value::Null, |k| {
        Value::Str(Text::from_string(String::from_utf8_lossy(k).into_owned()))
    });
    meta.insert(KEY, key);
    let timestamp = message
        .timestamp()
        .to_millis()
        .map_or(Value::Null, Value::Int);
    meta.insert(TIMESTAMP, timestamp);
    if input.decorate == DecorateEvents::Extended {
        let mut headers = Map::new();
        for header in message.headers().iter().flat_map(|h| h.iter()) {
            let value = header.value.map_or(Value::Null, |v| {
                Value::Str(Text::from_string(String::from_utf8_lossy(v).into_owned()))
            });
            headers.insert(Text::new(header.key), value);
        }
        meta.insert(HEADERS, Value::Map(headers));
    }
    meta
}

const KAFKA: Text = Text::from_static("kafka");
const TOPIC: Text = Text::from_static("topic");
const CONSUMER_GROUP: Text = Text::from_static("consumer_group");
const PARTITION: Text = Text::from_static("partition");
const OFFSET: Text = Text::from_static("offset");
const KEY: Text = Text::from_static("key");
const TIMESTAMP: Text = Text::from_static("timestamp");
const HEADERS: Text = Text::from_static("headers");

#[async_trait::async_trait]
impl Input for Kafka {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let input = Arc::new(*self);
        let consumers: Vec<_> = input
            .offsets
            .iter()
            .map(|offsets| {
                let (input, offsets, ctx) = (input.clone(), offsets.clone(), ctx.clone());
                tokio::task::spawn_blocking(move || input.consume(offsets, &ctx))
            })
            .collect();
        let mut result = Ok(());
        for consumer in consumers {
            match consumer.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(e) => result = Err(InputError::Other(format!("kafka: consumer: {e}"))),
            }
        }
        result
    }

    fn partition_lag(&self) -> Option<Arc<dyn PartitionLag>> {
        Some(Arc::new(self.consumer_lag()))
    }

    fn ordered(&self) -> bool {
        true
    }
}

/// Stores offsets as batches are acknowledged; the last one dropped (the consumer thread's, or
/// the last batch in flight's) commits and closes the consumer.
struct Committer {
    offsets: Arc<Offsets>,
    consumer: Arc<BaseConsumer<KafkaContext>>,
    commit_each_delivery: bool,
}

impl Acknowledge for Committer {
    fn acknowledge(&self, id: u64, status: AckStatus) {
        let mut stored = false;
        self.offsets
            .acknowledge(id, status, |topic, partition, last| {
                // Fails for a partition no longer assigned: its new owner reads it again.
                match self.consumer.store_offset(topic, partition, last) {
                    Ok(()) => stored = true,
                    Err(e) => {
                        tracing::debug!(error = %e, topic, partition, "kafka: offset not stored")
                    }
                }
            });
        if stored && self.commit_each_delivery {
            if let Err(e) = self.consumer.commit_consumer_state(CommitMode::Async) {
                tracing::debug!(error = %e, "kafka: no offsets committed");
            }
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        commit(&self.consumer);
    }
}

/// Commits the stored offsets now (nothing stored since the last commit is no error).
fn commit<C: ConsumerContext>(consumer: &BaseConsumer<C>) {
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "kafka: no offsets committed");
    }
}

/// Follows rebalances and statistics for one consumer.
struct KafkaContext {
    offsets: Arc<Offsets>,
}

impl ClientContext for KafkaContext {
    fn stats(&self, statistics: Statistics) {
        for (name, topic) in &statistics.topics {
            for (&partition, stats) in &topic.partitions {
                // librdkafka reports the internal UA partition as -1.
                if partition >= 0 {
                    self.offsets.set_lag(name, partition, delivery_lag(stats));
                }
            }
        }
    }
}

/// Messages of the partition not yet delivered by the outputs: behind the offset the input
/// stored (only delivered batches store one), or behind the group's committed offset before
/// this consumer stored any.
fn delivery_lag(stats: &rdkafka::statistics::Partition) -> i64 {
    if stats.consumer_lag_stored >= 0 {
        stats.consumer_lag_stored
    } else {
        stats.consumer_lag
    }
}

impl ConsumerContext for KafkaContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            for element in list.elements() {
                self.offsets
                    .revoke(&(Arc::from(element.topic()), element.partition()));
            }
            commit(consumer);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            for element in list.elements() {
                self.offsets
                    .assign((Arc::from(element.topic()), element.partition()));
            }
        }
    }
}

/// A whole-number option that must be at least 1.
fn positive(args: &PluginArgs, errors: &mut Diagnostics, name: &str, value: i64) -> usize {
    match usize::try_from(value) {
        Ok(n) if n > 0 => n,
        _ => {
            errors.extend(args.error(name, format!("{name} must be at least 1, not {value}")));
            1
        }
    }
}

/// The topics to subscribe to: `topics_pattern` (a regular expression, anchored as Logstash
/// matches it whole) when set, else `topics`.
fn subscription(options: &Options) -> Result<Vec<String>, String> {
    if let Some(pattern) = &options.topics_pattern {
        // librdkafka compiles subscription patterns as POSIX extended regular expressions,
        // which have no `(?:`: a plain group anchors the alternatives just as well.
        let anchored = format!("^({pattern})$");
        regex::Regex::new(&anchored).map_err(|e| format!("topics_pattern: {e}"))?;
        return Ok(vec![anchored]);
    }
    if options.topics.is_empty() || options.topics.iter().any(String::is_empty) {
        return Err("topics: name at least one topic (empty names are not topics)".to_string());
    }
    Ok(options.topics.clone())
}

/// The consumer's librdkafka configuration: every option's property, each checked by
/// librdkafka itself so a bad value is reported at its option.
fn client_config(
    args: &PluginArgs,
    options: &Options,
    direct: &PluginArgs,
    errors: &mut Diagnostics,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    let mut all = match properties(options) {
        Ok(props) => props,
        Err((option, msg)) => {
            errors.extend(args.error(option, msg));
            Vec::new()
        }
    };
    all.extend(direct_properties(direct, errors));
    let passed = options.kafka_properties.0.iter();
    all.extend(passed.map(|(key, value)| ("kafka_properties", key.clone(), value.clone())));
    for (option, key, value) in all {
        if RESERVED.contains(&key.as_str()) {
            let msg = format!("{option}: `{key}` is set by the input (at-least-once delivery)");
            errors.extend(args.error(option, msg));
        } else if let Err(e) = ClientConfig::new().set(&key, &value).create_native_config() {
            errors.extend(args.error(option, format!("{option}: {e}")));
        } else {
            config.set(key, value);
        }
    }
    // With `enable_auto_commit => false` the committer commits after each delivery itself.
    config
        .set("enable.auto.commit", options.enable_auto_commit.to_string())
        .set("enable.auto.offset.store", "false");
    config
}

/// The [`DIRECT`] options set, as `(option, property, value)`.
fn direct_properties(direct: &PluginArgs, errors: &mut Diagnostics) -> Vec<Setting> {
    let mut out = Vec::new();
    for &(option, key) in DIRECT {
        let Some(attribute) = direct.attribute(option) else {
            continue;
        };
        match PluginArgs::value_as::<Scalar>(&attribute.value, direct.env()) {
            Ok(value) => out.push((option, key.to_string(), value.into_text())),
            Err(_) => errors.extend(direct.error(
                option,
                format!("{option}: expected a number, true/false or a string"),
            )),
        }
    }
    out
}

/// Errors for the Java client's options sluice cannot honour, each with what to do instead.
fn java_only_errors(args: &PluginArgs) -> Diagnostics {
    let mut errors = Diagnostics::default();
    for (option, advice) in JAVA_ONLY {
        if args.attribute(option).is_some() {
            let msg = format!("{option} is a setting of Kafka's Java client: {advice}");
            errors.extend(args.error(option, msg));
        }
    }
    errors
}

/// Payloads go to the codec as bytes, which is what both of Kafka's built-in deserializers
/// Logstash users name would give it; any other class is Java code sluice cannot run.
fn check_deserializers(args: &PluginArgs, options: &Options, errors: &mut Diagnostics) {
    const KNOWN: &[&str] = &[
        "org.apache.kafka.common.serialization.StringDeserializer",
        "org.apache.kafka.common.serialization.ByteArrayDeserializer",
    ];
    for (option, value) in [
        ("key_deserializer_class", &options.key_deserializer_class),
        (
            "value_deserializer_class",
            &options.value_deserializer_class,
        ),
    ] {
        if let Some(class) = value.as_deref().filter(|c| !KNOWN.contains(c)) {
            let msg = format!(
                "{option}: {class} is Java code; only StringDeserializer and \
                 ByteArrayDeserializer are known (decode payloads with a codec)"
            );
            errors.extend(args.error(option, msg));
        }
    }
}

type Property = (&'static str, &'static str, Option<String>);

/// `(option, librdkafka property, value)`, ready to set.
type Setting = (&'static str, String, String);

/// An option whose value has no librdkafka equivalent, and why.
type Untranslatable = (&'static str, String);

/// `(option, librdkafka property, value)` for every option set but the direct ones and
/// `kafka_properties`; or
/// the option whose value has no librdkafka equivalent, and why.
fn properties(options: &Options) -> Result<Vec<Setting>, Untranslatable> {
    let mut props: Vec<Property> = vec![
        (
            "bootstrap_servers",
            "bootstrap.servers",
            Some(options.bootstrap_servers.clone()),
        ),
        ("group_id", "group.id", Some(options.group_id.clone())),
        ("client_id", "client.id", Some(options.client_id.clone())),
        (
            "auto_offset_reset",
            "auto.offset.reset",
            options.auto_offset_reset.as_deref().map(offset_reset),
        ),
        (
            "partition_assignment_strategy",
            "partition.assignment.strategy",
            options
                .partition_assignment_strategy
                .as_deref()
                .map(assignment_strategy)
                .transpose()
                .map_err(|msg| ("partition_assignment_strategy", msg))?,
        ),
        (
            "client_dns_lookup",
            "client.dns.lookup",
            options.client_dns_lookup.as_deref().and_then(dns_lookup),
        ),
        (
            "exclude_internal_topics",
            "topic.blacklist",
            (options.exclude_internal_topics && options.topics_pattern.is_some())
                .then(|| INTERNAL_TOPICS.to_string()),
        ),
        (
            "kafka_properties",
            "statistics.interval.ms",
            Some("5000".to_string()),
        ),
    ];
    props.extend(security_properties(options)?);
    let out: Vec<_> = props
        .into_iter()
        .filter_map(|(option, key, value)| Some((option, key.to_string(), value?)))
        .collect();
    Ok(out)
}

/// Kafka's internal topics, kept out of `topics_pattern` subscriptions as the Java client does
/// with `exclude_internal_topics` (librdkafka's `topic.blacklist`: regular expressions).
const INTERNAL_TOPICS: &str = "^__consumer_offsets$,^__transaction_state$";

/// The `security_protocol`, `sasl_*` and `ssl_*` options as librdkafka properties.
fn security_properties(options: &Options) -> Result<Vec<Property>, Untranslatable> {
    let truststore_type = store_type(options.ssl_truststore_type.as_deref(), "PEM");
    if truststore_type != "PEM" {
        let msg = format!(
            "ssl_truststore_type: {truststore_type} trust stores are the Java client's; give \
             ssl_truststore_location a PEM file of CA certificates (keytool -exportcert -rfc)"
        );
        return Err(("ssl_truststore_type", msg));
    }
    if options.ssl_truststore_password.is_some() {
        tracing::warn!("kafka: ssl_truststore_password is ignored: PEM trust stores have none");
    }
    let keystore_type = store_type(options.ssl_keystore_type.as_deref(), "PKCS12");
    let keystore = options.ssl_keystore_location.clone();
    let (certificate, key, pkcs12) = match keystore_type.as_str() {
        "PKCS12" => (None, None, keystore),
        "PEM" => (keystore.clone(), keystore, None),
        other => {
            let msg = format!(
                "ssl_keystore_type: {other} key stores are the Java client's; convert it to \
                 PKCS12 (keytool -importkeystore -deststoretype PKCS12) or PEM"
            );
            return Err(("ssl_keystore_type", msg));
        }
    };
    let mut props: Vec<Property> = vec![
        (
            "security_protocol",
            "security.protocol",
            options.security_protocol.as_ref().map(|s| s.to_lowercase()),
        ),
        (
            "sasl_mechanism",
            "sasl.mechanism",
            options.sasl_mechanism.clone(),
        ),
        (
            "sasl_kerberos_service_name",
            "sasl.kerberos.service.name",
            options.sasl_kerberos_service_name.clone(),
        ),
        (
            "ssl_truststore_location",
            "ssl.ca.location",
            options.ssl_truststore_location.clone(),
        ),
        ("ssl_keystore_location", "ssl.keystore.location", pkcs12),
        (
            "ssl_keystore_location",
            "ssl.certificate.location",
            certificate,
        ),
        ("ssl_keystore_location", "ssl.key.location", key),
        (
            "ssl_keystore_password",
            if keystore_type == "PEM" {
                "ssl.key.password"
            } else {
                "ssl.keystore.password"
            },
            options.ssl_keystore_password.clone(),
        ),
        (
            "ssl_key_password",
            "ssl.key.password",
            options.ssl_key_password.clone(),
        ),
        (
            "ssl_endpoint_identification_algorithm",
            "ssl.endpoint.identification.algorithm",
            options
                .ssl_endpoint_identification_algorithm
                .as_deref()
                .map(identification),
        ),
    ];
    if let Some(jaas) = &options.sasl_jaas_config {
        props.push((
            "sasl_jaas_config",
            "sasl.username",
            jaas_value(jaas, "username"),
        ));
        props.push((
            "sasl_jaas_config",
            "sasl.password",
            jaas_value(jaas, "password"),
        ));
    }
    Ok(props)
}

/// A key or trust store type, upper-cased, `default` when not set.
fn store_type(value: Option<&str>, default: &str) -> String {
    value.map_or_else(|| default.to_string(), str::to_uppercase)
}

/// Logstash's `partition_assignment_strategy` names (and the Java class names) in librdkafka's.
fn assignment_strategy(value: &str) -> Result<String, String> {
    let short = value.rsplit('.').next().unwrap_or(value);
    match short {
        "range" | "RangeAssignor" => Ok("range".to_string()),
        "round_robin" | "RoundRobinAssignor" => Ok("roundrobin".to_string()),
        "cooperative_sticky" | "CooperativeStickyAssignor" => Ok("cooperative-sticky".to_string()),
        "sticky" | "StickyAssignor" => Err(format!(
            "partition_assignment_strategy: librdkafka has no eager {value:?} assignor; use \
             \"cooperative_sticky\" (every member of the group must use it) or \"range\""
        )),
        _ => Err(format!(
            "partition_assignment_strategy: expected range, round_robin or cooperative_sticky, \
             not {value:?}"
        )),
    }
}

/// Logstash's `client_dns_lookup` in librdkafka's terms (`default` is librdkafka's default).
fn dns_lookup(value: &str) -> Option<String> {
    match value {
        "default" => None,
        other => Some(other.to_string()),
    }
}

/// Logstash's `auto_offset_reset` values in librdkafka's terms (`none` fails instead).
fn offset_reset(value: &str) -> String {
    match value {
        "none" => "error".to_string(),
        other => other.to_string(),
    }
}

/// Logstash's empty `ssl_endpoint_identification_algorithm` turns the check off.
fn identification(value: &str) -> String {
    if value.is_empty() {
        "none".to_string()
    } else {
        value.to_lowercase()
    }
}

/// `name="value"` out of a JAAS login module line (`PlainLoginModule required username="u"
/// password="p";`).
fn jaas_value(jaas: &str, name: &str) -> Option<String> {
    let at = jaas
        .match_indices(name)
        .map(|(i, _)| i + name.len())
        .find(|&end| jaas[end..].trim_start().starts_with('='))?;
    let rest = jaas[at..].trim_start().strip_prefix('=')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_credentials() {
        let jaas = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="me" password = "s3=cret";"#;
        assert_eq!(jaas_value(jaas, "username").as_deref(), Some("me"));
        assert_eq!(jaas_value(jaas, "password").as_deref(), Some("s3=cret"));
        assert_eq!(jaas_value(jaas, "token"), None);
    }
}
