//! Front-matter dates: `2026-01-10`, `2026-01-10 09:30:00`, or RFC 3339 with an offset.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Parses a date; dates without a time or offset are taken as UTC.
pub fn parse_date(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Ok(timestamp);
    }
    let civil = text.parse::<DateTime>().or_else(|_| {
        text.parse::<Date>()
            .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
    });
    civil
        .ok()
        .and_then(|civil| civil.to_zoned(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            format!("`{text}` is not a date: write `2026-01-10` or `2026-01-10T09:30:00Z`")
        })
}

/// `10 Jan 2026`, for people.
pub fn display_date(timestamp: Timestamp) -> String {
    timestamp
        .to_zoned(TimeZone::UTC)
        .strftime("%-d %b %Y")
        .to_string()
}

/// `2026-01-10T00:00:00Z`, for machines (feeds, sitemaps, JSON-LD).
pub fn rfc3339(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dates_datetimes_and_offsets() {
        let day = parse_date("2026-01-10").unwrap();
        assert_eq!(rfc3339(day), "2026-01-10T00:00:00Z");
        assert_eq!(display_date(day), "10 Jan 2026");
        let offset = parse_date("2026-01-10T09:30:00+02:00").unwrap();
        assert_eq!(rfc3339(offset), "2026-01-10T07:30:00Z");
        assert_eq!(
            rfc3339(parse_date("2026-01-10 09:30:00").unwrap()),
            "2026-01-10T09:30:00Z"
        );
    }

    #[test]
    fn rejects_nonsense_with_an_example() {
        assert!(parse_date("10/01/2026").unwrap_err().contains("2026-01-10"));
        assert!(parse_date("2026-02-30").is_err());
    }
}
