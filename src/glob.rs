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

/// `a{b,c}d{e,f}` → `abde`, `abdf`, `acde`, `acdf`.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('{') else {
        if pattern.contains('}') {
            return Err(format!("`{pattern}` has a `}}` without its `{{`"));
        }
        return Ok(vec![pattern.to_owned()]);
    };
    let close = pattern[open..]
        .find('}')
        .map(|i| open + i)
        .ok_or_else(|| format!("`{pattern}` has a `{{` without its `}}`"))?;
    let inside = &pattern[open + 1..close];
    if inside.contains('{') {
        return Err(format!("`{pattern}`: braces cannot be nested"));
    }
    let mut out = Vec::new();
    for rest in expand_braces(&pattern[close + 1..])? {
        for choice in inside.split(',') {
            out.push(format!("{}{choice}{rest}", &pattern[..open]));
        }
    }
    Ok(out)
}

fn match_here(pattern: &[char], subject: &[char]) -> bool {
    match pattern {
        [] => subject.is_empty(),
        ['/', '*', '*', '/', rest @ ..] => {
            // `/**/` is `/` followed by any number of whole segments.
            let after: Vec<char> = std::iter::once('/').chain(rest.iter().copied()).collect();
            (0..subject.len())
                .filter(|&i| subject[i] == '/')
                .any(|i| match_here(&after, &subject[i..]))
        }
        ['*', '*', rest @ ..] => (0..=subject.len()).any(|i| match_here(rest, &subject[i..])),
        ['*', rest @ ..] => {
            let segment_end = subject
                .iter()
                .position(|&c| c == '/')
                .unwrap_or(subject.len());
            (0..=segment_end).any(|i| match_here(rest, &subject[i..]))
        }
        ['?', rest @ ..] => {
            matches!(subject.first(), Some(&c) if c != '/') && match_here(rest, &subject[1..])
        }
        [c, rest @ ..] => subject.first() == Some(c) && match_here(rest, &subject[1..]),
    }
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
    fn bad_globs_are_refused_with_a_reason() {
        assert!(Glob::new("").is_err());
        assert!(Glob::new("*.{css").is_err());
        assert!(Glob::new("*.css}").is_err());
        assert!(Glob::new("{a,{b,c}}").is_err());
    }
}
