//! The files the sandbox debugs: the config files of `-f` (folders as their `*.conf` files, as
//! `sluice run` reads them) and the test case files beside them, re-read every time
//! [`Workspace::refresh`] runs; [`Workspace::version`] grows whenever what it read differs from
//! the last read, which is how the page learns that the files changed on disk.
//!
//! Without `-f` the workspace holds one built-in example config that is never written anywhere.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cli::load::config_files;
use crate::cli::test::{walk, TestFile};
use crate::event::Value;

use super::view;

/// The config the page starts with when no `-f` is given.
pub const EXAMPLE_PATH: &str = "example.conf";
const EXAMPLE: &str = r#"filter {
  grok {
    match => { "message" => "%{IPORHOST:client} %{WORD:verb} %{URIPATHPARAM:request} %{NUMBER:status:int}" }
  }
  if [status] and [status] >= 500 {
    mutate { add_tag => ["server_error"] }
  }
}
"#;

/// One config file's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileText {
    pub path: String,
    pub text: String,
}

/// A test case file as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestFileView {
    pub path: String,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
    /// The file's `codec` (`line` when it names none).
    pub codec: String,
    pub cases: Vec<CaseView>,
}

/// One test case: its input lines and the fields set on them (`[a][b]` keys).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseView {
    pub description: Option<String>,
    pub input: Vec<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What `GET /api/files` answers.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub version: u64,
    pub root: String,
    pub writable: bool,
    /// Why the config files could not be read, if they could not.
    pub error: Option<String>,
    pub files: Vec<FileText>,
    pub tests: Vec<TestFileView>,
}

/// Why files could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the sandbox was started read-only (or without -f): nothing is written")]
    ReadOnly,
    #[error("{0} is not one of the config files of this sandbox")]
    NotInWorkspace(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The `-f` paths and what was last read from them.
pub struct Workspace {
    paths: Vec<PathBuf>,
    writable: bool,
    state: Mutex<State>,
}

struct State {
    version: u64,
    files: Vec<FileText>,
    tests: Vec<TestFileView>,
    /// The reading error of the config files, shown as the only file's text when there is one.
    error: Option<String>,
}

impl Workspace {
    /// Reads `paths` (none: the built-in example). Config files that cannot be read are not an
    /// error here: the page shows why and picks them up once they can be read.
    pub fn open(paths: Vec<PathBuf>, read_only: bool) -> Workspace {
        let writable = !read_only && !paths.is_empty();
        let workspace = Workspace {
            paths,
            writable,
            state: Mutex::new(State {
                version: 0,
                files: Vec::new(),
                tests: Vec::new(),
                error: None,
            }),
        };
        workspace.refresh();
        workspace
    }

    /// Reads the files again; true (and a new version) when anything differs.
    pub fn refresh(&self) -> bool {
        let (files, error) = self.read_configs();
        let tests = self.read_tests();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.version > 0 && state.files == files && state.tests == tests && state.error == error
        {
            return false;
        }
        state.version += 1;
        state.files = files;
        state.tests = tests;
        state.error = error;
        true
    }

    pub fn version(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).version
    }

    /// The config files as last read.
    pub fn files(&self) -> Vec<FileText> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.files.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            version: state.version,
            root: self.root(),
            writable: self.writable,
            error: state.error.clone(),
            files: state.files.clone(),
            tests: state.tests.clone(),
        }
    }

    /// Writes `files` back (each must be one of the workspace's config files), then re-reads.
    pub fn save(&self, files: &[FileText]) -> Result<u64, SaveError> {
        if !self.writable {
            return Err(SaveError::ReadOnly);
        }
        let known = self.files();
        for file in files {
            if !known.iter().any(|k| k.path == file.path) {
                return Err(SaveError::NotInWorkspace(file.path.clone()));
            }
        }
        for file in files {
            std::fs::write(&file.path, &file.text).map_err(|source| SaveError::Write {
                path: file.path.clone(),
                source,
            })?;
        }
        self.refresh();
        Ok(self.version())
    }

    fn root(&self) -> String {
        if self.paths.is_empty() {
            return "(built-in example)".to_string();
        }
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        names.join(", ")
    }

    fn read_configs(&self) -> (Vec<FileText>, Option<String>) {
        if self.paths.is_empty() {
            let example = FileText {
                path: EXAMPLE_PATH.to_string(),
                text: EXAMPLE.to_string(),
            };
            return (vec![example], None);
        }
        let paths = match config_files(&self.paths) {
            Ok(paths) => paths,
            Err(e) => return (Vec::new(), Some(e.to_string())),
        };
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push(FileText {
                    path: path.display().to_string(),
                    text,
                }),
                Err(e) => return (files, Some(format!("cannot read {}: {e}", path.display()))),
            }
        }
        (files, None)
    }

    /// Test files in the `-f` folders (or beside `-f` files), recursively.
    fn read_tests(&self) -> Vec<TestFileView> {
        let mut found = Vec::new();
        for path in &self.paths {
            let dir = if path.is_dir() {
                path.as_path()
            } else {
                path.parent().unwrap_or(Path::new("."))
            };
            let _ = walk(dir, &mut found);
        }
        found.sort();
        found.dedup();
        found.iter().map(|path| test_view(path)).collect()
    }
}

fn test_view(path: &Path) -> TestFileView {
    let path_text = path.display().to_string();
    match TestFile::load(path) {
        Ok(file) => TestFileView {
            path: path_text,
            error: None,
            codec: file.codec.clone().unwrap_or_else(|| "line".to_string()),
            cases: file
                .cases
                .iter()
                .map(|case| CaseView {
                    description: case.description.clone(),
                    input: case.input.clone(),
                    fields: fields_json(file.fields.iter().chain(&case.fields)),
                })
                .collect(),
        },
        Err(e) => TestFileView {
            path: path_text,
            error: Some(e.to_string()),
            codec: "line".to_string(),
            cases: Vec::new(),
        },
    }
}

fn fields_json<'a>(
    fields: impl Iterator<Item = &'a (crate::event::FieldPath, Value)>,
) -> serde_json::Map<String, serde_json::Value> {
    fields
        .map(|(path, value)| (path.to_string(), view::value(value)))
        .collect()
}
