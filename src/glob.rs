//! Path globs for site.toml settings, such as `[[deploy.headers]] path = "/_gated/**/*.bin"`.
//!
//! `*` matches within one path segment, `**` across segments (`/**/` also matches `/`), `?`
//! matches one character of a segment, and `{a,b}` either alternative. A glob holding a `/`
//! is matched against the whole URL path (`/blog/*.html`); one without is matched against the
//! file name alone (`*.css`), as in `.gitignore`.

/// A checked glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    /// The pattern with every `{a,b}` expanded; any one matching is a match.
    alternatives: Vec<Vec<char>>,
    anchored: bool,
}

impl Glob {
    pub fn new(text: &str) -> Result<Glob, String> {
        if text.trim().is_empty() {
            return Err("a glob cannot be empty".to_owned());
        }
        // Matching takes time in the glob's length times the path's, for each alternative.
        if text.len() > MAX_LEN {
            return Err(format!("a glob is at most {MAX_LEN} characters long"));
        }
        let anchored = text.contains('/');
        let pattern = if anchored && !text.starts_with('/') {
            format!("/{text}")
        } else {
            text.to_owned()
        };
        let alternatives = expand_braces(&pattern)?
            .into_iter()
            .map(|p| p.chars().collect())
            .collect();
        Ok(Glob {
            text: text.to_owned(),
            alternatives,
            anchored,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path`, a URL path from the site root such as `/course/a/index.html`, matches.
    pub fn matches(&self, path: &str) -> bool {
        let subject = if self.anchored {
            path
        } else {
            path.rsplit('/').next().unwrap_or(path)
        };
        let subject: Vec<char> = subject.chars().collect();
        self.alternatives
            .iter()
            .any(|pattern| match_here(pattern, &subject))
    }
}

/// The longest glob: far longer than any path it could be meant to match.
const MAX_LEN: usize = 1024;

/// The most alternatives `{a,b}` groups may expand to: a few dozen braces would otherwise
/// take all memory, two to the power of their number.
const MAX_ALTERNATIVES: usize = 256;

/// `a{b,c}d{e,f}` → `abde`, `abdf`, `acde`, `acdf`. A loop rather than a recursion per group,
/// so that thousands of `{a}` cannot overflow the stack.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|i| open + i)
            .ok_or_else(|| format!("`{pattern}` has a `{{` without its `}}`"))?;
        let inside = &rest[open + 1..close];
        if inside.contains('{') {
            return Err(format!("`{pattern}`: braces cannot be nested"));
        }
        let before = &rest[..open];
        out = out
            .iter()
            .flat_map(|head| inside.split(',').map(move |c| format!("{head}{before}{c}")))
            .collect();
        if out.len() > MAX_ALTERNATIVES {
            return Err(format!(
                "`{pattern}` has more than {MAX_ALTERNATIVES} alternatives: use fewer `{{…}}`"
            ));
        }
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("`{pattern}` has a `}}` without its `{{`"));
    }
    Ok(out.into_iter().map(|head| head + rest).collect())
}

/// Whether `pattern` matches all of `subject`. Which pattern suffix matches which subject
/// suffix, worked out from the ends one pattern character at a time, rather than trying every
/// way each `*` could match in turn: that took time exponential in the number of `*`
/// (`*a*a*a*a*a*a*a*ab` against a long name ran for minutes) and recursed once per character.
fn match_here(pattern: &[char], subject: &[char]) -> bool {
    // `rows[i % 4][j]`: `pattern[i..]` matches `subject[j..]`. Row `i` needs rows `i + 1` to
    // `i + 3` only, so four rows of memory do.
    let mut rows = vec![vec![false; subject.len() + 1]; 4];
    rows[pattern.len() % 4][subject.len()] = true;
    for i in (0..pattern.len()).rev() {
        let mut row = vec![false; subject.len() + 1];
        for (j, cell) in row.iter_mut().enumerate() {
            let at = |ahead: usize, j: usize| rows[(i + ahead) % 4][j];
            let rest = &pattern[i..];
            *cell = if rest.starts_with(&['/', '*', '*', '/']) {
                // `/**/` is `/` followed by any number of whole segments: `pattern[i + 3..]`
                // (its last `/` and what follows) matched from any `/` on.
                (j..subject.len()).any(|k| subject[k] == '/' && at(3, k))
            } else if rest.starts_with(&['*', '*']) {
                (j..=subject.len()).any(|k| at(2, k))
            } else if rest[0] == '*' {
                let segment_end = subject[j..]
                    .iter()
                    .position(|&c| c == '/')
                    .map_or(subject.len(), |end| j + end);
                (j..=segment_end).any(|k| at(1, k))
            } else if rest[0] == '?' {
                subject.get(j).is_some_and(|&c| c != '/') && at(1, j + 1)
            } else {
                subject.get(j) == Some(&rest[0]) && at(1, j + 1)
            };
        }
        rows[i % 4] = row;
    }
    rows[0][0]
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn matches(glob: &str, path: &str) -> bool {
        Glob::new(glob).expect("valid glob").matches(path)
    }

    #[test]
    fn a_glob_without_a_slash_matches_the_file_name_anywhere() {
        assert!(matches("*.css", "/style.css"));
        assert!(matches("*.css", "/themes/a/b.css"));
        assert!(!matches("*.css", "/style.css.map"));
        assert!(matches("index.html", "/blog/index.html"));
    }

    #[test]
    fn one_star_stays_in_its_segment_and_two_cross_them() {
        assert!(matches("/_gated/*/bundle.bin", "/_gated/0123/bundle.bin"));
        assert!(!matches("/_gated/*/bundle.bin", "/_gated/a/b/bundle.bin"));
        assert!(matches("/_gated/**/*.bin", "/_gated/0123/abcd.bin"));
        assert!(matches("/_gated/**/*.bin", "/_gated/x.bin"));
        assert!(matches("/**", "/anything/at/all"));
        assert!(matches("/blog/**", "/blog/a/index.html"));
        assert!(!matches("/blog/**", "/blogs/a"));
        assert!(matches("images/*.png", "/images/a.png"));
        assert!(!matches("/images/*.png", "/x/images/a.png"));
    }

    #[test]
    fn question_marks_and_braces() {
        assert!(matches("/?.txt", "/a.txt"));
        assert!(!matches("/?.txt", "/ab.txt"));
        assert!(matches("*.{woff,woff2}", "/fonts/a.woff2"));
        assert!(matches("/{atom,rss}.xml", "/rss.xml"));
        assert!(!matches("/{atom,rss}.xml", "/sitemap.xml"));
    }

    #[test]
    fn many_stars_match_in_time_and_many_braces_neither_overflow_nor_fill_memory() {
        let stars = Glob::new(&format!("{}b", "*a".repeat(12))).expect("valid glob");
        assert!(!stars.matches(&format!("/{}", "a".repeat(200))));
        assert!(stars.matches(&format!("/{}b", "a".repeat(200))));
        assert!(matches(&"{a}".repeat(300), &"a".repeat(300)));
        assert!(Glob::new(&"{a,b}".repeat(30)).is_err(), "2^30 alternatives");
        assert!(Glob::new(&"{a}".repeat(20_000)).is_err(), "too long");
        assert!(matches("/**/**/x", "/a/b/x"));
        assert!(matches("/a/**/**/x", "/a/x"));
    }

    #[test]
    fn bad_globs_are_refused_with_a_reason() {
        assert!(Glob::new("").is_err());
        assert!(Glob::new("*.{css").is_err());
        assert!(Glob::new("*.css}").is_err());
        assert!(Glob::new("{a,{b,c}}").is_err());
    }
}
