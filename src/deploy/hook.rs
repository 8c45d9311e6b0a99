//! `[deploy] after`: a shell command run once the new site is live, typically a CDN purge.
//! It gets the changed URL paths in `GATEHOUSE_DEPLOY_CHANGED` (one per line) and in the file
//! named by `GATEHOUSE_DEPLOY_CHANGED_FILE`, so it can purge only those.

use std::path::Path;
use std::process::Command;

use super::DeployError;

/// An environment variable this long or longer is refused by Linux's exec (128 KiB); past
/// this the variable says `*` (purge everything) and the file still has every path.
const MAX_ENV_LIST: usize = 64 * 1024;

/// Where the list of changed paths is written, inside the site's private `.gatehouse/`.
const CHANGED_FILE: &str = ".gatehouse/deploy-changed.txt";

pub struct HookReport {
    /// What the command printed, stdout then stderr.
    pub output: String,
}

/// Runs `command` with `sh -c` in the site's folder, its stdin closed. A non-zero exit is an
/// error carrying the command's output; the command itself is never quoted, since it may hold
/// a token.
pub fn run_after(
    command: &str,
    line: Option<usize>,
    root: &Path,
    changed: &[String],
    target: &str,
    base_url: &str,
) -> Result<HookReport, DeployError> {
    let named = match line {
        Some(line) => format!("(site.toml line {line})"),
        None => "(site.toml [deploy] after)".to_owned(),
    };
    let list = changed.join("\n");
    let file = root.join(CHANGED_FILE);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            DeployError::Hook(format!("{named}: cannot create {}: {e}", parent.display()))
        })?;
    }
    std::fs::write(&file, format!("{list}\n"))
        .map_err(|e| DeployError::Hook(format!("{named}: cannot write {}: {e}", file.display())))?;
    let env_list = if list.len() < MAX_ENV_LIST {
        list.as_str()
    } else {
        "*"
    };
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .env("GATEHOUSE_DEPLOY_CHANGED", env_list)
        .env("GATEHOUSE_DEPLOY_CHANGED_FILE", &file)
        .env("GATEHOUSE_DEPLOY_CHANGED_COUNT", changed.len().to_string())
        .env("GATEHOUSE_DEPLOY_TARGET", target)
        .env("GATEHOUSE_BASE_URL", base_url)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| DeployError::Hook(format!("{named} could not be started: {e}")))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let text = text.trim_end().to_owned();
    if output.status.success() {
        return Ok(HookReport { output: text });
    }
    let status = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "a signal".to_owned(),
    };
    let shown = if text.is_empty() {
        "(it printed nothing)".to_owned()
    } else {
        indent(&text)
    };
    Err(DeployError::Hook(format!(
        "{named} failed with {status}. The new site is deployed, but caches may still serve old \
         copies until the hook succeeds. Its output:\n{shown}"
    )))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  | {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::run_after;

    #[test]
    fn a_list_too_long_for_the_environment_says_star_and_the_file_has_it_all() {
        let root = tempfile::tempdir().expect("temp dir");
        let changed: Vec<String> = (0..5000)
            .map(|n| format!("/posts/{n:05}/index.html"))
            .collect();
        let report = run_after(
            "printf '%s' \"$GATEHOUSE_DEPLOY_CHANGED\"; echo; wc -l < \"$GATEHOUSE_DEPLOY_CHANGED_FILE\"; echo $GATEHOUSE_DEPLOY_CHANGED_COUNT",
            Some(3),
            root.path(),
            &changed,
            "s3://site",
            "https://example.com",
        )
        .expect("the hook runs");
        let lines: Vec<&str> = report.output.lines().map(str::trim).collect();
        assert_eq!(lines, ["*", "5000", "5000"]);
    }

    #[test]
    fn a_failing_hook_names_its_line_and_shows_its_output_but_not_the_command() {
        let root = tempfile::tempdir().expect("temp dir");
        let error = run_after(
            "token=sk_live_hidden; echo 'zone not found' >&2; exit 4",
            Some(12),
            root.path(),
            &["/".to_owned()],
            "s3://site",
            "https://example.com",
        )
        .err()
        .expect("the hook fails")
        .to_string();
        assert!(
            error.contains("(site.toml line 12) failed with exit status 4"),
            "{error}"
        );
        assert!(error.contains("| zone not found"), "{error}");
        assert!(!error.contains("sk_live_hidden"), "{error}");
    }
}
