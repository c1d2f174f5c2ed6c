//! Filter releases and reloads: the pipeline's filter section pulled from a git repository by
//! tag (`filters.*` settings), or re-read from the local config files (`-r`, SIGHUP),
//! validated, and switched to through [`crate::pipeline::FilterSwitch`] without losing or
//! duplicating an event.
//!
//! - [`Releases`]: a bare mirror of `filters.repo` under `path.data/releases/repo.git`,
//!   fetched at start and every `filters.poll_interval`; `filters.ref` picks a tag (a glob: the
//!   highest version; see `select`) or a fixed tag or branch; the chosen commit is checked out
//!   into `path.data/releases/<tag>-<commit>` and validated (`validate`: its filter sections
//!   built as `sluice check` builds them, then `sluice test` on its test files) before the
//!   switch. A refused release is remembered by commit and not retried; the running one stays.
//! - [`LocalConfig`]: the worker's own config files, re-read when they change or on SIGHUP; a
//!   change of the filter sections only is swapped in, a change of inputs or outputs is refused
//!   (they are not restarted yet: restart the process).
//! - [`Reloader`]: the thread that runs both and records the outcome in [`ReloadStatus`]
//!   (successes, failures, the last error, the running release) for metrics and the node API.
//! - `redact`: [`RepoUrl`], a URL whose credentials are never shown.

mod git;
mod local;
mod redact;
mod select;
mod validate;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

pub use git::GitError;
pub use local::{LocalChange, LocalConfig};
pub use redact::{redact_url, RepoUrl};
pub use select::{compare_tags, BadRef, RefChoice};
pub use validate::{build_filters, run_tests, test_folders};

use crate::config::options::EcsCompatibility;
use crate::config::ParseOptions;
use crate::pipeline::FilterSwitch;
use crate::plan::{BuildSettings, FilterGraph};
use crate::settings::Settings;

use git::Mirror;

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
    #[error(
        "filters.canary_* (canary releases) is not supported yet: remove the setting; \
         releases matching filters.ref are switched to directly after validation"
    )]
    CanaryUnsupported,
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
        let Some(repo) = &filters.repo else {
            return Ok(None);
        };
        if filters.canary_ref.is_some()
            || filters.canary_percent.is_some()
            || filters.canary_budget.is_some()
            || filters.canary_duration.is_some()
        {
            return Err(ReleaseError::CanaryUnsupported);
        }
        let git_ref = filters.git_ref.clone().ok_or(ReleaseError::NoRef)?;
        let build = settings.build_settings();
        Ok(Some(ReleaseSettings {
            repo: RepoUrl::new(repo),
            choice: RefChoice::parse(&git_ref)?,
            git_ref,
            path: filters.path.clone().unwrap_or_default(),
            poll_interval: filters.poll_interval.map_or(DEFAULT_POLL_INTERVAL, |d| d.0),
            folder: settings.data_path().join("releases"),
            parse: settings.parse_options(),
            ecs: build.ecs_compatibility,
            build,
            sluice: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sluice")),
        }))
    }
}

/// A release: a commit of the filter repository, checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// The tag (or branch) it was chosen by.
    pub name: String,
    pub commit: String,
    /// Where it is checked out.
    pub folder: PathBuf,
}

/// The filter repository and the release running from it.
pub struct Releases {
    settings: ReleaseSettings,
    mirror: Mirror,
    current: Option<Release>,
    /// Commits refused once, not validated again.
    refused: HashSet<String>,
}

impl Releases {
    pub fn open(settings: ReleaseSettings) -> Result<Releases, ReleaseError> {
        let mirror = Mirror::open(&settings.folder.join("repo.git"), settings.repo.clone())
            .map_err(|source| ReleaseError::Git {
                repo: settings.repo.clone(),
                source,
            })?;
        Ok(Releases {
            settings,
            mirror,
            current: None,
            refused: HashSet::new(),
        })
    }

    pub fn settings(&self) -> &ReleaseSettings {
        &self.settings
    }

    /// The release running, once one was adopted.
    pub fn current(&self) -> Option<&Release> {
        self.current.as_ref()
    }

    /// At start: fetches and returns the best release that validates (trying lower versions
    /// when the best is refused), adopted as the current one.
    pub fn first(&mut self, status: &ReloadStatus) -> Result<FilterGraph, ReleaseError> {
        let (release, graph, reasons) = match self.update(status) {
            Ok(Update::Switched(release, graph)) => (release, graph, String::new()),
            Ok(Update::Nothing { reasons }) => {
                return Err(ReleaseError::NoRelease {
                    repo: self.settings.repo.clone(),
                    git_ref: self.settings.git_ref.clone(),
                    reasons,
                })
            }
            Err(source) => {
                return Err(ReleaseError::Git {
                    repo: self.settings.repo.clone(),
                    source,
                })
            }
        };
        debug_assert!(reasons.is_empty());
        tracing::info!(release = %release.name, commit = %release.commit, repo = %self.settings.repo, "filters from release");
        status.set_release(&release);
        self.adopt(release);
        Ok(graph)
    }

    /// A poll: fetches, and returns a newer release that validated, adopted as the current
    /// one. Failures (fetch, refused releases) are logged and counted in `status`.
    pub fn poll(&mut self, status: &ReloadStatus) -> Option<FilterGraph> {
        match self.update(status) {
            Ok(Update::Switched(release, graph)) => {
                status.set_release(&release);
                self.adopt(release);
                Some(graph)
            }
            Ok(Update::Nothing { .. }) => None,
            Err(e) => {
                let message = format!(
                    "filters.repo {}: {e}; release {} keeps running",
                    self.settings.repo,
                    self.current.as_ref().map_or("(none)", |r| &r.name)
                );
                tracing::error!("{message}");
                status.failure(message);
                None
            }
        }
    }

    /// Fetches, then validates candidates best first until one passes, stopping at the
    /// running release.
    fn update(&mut self, status: &ReloadStatus) -> Result<Update, GitError> {
        self.mirror.fetch()?;
        let candidates = self.candidates()?;
        let mut reasons = String::new();
        if candidates.is_empty() {
            let message = format!(
                "filters.repo {}: no tag or branch matches filters.ref {:?}",
                self.settings.repo, self.settings.git_ref
            );
            tracing::error!("{message}");
            status.failure(message);
        }
        for (name, commit) in candidates {
            if self.current.as_ref().is_some_and(|c| c.commit == commit) {
                break;
            }
            if self.refused.contains(&commit) {
                tracing::debug!(release = %name, "skipping a release refused before");
                continue;
            }
            match self.try_release(&name, &commit) {
                Ok((release, graph)) => return Ok(Update::Switched(release, graph)),
                Err(reason) => {
                    let message = format!(
                        "release {name} ({}) refused, {} keeps running:\n{reason}",
                        short(&commit),
                        self.current
                            .as_ref()
                            .map_or("no release".to_string(), |r| format!("release {}", r.name))
                    );
                    tracing::error!("{message}");
                    status.failure(message);
                    reasons.push_str(&format!("\nrelease {name}: {reason}"));
                    self.refused.insert(commit);
                }
            }
        }
        Ok(Update::Nothing { reasons })
    }

    /// `(name, commit)` of the refs `filters.ref` may use, best first.
    fn candidates(&self) -> Result<Vec<(String, String)>, GitError> {
        match &self.settings.choice {
            RefChoice::Glob(_) => {
                let tags = self.mirror.tags()?;
                let ranked = self
                    .settings
                    .choice
                    .rank(tags.iter().map(|(n, _)| n.as_str()));
                Ok(ranked
                    .into_iter()
                    .filter_map(|name| tags.iter().find(|(n, _)| n == name).cloned())
                    .collect())
            }
            RefChoice::Fixed(name) => Ok(self
                .mirror
                .resolve(name)?
                .map(|commit| (name.clone(), commit))
                .into_iter()
                .collect()),
        }
    }

    /// Checks out and validates one release; `Err` holds the reasons it is refused.
    fn try_release(&self, name: &str, commit: &str) -> Result<(Release, FilterGraph), String> {
        let folder = self.settings.folder.join(release_folder_name(name, commit));
        if folder.exists() {
            std::fs::remove_dir_all(&folder)
                .map_err(|e| format!("cannot clear {}: {e}", folder.display()))?;
        }
        self.mirror
            .check_out(commit, &folder)
            .map_err(|e| e.to_string())?;
        let release = Release {
            name: name.to_string(),
            commit: commit.to_string(),
            folder,
        };
        match self.validate(&release) {
            Ok(graph) => Ok((release, graph)),
            Err(reason) => {
                let _ = std::fs::remove_dir_all(&release.folder);
                // The folder is gone: name files as they are in the repository.
                let prefix = format!("{}/", release.folder.display());
                Err(reason.replace(&prefix, ""))
            }
        }
    }

    /// Builds the release's filters as `sluice check` does, then runs its tests.
    fn validate(&self, release: &Release) -> Result<FilterGraph, String> {
        let settings = &self.settings;
        let filters = release.folder.join(&settings.path);
        let graph = build_filters(&filters, settings.parse, settings.build.clone())?;
        let tests = test_folders(&release.folder, &filters);
        if !tests.is_empty() {
            run_tests(&settings.sluice, &tests, &filters, settings.ecs)?;
        }
        Ok(graph)
    }

    /// Makes `release` the current one; the previous one's folder is removed.
    fn adopt(&mut self, release: Release) {
        if let Some(old) = self.current.replace(release) {
            let _ = std::fs::remove_dir_all(&old.folder);
        }
    }
}

/// What a poll found.
enum Update {
    Switched(Release, FilterGraph),
    /// Nothing newer that validates; the refusals, for the start-up error.
    Nothing {
        reasons: String,
    },
}

/// `<name>-<short commit>`, with characters unsafe in a file name replaced.
fn release_folder_name(name: &str, commit: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{}", short(commit))
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
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
}

#[derive(Debug, Default)]
struct StatusState {
    release: Option<Release>,
    last_error: Option<ReloadFailure>,
    last_success: Option<SystemTime>,
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

    pub fn success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        self.lock().last_success = Some(SystemTime::now());
    }

    pub fn failure(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.lock().last_error = Some(ReloadFailure {
            message,
            at: SystemTime::now(),
        });
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
}

/// What the reload thread is asked to do.
enum Trigger {
    /// SIGHUP: re-read the local config and poll the repository now.
    Now,
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
        let poll_every = self.releases.as_ref().map(|r| r.settings.poll_interval);
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
                Ok(Trigger::Now) => {
                    tracing::info!("SIGHUP: reloading");
                    self.local_step(true);
                    self.poll_step();
                    next_poll = poll_every.map(|d| now + d);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if next_watch.is_some_and(|at| at <= now) {
                        self.local_step(false);
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

    fn poll_step(&mut self) {
        let Some(releases) = &mut self.releases else {
            return;
        };
        if let Some(graph) = releases.poll(&self.status) {
            let generation = self.switch.replace(graph);
            let release = releases.current().expect("adopted by poll");
            tracing::info!(
                release = %release.name,
                commit = %release.commit,
                generation,
                "switched filters to release {}",
                release.name
            );
            self.status.success();
        }
    }

    fn local_step(&mut self, forced: bool) {
        match self.local.check(forced) {
            LocalChange::Unchanged => {}
            LocalChange::Filters(graph) => {
                let generation = self.switch.replace(graph);
                tracing::info!(generation, "config reloaded: filters switched");
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
    fn release_folders_are_safe_names_with_the_commit() {
        assert_eq!(
            release_folder_name("team/release-1", "0123456789abcdef0123"),
            "team_release-1-0123456789ab"
        );
    }

    #[test]
    fn canary_settings_are_refused_until_supported() {
        let mut settings = Settings::default();
        settings.filters.repo = Some("file:///srv/filters".into());
        settings.filters.git_ref = Some("release-*".into());
        assert!(ReleaseSettings::from_settings(&settings).unwrap().is_some());
        settings.filters.canary_ref = Some("canary-*".into());
        assert!(matches!(
            ReleaseSettings::from_settings(&settings),
            Err(ReleaseError::CanaryUnsupported)
        ));
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
