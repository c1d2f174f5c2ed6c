//! Keeping credentials out of sight: a repository URL such as
//! `https://user:token@host/filters.git` is shown as `https://***@host/filters.git` in logs,
//! errors and status ([`RepoUrl`]'s `Display` and `Debug`), and any text that may quote it (git's
//! own messages) goes through [`RepoUrl::scrub`] before it is shown.

use std::fmt;

/// A repository URL whose credentials are never displayed. Only [`RepoUrl::raw`] gives the URL
/// as written, for git's command line.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    raw: String,
    shown: String,
}

/// Secrets shorter than this are not searched for in free text: replacing every `ab` in a
/// message would hide more than it protects.
const MIN_SECRET_LEN: usize = 4;

impl RepoUrl {
    pub fn new(raw: &str) -> RepoUrl {
        RepoUrl {
            raw: raw.to_string(),
            shown: redact_url(raw),
        }
    }

    /// The URL as written, credentials included: for git's arguments only.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `text` with this URL's credentials hidden: the URL itself, any other `scheme://user@`
    /// authority, and the secret wherever else it appears.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.raw, &self.shown);
        if let Some(info) = userinfo(&self.raw) {
            // The whole `user:password`, and the password alone (a token may be the user
            // part: `https://TOKEN@host`), as written and percent-decoded.
            let password = info.split_once(':').map(|(_, p)| p);
            for secret in std::iter::once(info).chain(password) {
                let decoded = percent_encoding::percent_decode_str(secret).decode_utf8_lossy();
                for secret in [secret, &*decoded] {
                    if secret.len() >= MIN_SECRET_LEN {
                        text = text.replace(secret, "***");
                    }
                }
            }
        }
        redact_authorities(&text)
    }
}

impl fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoUrl({:?})", self.shown)
    }
}

/// `scheme://user:secret@host/path` -> `scheme://***@host/path`; other URLs as they are.
pub fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "***@", 1),
        None => url.to_string(),
    }
}

/// The `user:secret` part of a `scheme://user:secret@host/...` URL.
fn userinfo(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // The last `@` ends the userinfo: a secret may itself hold an (unencoded) `@`.
    let at = authority.rfind('@')?;
    Some(&authority[..at])
}

/// Every `scheme://userinfo@` in free text becomes `scheme://***@`.
fn redact_authorities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '\'' | '"' | '<' | '>'))
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &after[at..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_replaced() {
        assert_eq!(
            redact_url("https://deploy:s3cr3t-t0ken@git.example.com/team/filters.git"),
            "https://***@git.example.com/team/filters.git"
        );
        assert_eq!(
            redact_url("https://tok@en:x@host/r.git"),
            "https://***@host/r.git"
        );
        assert_eq!(
            redact_url("ssh://git@host:22/r.git"),
            "ssh://***@host:22/r.git"
        );
    }

    #[test]
    fn urls_without_credentials_are_kept() {
        for url in [
            "file:///srv/filters.git",
            "https://host/a@b/repo.git",
            "git@github.com:team/filters.git",
            "/srv/filters",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn display_and_debug_never_show_the_secret() {
        let url = RepoUrl::new("https://user:hunter22@host/r.git");
        assert_eq!(url.to_string(), "https://***@host/r.git");
        assert!(!format!("{url:?}").contains("hunter22"));
        assert!(url.raw().contains("hunter22"));
    }

    #[test]
    fn text_quoting_the_url_or_the_secret_is_scrubbed() {
        let url = RepoUrl::new("https://user:hunter%2122@host/r.git");
        let git_said = "fatal: unable to access 'https://user:hunter%2122@host/r.git/': \
                        auth failed for hunter!22; see https://other:pw@mirror/x";
        let shown = url.scrub(git_said);
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(!shown.contains("other:pw"), "{shown}");
        assert!(shown.contains("https://***@host/r.git"), "{shown}");
        assert!(shown.contains("https://***@mirror/x"), "{shown}");
    }
}
