//! cfssl's durations (`87600h`, `43800h`, `1h30m`, `90d`) as [`std::time::Duration`].

use crate::Error;
use std::time::Duration;

/// Parses a duration as cfssl writes them (Go's `87600h` style, also `30d`, `1h30m`);
/// `field` and `source_name` only name the value in the error.
///
/// Zero and negative durations are refused: a certificate that is never valid is a mistake.
pub fn parse_duration(value: &str, source_name: &str, field: &str) -> Result<Duration, Error> {
    let bad = || Error::BadDuration {
        source_name: source_name.to_string(),
        field: field.to_string(),
        value: value.to_string(),
    };
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.starts_with('-') || trimmed.starts_with('+') {
        return Err(bad());
    }
    match humantime::parse_duration(trimmed) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, secs: Option<u64>) {
        let got = parse_duration(input, "t.json", "expiry")
            .ok()
            .map(|d| d.as_secs());
        assert_eq!(got, secs, "{input}");
    }

    #[test]
    fn durations() {
        check("87600h", Some(87600 * 3600));
        check("43800h", Some(43800 * 3600));
        check("1h30m", Some(5400));
        check("30d", Some(30 * 86400));
        check("0h", None);
        check("", None);
        check("-1h", None);
        check("ten years", None);
        check("87600", None);
    }
}
