//! What a deploy will do, decided before anything changes (pure: no I/O, the clock passed in).
//!
//! Uploads go in three phases so the live site never points at something missing
//! (DESIGN §9): first envelopes and static files, then pages, then the files that list pages
//! (the gated manifest, search index, feeds, sitemap). Deletions come last. A replaced file
//! that was cached as immutable (an envelope, a fingerprinted asset) is not deleted at once:
//! it is *retired* and kept for `keep_envelopes`, because pages cached by browsers and CDNs
//! still point at it.

use std::collections::{BTreeMap, BTreeSet};

use super::headers::{IMMUTABLE, default_cache_control, is_envelope, is_list, is_sealed_file};
use super::local::LocalFile;
use super::state::{DeployState, Entry, Retired};

/// Upload phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Envelopes and static files: nothing live points at a new one yet.
    Assets,
    /// HTML pages, which point at the envelopes, sealed files, search bundles and assets of
    /// phase one.
    Pages,
    /// Lists of pages: the gated manifest, gates, search, feeds, sitemap.
    Lists,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Assets, Phase::Pages, Phase::Lists];

    pub fn of(key: &str) -> Phase {
        let lower = key.to_ascii_lowercase();
        if is_list(key) {
            Phase::Lists
        } else if lower.ends_with(".html") || lower.ends_with(".htm") {
            Phase::Pages
        } else {
            Phase::Assets
        }
    }

    /// One word for it, as `GATEHOUSE_DEPLOY_CRASH_AFTER` names it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Assets => "assets",
            Phase::Pages => "pages",
            Phase::Lists => "lists",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Phase::Assets => "envelopes and assets",
            Phase::Pages => "pages",
            Phase::Lists => "manifest, feeds, sitemap and search",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadReason {
    New,
    Changed,
    HeadersChanged,
    /// The target may hold it, but nothing vouches for its bytes.
    Unverified,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub size: u64,
    pub phase: Phase,
    pub reason: UploadReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// No longer in the build.
    Removed,
    /// An envelope retired by an earlier deploy whose keeping time is over.
    RetiredLongEnough,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub key: String,
    pub reason: DeleteReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Sorted by phase, then path.
    pub uploads: Vec<Upload>,
    pub deletes: Vec<Delete>,
    /// Retired envelopes still kept, with the Unix second from which a deploy deletes them.
    pub kept: Vec<(String, i64)>,
    pub unchanged: usize,
    /// The remote state as found.
    pub before: DeployState,
    /// The remote state once every step has succeeded.
    pub after: DeployState,
}

/// Whether a file that left the build is kept for a while: cached pages may point at it by
/// name. Envelopes and sealed files always are (whatever a `[[deploy.headers]]` rule made
/// them), since pages name them by content; any other file when it was served as immutable.
fn retires(key: &str, entry: Option<&Entry>) -> bool {
    if is_envelope(key) || is_sealed_file(key) {
        return true;
    }
    match entry {
        Some(entry) => entry.headers.cache_control.contains("immutable"),
        None => default_cache_control(key) == IMMUTABLE,
    }
}

/// How a deploy keeps what it has found out.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seconds a retired file is kept.
    pub keep: u64,
    /// Whether an after hook purges caches: the changed paths are then kept in the manifest
    /// until it has succeeded.
    pub purge: bool,
}

/// Compares the build with what the target holds.
pub fn plan(local: &[LocalFile], remote: &DeployState, now: i64, settings: Settings) -> Plan {
    let keep = i64::try_from(settings.keep).unwrap_or(i64::MAX);
    let mut uploads = Vec::new();
    let mut unchanged = 0;
    let mut files = BTreeMap::new();
    for file in local {
        let entry = file.entry();
        let reason = if remote.unknown.contains(&file.key) {
            Some(UploadReason::Unverified)
        } else if let Some(old) = remote.files.get(&file.key) {
            if old.sha256 != entry.sha256 || old.size != entry.size {
                Some(UploadReason::Changed)
            } else if old.headers != entry.headers {
                Some(UploadReason::HeadersChanged)
            } else {
                None
            }
        } else if remote
            .retired
            .get(&file.key)
            .is_some_and(|retired| retired.entry.as_ref() == Some(&entry))
        {
            // An envelope back in the build (a page reverted): it never left the target.
            None
        } else {
            Some(UploadReason::New)
        };
        match reason {
            Some(reason) => uploads.push(Upload {
                key: file.key.clone(),
                size: file.size,
                phase: Phase::of(&file.key),
                reason,
            }),
            None => unchanged += 1,
        }
        files.insert(file.key.clone(), entry);
    }
    uploads.sort_by(|a, b| (a.phase, &a.key).cmp(&(b.phase, &b.key)));

    let mut retired = BTreeMap::new();
    let mut deletes = Vec::new();
    for (key, old) in &remote.retired {
        if files.contains_key(key) {
            continue;
        }
        if old.since.saturating_add(keep) <= now {
            deletes.push(Delete {
                key: key.clone(),
                reason: DeleteReason::RetiredLongEnough,
            });
        } else {
            retired.insert(key.clone(), old.clone());
        }
    }
    let gone = remote
        .files
        .iter()
        .map(|(key, entry)| (key, Some(entry)))
        .chain(remote.unknown.iter().map(|key| (key, None)))
        .filter(|(key, _)| !files.contains_key(*key) && !remote.retired.contains_key(*key));
    for (key, entry) in gone {
        if retires(key, entry) && keep > 0 {
            retired.insert(
                key.clone(),
                Retired {
                    since: now,
                    entry: entry.cloned(),
                },
            );
        } else {
            deletes.push(Delete {
                key: key.clone(),
                reason: DeleteReason::Removed,
            });
        }
    }
    deletes.sort_by(|a, b| a.key.cmp(&b.key));
    let kept = retired
        .iter()
        .map(|(key, r)| (key.clone(), r.since.saturating_add(keep)))
        .collect();
    let mut plan = Plan {
        uploads,
        deletes,
        kept,
        unchanged,
        before: remote.clone(),
        after: DeployState {
            files,
            retired,
            ..DeployState::default()
        },
    };
    if settings.purge {
        plan.after.unpurged = plan.purge_paths().into_iter().collect();
    }
    plan
}

impl Plan {
    /// Whether the deploy has anything to do in the target, the manifest included.
    pub fn is_noop(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty() && self.before == self.after
    }

    /// Whether this deploy changes no file (though it may have bookkeeping to write).
    pub fn changes_nothing(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty()
    }

    pub fn uploads_in(&self, phase: Phase) -> impl Iterator<Item = &Upload> {
        self.uploads.iter().filter(move |u| u.phase == phase)
    }

    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }

    pub fn new_count(&self) -> usize {
        self.uploads
            .iter()
            .filter(|u| u.reason == UploadReason::New)
            .count()
    }

    /// Deletions that `max_deletes` caps: files this build no longer has. Retired envelopes
    /// whose time is up were decided on by an earlier deploy and are not counted.
    pub fn capped_deletes(&self) -> usize {
        self.deletes
            .iter()
            .filter(|d| d.reason == DeleteReason::Removed)
            .count()
    }

    /// The manifest to write before the first upload: the paths about to change are unknown
    /// until the deploy finishes.
    pub fn state_while_uploading(&self) -> DeployState {
        let mut state = self.before.clone();
        for upload in &self.uploads {
            state.files.remove(&upload.key);
            state.retired.remove(&upload.key);
            state.unknown.insert(upload.key.clone());
        }
        state
    }

    /// The manifest to write once the phases up to `done` have finished: their uploads are
    /// known again, the later ones still unknown.
    pub fn state_after_phase(&self, done: Phase) -> DeployState {
        let mut state = self.state_while_uploading();
        for upload in self.uploads.iter().filter(|u| u.phase <= done) {
            if let Some(entry) = self.after.files.get(&upload.key) {
                state.unknown.remove(&upload.key);
                state.files.insert(upload.key.clone(), entry.clone());
            }
        }
        state
    }

    /// The manifest to write before the first deletion.
    pub fn state_while_deleting(&self) -> DeployState {
        let mut state = self.after.clone();
        state
            .unknown
            .extend(self.deletes.iter().map(|d| d.key.clone()));
        state
    }

    /// What the after hook is to purge: the paths this deploy changes, and those an earlier
    /// deploy changed whose purge has not yet succeeded.
    pub fn purge_paths(&self) -> Vec<String> {
        let mut paths: BTreeSet<String> = self.changed_paths().into_iter().collect();
        paths.extend(self.before.unpurged.iter().cloned());
        paths.into_iter().collect()
    }

    /// Every URL path the deploy changes: each file from the site root
    /// (`/course/a/index.html`), and for an `index.html` also its folder's URL (`/course/a/`),
    /// which is what readers ask for.
    pub fn changed_paths(&self) -> Vec<String> {
        let keys = self
            .uploads
            .iter()
            .map(|u| &u.key)
            .chain(self.deletes.iter().map(|d| &d.key));
        let mut paths = BTreeSet::new();
        for key in keys {
            if key == "index.html" {
                paths.insert("/".to_owned());
            } else if let Some(folder) = key.strip_suffix("/index.html") {
                paths.insert(format!("/{folder}/"));
            }
            paths.insert(format!("/{key}"));
        }
        paths.into_iter().collect()
    }
}

impl LocalFile {
    pub fn entry(&self) -> Entry {
        Entry {
            sha256: self.sha256.clone(),
            size: self.size,
            headers: self.headers.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::deploy::headers::{Headers, headers_for};

    const ENVELOPE_A: &str = "_gated/0123456789abcdef/aaaaaaaaaaaaaaaa.bin";
    /// A search bundle: content-addressed like any envelope, so it goes up with them.
    const BUNDLE: &str = "_gated/0123456789abcdef/bbbbbbbbbbbbbbbb.bin";
    const ENVELOPE_B: &str = "_gated/0123456789abcdef/bbbbbbbbbbbbbbbb.bin";
    const NOW: i64 = 1_800_000_000;
    const DAY: u64 = 86_400;

    fn file(key: &str, content: &str) -> LocalFile {
        LocalFile {
            key: key.to_owned(),
            path: PathBuf::from(key),
            sha256: format!("{:0>64}", content),
            size: content.len() as u64,
            headers: headers_for(key, &[]),
        }
    }

    fn site(files: &[(&str, &str)]) -> Vec<LocalFile> {
        files.iter().map(|(k, c)| file(k, c)).collect()
    }

    const KEEP: Settings = Settings {
        keep: DAY,
        purge: false,
    };

    fn deployed(local: &[LocalFile]) -> DeployState {
        plan(local, &DeployState::default(), NOW, KEEP).after
    }

    fn keys(uploads: &[Upload]) -> Vec<&str> {
        uploads.iter().map(|u| u.key.as_str()).collect()
    }

    #[test]
    fn a_first_deploy_uploads_everything_in_phase_order() {
        let local = site(&[
            ("sitemap.xml", "s"),
            ("index.html", "i"),
            (ENVELOPE_A, "a"),
            ("_gated/manifest.json", "m"),
            ("style.css", "c"),
            (BUNDLE, "b"),
        ]);
        let plan = plan(&local, &DeployState::default(), NOW, KEEP);
        assert_eq!(
            keys(&plan.uploads),
            [
                ENVELOPE_A,
                BUNDLE,
                "style.css",
                "index.html",
                "_gated/manifest.json",
                "sitemap.xml",
            ]
        );
        assert_eq!(plan.new_count(), 6);
        assert!(plan.deletes.is_empty());
    }

    #[test]
    fn an_unchanged_site_plans_nothing_and_writes_no_manifest() {
        let local = site(&[("index.html", "i"), (ENVELOPE_A, "a")]);
        let plan = plan(&local, &deployed(&local), NOW + 10, KEEP);
        assert!(plan.is_noop(), "{plan:?}");
        assert_eq!(plan.unchanged, 2);
    }

    #[test]
    fn a_plain_manifest_left_by_an_older_gatehouse_is_replaced_even_when_nothing_changed() {
        let local = site(&[("index.html", "i")]);
        let mut remote = deployed(&local);
        remote.legacy_manifest = true;
        let plan = plan(&local, &remote, NOW, KEEP);
        assert!(!plan.is_noop(), "the sealed manifest is written");
        assert!(plan.changes_nothing());
        assert!(!plan.after.legacy_manifest);
    }

    #[test]
    fn changed_bytes_and_changed_headers_are_both_uploaded() {
        let old = site(&[("index.html", "i"), ("a.css", "c")]);
        let mut new = site(&[("index.html", "j"), ("a.css", "c")]);
        new[1].headers = Headers {
            content_type: "text/css; charset=utf-8".into(),
            cache_control: "no-store".into(),
        };
        let plan = plan(&new, &deployed(&old), NOW, KEEP);
        let reasons: Vec<_> = plan
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a.css", UploadReason::HeadersChanged),
                ("index.html", UploadReason::Changed)
            ]
        );
    }

    #[test]
    fn a_replaced_envelope_is_kept_for_the_keeping_time_then_deleted() {
        let old = site(&[("p/index.html", "1"), (ENVELOPE_A, "a")]);
        let new = site(&[("p/index.html", "2"), (ENVELOPE_B, "b")]);
        let first = plan(&new, &deployed(&old), NOW, KEEP);
        assert!(first.deletes.is_empty(), "{:?}", first.deletes);
        assert_eq!(first.kept, [(ENVELOPE_A.to_owned(), NOW + DAY as i64)]);

        let early = plan(&new, &first.after, NOW + DAY as i64 - 1, KEEP);
        assert!(early.is_noop());
        let late = plan(&new, &first.after, NOW + DAY as i64, KEEP);
        assert_eq!(
            late.deletes,
            [Delete {
                key: ENVELOPE_A.into(),
                reason: DeleteReason::RetiredLongEnough
            }]
        );
        assert_eq!(late.capped_deletes(), 0);
        assert!(late.kept.is_empty());
    }

    #[test]
    fn a_sealed_file_that_leaves_the_build_is_retired_like_an_envelope() {
        const VIDEO: &str = "_gated/files/0123456789abcdef0123456789abcdef.bin";
        let old = site(&[("course/a/index.html", "1"), (VIDEO, "v")]);
        let new = site(&[("course/a/index.html", "2")]);
        let first = plan(&new, &deployed(&old), NOW, KEEP);
        assert!(first.deletes.is_empty(), "{:?}", first.deletes);
        assert_eq!(first.kept, [(VIDEO.to_owned(), NOW + DAY as i64)]);
        // Even when a header rule served it otherwise, and when nothing vouches for it.
        let mut short = deployed(&old);
        if let Some(entry) = short.files.get_mut(VIDEO) {
            entry.headers.cache_control = "no-store".into();
        }
        assert!(plan(&new, &short, NOW, KEEP).deletes.is_empty());
        let listed = DeployState::from_listing([VIDEO.to_owned()]);
        assert_eq!(plan(&new, &listed, NOW, KEEP).kept.len(), 1);
        let late = plan(&new, &first.after, NOW + DAY as i64, KEEP);
        assert_eq!(late.deletes[0].reason, DeleteReason::RetiredLongEnough);
    }

    #[test]
    fn a_replaced_fingerprinted_asset_is_retired_like_an_envelope() {
        let old = site(&[("index.html", "1"), ("app.0a1b2c3d4e.js", "a")]);
        let new = site(&[("index.html", "2"), ("app.9f8e7d6c5b.js", "b")]);
        let plan = plan(&new, &deployed(&old), NOW, KEEP);
        assert!(plan.deletes.is_empty(), "{:?}", plan.deletes);
        assert_eq!(plan.kept.len(), 1);
        let old_css = site(&[("style.css", "a")]);
        let gone = plan_after_removal(&old_css);
        assert_eq!(
            gone.capped_deletes(),
            1,
            "a file replaced in place is deleted"
        );
    }

    fn plan_after_removal(old: &[LocalFile]) -> Plan {
        plan(&[], &deployed(old), NOW, KEEP)
    }

    #[test]
    fn a_checkpoint_vouches_for_finished_phases_only() {
        let old = site(&[("index.html", "1"), ("a.css", "1"), ("atom.xml", "1")]);
        let new = site(&[("index.html", "2"), ("a.css", "2"), ("atom.xml", "2")]);
        let plan = plan(&new, &deployed(&old), NOW, KEEP);
        let after_assets = plan.state_after_phase(Phase::Assets);
        assert_eq!(
            after_assets.files.get("a.css"),
            plan.after.files.get("a.css")
        );
        assert!(after_assets.unknown.contains("index.html"));
        assert!(after_assets.unknown.contains("atom.xml"));
        let after_pages = plan.state_after_phase(Phase::Pages);
        assert!(!after_pages.unknown.contains("index.html"));
        assert!(after_pages.unknown.contains("atom.xml"));
    }

    #[test]
    fn changed_paths_stay_unpurged_until_a_hook_succeeds() {
        let purge = Settings {
            keep: DAY,
            purge: true,
        };
        let old = site(&[("a/index.html", "1")]);
        let first = plan(&old, &DeployState::default(), NOW, purge);
        assert_eq!(
            first.after.unpurged.iter().collect::<Vec<_>>(),
            ["/a/", "/a/index.html"]
        );
        // The hook failed, so the manifest still lists them; the next deploy changes another
        // page and purges both.
        let new = site(&[("a/index.html", "1"), ("b/index.html", "1")]);
        let second = plan(&new, &first.after, NOW, purge);
        assert_eq!(
            second.purge_paths(),
            ["/a/", "/a/index.html", "/b/", "/b/index.html"]
        );
        let without_hook = plan(&new, &first.after, NOW, KEEP);
        assert!(without_hook.after.unpurged.is_empty());
    }

    #[test]
    fn a_reverted_page_finds_its_retired_envelope_still_there() {
        let old = site(&[("p/index.html", "1"), (ENVELOPE_A, "a")]);
        let new = site(&[("p/index.html", "2"), (ENVELOPE_B, "b")]);
        let edited = plan(&new, &deployed(&old), NOW, KEEP).after;
        let reverted = plan(&old, &edited, NOW + 60, KEEP);
        assert_eq!(keys(&reverted.uploads), ["p/index.html"]);
        assert_eq!(reverted.kept.len(), 1, "B is retired in turn");
    }

    #[test]
    fn without_keeping_time_a_replaced_envelope_is_deleted_at_once() {
        let old = site(&[(ENVELOPE_A, "a")]);
        let new = site(&[(ENVELOPE_B, "b")]);
        let plan = plan(
            &new,
            &deployed(&old),
            NOW,
            Settings {
                keep: 0,
                purge: false,
            },
        );
        assert_eq!(plan.capped_deletes(), 1);
    }

    #[test]
    fn removed_pages_are_deleted_and_counted_against_the_cap() {
        let old = site(&[("a/index.html", "a"), ("b/index.html", "b"), ("c.png", "c")]);
        let new = site(&[("a/index.html", "a")]);
        let plan = plan(&new, &deployed(&old), NOW, KEEP);
        let deleted: Vec<_> = plan.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deleted, ["b/index.html", "c.png"]);
        assert_eq!(plan.capped_deletes(), 2);
        assert_eq!(
            plan.changed_paths(),
            ["/b/", "/b/index.html", "/c.png"],
            "purge both the folder URL and the file"
        );
    }

    #[test]
    fn paths_left_unknown_by_a_cut_off_deploy_are_uploaded_or_deleted() {
        let mut remote = deployed(&site(&[("index.html", "i")]));
        remote.unknown.insert("index.html".into());
        remote.files.remove("index.html");
        remote.unknown.insert("orphan/index.html".into());
        remote.unknown.insert(ENVELOPE_A.into());
        let plan = plan(&site(&[("index.html", "i")]), &remote, NOW, KEEP);
        assert_eq!(plan.uploads[0].reason, UploadReason::Unverified);
        assert_eq!(plan.deletes.len(), 1, "{:?}", plan.deletes);
        assert_eq!(plan.deletes[0].key, "orphan/index.html");
        assert_eq!(plan.kept.len(), 1, "an envelope is retired, not deleted");
        assert!(plan.after.unknown.is_empty());
    }

    #[test]
    fn the_manifest_during_a_deploy_never_vouches_for_what_is_changing() {
        let old = site(&[("index.html", "1"), ("gone.html", "g"), ("same.css", "s")]);
        let new = site(&[("index.html", "2"), ("same.css", "s")]);
        let plan = plan(&new, &deployed(&old), NOW, KEEP);
        let uploading = plan.state_while_uploading();
        assert!(!uploading.files.contains_key("index.html"));
        assert!(uploading.unknown.contains("index.html"));
        assert!(uploading.files.contains_key("gone.html"), "still there");
        let deleting = plan.state_while_deleting();
        assert!(deleting.files.contains_key("index.html"));
        assert!(deleting.unknown.contains("gone.html"));
        assert!(!deleting.files.contains_key("gone.html"));
    }
}
