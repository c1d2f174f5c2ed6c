//! The command line's shape ([`Cli`], one struct per subcommand and per group of flags) and
//! its translation into a [`Settings`] layer that is laid over the settings file.
//!
//! Every flag is named after its Logstash setting (`--pipeline.workers`), with Logstash's short
//! forms (`-f`, `-e`, `-t`, `-w`, `-b`) where it has one.

use crate::config::options::EcsCompatibility;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::pipeline::Ordered;
use crate::settings::{DurationSetting, LogLevel, OneOrMany, Settings};

/// sluice: runs Logstash pipeline configs, fast.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a pipeline until its inputs end or SIGINT/SIGTERM stops it.
    Run(Box<RunArgs>),
    /// Parses and validates a pipeline without running it (same as `run -t`).
    Check(CheckArgs),
    /// Runs the bundled sample pipeline over bundled sample log lines.
    Demo(DemoArgs),
    /// Runs test case files (logstash-filter-verifier's format) against a config's filters.
    Test(TestArgs),
    /// A local page to debug filters on sample lines and live sources (`sluice sandbox kafka`: a
    /// mock Kafka cluster).
    Sandbox(super::sandbox::SandboxArgs),
    /// Kafka operations (`sluice kafka rewind`: move a consumer group's offsets to a time).
    Kafka(super::kafka::KafkaArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Validates the config and exits, like `sluice check`.
    #[arg(short = 't', long = "config.test_and_exit")]
    pub test_and_exit: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub operations: OperationsArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// How a long-running worker is operated: reloads, filter releases, the node API, shutdown.
#[derive(Debug, Args)]
pub struct OperationsArgs {
    /// Watches the config files and reloads the pipeline when they change (also on SIGHUP).
    #[arg(short = 'r', long = "config.reload.automatic")]
    pub reload_automatic: bool,
    /// How often the config files are looked at with -r [default: 3s].
    #[arg(long = "config.reload.interval", value_name = "DURATION")]
    pub reload_interval: Option<DurationSetting>,
    /// A git repository (any URL git understands) the pipeline's filters are released from.
    #[arg(long = "filters.repo", value_name = "URL")]
    pub filters_repo: Option<String>,
    /// The release to run: a tag glob (`release-*`: the highest version wins) or a tag/branch.
    #[arg(long = "filters.ref", value_name = "REF")]
    pub filters_ref: Option<String>,
    /// The folder inside the repository holding the filter `.conf` files [default: its root].
    #[arg(long = "filters.path", value_name = "PATH")]
    pub filters_path: Option<PathBuf>,
    /// How often the repository is fetched for a new release [default: 30s].
    #[arg(long = "filters.poll_interval", value_name = "DURATION")]
    pub filters_poll_interval: Option<DurationSetting>,
    /// Tags put on trial as canaries before promotion (a glob such as `canary-*`).
    #[arg(long = "filters.canary_ref", value_name = "GLOB")]
    pub canary_ref: Option<String>,
    /// The share of live events a canary runs on, in percent [default: 10].
    #[arg(long = "filters.canary_percent", value_name = "PERCENT")]
    pub canary_percent: Option<f64>,
    /// The share of compared events that may differ for a canary to be promoted, in percent
    /// [default: 1].
    #[arg(long = "filters.canary_budget", value_name = "PERCENT")]
    pub canary_budget: Option<f64>,
    /// How long a canary is compared before it is promoted or refused [default: 5m].
    #[arg(long = "filters.canary_duration", value_name = "DURATION")]
    pub canary_duration: Option<DurationSetting>,
    /// The node API's address [default: 127.0.0.1].
    #[arg(long = "http.host", value_name = "HOST")]
    pub http_host: Option<String>,
    /// The node API's port [default: 9600].
    #[arg(long = "http.port", value_name = "PORT")]
    pub http_port: Option<u16>,
    /// On SIGTERM, how long queued events may take to be delivered before sluice exits
    /// non-zero [default: no limit].
    #[arg(long = "shutdown.timeout", value_name = "DURATION")]
    pub shutdown_timeout: Option<DurationSetting>,
}

impl OperationsArgs {
    fn apply(&self, s: &mut Settings) {
        s.config.reload.automatic = self.reload_automatic.then_some(true);
        s.config.reload.interval = self.reload_interval;
        s.filters.repo.clone_from(&self.filters_repo);
        s.filters.git_ref.clone_from(&self.filters_ref);
        s.filters.path.clone_from(&self.filters_path);
        s.filters.poll_interval = self.filters_poll_interval;
        s.filters.canary_ref.clone_from(&self.canary_ref);
        s.filters.canary_percent = self.canary_percent;
        s.filters.canary_budget = self.canary_budget;
        s.filters.canary_duration = self.canary_duration;
        s.http.host.clone_from(&self.http_host);
        s.http.port = self.http_port;
        s.shutdown.timeout = self.shutdown_timeout;
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// How `sluice test` finds the config when neither `-f` nor `-e` is given.
const TEST_HELP: &str = "\
Test files are logstash-filter-verifier's JSON or YAML files (fields, codec, ignore,
export_metadata, testcases: [{input, expected, description}]). Only the config's filter
sections run; its inputs and outputs are ignored.

Without -f or -e, a test file is run against the *.conf files of the nearest folder that has
some, or of a filters/ folder beside it, from the test file's own folder upwards:
filters/apache/tests/access.yml tests filters/apache/*.conf, repo/tests/a.yml tests
repo/filters/*.conf.

@version is never compared, and @timestamp only in expected events that list it.
Prints a unified diff per failing case, then `N passed, N failed`; exits 1 if any failed.";

/// `sluice test`: test case files and the config they test.
#[derive(Debug, Args)]
#[command(after_help = TEST_HELP)]
pub struct TestArgs {
    /// Test case files (*.json, *.yaml, *.yml), or folders searched recursively for them.
    #[arg(value_name = "PATH", required = true)]
    pub tests: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// After the run, lists every filter and conditional branch of the config with how many
    /// test events reached it, marking those never reached.
    #[arg(long)]
    pub coverage: bool,
    /// Field names and grok patterns plugins use unless they set their own: disabled, v1 or v8
    /// [default: v8].
    #[arg(long = "pipeline.ecs_compatibility", value_name = "MODE", value_parser = parse_ecs)]
    pub ecs_compatibility: Option<EcsCompatibility>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Where the pipeline config comes from.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A config file, or a folder whose `*.conf` files are read in lexical order. Repeatable.
    #[arg(short = 'f', long = "path.config", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The config text itself. A config without an input section reads stdin; one without an
    /// output section prints events with `stdout { codec => rubydebug }`.
    #[arg(
        short = 'e',
        long = "config.string",
        value_name = "CONFIG",
        conflicts_with = "paths"
    )]
    pub string: Option<String>,
    /// Processes `\n`, `\t`, `\\`, ... in quoted strings.
    #[arg(
        long = "config.support_escapes",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub support_escapes: Option<bool>,
}

/// The runtime's shape.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Filter worker threads [default: number of cores].
    #[arg(short = 'w', long = "pipeline.workers", value_name = "N")]
    pub workers: Option<NonZeroUsize>,
    /// Events per batch [default: 125].
    #[arg(short = 'b', long = "pipeline.batch.size", value_name = "N")]
    pub batch_size: Option<NonZeroUsize>,
    /// Milliseconds to wait for a batch to fill [default: 50].
    #[arg(long = "pipeline.batch.delay", value_name = "MS")]
    pub batch_delay: Option<u64>,
    /// Field names and grok patterns plugins use unless they set their own: disabled, v1 or v8
    /// [default: v8].
    #[arg(long = "pipeline.ecs_compatibility", value_name = "MODE", value_parser = parse_ecs)]
    pub ecs_compatibility: Option<EcsCompatibility>,
    /// Hand batches to the outputs in the order they were taken from the inputs: auto (when an
    /// input reads Kafka partitions), true or false [default: auto].
    #[arg(long = "pipeline.ordered", value_name = "auto|true|false")]
    pub ordered: Option<Ordered>,
    /// Where plugins keep state (file sincedbs) and the dead letter queue lives; two sluice
    /// processes on one machine need one each [default: data].
    #[arg(long = "path.data", value_name = "PATH")]
    pub data_path: Option<PathBuf>,
}

pub(crate) fn parse_ecs(text: &str) -> Result<EcsCompatibility, String> {
    match text {
        "disabled" => Ok(EcsCompatibility::Disabled),
        "v1" => Ok(EcsCompatibility::V1),
        "v8" => Ok(EcsCompatibility::V8),
        _ => Err(format!("expected disabled, v1 or v8, got {text:?}")),
    }
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// A TOML settings file with Logstash's setting names (`pipeline.workers = 4`). Flags win.
    #[arg(long = "settings", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Log level, logged to stderr [default: info].
    #[arg(long = "log.level", value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,
}

impl ConfigArgs {
    fn apply(&self, s: &mut Settings) {
        if !self.paths.is_empty() {
            s.path.config = Some(OneOrMany::Many(self.paths.clone()));
        }
        s.config.string.clone_from(&self.string);
        s.config.support_escapes = self.support_escapes;
    }
}

impl PipelineArgs {
    fn apply(&self, s: &mut Settings) {
        s.pipeline.workers = self.workers;
        s.pipeline.batch.size = self.batch_size;
        s.pipeline.batch.delay = self.batch_delay;
        s.pipeline.ecs_compatibility = self.ecs_compatibility;
        s.pipeline.ordered = self.ordered;
        s.path.data.clone_from(&self.data_path);
    }
}

impl CommonArgs {
    pub(crate) fn apply(&self, s: &mut Settings) {
        s.log.level = self.log_level;
    }
}

impl RunArgs {
    /// The flags as a settings layer (unset flags stay unset).
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        self.config.apply(&mut s);
        self.pipeline.apply(&mut s);
        self.operations.apply(&mut s);
        self.common.apply(&mut s);
        s.config.test_and_exit = self.test_and_exit.then_some(true);
        s
    }
}

impl CheckArgs {
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        self.config.apply(&mut s);
        self.common.apply(&mut s);
        s.config.test_and_exit = Some(true);
        s
    }
}

impl DemoArgs {
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        self.pipeline.apply(&mut s);
        self.common.apply(&mut s);
        s
    }
}

impl TestArgs {
    /// The flags as a settings layer: the config source, ECS mode, escapes and log level.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        self.config.apply(&mut s);
        self.common.apply(&mut s);
        s.pipeline.ecs_compatibility = self.ecs_compatibility;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(args).unwrap().command
    }

    #[test]
    fn run_flags_become_settings() {
        let Command::Run(run) = parse(&[
            "sluice",
            "run",
            "-f",
            "a.conf",
            "-f",
            "conf.d",
            "-w",
            "3",
            "-b",
            "10",
            "--pipeline.batch.delay",
            "5",
            "--log.level",
            "debug",
            "--config.support_escapes",
        ]) else {
            panic!("expected run");
        };
        let s = run.settings();
        assert_eq!(
            s.path.config,
            Some(OneOrMany::Many(vec!["a.conf".into(), "conf.d".into()]))
        );
        assert_eq!(s.pipeline.workers, NonZeroUsize::new(3));
        assert_eq!(s.pipeline.batch.size, NonZeroUsize::new(10));
        assert_eq!(s.pipeline.batch.delay, Some(5));
        assert_eq!(s.log.level, Some(LogLevel::Debug));
        assert_eq!(s.config.support_escapes, Some(true));
        assert_eq!(s.config.test_and_exit, None);
    }

    #[test]
    fn operations_flags_become_settings() {
        let Command::Run(run) = parse(&[
            "sluice",
            "run",
            "-r",
            "--config.reload.interval",
            "500ms",
            "--filters.repo",
            "file:///srv/filters.git",
            "--filters.ref",
            "release-*",
            "--filters.path",
            "conf",
            "--filters.poll_interval",
            "1m",
            "--http.host",
            "0.0.0.0",
            "--http.port",
            "9601",
            "--shutdown.timeout",
            "20s",
            "--pipeline.ordered",
            "true",
            "--filters.canary_ref",
            "canary-*",
            "--filters.canary_percent",
            "5",
            "--filters.canary_budget",
            "0.5",
            "--filters.canary_duration",
            "2m",
        ]) else {
            panic!("expected run");
        };
        let s = run.settings();
        let d = |ms| Some(DurationSetting(std::time::Duration::from_millis(ms)));
        assert_eq!(s.config.reload.automatic, Some(true));
        assert_eq!(s.config.reload.interval, d(500));
        assert_eq!(s.filters.repo.as_deref(), Some("file:///srv/filters.git"));
        assert_eq!(s.filters.git_ref.as_deref(), Some("release-*"));
        assert_eq!(s.filters.path, Some(PathBuf::from("conf")));
        assert_eq!(s.filters.poll_interval, d(60_000));
        assert_eq!(s.http.host.as_deref(), Some("0.0.0.0"));
        assert_eq!(s.http.port, Some(9601));
        assert_eq!(s.shutdown.timeout, d(20_000));
        assert_eq!(s.pipeline.ordered, Some(Ordered::Always));
        assert_eq!(s.filters.canary_ref.as_deref(), Some("canary-*"));
        assert_eq!(s.filters.canary_percent, Some(5.0));
        assert_eq!(s.filters.canary_budget, Some(0.5));
        assert_eq!(s.filters.canary_duration, d(120_000));
        let bad = Cli::try_parse_from(["sluice", "run", "--shutdown.timeout", "soon"]);
        assert!(bad.unwrap_err().to_string().contains("not a duration"));
    }

    #[test]
    fn long_names_match_logstash() {
        let Command::Run(run) = parse(&[
            "sluice",
            "run",
            "--config.string",
            "input {}",
            "--pipeline.workers",
            "2",
            "--pipeline.batch.size",
            "7",
            "--config.test_and_exit",
            "--config.support_escapes=false",
        ]) else {
            panic!("expected run");
        };
        let s = run.settings();
        assert_eq!(s.config.string.as_deref(), Some("input {}"));
        assert_eq!(s.pipeline.workers, NonZeroUsize::new(2));
        assert_eq!(s.pipeline.batch.size, NonZeroUsize::new(7));
        assert_eq!(s.config.test_and_exit, Some(true));
        assert_eq!(s.config.support_escapes, Some(false));
    }

    #[test]
    fn check_always_tests_and_exits() {
        let Command::Check(check) = parse(&["sluice", "check", "-e", "input {}"]) else {
            panic!("expected check");
        };
        assert_eq!(check.settings().config.test_and_exit, Some(true));
    }

    #[test]
    fn test_takes_paths_config_and_coverage() {
        let Command::Test(test) = parse(&[
            "sluice",
            "test",
            "a.yml",
            "tests/",
            "-f",
            "filters/apache",
            "--coverage",
            "--pipeline.ecs_compatibility",
            "disabled",
        ]) else {
            panic!("expected test");
        };
        assert_eq!(
            test.tests,
            [PathBuf::from("a.yml"), PathBuf::from("tests/")]
        );
        assert!(test.coverage);
        let s = test.settings();
        assert_eq!(
            s.path.config,
            Some(OneOrMany::Many(vec!["filters/apache".into()]))
        );
        assert_eq!(
            s.pipeline.ecs_compatibility,
            Some(EcsCompatibility::Disabled)
        );
        let Command::Test(plain) = parse(&["sluice", "test", "a.yml"]) else {
            panic!("expected test");
        };
        assert!(!plain.coverage);
        assert_eq!(plain.settings().path.config, None);
    }

    #[test]
    fn usage_errors_are_rejected() {
        for bad in [
            &["sluice", "run", "-w", "0"][..],
            &["sluice", "run", "-f", "a", "-e", "input {}"],
            &["sluice", "run", "--log.level", "loud"],
            &["sluice", "frobnicate"],
            &["sluice", "test"],
            &["sluice", "test", "a.yml", "-f", "x", "-e", "filter {}"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
