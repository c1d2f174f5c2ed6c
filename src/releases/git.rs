//! The `git` command line, run with a time limit: a bare mirror of the filter repository under
//! `path.data/releases/repo.git` ([`Mirror`]), fetched on each poll, its tags listed, and one
//! commit checked out into a fresh folder per release.
//!
//! git is run, not linked: it understands every URL (ssh with the user's keys and config,
//! `file://`, https with credential helpers). It never prompts (`GIT_TERMINAL_PROMPT=0`, ssh in
//! batch mode), and what it prints is scrubbed of credentials ([`RepoUrl::scrub`]) before it is
//! shown.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::redact::RepoUrl;

/// How long a fetch may take before it is abandoned (the running release keeps running).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a local git command (listing, checkout) may take.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(30);

/// A git command that failed; the message is already scrubbed of credentials.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("git {command} timed out after {after:?}")]
    Timeout { command: String, after: Duration },
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("{0}")]
    Io(String),
}

/// A local bare repository mirroring the filter repository's branches and tags.
pub struct Mirror {
    dir: PathBuf,
    url: RepoUrl,
}

impl Mirror {
    /// The mirror at `dir`, created (empty) if it does not exist yet.
    pub fn open(dir: &Path, url: RepoUrl) -> Result<Mirror, GitError> {
        let mirror = Mirror {
            dir: dir.to_path_buf(),
            url,
        };
        if !dir.join("HEAD").exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| GitError::Io(format!("cannot create {}: {e}", dir.display())))?;
            mirror.git(&["init", "--quiet", "--bare"], LOCAL_TIMEOUT)?;
        }
        Ok(mirror)
    }

    /// Fetches every branch and tag, dropping those the repository no longer has.
    pub fn fetch(&self) -> Result<(), GitError> {
        self.git(
            &[
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "--no-tags",
                self.url.raw(),
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            ],
            FETCH_TIMEOUT,
        )
        .map(drop)
    }

    /// Every tag with the commit it points at (annotated tags peeled).
    pub fn tags(&self) -> Result<Vec<(String, String)>, GitError> {
        let listing = self.git(
            &[
                "for-each-ref",
                "--format=%(refname:strip=2) %(objectname) %(*objectname)",
                "refs/tags",
            ],
            LOCAL_TIMEOUT,
        )?;
        Ok(listing
            .lines()
            .filter_map(|line| {
                let mut parts = line.split(' ');
                let name = parts.next()?;
                let object = parts.next()?;
                let peeled = parts.next().filter(|p| !p.is_empty()).unwrap_or(object);
                Some((name.to_string(), peeled.to_string()))
            })
            .collect())
    }

    /// The commit a tag or branch name points at, `None` when there is no such ref.
    pub fn resolve(&self, name: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{name}^{{commit}}");
        match self.git(
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
            LOCAL_TIMEOUT,
        ) {
            Ok(out) => Ok(Some(out.trim().to_string())),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the files of `commit` into `dir`, which must be empty or absent.
    pub fn check_out(&self, commit: &str, dir: &Path) -> Result<(), GitError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| GitError::Io(format!("cannot create {}: {e}", dir.display())))?;
        // An index of its own, so the mirror stays bare and untouched.
        let index = dir.with_extension("index");
        let work_tree = format!("--work-tree={}", dir.display());
        let result = self.git_with(
            &[
                &work_tree, "checkout", "--quiet", "--force", commit, "--", ".",
            ],
            LOCAL_TIMEOUT,
            Some(&index),
        );
        let _ = std::fs::remove_file(&index);
        result.map(drop)
    }

    fn git(&self, args: &[&str], timeout: Duration) -> Result<String, GitError> {
        self.git_with(args, timeout, None)
    }

    /// Runs `git --git-dir=MIRROR ARGS`; its stdout on success.
    fn git_with(
        &self,
        args: &[&str],
        timeout: Duration,
        index: Option<&Path>,
    ) -> Result<String, GitError> {
        let mut command = Command::new("git");
        command
            .arg(format!("--git-dir={}", self.dir.display()))
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("GIT_SSH_COMMAND").is_none() {
            command.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
        }
        if let Some(index) = index {
            command.env("GIT_INDEX_FILE", index);
        }
        // Named by its subcommand only: the arguments may hold the URL.
        let name = args
            .iter()
            .find(|a| !a.starts_with("--"))
            .copied()
            .unwrap_or("");
        let output = run_with_timeout(&mut command, timeout).map_err(|e| match e {
            RunError::Spawn(e) => GitError::Spawn(e),
            RunError::Timeout => GitError::Timeout {
                command: name.to_string(),
                after: timeout,
            },
        })?;
        if output.success {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let said = String::from_utf8_lossy(&output.stderr);
        let message = match said.trim() {
            "" => format!("exit status {}", output.status),
            text => self.url.scrub(text),
        };
        Err(GitError::Failed {
            command: name.to_string(),
            message,
        })
    }
}

/// What a finished command wrote, and how it ended.
pub(crate) struct Finished {
    pub success: bool,
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub(crate) enum RunError {
    Spawn(std::io::Error),
    Timeout,
}

/// Runs `command` (stdout and stderr piped), killing it after `timeout`.
pub(crate) fn run_with_timeout(
    command: &mut Command,
    timeout: Duration,
) -> Result<Finished, RunError> {
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout);
            }
        }
    };
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}
