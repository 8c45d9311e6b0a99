//! `gatehouse build`

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::build::{BuildOptions, BuildReport, build};
use crate::secret::SecretSource;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Output folder (default: public/ in the site's folder). It is replaced as a whole, only
    /// after the build succeeds.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Include pages marked `draft: true`.
    #[arg(long)]
    pub drafts: bool,
    /// Print only errors and warnings.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(root: &Path, args: BuildArgs) -> anyhow::Result<()> {
    let options = BuildOptions {
        base_url: None,
        dev_secret: None,
        root: root.to_path_buf(),
        out: args.out,
        drafts: args.drafts,
        check_only: false,
        progress: !args.quiet,
    };
    let report = build(&options).context("build failed; the previous output was left as it was")?;
    print_warnings(&report);
    if let Some(SecretSource::Created(path)) = &report.secret {
        eprintln!(
            "note: created the master secret {} (mode 0600). Keep it out of git and back it up: \
             every gate key derives from it. Set GATEHOUSE_SECRET to use it elsewhere.",
            path.display()
        );
    }
    if !args.quiet {
        println!("{}", summary(&report));
    }
    Ok(())
}

pub fn print_warnings(report: &BuildReport) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
}

/// `Built 10,000 pages (3,000 gated in 12 gates) in 1.4 s`
pub fn summary(report: &BuildReport) -> String {
    let gates = gates_text(report);
    let noun = if report.documents == 1 {
        "page"
    } else {
        "pages"
    };
    let files = match report.gated_files {
        0 => String::new(),
        count => {
            let noun = if count == 1 { "file" } else { "files" };
            let sealed = match report.sealed_now {
                (0, _) => "none sealed again".to_owned(),
                (n, bytes) => format!("{n} sealed now, {:.1} MB", bytes as f64 / 1e6),
            };
            format!(", {} members-only {noun} ({sealed})", thousands(count))
        }
    };
    format!(
        "Built {} {noun}{gates}{files} in {:.1} s → {}",
        thousands(report.documents),
        report.elapsed.as_secs_f64(),
        report
            .out
            .strip_prefix(".")
            .unwrap_or(&report.out)
            .display()
    )
}

/// ` (3,000 gated in 12 gates)`, with members blocks counted beside the gated pages:
/// ` (3,000 gated, 40 members blocks, in 12 gates)`; empty for a site without gates.
pub fn gates_text(report: &BuildReport) -> String {
    if report.gated == 0 && report.blocks == 0 {
        return String::new();
    }
    let noun = if report.gates == 1 { "gate" } else { "gates" };
    let blocks = match report.blocks {
        0 => String::new(),
        1 => ", 1 members block,".to_owned(),
        n => format!(", {} members blocks,", thousands(n)),
    };
    format!(
        " ({} gated{blocks} in {} {noun})",
        thousands(report.gated),
        report.gates
    )
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::thousands(10_000), "10,000");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
