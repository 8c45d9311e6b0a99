//! How `gatehouse deploy` shows a plan: counts, and with `--dry-run` each file by phase.

use std::io::Write;

use super::build::thousands;
use crate::deploy::{DeleteReason, Phase, Plan, UploadReason, human_bytes};

/// How many paths of each kind a plan prints without --verbose.
const LISTED: usize = 20;

/// `3 new, 2 replaced (45 KB), 1 to delete, 1,234 unchanged`
pub fn counts(plan: &Plan) -> String {
    let new = plan.new_count();
    let mut parts = vec![
        format!("{new} new"),
        format!(
            "{} replaced ({})",
            plan.uploads.len() - new,
            human_bytes(plan.upload_bytes())
        ),
        format!("{} to delete", plan.deletes.len()),
        format!("{} unchanged", thousands(plan.unchanged)),
    ];
    if !plan.kept.is_empty() {
        parts.push(format!("{} replaced files kept", plan.kept.len()));
    }
    parts.join(", ")
}

/// `; 3 replaced files kept for cached pages (the last until …)`, or nothing.
pub fn kept_note(plan: &Plan) -> String {
    let Some(until) = plan.kept.iter().map(|(_, until)| *until).max() else {
        return String::new();
    };
    format!(
        "; {} replaced files kept for cached pages (the last until {})",
        plan.kept.len(),
        instant(until)
    )
}

fn instant(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}

/// Prints the plan to stdout. A closed pipe (`| head`) ends the listing quietly.
pub fn print_plan(plan: &Plan, name: &str, verbose: bool) {
    let mut out = std::io::stdout().lock();
    let _ = write_plan(&mut out, plan, name, verbose);
}

fn write_plan(out: &mut impl Write, plan: &Plan, name: &str, verbose: bool) -> std::io::Result<()> {
    writeln!(out, "Plan for {name}: {}", counts(plan))?;
    let limit = if verbose { usize::MAX } else { LISTED };
    let phases: Vec<Phase> = Phase::ALL
        .into_iter()
        .filter(|phase| plan.uploads_in(*phase).next().is_some())
        .collect();
    for (i, phase) in phases.iter().enumerate() {
        writeln!(out, "  [{}/{}] {}", i + 1, phases.len(), phase.describe())?;
        let lines = plan.uploads_in(*phase).map(|upload| {
            let (verb, why) = match upload.reason {
                UploadReason::New => ("upload ", ""),
                UploadReason::Changed => ("replace", ""),
                UploadReason::HeadersChanged => ("replace", ", headers changed"),
                UploadReason::Unverified => ("replace", ", unverified"),
            };
            format!(
                "{verb}  /{} ({}{why})",
                upload.key,
                human_bytes(upload.size)
            )
        });
        write_limited(out, lines, limit)?;
    }
    if !plan.deletes.is_empty() {
        writeln!(out, "  then delete")?;
        let lines = plan.deletes.iter().map(|delete| match delete.reason {
            DeleteReason::Removed => format!("delete   /{}", delete.key),
            DeleteReason::RetiredLongEnough => {
                format!("delete   /{} (replaced, kept long enough)", delete.key)
            }
        });
        write_limited(out, lines, limit)?;
    }
    if !plan.kept.is_empty() {
        writeln!(
            out,
            "  keep (replaced files that cached pages may still point at)"
        )?;
        let lines = plan
            .kept
            .iter()
            .map(|(key, until)| format!("keep     /{key} (until {})", instant(*until)));
        write_limited(out, lines, limit)?;
    }
    Ok(())
}

fn write_limited(
    out: &mut impl Write,
    lines: impl Iterator<Item = String>,
    limit: usize,
) -> std::io::Result<()> {
    let mut shown = 0;
    let mut more = 0;
    for line in lines {
        if shown < limit {
            writeln!(out, "    {line}")?;
            shown += 1;
        } else {
            more += 1;
        }
    }
    if more > 0 {
        writeln!(out, "    … and {more} more (--verbose lists them)")?;
    }
    Ok(())
}
