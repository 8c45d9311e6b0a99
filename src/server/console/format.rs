//! Tera filters the console's templates share, so that times read the same on every page:
//! `date` ("12 Jan 2027"), `datetime` ("12 Jan 2027, 14:05 UTC") and `ago` ("3 days ago",
//! "in 2 hours"), each from Unix seconds.

use jiff::Timestamp;
use tera::Tera;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub fn register(tera: &mut Tera) {
    tera.register_filter("date", |seconds: i64, _: tera::Kwargs, _: &tera::State| {
        date(seconds)
    });
    tera.register_filter(
        "datetime",
        |seconds: i64, _: tera::Kwargs, _: &tera::State| datetime(seconds),
    );
    tera.register_filter("ago", |seconds: i64, _: tera::Kwargs, _: &tera::State| {
        ago(seconds, Timestamp::now().as_second())
    });
}

/// "12 Jan 2027" (UTC).
pub fn date(seconds: i64) -> String {
    match Timestamp::from_second(seconds) {
        Ok(at) => {
            let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
            format!(
                "{} {} {}",
                day.day(),
                MONTHS[(day.month() - 1) as usize],
                day.year()
            )
        }
        Err(_) => "?".to_owned(),
    }
}

/// "12 Jan 2027, 14:05 UTC".
pub fn datetime(seconds: i64) -> String {
    match Timestamp::from_second(seconds) {
        Ok(at) => {
            let time = at.to_zoned(jiff::tz::TimeZone::UTC).time();
            format!(
                "{}, {:02}:{:02} UTC",
                date(seconds),
                time.hour(),
                time.minute()
            )
        }
        Err(_) => "?".to_owned(),
    }
}

/// "3 days ago", "in 2 hours", "just now": the largest whole unit.
pub fn ago(seconds: i64, now: i64) -> String {
    let delta = now - seconds;
    let span = delta.unsigned_abs();
    if span < 60 {
        return "just now".to_owned();
    }
    let (count, unit) = [
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ]
    .into_iter()
    .find(|(size, _)| span >= *size)
    .map_or((0, "minute"), |(size, unit)| (span / size, unit));
    let plural = if count == 1 { "" } else { "s" };
    if delta >= 0 {
        format!("{count} {unit}{plural} ago")
    } else {
        format!("in {count} {unit}{plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_words() {
        // 2027-01-12T14:05:00Z
        let at = 1_799_762_700;
        assert_eq!(date(at), "12 Jan 2027");
        assert_eq!(datetime(at), "12 Jan 2027, 14:05 UTC");
        assert_eq!(ago(at, at + 3 * 86_400 + 5), "3 days ago");
        assert_eq!(ago(at, at - 2 * 3_600), "in 2 hours");
        assert_eq!(ago(at, at + 59), "just now");
        assert_eq!(ago(at, at + 86_400), "1 day ago");
    }
}
