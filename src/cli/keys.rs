//! `gatehouse keys rotate` (DESIGN §7): raises `[keys] epoch` in site.toml, so the next build
//! seals every gate with new keys and keys handed out before open nothing new. The edge keeps
//! handing out the previous epoch's keys for `[keys] grace` (default 24 h) after `rotated_at`,
//! so pages still cached at a CDN keep opening during the switch.

use std::path::Path;

use anyhow::{Context, bail};
use jiff::Timestamp;

use crate::config::{self, CONFIG_FILE};

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Raise `[keys] epoch` in site.toml and record when (`rotated_at`): every gate gets a new
    /// key at the next build. Then restart the edge servers and rebuild and deploy.
    Rotate(RotateArgs),
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Rotate even though the previous rotation's grace window is still open (pages sealed two
    /// epochs ago stop opening at once).
    #[arg(long)]
    pub force: bool,
}

pub fn run(root: &Path, args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Rotate(args) => rotate(root, &args),
    }
}

fn rotate(root: &Path, args: &RotateArgs) -> anyhow::Result<()> {
    let config = config::load(root).context("cannot rotate keys")?;
    let now = Timestamp::now();
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    if let Some(at) = config.rotated_at {
        let open_until = at.as_second().saturating_add(config.grace as i64);
        if now.as_second() < open_until && !args.force {
            bail!(
                "the last rotation ({at}) is still in its grace window until {}: rotating again now \
                 would stop pages sealed with epoch {} from opening at once. Wait, or use --force",
                Timestamp::from_second(open_until).unwrap_or(now),
                config.epoch.saturating_sub(1)
            );
        }
    }
    let path = root.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let next = config
        .epoch
        .checked_add(1)
        .context("[keys] epoch cannot go higher")?;
    let edited = with_rotation(&text, next, now)?;
    // The edit must read back as exactly the rotation, with everything else as it was.
    let check = config::parse(root, &edited).map_err(|problems| {
        anyhow::anyhow!("the edited site.toml would not be valid: {problems}")
    })?;
    if check.epoch != next || check.rotated_at != Some(now) {
        bail!("could not edit [keys] in site.toml safely: set epoch = {next} by hand");
    }
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, &edited)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    let until =
        Timestamp::from_second(now.as_second().saturating_add(config.grace as i64)).unwrap_or(now);
    println!(
        "Raised [keys] epoch from {} to {next} in {CONFIG_FILE} (rotated_at = {now}).\n\
         Next:\n  \
         1. restart the edge servers with this {CONFIG_FILE}: they hand out epoch {next} keys, and \
         epoch {} keys until {until} for pages still cached;\n  \
         2. gatehouse build && gatehouse deploy\n\
         Keys handed out before open only pages sealed with epoch {} or older.",
        config.epoch, config.epoch, config.epoch
    );
    Ok(())
}

/// site.toml's text with `[keys] epoch = next` and `rotated_at = "<now>"`, comments and layout
/// kept: the lines are edited in place, or a `[keys]` table is added.
pub fn with_rotation(text: &str, next: u32, now: Timestamp) -> anyhow::Result<String> {
    let epoch_line = format!("epoch = {next}");
    let rotated_line = format!("rotated_at = \"{now}\"");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let Some(header) = lines.iter().position(|l| table_name(l) == Some("keys")) else {
        if text.contains("keys.") || text.contains("keys =") {
            bail!("site.toml sets keys without a [keys] table: set epoch = {next} by hand");
        }
        let mut out = text.trim_end().to_owned();
        out.push_str(&format!("\n\n[keys]\n{epoch_line}\n{rotated_line}\n"));
        return Ok(out);
    };
    match find_key(&lines, header, "epoch") {
        Some(i) => lines[i] = keep_comment(&lines[i], &epoch_line),
        None => lines.insert(header + 1, epoch_line),
    }
    match find_key(&lines, header, "rotated_at") {
        Some(i) => lines[i] = keep_comment(&lines[i], &rotated_line),
        None => {
            let after = find_key(&lines, header, "epoch").unwrap_or(header);
            lines.insert(after + 1, rotated_line);
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The line setting `key` in the table whose header is at `header`.
fn find_key(lines: &[String], header: usize, key: &str) -> Option<usize> {
    lines[header + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| header + 1 + i)
}

/// `[name]` of a table header line (not `[[…]]`).
fn table_name(line: &str) -> Option<&str> {
    let line = line.trim();
    let line = line.split('#').next().unwrap_or_default().trim();
    line.strip_prefix('[')
        .filter(|rest| !rest.starts_with('['))
        .and_then(|rest| rest.strip_suffix(']'))
        .map(str::trim)
}

/// `new` with the indentation and trailing comment (and the spaces before it) of `old`.
fn keep_comment(old: &str, new: &str) -> String {
    let indent: String = old.chars().take_while(|c| c.is_whitespace()).collect();
    match old.find('#') {
        Some(i) if !old[..i].contains('"') => {
            let value_end = old[..i].trim_end().len();
            format!("{indent}{new}{}", &old[value_end..])
        }
        _ => format!("{indent}{new}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn the_epoch_line_is_raised_in_place_and_its_comment_kept() {
        let text =
            "title = \"T\"\n\n[keys]\nepoch = 1   # raise to rotate\n\n[membership]\nx = 1\n";
        let out = with_rotation(text, 2, at()).unwrap_or_default();
        assert_eq!(
            out,
            "title = \"T\"\n\n[keys]\nepoch = 2   # raise to rotate\nrotated_at = \"2027-01-15T08:00:00Z\"\n\n[membership]\nx = 1\n"
        );
        let again = with_rotation(&out, 3, at()).unwrap_or_default();
        assert!(
            again
                .contains("epoch = 3   # raise to rotate\nrotated_at = \"2027-01-15T08:00:00Z\"\n")
        );
        assert_eq!(again.matches("rotated_at").count(), 1);
    }

    #[test]
    fn a_site_without_a_keys_table_gets_one() {
        let out = with_rotation("title = \"T\"\n[[levels]]\nid = \"free\"\n", 2, at())
            .unwrap_or_default();
        assert!(
            out.ends_with("[keys]\nepoch = 2\nrotated_at = \"2027-01-15T08:00:00Z\"\n"),
            "{out}"
        );
    }

    #[test]
    fn a_keys_table_without_epoch_gets_the_line() {
        let out = with_rotation("[keys]\ngrace = \"12h\"\n[x]\n", 2, at()).unwrap_or_default();
        assert_eq!(
            out,
            "[keys]\nepoch = 2\nrotated_at = \"2027-01-15T08:00:00Z\"\ngrace = \"12h\"\n[x]\n"
        );
    }
}
