//! Filter releases and reloads: the pipeline's filter section pulled from a git repository by
//! tag (`filters.*` settings), or re-read from the local config files (`-r`, SIGHUP),
//! validated, and switched to through [`crate::pipeline::FilterSwitch`] without losing or
//! duplicating an event.
//!
//! - `repo`: [`Releases`], a bare mirror of `filters.repo` under `path.data/releases/repo.git`
//!   (`git`), fetched at start and every `filters.poll_interval`; `filters.ref` picks a tag (a
//!   glob: the highest version; `select`) or a fixed tag or branch; the chosen commit is
//!   checked out into `path.data/releases/<tag>-<commit>` and validated (`validate`: its filter
//!   sections built as `sluice check` builds them, then `sluice test` on its test files) before
//!   the switch. A refused release is remembered by commit and not retried; the running one
//!   stays. A release at or below one that already ran is never switched back to.
//! - `canary`: tags matching `filters.canary_ref` go on trial first ([`Canary`], compared on a
//!   sample of live events), then are promoted or refused ([`CanaryReport`]).
//! - `local`: [`LocalConfig`], the worker's own config files, re-read when they change or on
//!   SIGHUP; a change of the filter sections only is swapped in, a change of inputs or outputs
//!   restarts the pipeline ([`Restart`]: drained, then started with the new plan).
//! - [`Reloader`]: the thread that runs both and records the outcome in [`ReloadStatus`]
//!   (successes, failures, the last error, the running release, the canary) for metrics and
//!   the node API.
//! - `redact`: [`RepoUrl`], a URL whose credentials are never shown.

mod canary;
mod git;
mod local;
mod redact;
mod repo;
mod select;
mod validate;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

pub use canary::{Canary, CanaryReport, CanarySettings};
pub use git::GitError;
pub use local::{LocalChange, LocalConfig};
pub use redact::{redact_url, RepoUrl};
pub use repo::{Release, Releases};
pub use select::{compare_tags, BadRef, RefChoice};
pub use validate::{build_filters, run_tests, test_folders};

use crate::config::options::EcsCompatibility;
use crate::config::ParseOptions;
use crate::pipeline::FilterSwitch;
use crate::plan::{BuildSettings, Plan};
use crate::settings::Settings;

/// `filters.poll_interval` when not set.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// `config.reload.interval` when not set (as Logstash).
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(3);

/// Why releases cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    BadRef(#[from] BadRef),
    #[error("filters.ref must be set with filters.repo (a tag glob such as \"release-*\", or a tag or branch)")]
    NoRef,
    #[error("filters.path {0:?} must be a relative folder inside the repository (no `..`)")]
    BadPath(PathBuf),
    #[error("filters.canary_* needs filters.repo and filters.canary_ref")]
    CanaryWithout,
    #[error("{0}")]
    BadCanary(String),
    #[error("filters.repo {repo}: {source}")]
    Git { repo: RepoUrl, source: GitError },
    #[error(
        "filters.repo {repo}: no release matching filters.ref {git_ref:?} can be used{reasons}"
    )]
    NoRelease {
        repo: RepoUrl,
        git_ref: String,
        /// Each refused release with its reasons, or empty when no ref matched.
        reasons: String,
    },
}

/// How releases are pulled and validated, from `filters.*` and the settings plugins are
/// built with.
#[derive(Clone)]
pub struct ReleaseSettings {
    pub repo: RepoUrl,
    pub git_ref: String,
    pub choice: RefChoice,
    /// The folder inside the repository holding the `.conf` files (empty: its root).
    pub path: PathBuf,
    pub poll_interval: Duration,
    /// `path.data/releases`: the mirror and one folder per release.
    pub folder: PathBuf,
    pub parse: ParseOptions,
    pub build: BuildSettings,
    pub ecs: EcsCompatibility,
    /// The `sluice` binary that runs a release's tests.
    pub sluice: PathBuf,
    /// `filters.canary_*`, when `filters.canary_ref` is set.
    pub canary: Option<CanarySettings>,
}

impl std::fmt::Debug for ReleaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseSettings")
            .field("repo", &self.repo)
            .field("git_ref", &self.git_ref)
            .field("path", &self.path)
            .field("poll_interval", &self.poll_interval)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl ReleaseSettings {
    /// The release settings when `filters.repo` is set.
    pub fn from_settings(settings: &Settings) -> Result<Option<ReleaseSettings>, ReleaseError> {
        let filters = &settings.filters;
        let canary = canary_settings(filters)?;
        let Some(repo) = &filters.repo else {
            return match canary {
                Some(_) => Err(ReleaseError::CanaryWithout),
                None => Ok(None),
            };
        };
        let git_ref = filters.git_ref.clone().ok_or(ReleaseError::NoRef)?;
        let path = filters.path.clone().unwrap_or_default();
        let escapes = path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if escapes {
            return Err(ReleaseError::BadPath(path));
        }
        let build = settings.build_settings();
        Ok(Some(ReleaseSettings {
            repo: RepoUrl::new(repo),
            choice: RefChoice::parse(&git_ref)?,
            git_ref,
            path,
            poll_interval: filters.poll_interval.map_or(DEFAULT_POLL_INTERVAL, |d| d.0),
            folder: settings.data_path().join("releases"),
            parse: settings.parse_options(),
            ecs: build.ecs_compatibility,
            build,
            sluice: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sluice")),
            canary,
        }))
    }
}

/// `filters.canary_*`: `None` without any of them; an error when some are set without
/// `canary_ref`, or out of range.
fn canary_settings(
    filters: &crate::settings::FiltersGroup,
) -> Result<Option<CanarySettings>, ReleaseError> {
    let Some(git_ref) = &filters.canary_ref else {
        let any = filters.canary_percent.is_some()
            || filters.canary_budget.is_some()
            || filters.canary_duration.is_some();
        return if any {
            Err(ReleaseError::CanaryWithout)
        } else {
            Ok(None)
        };
    };
    let percent = filters.canary_percent.unwrap_or(canary::DEFAULT_PERCENT);
    if !(percent > 0.0 && percent <= 100.0) {
        return Err(ReleaseError::BadCanary(format!(
            "filters.canary_percent must be above 0 and at most 100, got {percent}"
        )));
    }
    let budget = filters.canary_budget.unwrap_or(canary::DEFAULT_BUDGET);
    if !(0.0..=100.0).contains(&budget) {
        return Err(ReleaseError::BadCanary(format!(
            "filters.canary_budget must be between 0 and 100 (percent), got {budget}"
        )));
    }
    Ok(Some(CanarySettings {
        git_ref: git_ref.clone(),
        choice: RefChoice::parse(git_ref)?,
        percent,
        budget,
        duration: filters
            .canary_duration
            .map_or(canary::DEFAULT_DURATION, |d| d.0),
    }))
}

// ---------------------------------------------------------------------------------------------
// Status

/// Reload outcomes, for metrics (`reload.success` / `reload.failure`) and the node API. Shared
/// by the [`Reloader`] and whoever reports it.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    successes: AtomicU64,
    failures: AtomicU64,
    state: Mutex<StatusState>,
    /// The running pipeline's stats, which metrics and the node API read reloads from.
    reported_to: Mutex<Option<Arc<crate::pipeline::PipelineStats>>>,
}

#[derive(Default)]
struct StatusState {
    release: Option<Release>,
    last_error: Option<ReloadFailure>,
    last_success: Option<SystemTime>,
    /// The canary on trial, else the last one decided.
    canary: Option<Arc<Canary>>,
    last_canary: Option<CanaryReport>,
}

impl std::fmt::Debug for StatusState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusState")
            .field("release", &self.release)
            .field("last_error", &self.last_error)
            .field("canary", &self.canary.as_ref().map(|c| c.report()))
            .finish_non_exhaustive()
    }
}

/// The last refused reload or failed poll. Its message never holds credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadFailure {
    pub message: String,
    pub at: SystemTime,
}

impl ReloadStatus {
    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<ReloadFailure> {
        self.lock().last_error.clone()
    }

    pub fn last_success(&self) -> Option<SystemTime> {
        self.lock().last_success
    }

    /// The release of the filters running (`None` without `filters.repo`).
    pub fn release(&self) -> Option<Release> {
        self.lock().release.clone()
    }

    /// From now on, reloads are also counted in `stats` (`reload.success` / `reload.failure`,
    /// the release `GET /` shows, the last error `/_node/stats` shows).
    pub fn report_to(&self, stats: Arc<crate::pipeline::PipelineStats>) {
        if let Some(release) = self.release() {
            stats.reloads().set_release(&release.name);
        }
        *self
            .reported_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(stats);
    }

    fn reported_stats(&self) -> Option<Arc<crate::pipeline::PipelineStats>> {
        self.reported_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        let release = {
            let mut state = self.lock();
            state.last_success = Some(SystemTime::now());
            state.release.as_ref().map(|r| r.name.clone())
        };
        if let Some(stats) = self.reported_stats() {
            stats
                .reloads()
                .succeeded(release.as_deref().unwrap_or("local"));
        }
    }

    pub fn failure(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(stats) = self.reported_stats() {
            stats.reloads().failed(&message);
        }
        self.lock().last_error = Some(ReloadFailure {
            message,
            at: SystemTime::now(),
        });
    }

    /// The canary on trial (its comparison so far), else the last one decided (with its
    /// verdict); `None` before any.
    pub fn canary(&self) -> Option<CanaryReport> {
        let state = self.lock();
        match &state.canary {
            Some(canary) => Some(canary.report()),
            None => state.last_canary.clone(),
        }
    }

    fn set_canary(&self, running: Option<Arc<Canary>>, decided: Option<CanaryReport>) {
        let mut state = self.lock();
        state.canary = running;
        if decided.is_some() {
            state.last_canary = decided;
        }
    }

    fn set_release(&self, release: &Release) {
        self.lock().release = Some(release.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------------------------
// The reload thread

/// Runs releases polls and local reloads on a thread of its own, switching the pipeline's
/// filters when one succeeds.
pub struct Reloader {
    pub releases: Option<Releases>,
    pub local: LocalConfig,
    /// `config.reload.interval` when `-r` is on; `None`: local files only on SIGHUP.
    pub watch_interval: Option<Duration>,
    pub switch: FilterSwitch,
    pub status: Arc<ReloadStatus>,
    /// Where a reload that changed inputs or outputs hands its plan to the run loop.
    pub restart: Restart,
}

/// A pipeline restart asked for by a reload whose inputs or outputs changed: the run loop
/// waits on [`Restart::requested`], lets the running pipeline drain, takes the new plan and
/// starts it, then gives the reloader the new pipeline ([`ReloaderHandle::attach`]).
#[derive(Clone, Default)]
pub struct Restart {
    plan: Arc<Mutex<Option<Plan>>>,
    asked: Arc<tokio::sync::Notify>,
}

impl Restart {
    fn request(&self, plan: Plan) {
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = Some(plan);
        // Kept as a permit when nobody waits yet.
        self.asked.notify_one();
    }

    /// Resolves when a restart is asked for.
    pub async fn requested(&self) {
        self.asked.notified().await;
    }

    /// The plan to restart with, if a restart was asked for.
    pub fn take(&self) -> Option<Plan> {
        self.plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What the reload thread is asked to do.
enum Trigger {
    /// SIGHUP: re-read the local config and poll the repository now.
    Now,
    /// The pipeline was restarted: switch this one's filters from now on.
    Attach(FilterSwitch, Arc<crate::pipeline::PipelineStats>),
    Stop,
}

/// Controls a running [`Reloader`]; dropping it stops the thread (after the step in hand).
pub struct ReloaderHandle {
    tx: mpsc::Sender<Trigger>,
}

impl ReloaderHandle {
    /// Reloads now (what SIGHUP does).
    pub fn reload_now(&self) {
        let _ = self.tx.send(Trigger::Now);
    }

    /// Points the reloader at a restarted pipeline (its filters and stats).
    pub fn attach(&self, switch: FilterSwitch, stats: Arc<crate::pipeline::PipelineStats>) {
        let _ = self.tx.send(Trigger::Attach(switch, stats));
    }
}

impl ReloaderHandle {
    /// Makes SIGHUP reload now, from a thread of its own, for as long as the reload thread
    /// runs. Returns once the signal is caught (so SIGHUP no longer ends the process).
    pub fn reload_on_sighup(&self) -> std::io::Result<()> {
        let tx = self.tx.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sluice-sighup".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready_tx.send(Err(e))),
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{signal, SignalKind};
                    let mut hangup = match signal(SignalKind::hangup()) {
                        Ok(hangup) => hangup,
                        Err(e) => return drop(ready_tx.send(Err(e))),
                    };
                    let _ = ready_tx.send(Ok(()));
                    while hangup.recv().await.is_some() {
                        if tx.send(Trigger::Now).is_err() {
                            return;
                        }
                    }
                });
            })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the SIGHUP thread ended")))
    }
}

impl Drop for ReloaderHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(Trigger::Stop);
    }
}

impl Reloader {
    pub fn spawn(self) -> std::io::Result<ReloaderHandle> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sluice-reload".into())
            .spawn(move || self.run(&rx))?;
        Ok(ReloaderHandle { tx })
    }

    fn run(mut self, rx: &mpsc::Receiver<Trigger>) {
        let poll_every = self.releases.as_ref().map(|r| r.settings().poll_interval);
        let mut next_poll = poll_every.map(|d| Instant::now() + d);
        let mut next_watch = self.watch_interval.map(|d| Instant::now() + d);
        loop {
            let wake = [next_poll, next_watch].into_iter().flatten().min();
            let trigger = match wake {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = Instant::now();
            match trigger {
                Ok(Trigger::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Trigger::Attach(switch, stats)) => self.attach(switch, stats),
                Ok(Trigger::Now) => {
                    tracing::info!("SIGHUP: reloading");
                    self.local_step(true, rx);
                    self.poll_step();
                    next_poll = poll_every.map(|d| now + d);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if next_watch.is_some_and(|at| at <= now) {
                        self.local_step(false, rx);
                        next_watch = self.watch_interval.map(|d| now + d);
                    }
                    if next_poll.is_some_and(|at| at <= now) {
                        self.poll_step();
                        next_poll = poll_every.map(|d| Instant::now() + d);
                    }
                }
            }
        }
    }

    /// Until the restarted pipeline is attached, nothing may be switched: a switch to the
    /// draining pipeline would be lost.
    fn wait_for_restart(&mut self, rx: &mpsc::Receiver<Trigger>) {
        loop {
            match rx.recv() {
                Ok(Trigger::Attach(switch, stats)) => return self.attach(switch, stats),
                Ok(Trigger::Now) => continue,
                Ok(Trigger::Stop) | Err(_) => return,
            }
        }
    }

    fn attach(&mut self, switch: FilterSwitch, stats: Arc<crate::pipeline::PipelineStats>) {
        self.switch = switch;
        self.status.report_to(stats);
    }

    fn poll_step(&mut self) {
        if let Some(releases) = &mut self.releases {
            releases.poll(&self.status, &self.switch);
        }
    }

    fn local_step(&mut self, forced: bool, rx: &mpsc::Receiver<Trigger>) {
        match self.local.check(forced) {
            LocalChange::Unchanged => {}
            LocalChange::Filters(graph) => {
                let generation = self.switch.replace(graph);
                tracing::info!(generation, "config reloaded: filters switched");
                self.status.success();
            }
            LocalChange::Restart(plan) => {
                tracing::info!(
                    "config reloaded: inputs or outputs changed, restarting the pipeline"
                );
                self.restart.request(plan);
                self.wait_for_restart(rx);
                self.status.success();
            }
            LocalChange::Refused(reason) => {
                let message =
                    format!("config reload refused, the running pipeline continues: {reason}");
                tracing::error!("{message}");
                self.status.failure(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_settings_are_checked() {
        let mut settings = Settings::default();
        settings.filters.repo = Some("file:///srv/filters".into());
        settings.filters.git_ref = Some("release-*".into());
        assert!(ReleaseSettings::from_settings(&settings).unwrap().is_some());
        settings.filters.canary_ref = Some("canary-*".into());
        let canary = ReleaseSettings::from_settings(&settings)
            .unwrap()
            .unwrap()
            .canary;
        let canary = canary.unwrap();
        assert_eq!((canary.percent, canary.budget), (10.0, 1.0));
        settings.filters.canary_percent = Some(0.0);
        assert!(matches!(
            ReleaseSettings::from_settings(&settings),
            Err(ReleaseError::BadCanary(_))
        ));
        settings.filters.canary_percent = Some(5.0);
        settings.filters.canary_ref = None;
        assert!(matches!(
            ReleaseSettings::from_settings(&settings),
            Err(ReleaseError::CanaryWithout)
        ));
        settings.filters.canary_ref = Some("canary-*".into());
        settings.filters.repo = None;
        assert!(matches!(
            ReleaseSettings::from_settings(&settings),
            Err(ReleaseError::CanaryWithout)
        ));
    }

    #[test]
    fn filters_path_stays_inside_the_repository() {
        let mut settings = Settings::default();
        settings.filters.repo = Some("file:///srv/filters".into());
        settings.filters.git_ref = Some("main".into());
        for bad in ["/etc", "../other", "filters/../../x"] {
            settings.filters.path = Some(bad.into());
            assert!(
                matches!(
                    ReleaseSettings::from_settings(&settings),
                    Err(ReleaseError::BadPath(_))
                ),
                "{bad}"
            );
        }
        settings.filters.path = Some("./pipelines/web".into());
        assert!(ReleaseSettings::from_settings(&settings).is_ok());
    }

    #[test]
    fn a_repo_needs_a_ref() {
        let mut settings = Settings::default();
        settings.filters.repo = Some("https://u:secret@host/r.git".into());
        let error = ReleaseSettings::from_settings(&settings).unwrap_err();
        assert!(matches!(error, ReleaseError::NoRef));
        settings.filters.git_ref = Some("v*".into());
        let shown = format!("{:?}", ReleaseSettings::from_settings(&settings).unwrap());
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn status_counts_and_keeps_the_last_error() {
        let status = ReloadStatus::default();
        status.success();
        status.failure("first".into());
        status.failure("second".into());
        assert_eq!((status.successes(), status.failures()), (1, 2));
        assert_eq!(status.last_error().unwrap().message, "second");
        assert!(status.last_success().is_some());
    }
}
