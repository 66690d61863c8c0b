//! Time as data. The engine never reads the wall clock: an execution's "now" is a number of
//! milliseconds since the Unix epoch that only [`crate::Execution::advance_clock`] (or the
//! driver loop jumping to the next timer) moves forward. This module parses and formats
//! timestamps the way ASL writes them.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, in simulated time.
pub type Millis = i64;

/// Parses an ASL timestamp (RFC 3339 with an uppercase `T`; AWS also rejects a lowercase
/// `z`). Returns milliseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<Millis> {
    if text.len() < 11 || text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    let parsed = DateTime::parse_from_rfc3339(text).ok()?;
    Some(parsed.timestamp_millis())
}

/// Formats a simulated instant as AWS prints it in the context object and in histories,
/// e.g. `2024-01-01T00:00:00.000Z`.
pub fn format_timestamp(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_reject_lowercase_separators() {
        let ms = parse_timestamp("2016-03-14T01:59:00Z").unwrap();
        assert_eq!(format_timestamp(ms), "2016-03-14T01:59:00.000Z");
        assert_eq!(parse_timestamp("2016-03-14t01:59:00Z"), None);
        assert_eq!(parse_timestamp("2016-03-14T01:59:00z"), None);
        assert_eq!(parse_timestamp("2016-03-14"), None);
        assert!(parse_timestamp("2016-03-14T01:59:00.123+02:00").is_some());
    }
}
