//! The `kafka` output: events produced to Kafka, each batch acknowledged to the inputs only
//! once Kafka has acknowledged every record of it (for the inter-data-centre forwarding role).
//!
//! Options are logstash-output-kafka's, with its defaults ([`settings::Options`]); they become
//! librdkafka producer properties, and `kafka_properties` passes any further librdkafka
//! property through. `enable_idempotence => true` turns on librdkafka's idempotent producer.
//!
//! How a batch travels: [`Kafka::write`] encodes each event with the codec into one reused
//! buffer, renders `topic_id` and `message_key` into reused strings and hands the record to a
//! librdkafka [`ThreadedProducer`] (librdkafka copies it), then returns. Every record carries
//! an `Arc` of the batch's [`Pending`] as its delivery opaque; librdkafka's delivery report
//! drops it, so the batch (and its acknowledgement) is let go when the last record of it is
//! acknowledged by Kafka. Retriable errors are retried by librdkafka itself, forever by
//! default (`message_timeout_ms => 0`); a record that fails for good (too large, unknown topic,
//! a timeout the user asked for) marks its batch failed, so the inputs do not commit it.
//! When librdkafka's queue is full (`buffer_memory`), `write` waits and tries again:
//! backpressure, never a drop. [`Kafka::close`] waits until every record is delivered.
//!
//! Differences from Logstash: the Java keystore options map to librdkafka's (PEM trust store in
//! `ssl_truststore_location`, PKCS#12 keystore); SASL credentials come from `sasl_username`/
//! `sasl_password` (or `kafka_properties`), not a JAAS file; `round_robin` partitions
//! records without a key randomly. This build of librdkafka has gzip, snappy and lz4 but not
//! zstd, SSL or SASL (rdkafka's `zstd`, `ssl`, `sasl` features): asking for them is a build
//! error at the option.
//!
//! Main types: [`Kafka`] (the output), [`Deliveries`] (the producer context receiving
//! delivery reports), [`Pending`] (one batch awaiting its records' reports).

pub mod settings;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;

use super::{Output, OutputBatch, OutputError};
use settings::{Options, Property};

/// How long `write` waits before offering a record again when librdkafka's queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(5);
/// How often `close` reports that it is still waiting for deliveries.
const CLOSE_REPORT_EVERY: Duration = Duration::from_secs(10);

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    let options: Options = args.options()?;
    options
        .check()
        .map_err(|(option, msg)| args.error(option, msg))?;
    let template = |name: &str, source: &str| {
        Template::parse(source).map_err(|e| args.error(name, format!("kafka: {name}: {e}")))
    };
    let topic = template("topic_id", &options.topic_id)?;
    let key = options
        .message_key
        .as_deref()
        .map(|source| template("message_key", source))
        .transpose()?;
    let headers = options
        .message_headers
        .0
        .iter()
        .map(|(name, value)| Ok((name.clone(), template("message_headers", value)?)))
        .collect::<Result<Vec<_>, Diagnostics>>()?;
    let plugin_id: Arc<str> = args.plugin_id().into();
    let producer = producer(args, &options.properties(), plugin_id.clone())?;
    Ok(Box::new(Kafka {
        producer,
        topic,
        key,
        header_values: vec![String::new(); headers.len()],
        headers,
        codec,
        plugin_id,
        payload: Vec::with_capacity(1024),
        topic_buf: String::with_capacity(64),
        key_buf: String::with_capacity(64),
    }))
}

/// Creates the producer (librdkafka checks every property here, so a bad one is a build
/// error at the option it came from). Nothing connects until the first record.
fn producer(
    args: &PluginArgs,
    properties: &[Property],
    plugin_id: Arc<str>,
) -> Result<ThreadedProducer<Deliveries>, Diagnostics> {
    let mut config = ClientConfig::new();
    for property in properties {
        config.set(property.name.as_str(), property.value.as_str());
    }
    config.set_log_level(RDKafkaLogLevel::Warning);
    config
        .create_with_context(Deliveries { plugin_id })
        .map_err(|e| {
            let message = match e {
                KafkaError::ClientConfig(_, description, _, _) => description,
                other => other.to_string(),
            };
            // librdkafka names the offending property; point at the option that set it.
            let option = properties
                .iter()
                .rev()
                .find(|p| message.contains(&format!("\"{}\"", p.name)))
                .map_or("", |p| p.option);
            args.error(option, format!("kafka: {message}"))
        })
}

/// The `kafka` output.
pub struct Kafka {
    producer: ThreadedProducer<Deliveries>,
    topic: Template,
    key: Option<Template>,
    /// `message_headers`: names and value templates.
    headers: Vec<(String, Template)>,
    codec: Arc<dyn Codec>,
    plugin_id: Arc<str>,
    /// Scratch for one record: librdkafka copies them, so they are reused for every event.
    payload: Vec<u8>,
    topic_buf: String,
    key_buf: String,
    header_values: Vec<String>,
}

#[async_trait::async_trait]
impl Output for Kafka {
    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        if batch.is_empty() {
            return Ok(());
        }
        let pending = Arc::new(Pending {
            batch: batch.clone(),
            failed: AtomicBool::new(false),
        });
        for event in batch.events() {
            self.payload.clear();
            self.codec.encode(event, &mut self.payload);
            self.topic_buf.clear();
            self.topic.render_into(event, &mut self.topic_buf);
            if let Some(key) = &self.key {
                self.key_buf.clear();
                key.render_into(event, &mut self.key_buf);
            }
            for ((_, template), value) in self.headers.iter().zip(&mut self.header_values) {
                value.clear();
                template.render_into(event, value);
            }
            self.produce(&pending).await;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), OutputError> {
        // A flush without waiting sends lingering records now; then wait without blocking the
        // runtime until every delivery report has been handled.
        let _ = self.producer.flush(Duration::ZERO);
        let mut report_at = Instant::now() + CLOSE_REPORT_EVERY;
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= report_at {
                tracing::warn!(
                    output = &*self.plugin_id,
                    records = self.producer.in_flight_count(),
                    "waiting for Kafka to acknowledge records"
                );
                report_at += CLOSE_REPORT_EVERY;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

impl Kafka {
    /// Hands the record in the scratch buffers to librdkafka, waiting while its queue is full.
    async fn produce(&self, pending: &Arc<Pending>) {
        if self.topic_buf.contains('\0') {
            // librdkafka takes topic names as C strings.
            pending.fail(&self.plugin_id, "the topic name holds a NUL character", "");
            return;
        }
        let mut record = BaseRecord::with_opaque_to(&self.topic_buf, pending.clone())
            .payload(self.payload.as_slice());
        if self.key.is_some() {
            record = record.key(self.key_buf.as_str());
        }
        if !self.headers.is_empty() {
            record = record.headers(self.record_headers());
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(QUEUE_FULL_WAIT).await;
                }
                Err((error, back)) => {
                    back.delivery_opaque
                        .fail(&self.plugin_id, &error.to_string(), back.topic);
                    return;
                }
            }
        }
    }
}

impl Kafka {
    /// The rendered `message_headers` (librdkafka needs a header list of its own per record).
    fn record_headers(&self) -> OwnedHeaders {
        let names = self.headers.iter().map(|(name, _)| name);
        names.zip(&self.header_values).fold(
            OwnedHeaders::new_with_capacity(self.headers.len()),
            |headers, (name, value)| {
                headers.insert(Header {
                    key: name,
                    value: Some(value.as_str()),
                })
            },
        )
    }
}

/// One batch awaiting Kafka's acknowledgement of its records; each record holds an `Arc` of
/// it, so the batch is released (acknowledged) with the last record's delivery report.
pub struct Pending {
    batch: OutputBatch,
    failed: AtomicBool,
}

impl Pending {
    /// Marks the batch failed, logging the first failure only (a batch may hold thousands).
    fn fail(&self, plugin_id: &str, error: &str, topic: &str) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            tracing::error!(
                output = plugin_id,
                topic,
                error,
                "kafka: a record could not be delivered; its batch is marked failed"
            );
        }
        self.batch.mark_failed();
    }
}

/// The producer's context: receives delivery reports (on the producer's polling thread) and
/// forwards librdkafka's log lines to `tracing`.
pub struct Deliveries {
    plugin_id: Arc<str>,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let output = &*self.plugin_id;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(output, fac, "{log_message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(output, fac, "{log_message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(output, fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(output, fac, "{log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Client-level errors (a broker unreachable, ...) are retried by librdkafka.
        tracing::warn!(output = &*self.plugin_id, %error, "kafka: {reason}");
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Arc<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Arc<Pending>) {
        if let Err((error, message)) = result {
            pending.fail(&self.plugin_id, &error.to_string(), message.topic());
        }
        // Dropping `pending` here releases the batch once its last record is reported.
    }
}
