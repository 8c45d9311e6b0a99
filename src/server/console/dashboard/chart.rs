//! A weekly bar chart drawn on the server: the geometry of each bar, computed here, and the
//! template writes it out as SVG. No script: the chart is an image with a title and a
//! description that list every value, and each bar carries its own title.

use serde::Serialize;

use super::super::format::date;

/// The drawing's size in its own units; CSS scales it to the card.
const WIDTH: i64 = 480;
const HEIGHT: i64 = 190;
/// Room above the bars for their values, and below for the week labels.
const TOP: i64 = 18;
const BOTTOM: i64 = 24;
const GAP: i64 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// Unique on the page: the ids of its title and description derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    pub width: i64,
    pub height: i64,
    /// Where the bars stand.
    pub baseline: i64,
    pub total: i64,
    pub bars: Vec<Bar>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bar {
    /// The week's first day, `2027-01-11`.
    pub week: String,
    /// "11 Jan 2027"
    pub label: String,
    pub value: i64,
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// The middle of the bar, for its value and label.
    pub middle: i64,
    /// Whether its label is written under it: every other week, and the last, so that labels
    /// never run into each other.
    pub labelled: bool,
}

/// A chart of one value per week; `weeks` holds each week's start (Unix seconds) and value,
/// oldest first.
pub fn weekly(id: &str, title: &str, weeks: &[(i64, i64)]) -> Chart {
    let max = weeks.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let slot = WIDTH / i64::try_from(weeks.len().max(1)).unwrap_or(1);
    let room = HEIGHT - TOP - BOTTOM;
    let baseline = HEIGHT - BOTTOM;
    let last = weeks.len().saturating_sub(1);
    let bars: Vec<Bar> = weeks
        .iter()
        .enumerate()
        .map(|(i, (start, value))| {
            let index = i64::try_from(i).unwrap_or(0);
            let height = value * room / max;
            let x = index * slot + GAP / 2;
            let label = date(*start);
            Bar {
                week: week_day(*start),
                label: label
                    .rsplit_once(' ')
                    .map_or(label.clone(), |(day, _)| day.to_owned()),
                value: *value,
                x,
                y: baseline - height,
                width: slot - GAP,
                height,
                middle: x + (slot - GAP) / 2,
                labelled: (last - i).is_multiple_of(2),
            }
        })
        .collect();
    let total = weeks.iter().map(|(_, v)| v).sum();
    let values: Vec<String> = weeks
        .iter()
        .map(|(start, value)| format!("{}: {value}", date(*start)))
        .collect();
    let desc = match (weeks.first(), weeks.last()) {
        (Some((first, _)), Some((last, _))) => format!(
            "{} weeks from the week of {} to the week of {}, {total} in all. {}.",
            weeks.len(),
            date(*first),
            date(*last),
            values.join("; ")
        ),
        _ => "No weeks.".to_owned(),
    };
    Chart {
        id: id.to_owned(),
        title: title.to_owned(),
        desc,
        width: WIDTH,
        height: HEIGHT,
        baseline,
        total,
        bars,
    }
}

/// `2027-01-11`: the week's first day, for the page's data attributes.
fn week_day(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Monday 11 Jan 2027, 00:00 UTC.
    const MONDAY: i64 = 1_799_625_600;

    #[test]
    fn the_tallest_bar_fills_the_room_and_zero_stands_on_the_baseline() {
        let weeks: Vec<(i64, i64)> = (0..12).map(|i| (MONDAY + i * 604_800, i % 4)).collect();
        let chart = weekly("joins", "Joins per week", &weeks);
        assert_eq!(chart.bars.len(), 12);
        assert_eq!(chart.total, (0..12).map(|i| i % 4).sum::<i64>());
        let tallest = chart.bars.iter().map(|b| b.height).max().unwrap();
        assert_eq!(tallest, HEIGHT - TOP - BOTTOM);
        for bar in &chart.bars {
            assert_eq!(bar.y + bar.height, chart.baseline);
            assert!(bar.x >= 0 && bar.x + bar.width <= WIDTH);
        }
        assert_eq!(chart.bars[0].height, 0);
        assert_eq!(chart.bars[0].week, "2027-01-11");
        assert_eq!(chart.bars[0].label, "11 Jan");
        assert!(chart.bars[11].labelled && !chart.bars[10].labelled);
        assert!(
            chart.desc.contains("11 Jan 2027: 0; 18 Jan 2027: 1"),
            "{}",
            chart.desc
        );
    }

    #[test]
    fn an_empty_history_draws_flat_bars() {
        let weeks: Vec<(i64, i64)> = (0..12).map(|i| (MONDAY + i * 604_800, 0)).collect();
        let chart = weekly("overdue", "Overdue per week", &weeks);
        assert!(chart.bars.iter().all(|b| b.height == 0));
        assert_eq!(chart.total, 0);
    }
}
