//! Upcoming drip unlocks: the pages of the built site that will open for a member, soonest
//! first. `/me` lists them to the member, and the console's page of a member to an operator.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::entitle::{Decision, Reason, Timeline};
use crate::gate::Rule;
use crate::server::AppState;

/// How many upcoming unlocks are listed.
const UNLOCKS_SHOWN: usize = 20;

#[derive(Debug, Deserialize)]
struct Manifest {
    pages: Vec<ManifestPage>,
}

#[derive(Debug, Deserialize)]
struct ManifestPage {
    path: String,
    rule: String,
}

/// Pages of the built site (its `_gated/manifest.json`) that will drip open for this member,
/// soonest first, as `{"path", "unlocks_at"}`. Without a manifest the list is empty.
pub(crate) async fn upcoming_unlocks(
    state: &AppState,
    timeline: &Timeline,
    now: Timestamp,
) -> Vec<Value> {
    let Some(path) = &state.options.manifest else {
        return Vec::new();
    };
    let Ok(text) = tokio::fs::read_to_string(path).await else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_str::<Manifest>(&text) else {
        tracing::warn!(path = %path.display(), "the site's manifest could not be read");
        return Vec::new();
    };
    let mut decisions: BTreeMap<String, Decision> = BTreeMap::new();
    let mut upcoming: Vec<(Timestamp, String)> = Vec::new();
    for page in &manifest.pages {
        let decision =
            *decisions
                .entry(page.rule.clone())
                .or_insert_with(|| match Rule::parse(&page.rule) {
                    Ok(rule) => timeline.decide(&rule, now, &state.config),
                    Err(_) => Decision::Locked(Reason::Level),
                });
        if let Decision::Locked(Reason::Drip { unlocks_at }) = decision {
            upcoming.push((unlocks_at, page.path.clone()));
        }
    }
    upcoming.sort();
    upcoming
        .into_iter()
        .take(UNLOCKS_SHOWN)
        .map(|(at, path)| json!({ "path": path, "unlocks_at": at.to_string() }))
        .collect()
}
