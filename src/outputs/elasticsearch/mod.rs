//! The `elasticsearch` output: bulk indexing that loses nothing.
//!
//! Options are logstash-output-elasticsearch's, so existing pipelines keep working. Every event
//! ends up indexed exactly once (or dead-lettered with the reason), whatever Elasticsearch
//! answers; see [`deliver`] for how each answer is handled.
//!
//! Layout:
//! - [`bulk`]: events serialised straight into the NDJSON body ([`bulk::BulkBuilder`]);
//! - [`client`]: the hosts, health and the product check at startup;
//! - [`response`]: what each item's status means;
//! - [`deliver`]: one request's life, with retries, backoff and the dead letter queue.
//!
//! How batches become requests: [`Elasticsearch::write`] hands each batch to a dispatcher
//! task and returns at once unless the dispatcher is behind (a short queue gives
//! backpressure). The dispatcher waits for a free request slot (`max_in_flight_requests`),
//! then serialises every batch waiting into one request, up to `flush_size` events and
//! `bulk_max_bytes` bytes (20 MiB, as Logstash): under light load each batch goes out at once
//! (the pipeline's batch delay already bounds how long an event waits), under heavy load
//! requests grow. Each request is delivered by a task of its own; it holds its batches until
//! every item is done, and letting go of them acknowledges them to the inputs.
//!
//! Order: up to `max_in_flight_requests` requests run at once, but two never hold events of
//! the same ordered input partition (a batch whose [`crate::event::AckToken`] names one, as
//! the Kafka input's do): the second waits until the first is done, retries included, so each
//! partition reaches Elasticsearch in input order. Batches of inputs without partitions are not
//! held back. Within one request, items that must be retried are sent again after the others
//! were indexed, as Logstash does.
//!
//! Deliberate differences from Logstash: the built-in template `manage_template` installs is
//! the same compact one in every ECS mode (Logstash's ECS template maps every ECS field);
//! `retry_*_interval` accept fractions of a second.

pub mod bulk;
pub mod client;
pub mod deliver;
pub mod response;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use elasticsearch::cert::Certificate;
use elasticsearch::http::{Method, Url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::codecs::Codec;
use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;

use super::{Output, OutputBatch, OutputError};
use bulk::{Actions, Added, BulkBuilder, Op};
use client::{ClientSettings, Hosts, SendError};
use deliver::{Shared, Stats};

/// Logstash's bulk size limit.
const DEFAULT_BULK_MAX_BYTES: usize = 20 * 1024 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_hosts")]
    hosts: OneOrMany<String>,
    index: Option<String>,
    document_id: Option<String>,
    action: Option<String>,
    routing: Option<String>,
    pipeline: Option<String>,
    #[serde(default)]
    doc_as_upsert: bool,
    #[serde(default = "default_retry_on_conflict")]
    retry_on_conflict: u32,
    data_stream: Option<DataStreamMode>,
    #[serde(default = "default_ds_type")]
    data_stream_type: String,
    #[serde(default = "default_ds_dataset")]
    data_stream_dataset: String,
    #[serde(default = "default_ds_namespace")]
    data_stream_namespace: String,
    #[serde(default = "default_true")]
    data_stream_auto_routing: bool,
    #[serde(default = "default_true")]
    data_stream_sync_fields: bool,
    user: Option<String>,
    password: Option<String>,
    api_key: Option<String>,
    ssl_enabled: Option<bool>,
    #[serde(default)]
    ssl_certificate_authorities: OneOrMany<String>,
    #[serde(default)]
    ssl_verification_mode: VerificationMode,
    /// Default index name and template: `ecs-logstash` or `logstash`.
    ecs_compatibility: Option<EcsCompatibility>,
    #[serde(default)]
    http_compression: bool,
    /// gzip level 0-9 (0: none); without it, `http_compression => true` means 1.
    compression_level: Option<u32>,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default = "default_retry_initial")]
    retry_initial_interval: f64,
    #[serde(default = "default_retry_max")]
    retry_max_interval: f64,
    #[serde(default = "default_true")]
    manage_template: bool,
    template: Option<String>,
    template_name: Option<String>,
    #[serde(default)]
    template_overwrite: bool,
    #[serde(default)]
    dlq_custom_codes: Vec<u16>,
    #[serde(default = "default_flush_size")]
    flush_size: usize,
    #[serde(default = "default_bulk_max_bytes")]
    bulk_max_bytes: usize,
    #[serde(default = "default_in_flight")]
    max_in_flight_requests: usize,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum DataStreamMode {
    True,
    False,
    Auto,
}

#[derive(serde::Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum VerificationMode {
    #[default]
    Full,
    None,
}

fn default_hosts() -> Vec<String> {
    vec!["127.0.0.1:9200".into()]
}
fn default_retry_on_conflict() -> u32 {
    1
}
fn default_ds_type() -> String {
    "logs".into()
}
fn default_ds_dataset() -> String {
    "generic".into()
}
fn default_ds_namespace() -> String {
    "default".into()
}
fn default_true() -> bool {
    true
}
fn default_timeout() -> f64 {
    60.0
}
fn default_retry_initial() -> f64 {
    2.0
}
fn default_retry_max() -> f64 {
    64.0
}
fn default_flush_size() -> usize {
    10_000
}
fn default_bulk_max_bytes() -> usize {
    DEFAULT_BULK_MAX_BYTES
}
fn default_in_flight() -> usize {
    2
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    // Events go out as JSON documents; the codec plays no part (as in Logstash).
    drop(codec);
    let options: Options = args.options()?;
    let data_stream = options.data_stream == Some(DataStreamMode::True);
    let actions = actions(args, &options, data_stream)?;
    let hosts = host_urls(args, &options)?;
    let settings = client_settings(args, &options)?;
    let hosts = Hosts::new(&hosts, &settings).map_err(|e| args.error("hosts", e))?;
    let template = template(args, &options, data_stream)?;
    for (name, value) in [
        ("timeout", options.timeout),
        ("retry_initial_interval", options.retry_initial_interval),
        ("retry_max_interval", options.retry_max_interval),
    ] {
        if !(value > 0.0 && value.is_finite()) {
            return Err(args.error(name, format!("elasticsearch: {name} must be positive")));
        }
    }
    let shared = Shared {
        hosts,
        retry_initial: Duration::from_secs_f64(options.retry_initial_interval),
        retry_max: Duration::from_secs_f64(options.retry_max_interval),
        dead_letter_codes: options.dlq_custom_codes.clone(),
        dead_letter_queue: args.dead_letter_queue(),
        plugin_id: args.plugin_id().to_string(),
        compression_level: compression_level(args, &options)?,
        stats: Stats::default(),
    };
    Ok(Box::new(Elasticsearch::new(
        Arc::new(shared),
        Arc::new(actions),
        options.flush_size,
        options.bulk_max_bytes,
        options.max_in_flight_requests.max(1),
        template,
    )))
}

fn actions(args: &PluginArgs, o: &Options, data_stream: bool) -> Result<Actions, Diagnostics> {
    let template = |name: &str, source: &str| {
        Template::parse(source).map_err(|e| args.error(name, format!("elasticsearch: {name}: {e}")))
    };
    let optional = |name: &str, source: &Option<String>| {
        source.as_deref().map(|s| template(name, s)).transpose()
    };
    let action_source = o
        .action
        .as_deref()
        .unwrap_or(if data_stream { "create" } else { "index" });
    let action = template("action", action_source)?;
    if let Some(constant) = action.constant() {
        match Op::parse(constant) {
            None => {
                return Err(args.error(
                    "action",
                    format!(
                    "elasticsearch: action \"{constant}\" is not index, create, update or delete"
                ),
                ))
            }
            Some(op) if data_stream && op != Op::Create => {
                return Err(args.error(
                    "action",
                    "elasticsearch: data streams accept only the create action",
                ))
            }
            Some(_) => {}
        }
    }
    let index_source = match (&o.index, data_stream) {
        (Some(_), true) => {
            return Err(args.error(
                "index",
                "elasticsearch: index cannot be set with data_stream => true (the data stream name comes from data_stream_type, _dataset and _namespace)",
            ))
        }
        (Some(index), false) => index.clone(),
        (None, true) => data_stream_name(o),
        (None, false) if uses_ecs(args, o) => "ecs-logstash-%{+yyyy.MM.dd}".into(),
        (None, false) => "logstash-%{+yyyy.MM.dd}".into(),
    };
    Ok(Actions {
        action,
        index: template("index", &index_source)?,
        document_id: optional("document_id", &o.document_id)?,
        routing: optional("routing", &o.routing)?,
        pipeline: optional("pipeline", &o.pipeline)?,
        doc_as_upsert: o.doc_as_upsert,
        retry_on_conflict: Some(o.retry_on_conflict),
        data_stream: data_stream.then(|| bulk::DataStream {
            kind: o.data_stream_type.clone(),
            dataset: o.data_stream_dataset.clone(),
            namespace: o.data_stream_namespace.clone(),
            auto_routing: o.data_stream_auto_routing,
            sync_fields: o.data_stream_sync_fields,
        }),
    })
}

fn compression_level(args: &PluginArgs, o: &Options) -> Result<u32, Diagnostics> {
    match o.compression_level {
        Some(level) if level > 9 => Err(args.error(
            "compression_level",
            format!("elasticsearch: compression_level {level} is not between 0 and 9"),
        )),
        Some(level) => Ok(level),
        None => Ok(u32::from(o.http_compression)),
    }
}

/// `type-dataset-namespace` from the options (auto routing may replace parts per event).
fn data_stream_name(o: &Options) -> String {
    format!(
        "{}-{}-{}",
        o.data_stream_type, o.data_stream_dataset, o.data_stream_namespace
    )
}

fn host_urls(args: &PluginArgs, o: &Options) -> Result<Vec<Url>, Diagnostics> {
    let https = o.ssl_enabled == Some(true);
    o.hosts
        .iter()
        .map(|host| parse_host(host, https).map_err(|e| args.error("hosts", e)))
        .collect()
}

/// `host`, `host:port`, `//host`, `http://host:port/path` as Logstash reads them: port 9200
/// when none is given; https when `ssl_enabled` or the URL says so.
pub fn parse_host(host: &str, https: bool) -> Result<Url, String> {
    let trimmed = host.trim_start_matches("//");
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("{}://{trimmed}", if https { "https" } else { "http" })
    };
    let mut url = Url::parse(&with_scheme)
        .map_err(|e| format!("elasticsearch: invalid host \"{host}\": {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "elasticsearch: host \"{host}\" must be http or https"
        ));
    }
    if url.port().is_none() && !trimmed.contains("://") {
        let _ = url.set_port(Some(9200));
    }
    Ok(url)
}

fn client_settings(args: &PluginArgs, o: &Options) -> Result<ClientSettings, Diagnostics> {
    if o.api_key.is_some() && o.user.is_some() {
        return Err(args.error(
            "api_key",
            "elasticsearch: use either user/password or api_key, not both",
        ));
    }
    let mut bundle = Vec::new();
    for path in o.ssl_certificate_authorities.iter() {
        let pem = std::fs::read(path).map_err(|e| {
            args.error(
                "ssl_certificate_authorities",
                format!("elasticsearch: cannot read {path}: {e}"),
            )
        })?;
        Certificate::from_pem(&pem).map_err(|e| {
            args.error(
                "ssl_certificate_authorities",
                format!("elasticsearch: {path}: {}", client::error_chain(&e)),
            )
        })?;
        bundle.extend_from_slice(&pem);
        bundle.push(b'\n');
    }
    let certificate_authorities = (!bundle.is_empty()).then_some(bundle);
    Ok(ClientSettings {
        user: o.user.clone(),
        password: o.password.clone(),
        api_key: o.api_key.clone(),
        certificate_authorities,
        verify_certificates: o.ssl_verification_mode == VerificationMode::Full,
        timeout: Duration::from_secs_f64(o.timeout.max(0.001)),
    })
}

/// The index template to install at startup: (name, body, overwrite).
struct IndexTemplate {
    name: String,
    body: bytes::Bytes,
    overwrite: bool,
}

/// The output's own `ecs_compatibility`, else the pipeline's.
fn uses_ecs(args: &PluginArgs, o: &Options) -> bool {
    o.ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility())
        .is_ecs()
}

/// The template `manage_template` installs: the file `template` names, or the built-in one
/// for Logstash's default index names. Data streams need none (Elasticsearch ships templates
/// for `logs-*-*`).
fn template(
    args: &PluginArgs,
    o: &Options,
    data_stream: bool,
) -> Result<Option<IndexTemplate>, Diagnostics> {
    if !o.manage_template || (data_stream && o.template.is_none()) {
        return Ok(None);
    }
    let default_name = if uses_ecs(args, o) {
        "ecs-logstash"
    } else {
        "logstash"
    };
    let body = match &o.template {
        Some(path) => read_template(args, path)?,
        None => bytes::Bytes::from(default_template(default_name).to_string()),
    };
    Ok(Some(IndexTemplate {
        name: o
            .template_name
            .clone()
            .unwrap_or_else(|| default_name.into()),
        body,
        overwrite: o.template_overwrite,
    }))
}

fn read_template(args: &PluginArgs, path: &str) -> Result<bytes::Bytes, Diagnostics> {
    let text = std::fs::read(path).map_err(|e| {
        args.error(
            "template",
            format!("elasticsearch: cannot read {path}: {e}"),
        )
    })?;
    serde_json::from_slice::<serde_json::Value>(&text).map_err(|e| {
        args.error(
            "template",
            format!("elasticsearch: {path} is not JSON: {e}"),
        )
    })?;
    Ok(bytes::Bytes::from(text))
}

/// A composable template for `NAME-*` indices shaped like Logstash's legacy one: strings
/// indexed as text with a `.keyword` sub-field, `message` as text only, `@timestamp` a date,
/// `@version` a keyword, geoip coordinates a geo_point. (Logstash's ECS template maps every ECS
/// field; this one leaves ECS fields to dynamic mapping.)
fn default_template(name: &str) -> serde_json::Value {
    serde_json::json!({
        "index_patterns": [format!("{name}-*")],
        "priority": 200,
        "template": {
            "settings": {"index.refresh_interval": "5s", "number_of_shards": 1},
            "mappings": {
                "dynamic_templates": [
                    {"message_field": {
                        "path_match": "message",
                        "match_mapping_type": "string",
                        "mapping": {"type": "text", "norms": false}
                    }},
                    {"string_fields": {
                        "match": "*",
                        "match_mapping_type": "string",
                        "mapping": {
                            "type": "text",
                            "norms": false,
                            "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}
                        }
                    }}
                ],
                "properties": {
                    "@timestamp": {"type": "date"},
                    "@version": {"type": "keyword"},
                    "geoip": {"dynamic": true, "properties": {
                        "ip": {"type": "ip"},
                        "location": {"type": "geo_point"},
                        "latitude": {"type": "half_float"},
                        "longitude": {"type": "half_float"}
                    }}
                }
            }
        }
    })
}

/// The `elasticsearch` output.
pub struct Elasticsearch {
    shared: Arc<Shared>,
    actions: Arc<Actions>,
    limits: (usize, usize),
    in_flight: usize,
    template: Option<IndexTemplate>,
    batches: Option<async_channel::Sender<OutputBatch>>,
    dispatcher: Option<tokio::task::JoinHandle<()>>,
}

impl Elasticsearch {
    fn new(
        shared: Arc<Shared>,
        actions: Arc<Actions>,
        max_items: usize,
        max_bytes: usize,
        in_flight: usize,
        template: Option<IndexTemplate>,
    ) -> Elasticsearch {
        Elasticsearch {
            shared,
            actions,
            limits: (max_items, max_bytes),
            in_flight,
            template,
            batches: None,
            dispatcher: None,
        }
    }

    /// The output's counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    fn sender(&mut self) -> &async_channel::Sender<OutputBatch> {
        self.batches.get_or_insert_with(|| {
            let (tx, rx) = async_channel::bounded(self.in_flight * 2);
            let dispatcher = Dispatcher {
                shared: self.shared.clone(),
                actions: self.actions.clone(),
                limits: self.limits,
                slots: Arc::new(Semaphore::new(self.in_flight)),
                batches: rx,
                last_size: Default::default(),
            };
            self.dispatcher = Some(tokio::spawn(dispatcher.run()));
            tx
        })
    }

    async fn install_template(&self) -> Result<(), OutputError> {
        let Some(template) = &self.template else {
            return Ok(());
        };
        let path = format!("/_index_template/{}", template.name);
        let host = self
            .shared
            .hosts
            .pick()
            .ok_or_else(|| OutputError::Other(SendError::NoUsableHost.to_string()))?;
        let exists = host
            .send(Method::Head, &path, &[], None)
            .await
            .map_err(|e| OutputError::Other(e.to_string()))?;
        if exists.status == 200 && !template.overwrite {
            return Ok(());
        }
        let put = host
            .send(Method::Put, &path, &[], Some(template.body.clone()))
            .await
            .map_err(|e| OutputError::Other(e.to_string()))?;
        if !(200..300).contains(&put.status) {
            return Err(OutputError::Other(format!(
                "installing index template {}: {} {}",
                template.name,
                put.status,
                String::from_utf8_lossy(&put.body)
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Output for Elasticsearch {
    /// Checks every host (`GET /`). Refuses to start when no host is Elasticsearch but some
    /// answered as something else; starts (and keeps retrying) when hosts are only unreachable,
    /// as Logstash does.
    async fn start(&mut self) -> Result<(), OutputError> {
        let results = self.shared.hosts.check_all().await;
        let mut refusals = Vec::new();
        let mut reachable = false;
        for (url, result) in &results {
            match result {
                Ok(version) => {
                    reachable = true;
                    tracing::info!(
                        output = self.shared.plugin_id,
                        host = url,
                        version = version.number,
                        "connected to Elasticsearch"
                    );
                }
                Err(e @ SendError::NotElasticsearch { .. }) => refusals.push(e.to_string()),
                Err(e) => {
                    tracing::warn!(output = self.shared.plugin_id, error = %e, "Elasticsearch host not usable yet; will retry")
                }
            }
        }
        if !reachable && !refusals.is_empty() {
            return Err(OutputError::Other(format!(
                "refusing to start: {}",
                refusals.join("; ")
            )));
        }
        if reachable {
            self.install_template().await?;
        }
        Ok(())
    }

    async fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.sender()
            .send(batch.clone())
            .await
            .map_err(|_| OutputError::Other("the elasticsearch dispatcher is gone".into()))
    }

    /// Returns once every event handed over is indexed or dead-lettered.
    async fn close(&mut self) -> Result<(), OutputError> {
        self.batches = None;
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.await.map_err(|e| {
                OutputError::Other(format!("the elasticsearch dispatcher failed: {e}"))
            })?;
        }
        Ok(())
    }
}

/// Turns waiting batches into requests whenever a request slot is free.
struct Dispatcher {
    shared: Arc<Shared>,
    actions: Arc<Actions>,
    limits: (usize, usize),
    slots: Arc<Semaphore>,
    batches: async_channel::Receiver<OutputBatch>,
    /// Body bytes and items of the last request: the next one starts with room for about as
    /// much, so the body is not grown (copied, its fresh pages zeroed) again and again.
    last_size: std::cell::Cell<(usize, usize)>,
}

impl Dispatcher {
    async fn run(self) {
        let mut requests = InFlight::default();
        let mut carry: Option<(OutputBatch, usize)> = None;
        loop {
            let first = match carry.take() {
                Some(rest) => rest,
                None => match self.batches.recv().await {
                    Ok(batch) => (batch, 0),
                    Err(_) => break,
                },
            };
            let Ok(slot) = self.slots.clone().acquire_owned().await else {
                break;
            };
            let (request, rest) = self.fill(first);
            carry = rest;
            let partitions = request_partitions(&request);
            requests.wait_for_partitions(&partitions).await;
            let shared = self.shared.clone();
            requests.spawn(partitions, async move {
                deliver::deliver(&shared, request).await;
                drop(slot);
            });
        }
        requests.wait_all().await;
    }

    /// One request from `first` and whatever else is waiting, up to the limits; returns what
    /// did not fit.
    fn fill(
        &self,
        first: (OutputBatch, usize),
    ) -> (bulk::BulkRequest, Option<(OutputBatch, usize)>) {
        let (bytes, items) = self.last_size.get();
        let mut builder = BulkBuilder::new(&self.actions, self.limits.0, self.limits.1)
            .with_room(bytes + bytes / 8, items + items / 8);
        let mut next = Some(first);
        let mut rest = None;
        while let Some((batch, from)) = next.take() {
            if let Added::Full { next: at } = builder.add(&batch, from) {
                rest = Some((batch, at));
                break;
            }
            if builder.is_full() {
                break;
            }
            next = self.batches.try_recv().ok().map(|b| (b, 0));
        }
        let request = builder.finish();
        self.last_size
            .set((request.body.len(), request.items.len()));
        (request, rest)
    }
}

/// The ordered input partitions a request holds, sorted, without repeats.
fn request_partitions(request: &bulk::BulkRequest) -> Vec<u64> {
    let mut keys: Vec<u64> = request
        .batches
        .iter()
        .flat_map(OutputBatch::partitions)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The requests being delivered, with the ordered partitions each holds: a request holding a
/// partition must be done (retries included) before the next one holding it is sent, so a
/// partition's events reach Elasticsearch in input order while other requests run alongside.
#[derive(Default)]
struct InFlight {
    tasks: JoinSet<Vec<u64>>,
    /// Partition -> requests in flight holding it (0 or 1 while order is kept).
    busy: std::collections::HashMap<u64, usize>,
}

impl InFlight {
    fn spawn(&mut self, partitions: Vec<u64>, delivery: impl Future<Output = ()> + Send + 'static) {
        for &key in &partitions {
            *self.busy.entry(key).or_default() += 1;
        }
        self.tasks.spawn(async move {
            delivery.await;
            partitions
        });
        while let Some(done) = self.tasks.try_join_next() {
            self.release(done);
        }
    }

    /// Returns once no request in flight holds any of `partitions`.
    async fn wait_for_partitions(&mut self, partitions: &[u64]) {
        while partitions.iter().any(|key| self.busy.contains_key(key)) {
            match self.tasks.join_next().await {
                Some(done) => self.release(done),
                None => break,
            }
        }
    }

    async fn wait_all(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            self.release(done);
        }
    }

    /// Forgets a finished request's partitions. A delivery that panicked holds none any more
    /// either, but its partitions cannot be named: clear every count so nothing waits forever.
    fn release(&mut self, done: Result<Vec<u64>, tokio::task::JoinError>) {
        let Ok(partitions) = done else {
            self.busy.clear();
            return;
        };
        for key in partitions {
            if let std::collections::hash_map::Entry::Occupied(mut held) = self.busy.entry(key) {
                *held.get_mut() -= 1;
                if *held.get() == 0 {
                    held.remove();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_as_logstash_reads_them() {
        let url = |h: &str| parse_host(h, false).unwrap().to_string();
        assert_eq!(url("localhost"), "http://localhost:9200/");
        assert_eq!(url("10.0.0.1:9201"), "http://10.0.0.1:9201/");
        assert_eq!(url("//es"), "http://es:9200/");
        assert_eq!(url("https://es.example.com"), "https://es.example.com/");
        assert_eq!(url("http://es:9200/prefix"), "http://es:9200/prefix");
        assert_eq!(parse_host("es", true).unwrap().scheme(), "https");
        assert!(parse_host("ftp://es", false).is_err());
    }
}
