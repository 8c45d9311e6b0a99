//! The deploy manifest kept in the target (`.gatehouse-deploy.sealed`): what gatehouse knows is
//! there, so the next deploy compares hashes instead of downloading or listing anything. It is
//! stored sealed ([`super::sealed`]): it names every file of the site.
//!
//! It is written before uploads begin (the paths about to change marked `unknown`), after long
//! phases, before deletions begin, and at the end. A deploy cut off at any point therefore
//! leaves a manifest that never claims more than is true: the next deploy uploads again what
//! it cannot vouch for.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::headers::Headers;
use super::sealed::ManifestKey;

/// The manifest's key, at the root of the target (beside `index.html`).
pub const STATE_KEY: &str = ".gatehouse-deploy.sealed";
/// Where gatehouse before sealed manifests kept its manifest, in plain JSON. A deploy reads it
/// when there is no sealed one, and deletes it once the sealed one is written.
pub const LEGACY_STATE_KEY: &str = ".gatehouse-deploy.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployState {
    /// Files known to be in the target with exactly these bytes and headers.
    pub files: BTreeMap<String, Entry>,
    /// Files no longer in the build but kept for a while, because pages cached by browsers and
    /// CDNs still point at them (envelopes, fingerprinted assets).
    pub retired: BTreeMap<String, Retired>,
    /// Paths that may or may not be in the target, with unknown bytes: uploads and deletions
    /// under way when a deploy was cut off, or what a listing found without a manifest.
    pub unknown: BTreeSet<String>,
    /// URL paths changed by a deploy whose after hook (the CDN purge) has not yet succeeded:
    /// the next deploy hands them to the hook again.
    pub unpurged: BTreeSet<String>,
    /// The target also holds the plain manifest of an older gatehouse ([`LEGACY_STATE_KEY`]),
    /// which names every file: the deploy writes the sealed one, then deletes it. Not stored.
    pub legacy_manifest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sha256: String,
    pub size: u64,
    pub headers: Headers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// Unix seconds when it left the build.
    pub since: i64,
    /// What it holds, when known: a page reverted to these bytes needs no upload.
    pub entry: Option<Entry>,
}

/// The manifest as stored: compact, with each distinct pair of headers written once, since a
/// 10,000-page site has 13,000 entries and the manifest is uploaded on every deploy.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    /// `[content_type, cache_control]` pairs that entries point at by index.
    headers: Vec<(String, String)>,
    /// Path → `[sha256, size, headers index]`.
    files: BTreeMap<String, (String, u64, usize)>,
    #[serde(default)]
    retired: BTreeMap<String, WireRetired>,
    #[serde(default)]
    unknown: BTreeSet<String>,
    #[serde(default)]
    unpurged: BTreeSet<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRetired {
    since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<(String, u64, usize)>,
}

impl DeployState {
    /// What a listing of the target shows, without a manifest: every file is there, with
    /// unknown bytes and headers.
    pub fn from_listing(keys: impl IntoIterator<Item = String>) -> DeployState {
        DeployState {
            unknown: keys.into_iter().filter(|key| !is_reserved(key)).collect(),
            ..DeployState::default()
        }
    }

    /// Opens and reads a sealed manifest; an error says what is wrong with it (never quoting
    /// it), so it can be reported and the target listed instead.
    pub fn open(key: &ManifestKey, bytes: &[u8]) -> Result<DeployState, String> {
        let plain = key.open(STATE_KEY, bytes).map_err(|e| e.to_string())?;
        DeployState::parse(&plain).map_err(|problem| format!("is unreadable: {problem}"))
    }

    /// The manifest sealed, as the target stores it.
    pub fn seal(&self, key: &ManifestKey) -> Result<Vec<u8>, ring::error::Unspecified> {
        key.seal(STATE_KEY, &self.to_bytes())
    }

    /// Reads a manifest in plain JSON (as sealed manifests hold it, and as gatehouse wrote
    /// them before sealing); an error says what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<DeployState, String> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if wire.version != VERSION {
            return Err(format!(
                "version {} (this gatehouse writes version {VERSION})",
                wire.version
            ));
        }
        let entry = |(sha256, size, index): (String, u64, usize)| -> Result<Entry, String> {
            let (content_type, cache_control) =
                wire.headers.get(index).cloned().ok_or_else(|| {
                    format!("an entry names headers {index}, which are not listed")
                })?;
            Ok(Entry {
                sha256,
                size,
                headers: Headers {
                    content_type,
                    cache_control,
                },
            })
        };
        let mut state = DeployState {
            unknown: wire.unknown,
            unpurged: wire.unpurged,
            ..DeployState::default()
        };
        for (key, value) in wire.files {
            state.files.insert(key, entry(value)?);
        }
        for (key, retired) in wire.retired {
            let value = Retired {
                since: retired.since,
                entry: retired.entry.map(entry).transpose()?,
            };
            state.retired.insert(key, value);
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
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut index = |h: &Headers| -> usize {
            let pair = (h.content_type.clone(), h.cache_control.clone());
            match headers.iter().position(|known| *known == pair) {
                Some(i) => i,
                None => {
                    headers.push(pair);
                    headers.len() - 1
                }
            }
        };
        let mut wire_entry = |e: &Entry| (e.sha256.clone(), e.size, index(&e.headers));
        let files = self
            .files
            .iter()
            .map(|(key, e)| (key.clone(), wire_entry(e)))
            .collect();
        let retired = self
            .retired
            .iter()
            .map(|(key, r)| {
                let value = WireRetired {
                    since: r.since,
                    entry: r.entry.as_ref().map(&mut wire_entry),
                };
                (key.clone(), value)
            })
            .collect();
        let wire = Wire {
            version: VERSION,
            headers,
            files,
            retired,
            unknown: self.unknown.clone(),
            unpurged: self.unpurged.clone(),
        };
        let mut bytes =
            serde_json::to_vec(&wire).expect("maps of strings and numbers always serialize");
        bytes.push(b'\n');
        bytes
    }
}

/// Files in the target that are gatehouse's own bookkeeping, never part of a site.
pub fn is_reserved(key: &str) -> bool {
    key == STATE_KEY
        || key == LEGACY_STATE_KEY
        || key == super::lock::LOCK_KEY
        || key == crate::build::BUILD_MARKER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cache_control: &str) -> Entry {
        Entry {
            sha256: "ab".repeat(32),
            size: 3,
            headers: Headers {
                content_type: "text/html; charset=utf-8".into(),
                cache_control: cache_control.into(),
            },
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let mut state = DeployState::default();
        state
            .files
            .insert("index.html".into(), entry("public, max-age=60"));
        state
            .files
            .insert("a.html".into(), entry("public, max-age=60"));
        state
            .files
            .insert("b.css".into(), entry("public, max-age=300"));
        state.retired.insert(
            "_gated/0123456789abcdef/0123456789abcdef.bin".into(),
            Retired {
                since: 1_800_000_000,
                entry: Some(entry("public, max-age=31536000, immutable")),
            },
        );
        state.retired.insert(
            "app.0a1b2c3d4e.js".into(),
            Retired {
                since: 1_800_000_001,
                entry: None,
            },
        );
        state.unknown.insert("a/b.css".into());
        state.unpurged.insert("/a/".into());
        let bytes = state.to_bytes();
        assert_eq!(DeployState::parse(&bytes), Ok(state));
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text.matches("max-age=60").count(),
            1,
            "headers written once: {text}"
        );
    }

    #[test]
    fn a_manifest_naming_a_path_outside_the_target_is_refused() {
        let mut state = DeployState::default();
        state.unknown.insert("../../etc/passwd".into());
        let error = DeployState::parse(&state.to_bytes()).expect_err("refused");
        assert!(error.contains("../../etc/passwd"), "{error}");
        assert!(DeployState::parse(b"{\"version\":2,\"headers\":[],\"files\":{}}").is_err());
        assert!(
            DeployState::parse(b"{\"version\":1,\"headers\":[],\"files\":{\"a\":[\"x\",1,4]}}")
                .is_err(),
            "a headers index out of range"
        );
        assert!(DeployState::parse(b"not json").is_err());
    }

    #[test]
    fn a_listing_leaves_out_gatehouse_bookkeeping() {
        let state = DeployState::from_listing(vec![
            "index.html".to_owned(),
            STATE_KEY.to_owned(),
            LEGACY_STATE_KEY.to_owned(),
            ".gatehouse-deploy.lock".to_owned(),
            ".gatehouse-build".to_owned(),
        ]);
        assert_eq!(
            state.unknown.into_iter().collect::<Vec<_>>(),
            ["index.html"]
        );
    }

    #[test]
    fn a_sealed_manifest_names_no_file_and_reads_back_only_with_its_key() {
        let mut state = DeployState::default();
        state.files.insert(
            "_gated/files/0123456789abcdef0123456789abcdef.bin".into(),
            entry("public, max-age=31536000, immutable"),
        );
        state
            .files
            .insert("hidden/index.html".into(), entry("public, max-age=60"));
        let secret = crate::gate::MasterSecret::from_bytes([3; 32]);
        let key = ManifestKey::derive(&secret);
        let sealed = state.seal(&key).expect("random");
        for name in ["_gated", "index.html", "hidden", "immutable"] {
            assert!(
                !sealed.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} in the sealed manifest"
            );
        }
        assert_eq!(DeployState::open(&key, &sealed), Ok(state.clone()));
        let other = ManifestKey::derive(&crate::gate::MasterSecret::from_bytes([4; 32]));
        let error = DeployState::open(&other, &sealed).expect_err("another secret");
        assert!(
            error.contains("another master secret, or damaged"),
            "{error}"
        );
        let plain = DeployState::open(&key, &state.to_bytes()).expect_err("plain JSON");
        assert!(plain.contains("not a sealed"), "{plain}");
    }
}
