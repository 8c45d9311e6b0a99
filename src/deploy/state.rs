//! The deploy manifest kept in the target (`.gatehouse-deploy.json`): what gatehouse knows is
//! there, so the next deploy compares hashes instead of downloading or listing anything.
//!
//! It is written before uploads begin (the paths about to change marked `unknown`), before
//! deletions begin, and at the end. A deploy cut off at any point therefore leaves a manifest
//! that never claims more than is true: the next deploy uploads again what it cannot vouch for.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::headers::Headers;

/// The manifest's key, at the root of the target (beside `index.html`).
pub const STATE_KEY: &str = ".gatehouse-deploy.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployState {
    pub version: u32,
    /// Files known to be in the target with exactly these bytes and headers.
    pub files: BTreeMap<String, Entry>,
    /// Envelopes no longer in the build, kept for a while because pages cached by browsers and
    /// CDNs still point at them.
    #[serde(default)]
    pub retired: BTreeMap<String, Retired>,
    /// Paths that may or may not be in the target, with unknown bytes: uploads and deletions
    /// under way when a deploy was cut off, or what a listing found without a manifest.
    #[serde(default)]
    pub unknown: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub sha256: String,
    pub size: u64,
    #[serde(flatten)]
    pub headers: Headers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retired {
    /// Unix seconds when it left the build.
    pub since: i64,
    /// What it holds, when known: a page reverted to these bytes needs no upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
}

impl DeployState {
    pub fn empty() -> DeployState {
        DeployState {
            version: VERSION,
            ..DeployState::default()
        }
    }

    /// What a listing of the target shows, without a manifest: every file is there, with
    /// unknown bytes and headers.
    pub fn from_listing(keys: impl IntoIterator<Item = String>) -> DeployState {
        DeployState {
            unknown: keys.into_iter().filter(|key| !is_reserved(key)).collect(),
            ..DeployState::empty()
        }
    }

    /// Reads a manifest; an error says what is wrong with it, so it can be reported and the
    /// target listed instead.
    pub fn parse(bytes: &[u8]) -> Result<DeployState, String> {
        let state: DeployState = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if state.version != VERSION {
            return Err(format!(
                "version {} (this gatehouse writes version {VERSION})",
                state.version
            ));
        }
        let keys = state
            .files
            .keys()
            .chain(state.retired.keys())
            .chain(&state.unknown);
        for key in keys {
            // A manifest edited by hand (or by anyone with write access to the bucket) must not
            // steer a deletion outside the target.
            if !super::is_safe_key(key) || is_reserved(key) {
                return Err(format!("it names the path `{key}`, which no deploy writes"));
            }
        }
        Ok(state)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// Files in the target that are gatehouse's own bookkeeping, never part of a site.
pub fn is_reserved(key: &str) -> bool {
    key == STATE_KEY || key == crate::build::BUILD_MARKER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            sha256: "ab".repeat(32),
            size: 3,
            headers: Headers {
                content_type: "text/html; charset=utf-8".into(),
                cache_control: "public, max-age=60".into(),
            },
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let mut state = DeployState::empty();
        state.files.insert("index.html".into(), entry());
        state.retired.insert(
            "_gated/0123456789abcdef/0123456789abcdef.bin".into(),
            Retired {
                since: 1_800_000_000,
                entry: Some(entry()),
            },
        );
        state.unknown.insert("a/b.css".into());
        assert_eq!(DeployState::parse(&state.to_bytes()), Ok(state));
    }

    #[test]
    fn a_manifest_naming_a_path_outside_the_target_is_refused() {
        let mut state = DeployState::empty();
        state.unknown.insert("../../etc/passwd".into());
        let error = DeployState::parse(&state.to_bytes()).expect_err("refused");
        assert!(error.contains("../../etc/passwd"), "{error}");
        assert!(DeployState::parse(b"{\"version\":2,\"files\":{}}").is_err());
        assert!(DeployState::parse(b"not json").is_err());
    }

    #[test]
    fn a_listing_leaves_out_gatehouse_bookkeeping() {
        let state = DeployState::from_listing(vec![
            "index.html".to_owned(),
            STATE_KEY.to_owned(),
            ".gatehouse-build".to_owned(),
        ]);
        assert_eq!(
            state.unknown.into_iter().collect::<Vec<_>>(),
            ["index.html"]
        );
    }
}
