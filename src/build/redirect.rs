//! Redirect pages: a tiny HTML document that sends the browser (and search engines) on to
//! another URL. Used for `aliases:` (a site moving to gatehouse keeps its old URLs) and for
//! `/page/1/` of a paginated section. A static host cannot answer with a 301, so the page
//! carries a meta refresh, a canonical link and a plain link for browsers without either.

use super::BuildError;
use super::output::{Output, OutputError};
use crate::config::SiteConfig;
use crate::content::{Library, alias_output_file};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::render::escape;

/// The redirect page to `to_absolute_url` (already absolute: `https://example.com/a/`).
/// Nothing but the target URL appears in it, so it may stand for a gated page: the URL and
/// title of a gated page are public anyway, and its body is not here.
pub fn redirect_page(to_absolute_url: &str) -> String {
    let url = escape(to_absolute_url);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Redirecting to {url}</title>\n\
         <meta http-equiv=\"refresh\" content=\"0; url={url}\">\n\
         <link rel=\"canonical\" href=\"{url}\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         </head>\n<body>\n<p>This page has moved to <a href=\"{url}\">{url}</a>.</p>\n\
         </body>\n</html>\n"
    )
}

/// A redirect page for each document's `aliases:`, to the document's absolute URL. Written
/// after every generated page, so an alias at the path of one (a tag page, `/account/`) is
/// refused here with the alias's file and line.
pub(super) fn write_aliases(
    library: &Library,
    config: &SiteConfig,
    output: &Output,
) -> Result<(), BuildError> {
    let mut problems = Vec::new();
    for doc in &library.docs {
        if doc.aliases.is_empty() {
            continue;
        }
        let page = redirect_page(&format!("{}{}", config.base_url, doc.path));
        for alias in &doc.aliases {
            match output.write(&alias_output_file(&alias.url), page.as_bytes()) {
                Ok(()) => {}
                Err(OutputError::Collision(path)) => problems.push(Diagnostic::new(
                    &doc.source,
                    alias.line,
                    format!(
                        "alias `{}` is the path of a file the build makes (/{path}): remove the \
                         alias",
                        alias.url
                    ),
                )),
                Err(other) => return Err(other.into()),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_every_way_at_the_target() {
        let page = redirect_page("https://example.com/course/lesson-3/");
        for needle in [
            "<meta http-equiv=\"refresh\" content=\"0; url=https://example.com/course/lesson-3/\">",
            "<link rel=\"canonical\" href=\"https://example.com/course/lesson-3/\">",
            "<meta name=\"robots\" content=\"noindex\">",
            "<a href=\"https://example.com/course/lesson-3/\">",
        ] {
            assert!(page.contains(needle), "{needle} missing from {page}");
        }
    }

    #[test]
    fn the_url_is_escaped() {
        let page = redirect_page("https://example.com/a/?x=\"><script>");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("x=\">"), "{page}");
        assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
    }
}
