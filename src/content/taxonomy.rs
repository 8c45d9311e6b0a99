//! Taxonomies (Zola's and Hugo's tags, categories, series…): a document's terms as its front
//! matter gives them, checked against site.toml's `[taxonomies]`, and each taxonomy's terms
//! with the documents that carry them. Terms are public by design (DESIGN §3), a gated page's
//! too: its term pages and feeds show what its summary shows, never its body.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::doc::Doc;
use super::front_matter::{self, Split};
use super::slug::slugify;
use crate::config::{DEFAULT_TAXONOMY, TaxonomyConfig};
use crate::suggest;

/// One taxonomy of the site and its terms, alphabetical by slug.
#[derive(Debug)]
pub struct Taxonomy {
    pub name: String,
    pub terms: Vec<Term>,
}

impl Taxonomy {
    /// `/categories/`
    pub fn path(&self) -> String {
        format!("/{}/", self.name)
    }
}

/// A term and the documents that carry it, newest first.
#[derive(Debug)]
pub struct Term {
    pub name: String,
    pub slug: String,
    pub pages: Vec<usize>,
}

impl Term {
    /// `/categories/pricing/`
    pub fn path(&self, taxonomy: &str) -> String {
        term_path(taxonomy, &self.slug)
    }
}

/// The URL path of a term's page: `/categories/pricing/`.
pub fn term_path(taxonomy: &str, slug: &str) -> String {
    format!("/{taxonomy}/{slug}/")
}

/// The terms of one taxonomy in front matter: `series: pricing` or `series: [a, b]`.
#[derive(Debug, Default, PartialEq)]
pub struct TermList(pub Vec<String>);

impl<'de> Deserialize<'de> for TermList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(TermList(
            match Option::<OneOrMany>::deserialize(deserializer)? {
                None => Vec::new(),
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) => many,
            },
        ))
    }
}

/// A document's terms: its tags (`tags:` and `taxonomies: {tags: …}` merged, in that order),
/// and the terms of every other taxonomy it names.
#[derive(Debug, Default)]
pub struct DocTerms {
    pub tags: Vec<String>,
    pub others: BTreeMap<String, Vec<String>>,
}

/// Checks that every taxonomy the front matter names is one site.toml declares; a problem is
/// (file line, message).
pub fn resolve(
    config: &TaxonomyConfig,
    split: &Split<'_>,
    tags: Vec<String>,
    taxonomies: BTreeMap<String, TermList>,
) -> Result<DocTerms, Vec<(Option<usize>, String)>> {
    let mut problems = Vec::new();
    let mut unknown = |name: &str, line: Option<usize>| {
        problems.push((
            line,
            format!(
                "taxonomy `{name}` is not declared in site.toml{}: add it to `[taxonomies] \
                 names` in site.toml",
                suggest::hint(name, config.names.iter().map(String::as_str))
            ),
        ));
    };
    if !tags.is_empty() && !config.has(DEFAULT_TAXONOMY) {
        unknown(
            DEFAULT_TAXONOMY,
            front_matter::line_starting_with(split, "tags:"),
        );
    }
    let mut terms = DocTerms {
        tags,
        others: BTreeMap::new(),
    };
    for (name, TermList(list)) in taxonomies {
        if !config.has(&name) {
            let line = front_matter::line_containing_after(split, "taxonomies:", &name)
                .or_else(|| front_matter::line_containing(split, "taxonomies"));
            unknown(&name, line);
        } else if name == DEFAULT_TAXONOMY {
            for tag in list {
                if !terms.tags.contains(&tag) {
                    terms.tags.push(tag);
                }
            }
        } else if !list.is_empty() {
            terms.others.insert(name, list);
        }
    }
    // A term that makes no URL would be linked as `/tags//` and listed nowhere.
    let all = terms.tags.iter().chain(terms.others.values().flatten());
    for term in all.filter(|term| slugify(term).is_empty()) {
        problems.push((
            front_matter::line_containing(split, term),
            format!(
                "the term `{term}` has no letter or digit to make its page's URL from: \
                 write it with at least one"
            ),
        ));
    }
    if problems.is_empty() {
        Ok(terms)
    } else {
        Err(problems)
    }
}

/// Every declared taxonomy, in site.toml's order, with its terms.
pub fn collect(config: &TaxonomyConfig, docs: &[Doc]) -> Vec<Taxonomy> {
    config
        .names
        .iter()
        .map(|name| Taxonomy {
            name: name.clone(),
            terms: collect_terms(docs, name),
        })
        .collect()
}

fn collect_terms(docs: &[Doc], taxonomy: &str) -> Vec<Term> {
    let mut terms: BTreeMap<String, Term> = BTreeMap::new();
    for (index, doc) in docs.iter().enumerate() {
        for name in doc.terms(taxonomy) {
            let slug = slugify(name);
            if slug.is_empty() {
                continue;
            }
            let term = terms.entry(slug.clone()).or_insert_with(|| Term {
                name: name.clone(),
                slug,
                pages: Vec::new(),
            });
            if !term.pages.contains(&index) {
                term.pages.push(index);
            }
        }
    }
    let mut terms: Vec<Term> = terms.into_values().collect();
    for term in &mut terms {
        term.pages.sort_by(|&a, &b| {
            docs[b]
                .date
                .cmp(&docs[a].date)
                .then_with(|| docs[a].title.cmp(&docs[b].title))
        });
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(names: &[&str]) -> TaxonomyConfig {
        TaxonomyConfig {
            names: names.iter().map(|n| n.to_string()).collect(),
            ..TaxonomyConfig::default()
        }
    }

    fn resolve_text(names: &[&str], text: &str) -> Result<DocTerms, Vec<(Option<usize>, String)>> {
        let split = front_matter::split(text).expect("front matter");
        let fm = front_matter::parse(&split).expect("parses");
        resolve(&config(names), &split, fm.tags, fm.taxonomies)
    }

    #[test]
    fn tags_given_both_ways_merge_and_other_taxonomies_are_kept() {
        let terms = resolve_text(
            &["tags", "categories", "series"],
            "---\ntitle: A\ntags: [a, b]\ntaxonomies:\n  tags: [b, c]\n  categories: Pricing\n  series: [One]\n---\n",
        )
        .expect("valid");
        assert_eq!(terms.tags, ["a", "b", "c"]);
        assert_eq!(terms.others["categories"], ["Pricing"]);
        assert_eq!(terms.others["series"], ["One"]);
    }

    #[test]
    fn toml_taxonomies_table_is_read() {
        let terms = resolve_text(
            &["tags", "categories"],
            "+++\ntitle = \"A\"\n[taxonomies]\ncategories = [\"x\", \"y\"]\ntags = [\"t\"]\n+++\n",
        )
        .expect("valid");
        assert_eq!(terms.tags, ["t"]);
        assert_eq!(terms.others["categories"], ["x", "y"]);
    }

    #[test]
    fn an_undeclared_taxonomy_names_its_line_and_the_fix() {
        let problems = resolve_text(
            &["tags", "categories"],
            "---\ntitle: A\ntaxonomies:\n  series: [x]\n  catgories: [z]\n---\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        let (line, message) = &problems[0];
        assert_eq!(*line, Some(5), "{message}");
        assert!(message.contains("did you mean `categories`?"), "{message}");
        assert!(
            message.contains("add it to `[taxonomies] names`"),
            "{message}"
        );
        let (line, message) = &problems[1];
        assert_eq!(*line, Some(4), "{message}");
        assert!(message.contains("`series`"), "{message}");
    }

    #[test]
    fn tags_need_the_tags_taxonomy_when_site_toml_leaves_it_out() {
        let problems =
            resolve_text(&["categories"], "---\ntitle: A\ntags: [x]\n---\n").unwrap_err();
        assert_eq!(problems[0].0, Some(3));
        assert!(
            problems[0].1.contains("taxonomy `tags`"),
            "{:?}",
            problems[0]
        );
    }
}
