//! Running one compiled grok regex: [`Matcher`], with per-thread [`MatcherScratch`].
//!
//! Engine choice, by measurement (one core, `%{COMBINEDAPACHELOG}` over 10,000 real Apache
//! lines, every capture read):
//!
//! | engine                                   | matching lines | failing lines |
//! |------------------------------------------|----------------|---------------|
//! | PCRE2 JIT, UCP (no per-call UTF check)   | 3.2 M/s        | 0.17 M/s      |
//! | PCRE2 JIT, UTF with the per-call check   | 1.7 M/s        | 0.16 M/s      |
//! | same, `is_match` (no captures)           | 1.9 M/s        |               |
//! | `regex` crate, captures                  | 0.05 M/s       |               |
//! | `regex` crate, `is_match` (lazy DFA)     | 1.1 M/s        | 1.1 M/s       |
//!
//! So captures always come from PCRE2 with JIT (exact Oniguruma semantics, see
//! `emit`), reusing one match-data block per thread. The `regex` crate cannot run
//! the patterns-core set exactly (lookaround, atomic groups) and, where it can, is 60 times
//! slower at captures; a backtracking search finds captures for almost nothing, so there is
//! no separate match-then-capture pass either. A failing line is PCRE2's worst
//! case (it retries the whole regex at every start position), where the `regex` crate's
//! linear-time DFA on a relaxed superset regex is six times faster, and
//! an in-order search for the regex's required literals
//! faster still. Both cost time on lines that do match, so each thread turns them on for a
//! pattern only while that pattern has recently failed on more than a quarter of its lines.
//!
//! Timeouts: PCRE2 counts backtracking steps; a pattern gets a limit of
//! [`STEPS_PER_MILLI`] steps per millisecond of `timeout_millis`, capped by PCRE2's built-in
//! 10,000,000 (about 20 ms). A search that reaches it reports [`Outcome::Limit`], which grok
//! tags `_groktimeout`. Measured with JIT on catastrophic patterns (`(.*a){30}` on 68 `a`s,
//! `^(a+)+b$`): 1.7 to 2.2 ns per step.

use memchr::memmem;

/// Backtracking steps PCRE2's JIT runs per millisecond (measured: about 2 ns a step).
pub const STEPS_PER_MILLI: u64 = 500_000;

/// PCRE2's compiled-in match limit; a pattern's own limit can only be lower.
pub const MAX_STEPS: u64 = 10_000_000;

/// The most memory the DFA prefilter of one pattern may use per thread (filled lazily). Below
/// about 16 MiB the near-miss case (`%{COMBINEDAPACHELOG} %{NOTSPACE:x}` on Apache lines)
/// keeps rebuilding states and falls from 0.8 M lines/s to 0.07 M.
const DFA_CACHE: usize = 16 << 20;

/// JIT stack per match-data block: deep enough for the patterns-core set with long lines.
const JIT_STACK: usize = 1 << 20;

/// A compiled regex with its prefilters.
pub struct Matcher {
    pcre: pcre2::bytes::Regex,
    dfa: Option<regex::bytes::Regex>,
    literals: Vec<memmem::Finder<'static>>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("pcre", &self.pcre.as_str())
            .field("dfa", &self.dfa.as_ref().map(|d| d.as_str().len()))
            .field("literals", &self.literals.len())
            .finish()
    }
}

/// The result of one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Match,
    NoMatch,
    /// PCRE2 gave up: the step limit (the timeout) or its stack ran out.
    Limit,
}

/// Per-thread state for one [`Matcher`]: PCRE2's match data (the capture offsets of the last
/// match) and the recent failure rate that decides whether prefilters run.
pub struct MatcherScratch {
    locations: pcre2::bytes::CaptureLocations,
    recent_attempts: u32,
    recent_failures: u32,
}

impl MatcherScratch {
    /// Byte offsets of PCRE2 group `group` in the last successful search.
    #[inline]
    pub fn group(&self, group: usize) -> Option<(usize, usize)> {
        self.locations.get(group)
    }

    fn prefilter_pays(&self) -> bool {
        self.recent_failures * 4 > self.recent_attempts
    }

    fn record(&mut self, matched: bool) {
        self.recent_attempts += 1;
        self.recent_failures += u32::from(!matched);
        if self.recent_attempts >= 256 {
            self.recent_attempts /= 2;
            self.recent_failures /= 2;
        }
    }
}

/// Why a regex could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(String);

impl CompileError {
    /// PCRE2's compiled form would exceed its 64 KiB limit.
    pub fn is_too_large(&self) -> bool {
        self.0.contains("too large")
    }
}

impl Matcher {
    /// Compiles `pcre` (PCRE2 syntax, without a limit) with a limit of `steps`; `relaxed` is
    /// the superset regex for the DFA prefilter, `literals` the required strings.
    pub fn new(
        pcre: &str,
        steps: u64,
        relaxed: Option<&str>,
        literals: &[String],
    ) -> Result<Matcher, CompileError> {
        let text = format!("(*LIMIT_MATCH={}){pcre}", steps.clamp(1, MAX_STEPS));
        let regex = pcre2::bytes::RegexBuilder::new()
            .ucp(true)
            .dotall(true)
            .multi_line(true)
            .jit_if_available(true)
            .max_jit_stack_size(Some(JIT_STACK))
            .build(&text)
            .map_err(|e| CompileError(pcre2_error_summary(&e)))?;
        let dfa = relaxed.and_then(|r| {
            regex::bytes::RegexBuilder::new(r)
                .size_limit(32 << 20)
                .dfa_size_limit(DFA_CACHE)
                .build()
                .ok()
        });
        let literals = literals
            .iter()
            .map(|l| memmem::Finder::new(l.as_bytes()).into_owned())
            .collect();
        Ok(Matcher {
            pcre: regex,
            dfa,
            literals,
        })
    }

    pub fn scratch(&self) -> MatcherScratch {
        MatcherScratch {
            locations: self.pcre.capture_locations(),
            recent_attempts: 0,
            recent_failures: 0,
        }
    }

    /// Searches `subject`; on [`Outcome::Match`] the groups are in `scratch`.
    pub fn search(&self, scratch: &mut MatcherScratch, subject: &str) -> Outcome {
        let bytes = subject.as_bytes();
        if scratch.prefilter_pays() && !self.may_match(bytes) {
            scratch.record(false);
            return Outcome::NoMatch;
        }
        let outcome = self.search_exact(scratch, subject);
        scratch.record(outcome == Outcome::Match);
        outcome
    }

    /// Searches `subject` with PCRE2 alone, without the prefilters.
    pub fn search_exact(&self, scratch: &mut MatcherScratch, subject: &str) -> Outcome {
        match self
            .pcre
            .captures_read(&mut scratch.locations, subject.as_bytes())
        {
            Ok(Some(_)) => Outcome::Match,
            Ok(None) => Outcome::NoMatch,
            Err(_) => Outcome::Limit,
        }
    }

    /// False only when `subject` certainly does not match (the prefilters' verdict).
    pub fn may_match(&self, subject: &[u8]) -> bool {
        let mut at = 0;
        for finder in &self.literals {
            match finder.find(&subject[at..]) {
                Some(i) => at += i + finder.needle().len(),
                None => return false,
            }
        }
        self.dfa.as_ref().is_none_or(|dfa| dfa.is_match(subject))
    }

    /// Whether a DFA prefilter could be built (for tests and diagnostics).
    pub fn has_dfa(&self) -> bool {
        self.dfa.is_some()
    }
}

/// PCRE2's message without its prefix and the offset into the translated regex (which the
/// user never wrote).
fn pcre2_error_summary(e: &pcre2::Error) -> String {
    let text = e.to_string();
    let tail = text.strip_prefix("PCRE2: ").unwrap_or(&text);
    match tail.split_once(": ") {
        Some((_, message)) => message.to_string(),
        None => tail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilters_turn_on_for_patterns_that_keep_failing() {
        let m = Matcher::new("(\\d+) x", MAX_STEPS, Some("[0-9]+ x"), &[" x".into()]).unwrap();
        let mut s = m.scratch();
        assert_eq!(m.search(&mut s, "12 x"), Outcome::Match);
        assert_eq!(s.group(1), Some((0, 2)));
        assert!(!s.prefilter_pays());
        for _ in 0..4 {
            assert_eq!(m.search(&mut s, "no digits here"), Outcome::NoMatch);
        }
        assert!(s.prefilter_pays());
        assert_eq!(m.search(&mut s, "12 y"), Outcome::NoMatch);
        assert_eq!(m.search(&mut s, "a 7 x"), Outcome::Match);
        assert_eq!(s.group(1), Some((2, 3)));
    }

    #[test]
    fn the_step_limit_stops_catastrophic_backtracking() {
        let m = Matcher::new("^(a+)+b$", 100_000, None, &[]).unwrap();
        let mut s = m.scratch();
        let subject = format!("{}b!", "a".repeat(40));
        assert_eq!(m.search(&mut s, &subject), Outcome::Limit);
        assert_eq!(m.search(&mut s, "aaab"), Outcome::Match);
    }
}
