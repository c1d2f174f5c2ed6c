//! `sluice sandbox`: debugging filters locally.
//!
//! - `sluice sandbox [-f FILTERS_PATH] [--port 9700] [--follow SOURCE]` serves the sandbox page
//!   ([`crate::sandbox`]) on 127.0.0.1, prints its address and serves until SIGINT or SIGTERM.
//!   It opens nothing by itself.
//! - `sluice sandbox kafka` runs a mock Kafka cluster ([`crate::standin::kafka::MockKafka`]):
//!   it creates its topics, loads `--load` files into the first one, prints
//!   `bootstrap_servers=...` as its first stdout line (for scripts and tests), then a summary and
//!   a `kafka { ... }` input to paste into a pipeline config, and serves until SIGINT or SIGTERM.
//!   The cluster lives in this process's memory: stopping it loses every message.
//!
//! Main items: [`SandboxArgs`] / [`SandboxCommand`], [`PageArgs`] (the page's flags),
//! [`KafkaSandboxArgs`] (the kafka sandbox's flags), [`run`].

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::config::options::EcsCompatibility;
use crate::sandbox::server::{self, Sandbox};
use crate::sandbox::session::{self, SessionSettings};
use crate::sandbox::tap::Tap;
use crate::sandbox::workspace::Workspace;
use crate::settings::Settings;
use crate::standin::kafka::{check_topic_name, Format, MockKafka, DEFAULT_BROKERS, MAX_BROKERS};

use super::args::CommonArgs;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = PAGE_HELP)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub source: Option<SandboxCommand>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Runs librdkafka's mock Kafka cluster until SIGINT/SIGTERM, printing its bootstrap address.
    Kafka(KafkaSandboxArgs),
}

const PAGE_HELP: &str = "\
Serves a page to debug filters on sample lines: paste lines (or load a file or a test case),
edit the config, and see every event as Elasticsearch would index it, with the trace of what
each conditional and filter did, a grok debugger, and the config's errors in place. The files
given with -f are re-read when they change; the page writes them back only when asked (Save).

--follow runs a live source through the same filters and shows its last events (--last), like
`vector tap`: an input plugin (`syslog { port => 5514 }`) or file:PATH, syslog:PORT,
kafka:SERVERS/TOPIC (e.g. the address `sluice sandbox kafka` prints).

Example: sluice sandbox -f sandbox/filters --follow file:sandbox/samples/syslog.log";

/// `sluice sandbox` (the page).
#[derive(Debug, Args)]
pub struct PageArgs {
    /// The filter config: a file, or a folder whose `*.conf` files are read in lexical order
    /// (its test case files are offered as samples). Repeatable. Without it, an example.
    #[arg(short = 'f', long = "path.config", value_name = "FILTERS_PATH")]
    pub paths: Vec<PathBuf>,
    /// The port to serve on (0: any free port).
    #[arg(long, default_value_t = 9700)]
    pub port: u16,
    /// The address to serve on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// A live source to follow through the filters.
    #[arg(long, value_name = "SOURCE")]
    pub follow: Option<String>,
    /// How many of the live source's events to keep.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub last: usize,
    /// Never write the config files, even when asked.
    #[arg(long)]
    pub read_only: bool,
    /// Field names and grok patterns plugins use unless they set their own: disabled, v1 or v8
    /// [default: v8].
    #[arg(long = "pipeline.ecs_compatibility", value_name = "MODE", value_parser = super::args::parse_ecs)]
    pub ecs_compatibility: Option<EcsCompatibility>,
    #[command(flatten)]
    pub common: CommonArgs,
}

const KAFKA_HELP: &str = "\
The first line on stdout is `bootstrap_servers=HOST:PORT,...`; then come the topics, the
messages loaded, and a kafka input to paste into a pipeline config. Logs go to stderr.

--format json: one object per line: \"value\" (string, required), \"key\", \"partition\",
\"timestamp\" (ms), \"headers\" (object of strings), \"topic\" (instead of the first topic; a
new one gets the first topic's partition count).
--format flume: each line becomes the body of an Avro AvroFlumeEvent as Flume's Kafka sink
writes it (useFlumeEventFormat), with the --header headers and a `timestamp` header (ms);
read it with `codec => flume {}`.

Example: sluice sandbox kafka --topic logs:4 --load sample.log";

/// `sluice sandbox kafka`.
#[derive(Debug, Args)]
#[command(after_help = KAFKA_HELP)]
pub struct KafkaSandboxArgs {
    /// Brokers in the cluster.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_BROKERS,
        value_parser = clap::value_parser!(i32).range(1..=i64::from(MAX_BROKERS))
    )]
    pub brokers: i32,
    /// A topic to create, with its partition count (4 when not given). Repeatable; --load
    /// files go to the first [default: logs:4].
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]", value_parser = parse_topic)]
    pub topics: Vec<TopicSpec>,
    /// A file of messages to load into the first topic before serving. Repeatable.
    #[arg(long = "load", value_name = "FILE")]
    pub load: Vec<PathBuf>,
    /// How --load files become messages: a message per line, a JSON object per line, or a
    /// Flume event per line.
    #[arg(long, value_enum, default_value_t = FileFormat::Lines)]
    pub format: FileFormat,
    /// A header of every Flume event (with --format flume). Repeatable.
    #[arg(long = "header", value_name = "K=V", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Lines,
    Json,
    Flume,
}

/// A `--topic NAME[:PARTITIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

/// The topic when no `--topic` is given.
const DEFAULT_TOPIC: &str = "logs";
/// Partitions of a `--topic` that names none, and of the default topic.
const DEFAULT_PARTITIONS: i32 = 4;

fn parse_topic(text: &str) -> Result<TopicSpec, String> {
    let (name, partitions) = match text.rsplit_once(':') {
        Some((name, count)) => {
            let partitions = count
                .parse::<i32>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| {
                    format!("partition count must be a positive number, not {count:?}")
                })?;
            (name, partitions)
        }
        None => (text, DEFAULT_PARTITIONS),
    };
    check_topic_name(name).map_err(|e| e.to_string())?;
    Ok(TopicSpec {
        name: name.to_string(),
        partitions,
    })
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// The `--header` flags need `--format flume`.
#[derive(Debug, thiserror::Error)]
#[error("--header is only for --format flume")]
struct HeaderWithoutFlume;

/// Two `--topic` flags name the same topic.
#[derive(Debug, thiserror::Error)]
#[error("topic {0} is given twice")]
struct DuplicateTopic(String);

impl KafkaSandboxArgs {
    /// The topics to create: the `--topic` flags, or `logs:4`.
    fn topics(&self) -> Result<Vec<TopicSpec>, DuplicateTopic> {
        for (i, topic) in self.topics.iter().enumerate() {
            if self.topics[..i].iter().any(|t| t.name == topic.name) {
                return Err(DuplicateTopic(topic.name.clone()));
            }
        }
        if self.topics.is_empty() {
            return Ok(vec![TopicSpec {
                name: DEFAULT_TOPIC.to_string(),
                partitions: DEFAULT_PARTITIONS,
            }]);
        }
        Ok(self.topics.clone())
    }

    fn file_format(&self) -> Result<Format, HeaderWithoutFlume> {
        match self.format {
            FileFormat::Flume => Ok(Format::Flume {
                headers: self.headers.clone(),
            }),
            _ if !self.headers.is_empty() => Err(HeaderWithoutFlume),
            FileFormat::Lines => Ok(Format::Lines),
            FileFormat::Json => Ok(Format::Json),
        }
    }
}

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    match args.source {
        Some(SandboxCommand::Kafka(args)) => run_kafka(&args),
        None => run_page(args.page),
    }
}

/// Serves the page until SIGINT or SIGTERM.
fn run_page(args: PageArgs) -> anyhow::Result<()> {
    let mut flags = Settings::default();
    args.common.apply(&mut flags);
    flags.pipeline.ecs_compatibility = args.ecs_compatibility;
    let settings = super::layered(args.common.settings.as_deref(), flags)?;
    super::init_logging(settings.log_level());
    let session = SessionSettings {
        parse: settings.parse_options(),
        build: settings.build_settings(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let _entered = runtime.enter();
    let workspace = Workspace::open(args.paths.clone(), args.read_only);
    let tap = match &args.follow {
        Some(source) => Some(start_tap(source, &workspace, &session, args.last)?),
        None => None,
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind((
            args.host.as_str(),
            args.port,
        )))
        .with_context(|| format!("cannot serve on {}:{} (try --port)", args.host, args.port))?;
    let address = listener.local_addr()?;
    let stop = Stop::install().context("cannot install signal handlers")?;
    let sandbox = Arc::new(Sandbox {
        workspace,
        settings: session,
        tap,
    });
    let mut out = io::stdout().lock();
    writeln!(out, "sluice sandbox: serving http://{address}/")?;
    if let Some(tap) = &sandbox.tap {
        writeln!(
            out,
            "following {} (the last {} events)",
            tap.source(),
            args.last
        )?;
    }
    out.flush()?;
    drop(out);
    runtime
        .block_on(server::serve(listener, sandbox, stop.wait()))
        .context("the sandbox server failed")?;
    Ok(())
}

/// Starts following `source` through the workspace's filters (none when they do not build yet).
fn start_tap(
    source: &str,
    workspace: &Workspace,
    session: &SessionSettings,
    last: usize,
) -> anyhow::Result<Tap> {
    let filters = match session::load(&workspace.files(), session) {
        Ok(loaded) => loaded.graph,
        Err(problems) => {
            for problem in &problems {
                eprint!("{}", problem.rendered);
            }
            eprintln!(
                "sluice sandbox: the filters do not build; following without them until they do"
            );
            Default::default()
        }
    };
    Ok(Tap::start(source, filters, last.max(1))?)
}

/// Sets the cluster up, prints where it is, and serves until SIGINT or SIGTERM.
fn run_kafka(args: &KafkaSandboxArgs) -> anyhow::Result<()> {
    let format = args.file_format()?;
    let topics = args.topics()?;
    let kafka = MockKafka::with_brokers(args.brokers)?;
    for topic in &topics {
        kafka.create_topic(&topic.name, topic.partitions)?;
    }
    let mut loaded = Vec::with_capacity(args.load.len());
    for path in &args.load {
        loaded.push(kafka.load_file(path, &format, &topics[0].name)?);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")?;
    // Handlers are installed before the address is printed: a script that stops the sandbox
    // as soon as it read the address must get a clean exit.
    let stop = {
        let _runtime = runtime.enter();
        Stop::install().context("cannot install signal handlers")?
    };
    let summary = Summary {
        args,
        kafka: &kafka,
        topics: &topics,
        loaded: &loaded,
    };
    summary
        .print(&mut io::stdout().lock())
        .context("cannot write to stdout")?;
    runtime.block_on(stop.wait());
    Ok(())
}

/// SIGINT and SIGTERM, caught.
struct Stop {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    /// Needs a runtime context; the handlers are in place when this returns.
    fn install() -> io::Result<Stop> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Stop {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// What the sandbox prints once it is ready.
struct Summary<'a> {
    args: &'a KafkaSandboxArgs,
    kafka: &'a MockKafka,
    topics: &'a [TopicSpec],
    loaded: &'a [usize],
}

impl Summary<'_> {
    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let servers = self.kafka.bootstrap_servers();
        writeln!(out, "bootstrap_servers={servers}")?;
        writeln!(
            out,
            "Mock Kafka cluster of {} brokers; its messages live in memory until it stops.",
            self.args.brokers
        )?;
        let topics = self.all_topics();
        for (name, partitions) in &topics {
            writeln!(out, "topic {name}: {partitions} partitions")?;
        }
        for (path, count) in self.args.load.iter().zip(self.loaded) {
            let (path, first) = (path.display(), &self.topics[0].name);
            writeln!(out, "loaded {count} messages from {path} into {first}")?;
        }
        writeln!(out, "Input for a pipeline config:")?;
        writeln!(out, "  {}", self.snippet(&servers, &topics))?;
        writeln!(out, "Ctrl-C or SIGTERM stops it.")?;
        out.flush()
    }

    /// The `--topic` topics in order, then those JSON lines named, with partition counts.
    fn all_topics(&self) -> Vec<(String, i32)> {
        let mut topics: Vec<(String, i32)> = self
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions))
            .collect();
        for (name, partitions) in self.kafka.topics() {
            if !topics.iter().any(|(t, _)| *t == name) {
                topics.push((name, partitions));
            }
        }
        topics
    }

    /// A kafka input reading every topic from the start.
    fn snippet(&self, servers: &str, topics: &[(String, i32)]) -> String {
        let topics: Vec<String> = topics.iter().map(|(n, _)| format!("{n:?}")).collect();
        let codec = match self.args.format {
            FileFormat::Flume => " codec => flume {}",
            _ => "",
        };
        format!(
            "kafka {{ bootstrap_servers => \"{servers}\" topics => [{}] \
             auto_offset_reset => \"earliest\"{codec} }}",
            topics.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_flags_take_an_optional_partition_count() {
        let spec = |name: &str, partitions| TopicSpec {
            name: name.to_string(),
            partitions,
        };
        assert_eq!(parse_topic("t:2"), Ok(spec("t", 2)));
        assert_eq!(parse_topic("logs"), Ok(spec("logs", 4)));
        for bad in ["t:0", "t:-1", "t:x", ":3", "a b:2"] {
            assert!(parse_topic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_flags_are_key_equals_value() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_header("a="), Ok(("a".into(), String::new())));
        assert!(parse_header("=b").is_err());
        assert!(parse_header("ab").is_err());
    }
}
