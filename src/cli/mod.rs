//! The `sluice` command line: `sluice run`, `sluice check`, `sluice demo`, `sluice test`,
//! `sluice sandbox kafka`, `sluice kafka rewind`, `sluice --version`.
//!
//! - `args`: the flags ([`args::Cli`]) and their translation into a [`Settings`] layer;
//! - `load`: config files or text -> [`crate::plan::Plan`], with Logstash's default input and
//!   output;
//! - `demo`: the bundled sample pipeline;
//! - `test`: logstash-filter-verifier test files run against a config's filters.
//!
//! Signals are the runtime's business: [`pipeline::run`] drains and stops on the first SIGINT
//! or SIGTERM and exits at once on a second; SIGHUP reloads the filters ([`releases`]).
//!
//! This is the program's edge, so errors are `anyhow` here. Exit status: 0 when all went well,
//! [`EXIT_CONFIG`] when the config, the settings or the run failed, [`EXIT_TESTS_FAILED`] when
//! `sluice test` had a failing case, [`EXIT_USAGE`] when the command line itself is wrong.

pub mod args;
pub mod demo;
pub mod kafka;
pub mod load;
pub mod operations;
pub mod sandbox;
pub mod test;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::pipeline;
use crate::plan::Plan;
use crate::releases;
use crate::settings::{LogLevel, Settings, SettingsError};
use args::{Cli, Command};
use load::ConfigError;

/// Exit status for a config that does not parse or validate, a bad settings file, or a failed
/// run.
pub const EXIT_CONFIG: u8 = 1;
/// Exit status when a `sluice test` case failed or a test file could not be run.
pub const EXIT_TESTS_FAILED: u8 = 1;
/// Exit status for a wrong command line (clap's own status for usage errors).
pub const EXIT_USAGE: u8 = 2;

/// Runs the command named on the command line and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run(args.common.settings.as_deref(), args.settings()),
        Command::Check(args) => run(args.common.settings.as_deref(), args.settings()),
        Command::Demo(args) => {
            let settings = layered(args.common.settings.as_deref(), args.settings())?;
            init_logging(settings.log_level());
            demo::run(&settings)
        }
        Command::Test(args) => match test::run(&args)? {
            true => Ok(()),
            false => Err(TestsFailed.into()),
        },
        Command::Sandbox(args) => sandbox::run(args),
        Command::Kafka(args) => kafka::run(args),
    }
}

/// Some `sluice test` case failed; the failures are already on stdout.
#[derive(Debug, thiserror::Error)]
#[error("some tests failed")]
struct TestsFailed;

/// `run` and `check`: load the config (and, with `filters.repo`, the release of the filters),
/// then validate only or run it.
fn run(settings_file: Option<&Path>, flags: Settings) -> anyhow::Result<()> {
    let settings = layered(settings_file, flags)?;
    init_logging(settings.log_level());
    let source = settings.config_source()?;
    let mut build = settings.build_settings();
    if !settings.test_and_exit() {
        build.dead_letter_queue = settings.open_dead_letter_queue()?;
    }
    let release_settings = releases::ReleaseSettings::from_settings(&settings)?;
    let (local, mut plan) = releases::LocalConfig::load(
        source,
        settings.parse_options(),
        build,
        release_settings.is_some(),
    )?;
    let status = Arc::new(releases::ReloadStatus::default());
    let releases = match release_settings {
        Some(release_settings) => {
            let mut releases = releases::Releases::open(release_settings)?;
            plan.filters = releases.first(&status)?;
            Some(releases)
        }
        None => None,
    };
    if settings.test_and_exit() {
        println!("Configuration OK");
        return Ok(());
    }
    let reloading = Reloading {
        local,
        releases,
        status,
    };
    run_plan_with(plan, &settings, Some(reloading))
}

/// What keeps the filters of a `sluice run` up to date: its own config files (SIGHUP, `-r`)
/// and the filter releases (`filters.repo`).
struct Reloading {
    local: releases::LocalConfig,
    releases: Option<releases::Releases>,
    status: Arc<releases::ReloadStatus>,
}

/// The settings file (if any) with the flags laid over it.
fn layered(settings_file: Option<&Path>, flags: Settings) -> Result<Settings, SettingsError> {
    let file = match settings_file {
        Some(path) => Settings::load(path)?,
        None => Settings::default(),
    };
    Ok(file.overlay(flags))
}

/// Runs a plan to completion, with metrics reporting and the node API beside it.
fn run_plan(plan: Plan, settings: &Settings) -> anyhow::Result<()> {
    run_plan_with(plan, settings, None)
}

/// [`run_plan`], reloading while it runs when `reloading` is given: filters are switched in
/// place; a change of inputs or outputs restarts the pipeline (drained first) with its new plan.
fn run_plan_with(
    mut plan: Plan,
    settings: &Settings,
    mut reloading: Option<Reloading>,
) -> anyhow::Result<()> {
    let pipeline_settings = settings.pipeline_settings();
    tracing::info!(
        workers = pipeline_settings.workers,
        batch_size = pipeline_settings.batch_size,
        batch_delay_ms = pipeline_settings.batch_delay.as_millis() as u64,
        "starting pipeline"
    );
    let restart = releases::Restart::default();
    let mut reloader: Option<releases::ReloaderHandle> = None;
    loop {
        let pipeline = pipeline::Pipeline::new(plan, pipeline_settings.clone());
        let _operations = operations::start(settings, pipeline.stats())?;
        match (&reloader, reloading.take()) {
            (Some(handle), _) => handle.attach(pipeline.filter_switch(), pipeline.stats()),
            (None, Some(reloading)) => {
                reloader = Some(start_reloader(reloading, settings, &pipeline, &restart)?);
            }
            (None, None) => {}
        }
        let asked = restart.clone();
        pipeline.run_or_until(async move { asked.requested().await })?;
        match restart.take() {
            Some(next) => {
                tracing::info!(
                    "pipeline drained; starting it again with its new inputs and outputs"
                );
                plan = next;
            }
            None => break,
        }
    }
    tracing::info!("pipeline finished");
    Ok(())
}

/// Starts the reload thread and points SIGHUP at it.
fn start_reloader(
    reloading: Reloading,
    settings: &Settings,
    pipeline: &pipeline::Pipeline,
    restart: &releases::Restart,
) -> anyhow::Result<releases::ReloaderHandle> {
    let automatic = settings.config.reload.automatic == Some(true);
    if automatic && settings.config.string.is_some() {
        tracing::warn!("config.reload.automatic: a config given with -e has no file to watch");
    }
    let interval = settings
        .config
        .reload
        .interval
        .map_or(releases::DEFAULT_RELOAD_INTERVAL, |d| d.0);
    reloading.status.report_to(pipeline.stats());
    let reloader = releases::Reloader {
        releases: reloading.releases,
        local: reloading.local,
        watch_interval: (automatic && settings.config.string.is_none()).then_some(interval),
        switch: pipeline.filter_switch(),
        status: reloading.status,
        restart: restart.clone(),
    };
    let handle = reloader.spawn()?;
    handle.reload_on_sighup()?;
    Ok(handle)
}

/// Logs go to stderr so they never mix with events written to stdout.
fn init_logging(level: LogLevel) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::from(level))
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Prints `error` to stderr and returns its exit status. Rendered diagnostics are printed as
/// they are, so the first line is `path:line:col: message`.
fn report(error: &anyhow::Error) -> ExitCode {
    if error.is::<TestsFailed>() {
        return ExitCode::from(EXIT_TESTS_FAILED);
    }
    match rendered_diagnostics(error) {
        Some(text) => eprint!("{text}"),
        None => eprintln!("sluice: error: {error:#}"),
    }
    ExitCode::from(exit_status(error))
}

/// The text of a config or settings error that is already rendered with positions and carets.
fn rendered_diagnostics(error: &anyhow::Error) -> Option<&str> {
    if let Some(ConfigError::Invalid(text)) = error.downcast_ref() {
        return Some(text);
    }
    if let Some(SettingsError::Invalid(text)) = error.downcast_ref() {
        return Some(text);
    }
    None
}

fn exit_status(error: &anyhow::Error) -> u8 {
    match error.downcast_ref() {
        Some(SettingsError::NoSource | SettingsError::ConflictingSources) => EXIT_USAGE,
        _ => EXIT_CONFIG,
    }
}
