//! The `kafka` output's options ([`Options`], logstash-output-kafka's names and defaults) and
//! their translation into librdkafka producer properties ([`Options::properties`]).

use crate::config::options::Pairs;

/// logstash-output-kafka's options, with Logstash's defaults, plus `enable_idempotence`,
/// `message_timeout_ms`, `sasl_username`/`sasl_password` and `kafka_properties` (librdkafka
/// properties passed through as given, applied last).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "default_bootstrap_servers")]
    pub bootstrap_servers: String,
    pub topic_id: String,
    pub message_key: Option<String>,
    /// Unset: "1" (Logstash's default), or "all" with `enable_idempotence`, which needs it.
    pub acks: Option<String>,
    #[serde(default = "default_compression")]
    pub compression_type: String,
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
    #[serde(default)]
    pub linger_ms: u64,
    /// Unset: librdkafka's default (retry practically forever), as Logstash's unset `retries`.
    pub retries: Option<u64>,
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    #[serde(default = "default_max_request_size")]
    pub max_request_size: u64,
    #[serde(default = "default_buffer_memory")]
    pub buffer_memory: u64,
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    #[serde(default = "default_metadata_max_age_ms")]
    pub metadata_max_age_ms: u64,
    #[serde(default = "default_reconnect_backoff_ms")]
    pub reconnect_backoff_ms: u64,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// `enable.idempotence`: exactly one copy per record and per-partition order kept across
    /// retries; needs `acks => "all"`.
    #[serde(default)]
    pub enable_idempotence: bool,
    /// How long librdkafka keeps trying to deliver a record before failing it; 0 (the
    /// default): forever, so a long Kafka outage holds events (and, through backpressure,
    /// the inputs) instead of dropping them.
    #[serde(default)]
    pub message_timeout_ms: u64,
    #[serde(default = "default_security_protocol")]
    pub security_protocol: String,
    pub sasl_mechanism: Option<String>,
    pub sasl_kerberos_service_name: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub ssl_truststore_location: Option<String>,
    pub ssl_keystore_location: Option<String>,
    pub ssl_keystore_password: Option<String>,
    pub ssl_key_password: Option<String>,
    pub ssl_endpoint_identification_algorithm: Option<String>,
    /// Socket buffer sizes and idle time, as Logstash's.
    #[serde(default = "default_send_buffer_bytes")]
    pub send_buffer_bytes: u64,
    #[serde(default = "default_receive_buffer_bytes")]
    pub receive_buffer_bytes: u64,
    #[serde(default = "default_connections_max_idle_ms")]
    pub connections_max_idle_ms: u64,
    /// `default` (the Java client's: murmur2 of the key, so keyed records land on the same
    /// partitions as from Logstash), `round_robin` or `uniform_sticky`.
    pub partitioner: Option<String>,
    /// Record headers: name => value, values sprintf templates.
    #[serde(default)]
    pub message_headers: Pairs<String>,
    #[serde(default)]
    pub kafka_properties: Pairs<String>,
}

fn default_send_buffer_bytes() -> u64 {
    131_072
}
fn default_receive_buffer_bytes() -> u64 {
    32_768
}
fn default_connections_max_idle_ms() -> u64 {
    540_000
}

fn default_bootstrap_servers() -> String {
    "localhost:9092".into()
}
fn default_compression() -> String {
    "none".into()
}
fn default_batch_size() -> u64 {
    16_384
}
fn default_retry_backoff_ms() -> u64 {
    100
}
fn default_max_request_size() -> u64 {
    1_048_576
}
fn default_buffer_memory() -> u64 {
    33_554_432
}
fn default_request_timeout_ms() -> u64 {
    40_000
}
fn default_metadata_max_age_ms() -> u64 {
    300_000
}
fn default_reconnect_backoff_ms() -> u64 {
    50
}
fn default_client_id() -> String {
    "logstash".into()
}
fn default_security_protocol() -> String {
    "PLAINTEXT".into()
}

/// One librdkafka property and the option it came from (where an error about it points).
pub struct Property {
    pub name: String,
    pub value: String,
    pub option: &'static str,
}

/// Why an option's value is refused: the option and the message.
pub type OptionProblem = (&'static str, String);

impl Options {
    /// `acks`, defaulted.
    pub fn acks(&self) -> &str {
        match (&self.acks, self.enable_idempotence) {
            (Some(acks), _) => acks,
            (None, true) => "all",
            (None, false) => "1",
        }
    }

    /// Checks the values librdkafka would accept but Logstash does not.
    pub fn check(&self) -> Result<(), OptionProblem> {
        let acks = self.acks();
        if !matches!(acks, "0" | "1" | "all" | "-1") {
            return Err((
                "acks",
                format!("kafka: acks \"{acks}\" is not \"0\", \"1\" or \"all\""),
            ));
        }
        if self.enable_idempotence && !matches!(acks, "all" | "-1") {
            return Err((
                "acks",
                "kafka: enable_idempotence => true needs acks => \"all\"".into(),
            ));
        }
        let compression = self.compression_type.as_str();
        if !matches!(compression, "none" | "gzip" | "snappy" | "lz4" | "zstd") {
            return Err((
                "compression_type",
                format!(
                    "kafka: compression_type \"{compression}\" is not none, gzip, snappy, lz4 or zstd"
                ),
            ));
        }
        let protocol = self.security_protocol.as_str();
        if !matches!(
            protocol,
            "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL"
        ) {
            return Err((
                "security_protocol",
                format!("kafka: security_protocol \"{protocol}\" is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
            ));
        }
        if let Some(partitioner) = &self.partitioner {
            if !matches!(
                partitioner.as_str(),
                "default" | "round_robin" | "uniform_sticky"
            ) {
                return Err((
                    "partitioner",
                    format!("kafka: partitioner \"{partitioner}\" is not default, round_robin or uniform_sticky"),
                ));
            }
        }
        if self.topic_id.is_empty() {
            return Err(("topic_id", "kafka: topic_id must not be empty".into()));
        }
        Ok(())
    }

    /// The producer's librdkafka properties, `kafka_properties` last.
    pub fn properties(&self) -> Vec<Property> {
        let mut out = Vec::with_capacity(32);
        let mut set = |name: &'static str, value: String, option: &'static str| {
            out.push(Property {
                name: name.to_string(),
                value,
                option,
            })
        };
        set(
            "bootstrap.servers",
            self.bootstrap_servers.clone(),
            "bootstrap_servers",
        );
        set("acks", self.acks().to_string(), "acks");
        set(
            "compression.codec",
            self.compression_type.clone(),
            "compression_type",
        );
        set("batch.size", self.batch_size.to_string(), "batch_size");
        set("linger.ms", self.linger_ms.to_string(), "linger_ms");
        if let Some(retries) = self.retries {
            set("message.send.max.retries", retries.to_string(), "retries");
        }
        set(
            "retry.backoff.ms",
            self.retry_backoff_ms.to_string(),
            "retry_backoff_ms",
        );
        set(
            "message.max.bytes",
            self.max_request_size.to_string(),
            "max_request_size",
        );
        let kbytes = (self.buffer_memory / 1024).max(1);
        set(
            "queue.buffering.max.kbytes",
            kbytes.to_string(),
            "buffer_memory",
        );
        set(
            "request.timeout.ms",
            self.request_timeout_ms.to_string(),
            "request_timeout_ms",
        );
        set(
            "metadata.max.age.ms",
            self.metadata_max_age_ms.to_string(),
            "metadata_max_age_ms",
        );
        set(
            "reconnect.backoff.ms",
            self.reconnect_backoff_ms.to_string(),
            "reconnect_backoff_ms",
        );
        set("client.id", self.client_id.clone(), "client_id");
        set(
            "enable.idempotence",
            self.enable_idempotence.to_string(),
            "enable_idempotence",
        );
        set(
            "message.timeout.ms",
            self.message_timeout_ms.to_string(),
            "message_timeout_ms",
        );
        set(
            "security.protocol",
            self.security_protocol.to_lowercase(),
            "security_protocol",
        );
        set(
            "socket.send.buffer.bytes",
            self.send_buffer_bytes.to_string(),
            "send_buffer_bytes",
        );
        set(
            "socket.receive.buffer.bytes",
            self.receive_buffer_bytes.to_string(),
            "receive_buffer_bytes",
        );
        set(
            "connections.max.idle.ms",
            self.connections_max_idle_ms.to_string(),
            "connections_max_idle_ms",
        );
        let (partitioner, sticky_ms) = match self.partitioner.as_deref() {
            // librdkafka has no round robin: records without a key go to a random partition.
            Some("round_robin") => ("random", "0"),
            // The Java client's default: sticky for records without a key.
            _ => ("murmur2_random", "10"),
        };
        set("partitioner", partitioner.into(), "partitioner");
        set(
            "sticky.partitioning.linger.ms",
            sticky_ms.into(),
            "partitioner",
        );
        self.security_properties(&mut set);
        for (name, value) in &self.kafka_properties.0 {
            out.push(Property {
                name: name.clone(),
                value: value.clone(),
                option: "kafka_properties",
            });
        }
        out
    }

    fn security_properties(&self, set: &mut impl FnMut(&'static str, String, &'static str)) {
        let optional = [
            ("sasl.mechanisms", &self.sasl_mechanism, "sasl_mechanism"),
            (
                "sasl.kerberos.service.name",
                &self.sasl_kerberos_service_name,
                "sasl_kerberos_service_name",
            ),
            ("sasl.username", &self.sasl_username, "sasl_username"),
            ("sasl.password", &self.sasl_password, "sasl_password"),
            (
                "ssl.ca.location",
                &self.ssl_truststore_location,
                "ssl_truststore_location",
            ),
            (
                "ssl.keystore.location",
                &self.ssl_keystore_location,
                "ssl_keystore_location",
            ),
            (
                "ssl.keystore.password",
                &self.ssl_keystore_password,
                "ssl_keystore_password",
            ),
            (
                "ssl.key.password",
                &self.ssl_key_password,
                "ssl_key_password",
            ),
            (
                "ssl.endpoint.identification.algorithm",
                &self.ssl_endpoint_identification_algorithm,
                "ssl_endpoint_identification_algorithm",
            ),
        ];
        for (name, value, option) in optional {
            if let Some(value) = value {
                set(name, value.clone(), option);
            }
        }
    }
}
