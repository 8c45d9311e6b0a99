//! The values templates receive (docs/templates.md). Gated documents never put their body,
//! table of contents, description or extra fields here: what a template is not given, it
//! cannot leak.

use serde::Serialize;
use tera::Value;

use crate::config::SiteConfig;
use crate::content::{
    Doc, DocKind, Heading, Library, access_label, display_date, rfc3339, slugify,
};

#[derive(Serialize)]
pub struct ConfigCtx<'a> {
    pub title: &'a str,
    pub base_url: &'a str,
    pub description: &'a str,
    pub language: &'a str,
    pub edge_url: &'a str,
    pub epoch: u32,
    pub extra: &'a serde_json::Value,
    pub levels: Vec<LevelCtx<'a>>,
    pub bundles: Vec<BundleCtx<'a>>,
    pub search: bool,
    pub highlight_css: bool,
    pub password_login: bool,
    pub billing_url: &'a str,
    /// site.toml's `[taxonomies]`, in its order.
    pub taxonomies: Vec<super::taxonomy::TaxonomyCtx<'a>>,
}

#[derive(Serialize)]
pub struct LevelCtx<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub rank: i64,
}

#[derive(Serialize)]
pub struct BundleCtx<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct LinkCtx<'a> {
    pub title: &'a str,
    pub path: &'a str,
}

#[derive(Serialize)]
pub struct TagCtx {
    pub name: String,
    pub slug: String,
    pub path: String,
}

/// A document as it appears in lists; also the common part of `page` and `section`.
#[derive(Serialize)]
pub struct SummaryCtx<'a> {
    pub title: &'a str,
    pub path: &'a str,
    pub permalink: String,
    pub date: Option<String>,
    pub date_display: String,
    pub summary: &'a str,
    pub tags: Vec<TagCtx>,
    /// Every taxonomy site.toml declares → this document's terms in it (maybe none).
    pub taxonomies: std::collections::BTreeMap<&'a str, Vec<TagCtx>>,
    pub gated: bool,
    pub access_label: String,
}

/// What the sealing step hands to the template of a gated document.
#[derive(Serialize, Clone)]
pub struct GateCtx<'a> {
    pub id: &'a str,
    pub rule: &'a str,
    pub src: &'a str,
    pub slot: String,
    pub level: Option<&'a str>,
    pub bundles: &'a [String],
    pub drip_days: u64,
}

/// A page's own fields; templates see them over its summary (`over_summary`).
#[derive(Serialize)]
pub struct PageCtx<'a> {
    pub description: &'a str,
    pub content: &'a str,
    pub toc: &'a [Heading],
    pub reading_minutes: usize,
    pub section: Option<LinkCtx<'a>>,
    pub previous: Option<LinkCtx<'a>>,
    pub next: Option<LinkCtx<'a>>,
    pub gate: Option<GateCtx<'a>>,
    pub structured_data: String,
    pub extra: &'a serde_json::Value,
    /// The teaser is the body's own top: the theme marks it for removal when the body opens.
    pub teaser_in_body: bool,
}

/// A section's own fields; templates see them over its summary (`over_summary`).
#[derive(Serialize)]
pub struct SectionCtx<'a> {
    pub description: &'a str,
    pub content: &'a str,
    pub gate: Option<GateCtx<'a>>,
    pub pages: Value,
    pub subsections: Vec<LinkCtx<'a>>,
    pub structured_data: String,
    pub teaser_in_body: bool,
}

static EMPTY_OBJECT: std::sync::LazyLock<serde_json::Value> =
    std::sync::LazyLock::new(|| serde_json::Value::Object(serde_json::Map::new()));

pub fn config_ctx<'a>(config: &'a SiteConfig, search: bool, highlight_css: bool) -> ConfigCtx<'a> {
    ConfigCtx {
        title: &config.title,
        base_url: &config.base_url,
        description: &config.description,
        language: &config.language,
        edge_url: &config.edge_url,
        epoch: config.epoch,
        extra: &config.extra,
        levels: config
            .levels
            .iter()
            .map(|l| LevelCtx {
                id: &l.id,
                name: &l.name,
                rank: l.rank,
            })
            .collect(),
        bundles: config
            .bundles
            .iter()
            .map(|b| BundleCtx {
                id: &b.id,
                name: &b.name,
            })
            .collect(),
        search,
        highlight_css,
        password_login: config.password_login,
        billing_url: &config.billing_url,
        taxonomies: config
            .taxonomies
            .names
            .iter()
            .map(|name| super::taxonomy::taxonomy_ctx(name, config))
            .collect(),
    }
}

pub fn tag_ctx(name: &str) -> TagCtx {
    term_link_ctx(crate::config::DEFAULT_TAXONOMY, name)
}

/// A term of `taxonomy` as a link: `{name, slug, path}`.
pub fn term_link_ctx(taxonomy: &str, name: &str) -> TagCtx {
    let slug = slugify(name);
    TagCtx {
        name: name.to_owned(),
        path: crate::content::term_path(taxonomy, &slug),
        slug,
    }
}

pub fn summary_ctx<'a>(doc: &'a Doc, config: &'a SiteConfig) -> SummaryCtx<'a> {
    SummaryCtx {
        title: &doc.title,
        path: &doc.path,
        permalink: format!("{}{}", config.base_url, doc.path),
        date: doc.date.map(rfc3339),
        date_display: doc.date.map(display_date).unwrap_or_default(),
        summary: doc.teaser_html(),
        tags: doc.tags.iter().map(|t| tag_ctx(t)).collect(),
        taxonomies: config
            .taxonomies
            .names
            .iter()
            .map(|name| {
                let terms = doc.terms(name).iter().map(|t| term_link_ctx(name, t));
                (name.as_str(), terms.collect())
            })
            .collect(),
        gated: doc.is_gated(),
        access_label: doc
            .access
            .rule()
            .map(|rule| access_label(rule, config))
            .unwrap_or_default(),
    }
}

/// The list-item value of every document, converted once and shared by every list.
pub fn summary_values(library: &Library, config: &SiteConfig) -> Vec<Value> {
    use rayon::prelude::*;
    library
        .docs
        .par_iter()
        .map(|doc| Value::from_serializable(&summary_ctx(doc, config)))
        .collect()
}

/// A page's or section's own fields over its summary, which `summary_values` converted once
/// for every list: converting the summary again for each page was about half of the cost of
/// building the template values (serde's `flatten` goes through buffered content).
pub fn over_summary(summary: &Value, own: &impl Serialize) -> Value {
    let mut map = summary.as_map().cloned().unwrap_or_default();
    if let Some(own) = Value::from_serializable(own).into_map() {
        map.extend(own);
    }
    Value::from(map)
}

fn link<'a>(library: &'a Library, index: usize) -> LinkCtx<'a> {
    let doc = &library.docs[index];
    LinkCtx {
        title: &doc.title,
        path: &doc.path,
    }
}

pub fn page_ctx<'a>(
    library: &'a Library,
    config: &'a SiteConfig,
    index: usize,
    gate: Option<GateCtx<'a>>,
) -> PageCtx<'a> {
    let doc = &library.docs[index];
    let gated = doc.is_gated();
    let siblings = doc
        .parent
        .map(|p| library.docs[p].pages.as_slice())
        .unwrap_or(&[]);
    let position = siblings.iter().position(|&i| i == index);
    let previous = position
        .and_then(|p| p.checked_sub(1))
        .map(|p| link(library, siblings[p]));
    let next = position
        .and_then(|p| siblings.get(p + 1))
        .map(|&i| link(library, i));
    PageCtx {
        description: if gated {
            ""
        } else {
            doc.description.as_deref().unwrap_or("")
        },
        content: if gated { "" } else { &doc.body.html },
        toc: if gated { &[] } else { &doc.body.toc },
        reading_minutes: if gated {
            0
        } else {
            doc.body.words.div_ceil(200)
        },
        section: doc.parent.map(|p| link(library, p)),
        previous,
        next,
        structured_data: structured_data(doc, config),
        gate,
        extra: if gated { &EMPTY_OBJECT } else { &doc.extra },
        teaser_in_body: doc.teaser_in_body,
    }
}

pub fn section_ctx<'a>(
    library: &'a Library,
    config: &'a SiteConfig,
    index: usize,
    gate: Option<GateCtx<'a>>,
    summaries: &[Value],
) -> SectionCtx<'a> {
    let doc = &library.docs[index];
    debug_assert_eq!(doc.kind, DocKind::Section);
    let gated = doc.is_gated();
    let pages: Vec<Value> = doc.pages.iter().map(|&i| summaries[i].clone()).collect();
    SectionCtx {
        description: if gated {
            ""
        } else {
            doc.description.as_deref().unwrap_or("")
        },
        content: if gated { "" } else { &doc.body.html },
        gate,
        pages: Value::from(pages),
        subsections: doc.subsections.iter().map(|&i| link(library, i)).collect(),
        structured_data: structured_data(doc, config),
        teaser_in_body: doc.teaser_in_body,
    }
}

/// JSON-LD for search engines; gated documents declare their slot as not free (Google's
/// paywalled-content markup), so the teaser shown to crawlers is not taken for cloaking.
fn structured_data(doc: &Doc, config: &SiteConfig) -> String {
    let mut data = serde_json::json!({
        "@context": "https://schema.org",
        "@type": if doc.kind == DocKind::Page { "Article" } else { "WebPage" },
        "headline": doc.title,
        "url": format!("{}{}", config.base_url, doc.path),
        "isAccessibleForFree": !doc.is_gated(),
    });
    if let Some(date) = doc.date {
        data["datePublished"] = rfc3339(date).into();
    }
    // `last_modified` leaves out the private `updated` of a gated document.
    if let Some(updated) = doc
        .last_modified()
        .filter(|&modified| Some(modified) != doc.date)
    {
        data["dateModified"] = rfc3339(updated).into();
    }
    if doc.is_gated() {
        data["hasPart"] = serde_json::json!({
            "@type": "WebPageElement",
            "isAccessibleForFree": false,
            "cssSelector": ".gh-gate",
        });
    }
    // `</` inside a <script> block would end it early.
    data.to_string().replace("</", "<\\/")
}
