//! [`Discoverer`]: which files the `path` globs match now.
//!
//! Globs follow Ruby's `Dir.glob`, as Logstash's do: `*`, `?`, `[...]`, `**` for any depth of
//! folders, and `{a,b}` alternatives (expanded here, since the `glob` crate lacks them); `*`
//! does not match a leading dot. Only regular files are kept (symbolic links are followed).
//! `exclude` globs are matched against the file's name only, not its folder, as in Logstash.
//! Unreadable folders and files that vanish while being listed are skipped.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

/// Why a glob is unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid glob \"{pattern}\": {message}")]
pub struct GlobError {
    pub pattern: String,
    pub message: String,
}

/// A file a glob matched, with its metadata at discovery.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub meta: fs::Metadata,
}

/// The `path` and `exclude` globs, checked once.
#[derive(Debug, Clone)]
pub struct Discoverer {
    /// `path` globs with `{a,b}` expanded.
    patterns: Vec<String>,
    exclude: Vec<glob::Pattern>,
}

const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

impl Discoverer {
    pub fn new(paths: &[String], exclude: &[String]) -> Result<Discoverer, GlobError> {
        let mut patterns = Vec::new();
        for path in paths {
            for expanded in expand_braces(path) {
                glob::Pattern::new(&expanded).map_err(|e| GlobError {
                    pattern: path.clone(),
                    message: e.msg.to_string(),
                })?;
                if !patterns.contains(&expanded) {
                    patterns.push(expanded);
                }
            }
        }
        let mut excludes = Vec::new();
        for pattern in exclude {
            for expanded in expand_braces(pattern) {
                excludes.push(glob::Pattern::new(&expanded).map_err(|e| GlobError {
                    pattern: pattern.clone(),
                    message: e.msg.to_string(),
                })?);
            }
        }
        Ok(Discoverer {
            patterns,
            exclude: excludes,
        })
    }

    /// Whether an `exclude` glob matches the file name of `path`.
    pub fn is_excluded(&self, path: &std::path::Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        self.exclude.iter().any(|p| p.matches_with(name, MATCH))
    }

    /// The regular files the globs match now, not excluded, each once, in glob order.
    pub fn discover(&self) -> Vec<Found> {
        let mut found: Vec<Found> = Vec::new();
        let mut seen = HashSet::new();
        for pattern in &self.patterns {
            let Ok(paths) = glob::glob_with(pattern, MATCH) else {
                continue;
            };
            for path in paths.filter_map(Result::ok) {
                if self.is_excluded(&path) || !seen.insert(path.clone()) {
                    continue;
                }
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => found.push(Found { path, meta }),
                    _ => {}
                }
            }
        }
        found
    }
}

/// Expands Ruby-style `{a,b}` alternatives (nested ones too); unbalanced braces stay literal.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let Some((open, close)) = first_group(pattern) else {
        return vec![pattern.to_string()];
    };
    let (head, body, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut out = Vec::new();
    for alternative in split_top_level(body) {
        for expanded in expand_braces(&format!("{head}{alternative}{tail}")) {
            if !out.contains(&expanded) {
                out.push(expanded);
            }
        }
    }
    out
}

/// The byte offsets of the first `{` and its matching `}`.
fn first_group(pattern: &str) -> Option<(usize, usize)> {
    let open = pattern.find('{')?;
    let mut depth = 0;
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((open, open + i));
                }
            }
            _ => {}
        }
    }
    None
}

/// `body` split at the commas outside nested braces.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_like_ruby() {
        assert_eq!(expand_braces("/a/{x,y}.log"), ["/a/x.log", "/a/y.log"]);
        assert_eq!(expand_braces("/{a,b{1,2}}/*"), ["/a/*", "/b1/*", "/b2/*"]);
        assert_eq!(expand_braces("/a/{x.log"), ["/a/{x.log"]);
    }

    #[test]
    fn finds_regular_files_and_applies_exclude_to_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        for name in ["a.log", "b.log", "c.gz", ".hidden.log", "sub/d.log"] {
            fs::write(d.join(name), "x\n").unwrap();
        }
        let root = d.to_str().unwrap();
        let disc = Discoverer::new(
            &[format!("{root}/*.log"), format!("{root}/**/*.{{log,gz}}")],
            &["b.*".to_string()],
        )
        .unwrap();
        let mut names: Vec<_> = disc
            .discover()
            .into_iter()
            .map(|f| {
                f.path
                    .strip_prefix(d)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["a.log", "c.gz", "sub/d.log"]);
    }

    #[test]
    fn a_bad_glob_is_reported() {
        let err = Discoverer::new(&["/a/[".to_string()], &[]).unwrap_err();
        assert!(err.to_string().contains("/a/["), "{err}");
    }
}
