//! What a deploy shows while it runs: a progress bar on a terminal, one line per phase
//! otherwise (CI logs), nothing with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Reporter {
    bar: ProgressBar,
    lines: bool,
}

impl Reporter {
    /// `total` is the number of uploads and deletions the bar counts.
    pub fn new(enabled: bool, total: usize) -> Reporter {
        let terminal = std::io::stderr().is_terminal();
        if !enabled || !terminal {
            return Reporter {
                bar: ProgressBar::hidden(),
                lines: enabled,
            };
        }
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:32} {bar:30} {pos}/{len} files")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Reporter { bar, lines: false }
    }

    pub fn hidden() -> Reporter {
        Reporter {
            bar: ProgressBar::hidden(),
            lines: false,
        }
    }

    pub fn phase(&self, step: usize, of: usize, what: &str, files: usize, bytes: u64) {
        let noun = if files == 1 { "file" } else { "files" };
        let text = format!(
            "[{step}/{of}] {what}: {files} {noun}, {}",
            human_bytes(bytes)
        );
        self.bar.set_message(format!("[{step}/{of}] {what}"));
        self.line(&text);
    }

    pub fn deleting(&self, files: usize) {
        let noun = if files == 1 { "file" } else { "files" };
        self.bar.set_message("deleting");
        self.line(&format!("deleting {files} {noun} no longer in the build"));
    }

    pub fn advance(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn line(&self, text: &str) {
        if self.lines {
            eprintln!("deploy: {text}");
        }
    }
}

/// `1.2 MB`, `340 KB`, `12 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_like_a_person_would_say_them() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1_234), "1.2 KB");
        assert_eq!(human_bytes(340_000), "340 KB");
        assert_eq!(human_bytes(5_600_000_000), "5.6 GB");
    }
}
