//! [`Timestamp`]: `@timestamp` as nanoseconds since the Unix epoch, UTC.
//!
//! Kept as an integer so that creating and comparing timestamps is free; it is formatted only
//! when an output writes it.

/// An instant, in nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis * 1_000_000)
    }

    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs * 1_000_000_000)
    }

    /// The current time.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos() as i64)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Nanoseconds within the second, 0..1e9.
    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }
}

impl Timestamp {
    /// Parses an ISO8601 / RFC3339 instant as Logstash accepts it in `@timestamp`
    /// (`2026-11-21T05:24:00.000Z`, `2026-11-21T05:24:00+01:00`, fraction up to nanoseconds,
    /// `T` or space between date and time; no zone means UTC).
    pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
        let _ = s;
        todo!("event/timestamp.rs: parse_iso8601")
    }

    /// Writes the instant the way Logstash's JSON does: UTC, `Z`, milliseconds always, more
    /// digits (micro, nano) only when present: `2026-11-21T05:24:00.000Z`.
    pub fn write_iso8601(self, buf: &mut Vec<u8>) {
        let _ = buf;
        todo!("event/timestamp.rs: write_iso8601")
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = Vec::with_capacity(32);
        self.write_iso8601(&mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| std::fmt::Error)?)
    }
}
