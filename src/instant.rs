//! Instants given by operators: RFC 3339 (`2026-10-01T09:00:00Z`) or a plain date
//! (`2026-10-01`, read as midnight UTC).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a date or time: write 2026-10-01 or 2026-10-01T09:30:00Z")]
pub struct InstantError(pub String);

pub fn parse_instant(text: &str) -> Result<Timestamp, InstantError> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<Date>()
        .ok()
        .and_then(|date| date.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| InstantError(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_times_are_exact() {
        assert_eq!(
            parse_instant("2026-10-01").map(|t| t.as_second()),
            Ok(1_790_812_800)
        );
        assert_eq!(
            parse_instant("2026-10-01T00:00:10Z").map(|t| t.as_second()),
            Ok(1_790_812_810)
        );
        assert!(parse_instant("next tuesday").is_err());
        assert!(parse_instant("2026-13-01").is_err());
    }
}
