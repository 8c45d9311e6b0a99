//! `/atom.xml`, `/sitemap.xml` and `/robots.txt`. Gated feed entries carry title, teaser and
//! link only.

use std::fmt::Write;

use crate::config::SiteConfig;
use crate::content::{DEFAULT_PAGINATE_PATH, DocKind, Library, Paginate, rfc3339};

const FEED_LIMIT: usize = 20;

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// What a feed is of: the whole site (`/atom.xml`) or one taxonomy term.
pub struct FeedOf<'a> {
    pub title: &'a str,
    /// The page the feed follows, a URL path: `/`, `/categories/pricing/`.
    pub path: &'a str,
    /// The feed's own URL path: `/atom.xml`, `/categories/pricing/atom.xml`.
    pub feed_path: &'a str,
}

/// The newest dated pages as an Atom feed.
pub fn atom(library: &Library, config: &SiteConfig) -> String {
    let pages = library.pages().map(|(index, _)| index);
    let site = FeedOf {
        title: &config.title,
        path: "/",
        feed_path: "/atom.xml",
    };
    atom_of(library, config, pages, &site)
}

/// The newest dated pages among `pages` as an Atom feed. Gated entries carry title, teaser
/// and link only.
pub fn atom_of(
    library: &Library,
    config: &SiteConfig,
    pages: impl Iterator<Item = usize>,
    of: &FeedOf<'_>,
) -> String {
    let mut pages: Vec<usize> = pages
        .filter(|&index| {
            let doc = &library.docs[index];
            doc.kind == DocKind::Page && doc.date.is_some()
        })
        .collect();
    pages.sort_by(|&a, &b| {
        let (a, b) = (&library.docs[a], &library.docs[b]);
        b.date.cmp(&a.date).then_with(|| a.path.cmp(&b.path))
    });
    pages.truncate(FEED_LIMIT);
    let base = &config.base_url;
    let updated = pages
        .iter()
        .filter_map(|&i| library.docs[i].last_modified())
        .max()
        .map(rfc3339)
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());

    let mut out = String::with_capacity(4096 + pages.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        out,
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">",
        xml_escape(&config.language)
    );
    let _ = writeln!(out, "  <title>{}</title>", xml_escape(of.title));
    if !config.description.is_empty() {
        let _ = writeln!(
            out,
            "  <subtitle>{}</subtitle>",
            xml_escape(&config.description)
        );
    }
    let feed_url = xml_escape(&format!("{base}{}", of.feed_path));
    let page_url = xml_escape(&format!("{base}{}", of.path));
    let _ = writeln!(
        out,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{feed_url}\"/>"
    );
    let _ = writeln!(
        out,
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{page_url}\"/>"
    );
    // RFC 4287 requires an author; the site speaks for itself.
    let _ = writeln!(
        out,
        "  <author><name>{}</name></author>",
        xml_escape(&config.title)
    );
    let _ = writeln!(out, "  <generator>gatehouse</generator>");
    let _ = writeln!(out, "  <updated>{updated}</updated>\n  <id>{page_url}</id>");
    for &index in &pages {
        let doc = &library.docs[index];
        let url = xml_escape(&format!("{base}{}", doc.path));
        let published = doc.date.map(rfc3339).unwrap_or_default();
        let modified = doc.last_modified().map(rfc3339).unwrap_or_default();
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <title>{}</title>", xml_escape(&doc.title));
        let _ = writeln!(
            out,
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>"
        );
        let _ = writeln!(
            out,
            "    <id>{url}</id>\n    <published>{published}</published>\n    <updated>{modified}</updated>"
        );
        for tag in &doc.tags {
            let _ = writeln!(out, "    <category term=\"{}\"/>", xml_escape(tag));
        }
        // Other taxonomies' terms say which taxonomy they are of (Atom's `scheme`).
        for (taxonomy, terms) in &doc.taxonomies {
            for term in terms {
                let _ = writeln!(
                    out,
                    "    <category term=\"{}\" scheme=\"{}\"/>",
                    xml_escape(term),
                    xml_escape(&format!("{base}/{taxonomy}/"))
                );
            }
        }
        let teaser = doc.teaser_html();
        if !teaser.is_empty() {
            let _ = writeln!(
                out,
                "    <summary type=\"html\">{}</summary>",
                xml_escape(teaser)
            );
        }
        if !doc.is_gated() {
            let _ = writeln!(
                out,
                "    <content type=\"html\">{}</content>",
                xml_escape(&doc.public_body_html())
            );
        }
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// Every document, pager and taxonomy page, for search engines.
pub fn sitemap(library: &Library, config: &SiteConfig, taxonomy_pages: bool) -> String {
    let mut out = String::with_capacity(256 + library.docs.len() * 128);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    let mut docs: Vec<usize> = (0..library.docs.len()).collect();
    docs.sort_by(|&a, &b| library.docs[a].path.cmp(&library.docs[b].path));
    for index in docs {
        let doc = &library.docs[index];
        let _ = write!(
            out,
            "  <url><loc>{}</loc>",
            xml_escape(&format!("{}{}", config.base_url, doc.path))
        );
        let modified = match doc.kind {
            DocKind::Page => doc.last_modified(),
            DocKind::Section => doc
                .pages
                .iter()
                .filter_map(|&i| library.docs[i].last_modified())
                .max(),
        };
        if let Some(modified) = modified {
            let _ = write!(out, "<lastmod>{}</lastmod>", rfc3339(modified));
        }
        out.push_str("</url>\n");
        if let Some(paginate) = &doc.paginate {
            let count = paginate.pager_count(doc.pages.len());
            later_pagers(&mut out, config, paginate, &doc.path, count);
        }
    }
    if taxonomy_pages {
        for taxonomy in library.taxonomies.iter().filter(|t| !t.terms.is_empty()) {
            let _ = writeln!(
                out,
                "  <url><loc>{}/{}/</loc></url>",
                config.base_url, taxonomy.name
            );
            for term in &taxonomy.terms {
                let path = term.path(&taxonomy.name);
                let _ = writeln!(
                    out,
                    "  <url><loc>{}</loc></url>",
                    xml_escape(&format!("{}{path}", config.base_url))
                );
                if let Some(by) = config.taxonomies.paginate_by {
                    let paginate = Paginate {
                        by,
                        path: DEFAULT_PAGINATE_PATH.to_owned(),
                    };
                    let count = paginate.pager_count(term.pages.len());
                    later_pagers(&mut out, config, &paginate, &path, count);
                }
            }
        }
    }
    out.push_str("</urlset>\n");
    out
}

/// Pagers 2… of a paginated list (the first is the list itself; `page/1/` only redirects).
fn later_pagers(
    out: &mut String,
    config: &SiteConfig,
    paginate: &Paginate,
    list: &str,
    count: usize,
) {
    for n in 2..=count {
        let _ = writeln!(
            out,
            "  <url><loc>{}</loc></url>",
            xml_escape(&format!(
                "{}{}",
                config.base_url,
                paginate.pager_path(list, n)
            ))
        );
    }
}

/// Crawlers need not fetch envelopes: they are ciphertext.
pub fn robots(config: &SiteConfig) -> String {
    format!(
        "User-agent: *\nDisallow: /_gated/\nAllow: /\n\nSitemap: {}/sitemap.xml\n",
        config.base_url
    )
}
