//! [`Releases`]: the filter repository and the release running from it. Each poll fetches the
//! mirror, then either decides the canary on trial, or validates the candidates `filters.ref`
//! picks (best first, stopping at a release that ran already) and switches to the first that
//! passes, or puts the best new canary (`filters.canary_ref`) on trial. Refused commits are
//! remembered and not tried again.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::pipeline::FilterSwitch;
use crate::plan::FilterGraph;

use super::git::{GitError, Mirror};
use super::{
    build_filters, run_tests, test_folders, Canary, RefChoice, ReleaseError, ReleaseSettings,
    ReloadStatus,
};

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
    /// Commits that ran: a candidate at or below one of them is not newer.
    installed: HashSet<String>,
    /// The canary on trial.
    trial: Option<Trial>,
}

/// A canary release being compared with the running one.
struct Trial {
    release: Release,
    canary: Arc<Canary>,
    started: Instant,
}

/// What looking for a newer release found.
enum Update {
    Switched(Release, FilterGraph),
    /// Nothing newer that validates; the refusals, for the start-up error.
    Nothing {
        reasons: String,
    },
}

impl Releases {
    /// Opens (or creates) the mirror under `path.data/releases`, removing release folders a
    /// previous run left.
    pub fn open(settings: ReleaseSettings) -> Result<Releases, ReleaseError> {
        let git_error = |source| ReleaseError::Git {
            repo: settings.repo.clone(),
            source,
        };
        let mirror = Mirror::open(&settings.folder.join("repo.git"), settings.repo.clone())
            .map_err(git_error)?;
        if let Ok(entries) = std::fs::read_dir(&settings.folder) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() && entry.file_name() != "repo.git" {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
        Ok(Releases {
            settings,
            mirror,
            current: None,
            refused: HashSet::new(),
            installed: HashSet::new(),
            trial: None,
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
    /// when the best is refused), adopted as the current one. Canaries wait for a poll.
    pub fn first(&mut self, status: &ReloadStatus) -> Result<FilterGraph, ReleaseError> {
        let update = self.mirror.fetch().and_then(|()| self.update(status));
        let (release, graph) = match update {
            Ok(Update::Switched(release, graph)) => (release, graph),
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
        tracing::info!(
            release = %release.name,
            commit = %release.commit,
            repo = %self.settings.repo,
            "filters from release {}",
            release.name
        );
        status.set_release(&release);
        self.adopt(release);
        Ok(graph)
    }

    /// A poll: fetches; decides the canary on trial once its time is up; otherwise switches
    /// `switch` to a newer release that validates, or puts a new canary on trial. Failures
    /// (fetch, refused releases) are logged and counted in `status`.
    pub fn poll(&mut self, status: &ReloadStatus, switch: &FilterSwitch) {
        if let Err(e) = self.mirror.fetch() {
            let message = format!(
                "filters.repo {}: {e}; release {} keeps running",
                self.settings.repo,
                self.current.as_ref().map_or("(none)", |r| &r.name)
            );
            tracing::error!("{message}");
            status.failure(message);
            // The mirror is as it was; a trial still ends on time.
            if self.trial.is_some() {
                self.judge(status, switch);
            }
            return;
        }
        if self.trial.is_some() {
            return self.judge(status, switch);
        }
        match self.update(status) {
            Ok(Update::Switched(release, graph)) => self.switch_to(release, graph, status, switch),
            Ok(Update::Nothing { .. }) => self.start_trial(status, switch),
            Err(e) => self.git_failed(&e, status),
        }
    }

    fn git_failed(&self, error: &GitError, status: &ReloadStatus) {
        let message = format!("filters.repo {}: {error}", self.settings.repo);
        tracing::error!("{message}");
        status.failure(message);
    }

    fn switch_to(
        &mut self,
        release: Release,
        graph: FilterGraph,
        status: &ReloadStatus,
        switch: &FilterSwitch,
    ) {
        let generation = switch.replace(graph);
        tracing::info!(
            release = %release.name,
            commit = %release.commit,
            generation,
            "switched filters to release {}",
            release.name
        );
        status.set_release(&release);
        status.success();
        self.adopt(release);
    }

    /// Validates the candidates `filters.ref` picks, best first, until one passes, stopping at
    /// a release that ran already.
    fn update(&mut self, status: &ReloadStatus) -> Result<Update, GitError> {
        let candidates = self.candidates(&self.settings.choice)?;
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
            if self.installed.contains(&commit) {
                break;
            }
            if self.refused.contains(&commit) {
                tracing::debug!(release = %name, "skipping a release refused before");
                continue;
            }
            match self.try_release(&name, &commit) {
                Ok((release, graph)) => return Ok(Update::Switched(release, graph)),
                Err(reason) => {
                    self.refuse(&name, &commit, &reason, status);
                    reasons.push_str(&format!("\nrelease {name}: {reason}"));
                }
            }
        }
        Ok(Update::Nothing { reasons })
    }

    /// Logs and counts a refused release, and remembers not to try it again.
    fn refuse(&mut self, name: &str, commit: &str, reason: &str, status: &ReloadStatus) {
        let running = self
            .current
            .as_ref()
            .map_or("no release".to_string(), |r| format!("release {}", r.name));
        let message = format!(
            "release {name} ({}) refused, {running} keeps running:\n{reason}",
            short(commit)
        );
        tracing::error!("{message}");
        status.failure(message);
        self.refused.insert(commit.to_string());
    }

    /// Puts the best new canary that validates on trial.
    fn start_trial(&mut self, status: &ReloadStatus, switch: &FilterSwitch) {
        let (Some(settings), Some(current)) = (&self.settings.canary, &self.current) else {
            return;
        };
        let (settings, current) = (settings.clone(), current.clone());
        let candidates = match self.candidates(&settings.choice) {
            Ok(candidates) => candidates,
            Err(e) => return self.git_failed(&e, status),
        };
        for (name, commit) in candidates {
            if self.installed.contains(&commit) {
                break;
            }
            if self.refused.contains(&commit) {
                continue;
            }
            let (release, candidate) = match self.try_release(&name, &commit) {
                Ok(tried) => tried,
                Err(reason) => {
                    self.refuse(&name, &commit, &reason, status);
                    continue;
                }
            };
            // A private instance of the running filters, so their state is not disturbed.
            let live = match self.build(&current) {
                Ok(live) => live,
                Err(reason) => {
                    tracing::error!(
                        "cannot rebuild release {} to compare canary {name} with: {reason}",
                        current.name
                    );
                    let _ = std::fs::remove_dir_all(&release.folder);
                    return;
                }
            };
            let canary = Arc::new(Canary::new(&name, live, candidate, settings.percent));
            tracing::info!(
                release = %name,
                commit = %commit,
                "canary release {name} on trial: {}% of live events compared with release {} for {:?}",
                settings.percent,
                current.name,
                settings.duration
            );
            switch.set_tap(Some(canary.clone()));
            status.set_canary(Some(canary.clone()), None);
            self.trial = Some(Trial {
                release,
                canary,
                started: Instant::now(),
            });
            return;
        }
    }

    /// Once the trial's time is up: promotes the canary, or refuses it.
    fn judge(&mut self, status: &ReloadStatus, switch: &FilterSwitch) {
        let Some(settings) = self.settings.canary.clone() else {
            return;
        };
        let Some(trial) = self
            .trial
            .take_if(|t| t.started.elapsed() >= settings.duration)
        else {
            return;
        };
        switch.set_tap(None);
        let mut report = trial.canary.report();
        let outcome = match report.refusal(settings.budget) {
            Some(reason) => Err(reason),
            // A fresh instance: the trial's one has seen the sample.
            None => self.build(&trial.release),
        };
        match outcome {
            Ok(graph) => {
                report.verdict = Some("promoted".into());
                tracing::info!(
                    release = %trial.release.name,
                    compared = report.compared,
                    differing = report.differing,
                    "canary release {} promoted",
                    trial.release.name
                );
                status.set_canary(None, Some(report));
                self.switch_to(trial.release, graph, status, switch);
            }
            Err(reason) => {
                let examples: String = report.examples.iter().map(|e| format!("\n  {e}")).collect();
                let reason = format!("canary comparison: {reason}{examples}");
                report.verdict = Some(format!("refused: {reason}"));
                status.set_canary(None, Some(report));
                self.refuse(&trial.release.name, &trial.release.commit, &reason, status);
                let _ = std::fs::remove_dir_all(&trial.release.folder);
            }
        }
    }

    /// `(name, commit)` of the refs `choice` may use, best first.
    fn candidates(&self, choice: &RefChoice) -> Result<Vec<(String, String)>, GitError> {
        match choice {
            RefChoice::Glob(_) => {
                let tags = self.mirror.tags()?;
                let ranked = choice.rank(tags.iter().map(|(n, _)| n.as_str()));
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

    /// Builds the filters of a release checked out.
    fn build(&self, release: &Release) -> Result<FilterGraph, String> {
        let settings = &self.settings;
        let filters = release.folder.join(&settings.path);
        build_filters(&filters, settings.parse, settings.build.clone())
    }

    /// Builds the release's filters as `sluice check` does, then runs its tests.
    fn validate(&self, release: &Release) -> Result<FilterGraph, String> {
        let settings = &self.settings;
        let graph = self.build(release)?;
        let filters = release.folder.join(&settings.path);
        let tests = test_folders(&release.folder, &filters);
        if !tests.is_empty() {
            run_tests(&settings.sluice, &tests, &filters, settings.ecs)?;
        }
        Ok(graph)
    }

    /// Makes `release` the current one; the previous one's folder is removed.
    fn adopt(&mut self, release: Release) {
        self.installed.insert(release.commit.clone());
        if let Some(old) = self.current.replace(release) {
            let _ = std::fs::remove_dir_all(&old.folder);
        }
    }
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
}
