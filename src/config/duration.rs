//! Durations in site.toml and front matter (`Nd`, `Nw`, `Nh`) and billing intervals
//! (`1 month`, `2 weeks`).

pub const HOUR: u64 = 3_600;
pub const DAY: u64 = 24 * HOUR;
pub const WEEK: u64 = 7 * DAY;

/// Parses `Nd`, `Nw` or `Nh` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "`{text}` is not a duration: write a whole number followed by d (days), w (weeks) \
             or h (hours), e.g. `14d`"
        )
    };
    // The unit is the last character, which a typo can make non-ASCII (`14é`): split before
    // it, not one byte before the end, which would cut it in two and panic.
    let unit_at = text.char_indices().next_back().map_or(0, |(at, _)| at);
    let (number, unit) = text.split_at(unit_at);
    let unit = match unit {
        "d" => DAY,
        "w" => WEEK,
        "h" => HOUR,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = number.parse().map_err(|_| bad())?;
    count
        .checked_mul(unit)
        .filter(|&seconds| seconds <= 100 * 366 * DAY)
        .ok_or_else(|| format!("`{text}` is longer than a hundred years"))
}

/// A billing interval such as `1 month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub count: u32,
    pub unit: IntervalUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    /// The longest this interval can last on a calendar: months count 31 days and years 366, so
    /// checks built on it hold for every start date.
    pub fn max_seconds(self) -> u64 {
        let unit = match self.unit {
            IntervalUnit::Day => DAY,
            IntervalUnit::Week => WEEK,
            IntervalUnit::Month => 31 * DAY,
            IntervalUnit::Year => 366 * DAY,
        };
        u64::from(self.count) * unit
    }
}

/// Parses `N day(s)|week(s)|month(s)|year(s)`; a bare unit means one.
pub fn parse_interval(text: &str) -> Result<Interval, String> {
    let bad = || {
        format!(
            "`{text}` is not an interval: write e.g. `1 month`, `2 weeks`, `30 days` or `1 year`"
        )
    };
    let mut words = text.split_whitespace();
    let (count, unit) = match (words.next(), words.next(), words.next()) {
        (Some(unit), None, None) => (1, unit),
        (Some(count), Some(unit), None) => (count.parse::<u32>().map_err(|_| bad())?, unit),
        _ => return Err(bad()),
    };
    let unit = match unit.trim_end_matches('s') {
        "day" => IntervalUnit::Day,
        "week" => IntervalUnit::Week,
        "month" => IntervalUnit::Month,
        "year" => IntervalUnit::Year,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(bad());
    }
    Ok(Interval { count, unit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_days_weeks_hours() {
        assert_eq!(parse_duration("14d"), Ok(14 * DAY));
        assert_eq!(parse_duration("2w"), Ok(2 * WEEK));
        assert_eq!(parse_duration("36h"), Ok(36 * HOUR));
        assert_eq!(parse_duration("0d"), Ok(0));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for bad in [
            "14",
            "d",
            "-3d",
            "1.5d",
            "14 d",
            "14m",
            "",
            "99999999999999999999d",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
        assert!(parse_duration("14").unwrap_err().contains("e.g. `14d`"));
    }

    #[test]
    fn a_duration_ending_in_a_non_ascii_character_is_refused() {
        for bad in ["14é", "é", "1\u{1F600}", "d\u{301}"] {
            assert!(
                parse_duration(bad).unwrap_err().contains("e.g. `14d`"),
                "{bad}"
            );
        }
    }

    #[test]
    fn intervals_parse_singular_plural_and_bare_units() {
        assert_eq!(parse_interval("1 month").unwrap().max_seconds(), 31 * DAY);
        assert_eq!(parse_interval("2 weeks").unwrap().max_seconds(), 14 * DAY);
        assert_eq!(parse_interval("year").unwrap().max_seconds(), 366 * DAY);
        assert!(parse_interval("0 days").is_err());
        assert!(parse_interval("fortnight").is_err());
    }
}
