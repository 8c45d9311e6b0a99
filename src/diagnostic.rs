//! Diagnostics: one problem in one input file, with the line when known. Loading collects every
//! problem it can find before failing, so an author fixes a whole batch per build.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the author knows it, relative to the site root (e.g. `content/a.md`).
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A batch of problems, shown one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "found {count} {noun}:")?;
        for diagnostic in &self.0 {
            write!(f, "\n  {diagnostic}")?;
        }
        Ok(())
    }
}

/// The 1-based line that holds byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Shows `path` relative to `root` when it lies inside it.
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_offset() {
        let text = "a\nbb\nccc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 7), 3);
        assert_eq!(line_of(text, 999), 3);
    }

    #[test]
    fn diagnostics_list_every_problem_with_file_and_line() {
        let all = Diagnostics(vec![
            Diagnostic::new("site.toml", Some(3), "bad"),
            Diagnostic::new("content/a.md", None, "worse"),
        ]);
        assert_eq!(
            all.to_string(),
            "found 2 problems:\n  site.toml:3: bad\n  content/a.md: worse"
        );
    }
}
