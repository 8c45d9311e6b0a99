//! The soak's figures: latency percentiles and rates per kind of request, outcomes by status,
//! the edge's memory over time, and the verdict on each goal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::client::{Kind, Stats};

/// The edge's resident memory, sampled every few seconds of a phase.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    /// (seconds into the phase, KiB).
    pub samples: Vec<(f64, u64)>,
}

impl Memory {
    pub fn start(&self) -> u64 {
        self.samples.first().map_or(0, |s| s.1)
    }

    pub fn end(&self) -> u64 {
        self.samples.last().map_or(0, |s| s.1)
    }

    pub fn max(&self) -> u64 {
        self.samples.iter().map(|s| s.1).max().unwrap_or(0)
    }

    /// The sample nearest the middle of the phase.
    pub fn middle(&self) -> u64 {
        let last = self.samples.last().map_or(0.0, |s| s.0);
        self.samples
            .iter()
            .min_by(|a, b| {
                (a.0 - last / 2.0)
                    .abs()
                    .total_cmp(&(b.0 - last / 2.0).abs())
            })
            .map_or(0, |s| s.1)
    }

    /// Growth over the second half of the phase, in percent: the first half includes the
    /// warm-up of caches and pools, so a leak shows as growth in the second.
    pub fn second_half_growth(&self) -> f64 {
        let middle = self.middle() as f64;
        if middle == 0.0 {
            return 0.0;
        }
        (self.end() as f64 - middle) / middle * 100.0
    }
}

/// The `q` quantile (0..1) of sorted values, by the nearest rank.
fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

/// Whether an outcome is what the test wants to see, a deliberate refusal, or an error.
pub fn class(kind: Kind, outcome: &str) -> &'static str {
    match outcome {
        "429" => "deliberate",
        "503" if kind == Kind::PasswordLogin => "busy",
        "cut" => "crash",
        status if status.starts_with('2') => "ok",
        _ => "error",
    }
}

/// Counts of outcomes by class (`ok`, `deliberate`, `busy`, `crash`, `error`).
pub fn classes(stats: &Stats) -> BTreeMap<&'static str, u64> {
    let mut classes = BTreeMap::new();
    for (kind, kind_stats) in &stats.0 {
        for (outcome, n) in &kind_stats.outcomes {
            *classes.entry(class(*kind, outcome)).or_default() += n;
        }
    }
    classes
}

/// The per-kind table of one phase, in Markdown: requests, rate, p50 and p99 of the 2xx
/// answers, and every outcome.
pub fn table(stats: &mut Stats, seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| request | requests | req/s | p50 ms | p99 ms | outcomes |\n|---|---:|---:|---:|---:|---|"
    );
    let mut total = 0;
    for kind in Kind::ALL {
        let Some(kind_stats) = stats.0.get_mut(&kind) else {
            continue;
        };
        kind_stats.ok_micros.sort_unstable();
        let count: u64 = kind_stats.outcomes.values().sum();
        total += count;
        let outcomes: Vec<String> = kind_stats
            .outcomes
            .iter()
            .map(|(outcome, n)| format!("{outcome}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {count} | {:.1} | {:.2} | {:.2} | {} |",
            kind.name(),
            count as f64 / seconds,
            quantile(&kind_stats.ok_micros, 0.50) / 1000.0,
            quantile(&kind_stats.ok_micros, 0.99) / 1000.0,
            outcomes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "| all | {total} | {:.1} | | | |",
        total as f64 / seconds
    );
    out
}

/// `12.3 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
