//! Resolving `access:` into a gate [`Rule`]: ids are checked against site.toml, and sections
//! pass their access down to every page below them (DESIGN §3).

use crate::config::{SiteConfig, parse_duration};
use crate::gate::Rule;
use crate::suggest;

use super::front_matter::{AccessSpec, RawRule};

/// Who may read a document's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Public,
    Gated(Rule),
}

impl Access {
    pub fn rule(&self) -> Option<&Rule> {
        match self {
            Access::Public => None,
            Access::Gated(rule) => Some(rule),
        }
    }
}

/// A problem with an `access:` value, and the text to look for to find its line.
pub struct AccessProblem {
    pub needle: String,
    pub message: String,
}

/// Checks an `access:` value against the configured levels and bundles.
pub fn resolve(spec: &AccessSpec, config: &SiteConfig) -> Result<Access, Vec<AccessProblem>> {
    let rule = match spec {
        AccessSpec::Public => return Ok(Access::Public),
        AccessSpec::Rule(rule) => rule,
    };
    let mut problems = Vec::new();
    check_ids(rule, config, &mut problems);
    let drip = match &rule.drip {
        None => 0,
        Some(text) => parse_duration(text).unwrap_or_else(|message| {
            problems.push(AccessProblem {
                needle: "drip:".to_owned(),
                message: format!("access.drip: {message}"),
            });
            0
        }),
    };
    if rule.level.is_none() && rule.bundles.is_empty() {
        problems.push(AccessProblem {
            needle: "access".to_owned(),
            message: "access needs a `level` or `bundles` (or write `access: public`)".to_owned(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Rule::new(rule.level.as_deref(), &rule.bundles, drip)
        .map(Access::Gated)
        .map_err(|error| {
            vec![AccessProblem {
                needle: "access".to_owned(),
                message: format!("access: {error}"),
            }]
        })
}

fn check_ids(rule: &RawRule, config: &SiteConfig, problems: &mut Vec<AccessProblem>) {
    if let Some(level) = &rule.level
        && config.level(level).is_none()
    {
        problems.push(AccessProblem {
            needle: level.clone(),
            message: format!(
                "access.level: unknown level `{level}`{}; levels are defined in site.toml",
                suggest::hint(level, config.level_ids())
            ),
        });
    }
    for (index, bundle) in rule.bundles.iter().enumerate() {
        if rule.bundles[..index].contains(bundle) {
            problems.push(AccessProblem {
                needle: bundle.clone(),
                message: format!("access.bundles: `{bundle}` is listed twice"),
            });
        } else if config.bundle(bundle).is_none() {
            problems.push(AccessProblem {
                needle: bundle.clone(),
                message: format!(
                    "access.bundles: unknown bundle `{bundle}`{}; bundles are defined in site.toml",
                    suggest::hint(bundle, config.bundle_ids())
                ),
            });
        }
    }
}

/// A short label for people: `gold`, `gold or pricing-course`, `gold · day 14`.
pub fn label(rule: &Rule, config: &SiteConfig) -> String {
    let mut label = needs_label(rule, config);
    let days = rule.drip_seconds().div_ceil(crate::config::DAY);
    if rule.drip_seconds() > 0 {
        label.push_str(&format!(" · day {days}"));
    }
    label
}

/// What a reader must hold to open `rule`, drip aside: "Gold or Pricing Course".
pub fn needs_label(rule: &Rule, config: &SiteConfig) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(level) = rule.level() {
        parts.push(config.level_name(level));
    }
    for bundle in rule.bundles() {
        parts.push(config.bundle_name(bundle));
    }
    parts.join(" or ")
}
