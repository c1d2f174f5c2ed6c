//! Which release `filters.ref` picks: a glob (`release-*`, `v*`) over the repository's tags,
//! highest version first ([`RefChoice::rank`]), or one fixed tag or branch.
//!
//! Versions are compared number by number (`v1.10.0` > `v1.9.3`, `release-10` > `release-9`);
//! a tag whose part after its leading letters is not numbers separated by `.`, `-` or `_`
//! (`v2.0.0-rc1`, `release-next`) is not a version and ranks below every version, among its
//! kind by name.

use std::cmp::Ordering;

/// What `filters.ref` asks for.
#[derive(Clone, Debug)]
pub enum RefChoice {
    /// A tag glob: the highest version among the matching tags.
    Glob(glob::Pattern),
    /// A tag or branch name (or anything `git rev-parse` takes).
    Fixed(String),
}

/// Why `filters.ref` is unusable.
#[derive(Debug, thiserror::Error)]
#[error("filters.ref {text:?} is not a valid tag pattern: {reason}")]
pub struct BadRef {
    text: String,
    reason: &'static str,
}

impl RefChoice {
    /// A ref with `*`, `?` or `[` is a glob; anything else a fixed name.
    pub fn parse(text: &str) -> Result<RefChoice, BadRef> {
        if !text.contains(['*', '?', '[']) {
            return Ok(RefChoice::Fixed(text.to_string()));
        }
        glob::Pattern::new(text)
            .map(RefChoice::Glob)
            .map_err(|e| BadRef {
                text: text.to_string(),
                reason: e.msg,
            })
    }

    /// The tags this choice may use, best first: matching tags by descending version.
    pub fn rank<'t>(&self, tags: impl IntoIterator<Item = &'t str>) -> Vec<&'t str> {
        let RefChoice::Glob(pattern) = self else {
            return Vec::new();
        };
        let mut matching: Vec<&str> = tags.into_iter().filter(|t| pattern.matches(t)).collect();
        matching.sort_by(|a, b| compare_tags(b, a));
        matching
    }
}

/// Version-aware order of two tags (ascending): versions above non-versions, versions by
/// their numbers, ties and non-versions by name.
pub fn compare_tags(a: &str, b: &str) -> Ordering {
    match (version(a), version(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// The numbers of a version tag: what follows its leading non-digits, split at `.`, `-`, `_`.
fn version(tag: &str) -> Option<Vec<u64>> {
    let start = tag.find(|c: char| c.is_ascii_digit())?;
    tag[start..]
        .split(['.', '-', '_'])
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(glob: &str, tags: &[&'static str]) -> Vec<&'static str> {
        RefChoice::parse(glob).unwrap().rank(tags.iter().copied())
    }

    #[test]
    fn the_highest_version_wins_numerically() {
        assert_eq!(
            ranked("v*", &["v1.9.3", "v1.10.0", "v1.2", "v0.99.99"]),
            ["v1.10.0", "v1.9.3", "v1.2", "v0.99.99"]
        );
        assert_eq!(
            ranked("release-*", &["release-9", "release-10", "release-2"]),
            ["release-10", "release-9", "release-2"]
        );
    }

    #[test]
    fn only_matching_tags_are_candidates() {
        assert_eq!(
            ranked("release-*", &["release-1", "v9", "canary-5", "release-3"]),
            ["release-3", "release-1"]
        );
    }

    #[test]
    fn non_versions_rank_below_versions_by_name() {
        assert_eq!(
            ranked("v*", &["v2.0.0-rc1", "v1.0.0", "vnext", "v1.5"]),
            ["v1.5", "v1.0.0", "vnext", "v2.0.0-rc1"]
        );
    }

    #[test]
    fn dates_and_underscores_are_versions() {
        assert_eq!(
            ranked("release-*", &["release-2024-05-01", "release-2024-12-1"]),
            ["release-2024-12-1", "release-2024-05-01"]
        );
        assert_eq!(compare_tags("r_1_10", "r_1_9"), Ordering::Greater);
    }

    #[test]
    fn a_ref_without_glob_characters_is_fixed() {
        assert!(matches!(RefChoice::parse("main"), Ok(RefChoice::Fixed(n)) if n == "main"));
        assert!(ranked("main", &["main"]).is_empty());
        assert!(RefChoice::parse("release-[").is_err());
    }
}
