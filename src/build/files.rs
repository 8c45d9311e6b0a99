//! Gated files (DESIGN §3 and §4 "Files"): seal each one into `_gated/files/<salt>.bin`
//! (streaming, in parallel, cached in `.gatehouse/files/`), rewrite the references to them in
//! gated bodies (which then list their keys in `data-gh-files`), and refuse any reference to
//! one from public output.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use ring::digest;

use super::file_cache::{Entry, FileCache, Stamp};
use super::file_refs::{decode_entities, resolve, url_refs};
use super::output::Output;
use crate::config::SiteConfig;
use crate::content::{GatedFile, Library};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::gate::Rule;
use crate::gate::file::{
    FileKey, FileSalt, FilesRoot, MAX_META_LEN, meta_json, object_len, seal_stream,
};
use crate::media_type;

/// Every gated file of a build, sealed, by the URLs pages use for it.
pub struct FileTable {
    sealed: Vec<SealedFile>,
    by_url: HashMap<String, usize>,
    /// Public files by URL, so a gated body that shows one can be warned about.
    public_by_url: HashMap<String, usize>,
    /// The site's `base_url`, so absolute links to the site itself are recognised.
    site: String,
    /// Level ranks, to tell whether one rule opens only for members another opens for.
    ranks: HashMap<String, i64>,
    violations: Mutex<Vec<Violation>>,
    /// Gated bodies that show a public file: (page path, URL as written, public asset).
    public_in_gated: Mutex<Vec<(String, String, usize)>>,
    /// Files this build read and sealed (not found in the cache), and their bytes.
    sealed_now: (usize, u64),
}

struct SealedFile {
    salt: FileSalt,
    key: FileKey,
    /// The access of the file's owner: who may have its key.
    rule: Option<Rule>,
    /// Set when a gated body refers to it.
    referenced: AtomicBool,
}

/// An output that refers to a gated file it must not hand out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    /// The output file, relative to the output folder: `blog/post/index.html`; for a gated body,
    /// the page's path.
    output: String,
    /// The URL as the HTML has it.
    value: String,
    file: usize,
    /// For a gated body: the rule of its gate, which opens for members the file's does not.
    wider_rule: Option<String>,
}

/// Where sealed files come from: a real build seals (or finds in the cache) and writes them;
/// `gatehouse check` only needs each file's place in the table.
pub enum Sealing<'a> {
    Write { cache_dir: &'a Path, progress: bool },
    Check,
}

impl FileTable {
    /// A table with no files: every page passes through unchanged.
    pub fn empty() -> FileTable {
        FileTable {
            sealed: Vec::new(),
            by_url: HashMap::new(),
            public_by_url: HashMap::new(),
            site: String::new(),
            ranks: HashMap::new(),
            violations: Mutex::new(Vec::new()),
            public_in_gated: Mutex::new(Vec::new()),
            sealed_now: (0, 0),
        }
    }

    /// How many files this build read and sealed, and their bytes.
    pub fn sealed_now(&self) -> (usize, u64) {
        self.sealed_now
    }

    /// Seals the library's gated files and links their objects into `output`.
    pub fn seal(
        library: &Library,
        config: &SiteConfig,
        root: &FilesRoot,
        output: &Output,
        sealing: Sealing<'_>,
    ) -> Result<FileTable, Diagnostics> {
        let files = &library.gated_files;
        let mut table = FileTable::empty();
        table.site = config.base_url.trim_end_matches('/').to_owned();
        table.ranks = config
            .levels
            .iter()
            .map(|level| (level.id.clone(), level.rank))
            .collect();
        // Files a `public_files:` list keeps public are public on purpose: no warning.
        for (index, asset) in library.assets.iter().enumerate() {
            if !asset.listed_public {
                let path = asset.output.to_string_lossy().replace('\\', "/");
                table.public_by_url.insert(format!("/{path}"), index);
            }
        }
        if files.is_empty() {
            return Ok(table);
        }
        let too_long: Vec<Diagnostic> = files
            .iter()
            .filter(|file| meta_json(&file.name, media_type_of(&file.name)).len() > MAX_META_LEN)
            .map(|file| {
                Diagnostic::new(
                    Path::new(crate::content::CONTENT_DIR).join(&file.content_path),
                    None,
                    "this members-only file's name is too long to seal (browsers read it in one \
                     request of 4 KiB): rename it",
                )
            })
            .collect();
        if !too_long.is_empty() {
            return Err(Diagnostics(too_long));
        }
        let salts = match sealing {
            Sealing::Check => files.iter().map(placeholder_salt).collect(),
            Sealing::Write {
                cache_dir,
                progress,
            } => {
                let (salts, sealed_now) =
                    seal_into_cache(files, root, cache_dir, output, progress)?;
                table.sealed_now = sealed_now;
                salts
            }
        };
        for (index, (file, salt)) in files.iter().zip(salts).enumerate() {
            for url in &file.urls {
                table.by_url.insert(url.clone(), index);
            }
            table.sealed.push(SealedFile {
                key: root.file_key(&salt),
                salt,
                rule: library.docs[file.owner].access.rule().cloned(),
                referenced: AtomicBool::new(false),
            });
        }
        Ok(table)
    }

    /// A gated body with every reference to a gated file pointing at its sealed object, ending
    /// with the `data-gh-files` list of their keys (DESIGN §4 Files). `base` is the page's URL
    /// path, against which relative references resolve; `rule` is its gate's. A file whose
    /// owner's rule opens for fewer members than `rule` is recorded as a problem: its key would
    /// reach members who may not open it.
    pub fn rewrite_gated<'h>(&self, html: &'h str, base: &str, rule: &Rule) -> Cow<'h, str> {
        if self.sealed.is_empty() && self.public_by_url.is_empty() {
            return Cow::Borrowed(html);
        }
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        let mut out = String::with_capacity(html.len() + 256);
        let mut copied = 0;
        for found in url_refs(html) {
            let Some(index) = self.lookup(&found.value, base) else {
                self.note_public_file(&found.value, base);
                continue;
            };
            let sealed = &self.sealed[index];
            if !sealed
                .rule
                .as_ref()
                .is_some_and(|owner| self.opens_within(rule, owner))
            {
                self.record(Violation {
                    output: base.to_owned(),
                    value: found.value.clone(),
                    file: index,
                    wider_rule: Some(rule.text()),
                });
            }
            sealed.referenced.store(true, Ordering::Relaxed);
            let hex = sealed.salt.hex();
            // The fragment as the HTML wrote it (entities and all), so it stays inside the
            // attribute exactly as before.
            let raw = &html[found.range.clone()];
            let fragment = raw.find('#').map_or("", |at| &raw[at..]);
            out.push_str(&html[copied..found.range.start]);
            out.push_str(&format!("/_gated/files/{hex}.bin{fragment}"));
            copied = found.range.end;
            keys.insert(hex, sealed.key.to_base64url());
        }
        if keys.is_empty() {
            return Cow::Borrowed(html);
        }
        out.push_str(&html[copied..]);
        let list = serde_json::to_string(&keys).expect("hex and base64url strings");
        out.push_str("<script type=\"application/json\" data-gh-files>");
        out.push_str(&list);
        out.push_str("</script>");
        Cow::Owned(out)
    }

    fn lookup(&self, value: &str, base: &str) -> Option<usize> {
        let (path, _) = resolve(value, base, &self.site)?;
        self.by_url.get(&path).copied()
    }

    fn record(&self, violation: Violation) {
        if let Ok(mut violations) = self.violations.lock() {
            violations.push(violation);
        }
    }

    /// A gated body that shows a public file: worth a warning, since the author likely meant
    /// it for members only.
    fn note_public_file(&self, value: &str, base: &str) {
        let Some((path, _)) = resolve(value, base, &self.site) else {
            return;
        };
        if let (Some(&asset), Ok(mut noted)) =
            (self.public_by_url.get(&path), self.public_in_gated.lock())
        {
            noted.push((base.to_owned(), value.to_owned(), asset));
        }
    }

    /// Whether everyone `wider` opens for is also opened for by `owner`: `wider`'s level is at
    /// least `owner`'s (or `wider` names no level), each of its bundles is one of `owner`'s,
    /// and its drip is at least as long. Drip counts from the start of holding a qualifying
    /// right (DESIGN §5), and holding a higher level means holding every lower one, so the
    /// stretch for `wider` never starts before the one for `owner`.
    fn opens_within(&self, wider: &Rule, owner: &Rule) -> bool {
        if wider == owner {
            return true;
        }
        if wider.drip_seconds() < owner.drip_seconds() {
            return false;
        }
        if let Some(level) = wider.level() {
            let rank = |id: &str| self.ranks.get(id).copied();
            match (owner.level().and_then(rank), rank(level)) {
                (Some(needed), Some(given)) if given >= needed => {}
                _ => return false,
            }
        }
        wider
            .bundles()
            .iter()
            .all(|bundle| owner.bundles().contains(bundle))
    }

    /// Records every reference to a gated file in a public output (`relative` to the output
    /// folder): HTML pages, and the HTML that feeds carry escaped.
    pub fn inspect_public(&self, relative: &str, bytes: &[u8]) {
        if self.sealed.is_empty() || relative.starts_with("_gated/") {
            return;
        }
        let extension = relative.rsplit_once('.').map_or("", |(_, e)| e);
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let (text, base): (Cow<'_, str>, String) = match extension {
            "html" | "htm" => {
                let dir = relative.rsplit_once('/').map_or("", |(dir, _)| dir);
                let base = if dir.is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{dir}/")
                };
                (Cow::Borrowed(text), base)
            }
            "xml" => (Cow::Owned(decode_entities(text)), "/".to_owned()),
            _ => return,
        };
        let found: Vec<Violation> = url_refs(&text)
            .into_iter()
            .filter_map(|r| {
                Some(Violation {
                    file: self.lookup(&r.value, &base)?,
                    output: relative.to_owned(),
                    value: r.value,
                    wider_rule: None,
                })
            })
            .collect();
        if !found.is_empty()
            && let Ok(mut violations) = self.violations.lock()
        {
            violations.extend(found);
        }
    }

    /// One problem per public reference to a gated file, naming the file and line that holds
    /// it (or the template, when the page's source does not), and the fix.
    pub fn reference_problems(
        &self,
        library: &Library,
        config: &SiteConfig,
        site_root: &Path,
    ) -> Vec<Diagnostic> {
        // Taken, not copied: `serve` re-renders pages against the same table, and a fixed
        // page must not keep failing for what it once said.
        let mut violations = self
            .violations
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        violations.sort();
        violations.dedup();
        let doc_of: HashMap<&str, usize> = library
            .docs
            .iter()
            .enumerate()
            .map(|(i, doc)| (doc.path.as_str(), i))
            .collect();
        violations
            .into_iter()
            .map(|violation| {
                let file = &library.gated_files[violation.file];
                let owner = &library.docs[file.owner];
                if let Some(wider) = &violation.wider_rule {
                    let label = |text: &str| {
                        Rule::parse(text)
                            .map(|rule| crate::content::access_label(&rule, config))
                            .unwrap_or_else(|_| text.to_owned())
                    };
                    let owner_rule = owner.access.rule().map(|r| r.text()).unwrap_or_default();
                    let message = format!(
                        "shows the members-only file content/{} ({}), which opens for {}, in a \
                         page that opens for {}: its key would reach members who may not open \
                         it. Put the file in this page's folder (or one with the same access), \
                         or give the two the same access",
                        file.content_path,
                        violation.value,
                        label(&owner_rule),
                        label(wider),
                    );
                    let doc = doc_of
                        .get(violation.output.as_str())
                        .map(|&i| &library.docs[i]);
                    return match doc {
                        Some(doc) => Diagnostic::new(
                            &doc.source,
                            line_in_source(&site_root.join(&doc.source), &violation.value),
                            message,
                        ),
                        None => Diagnostic::new(&violation.output, None, message),
                    };
                }
                let message = format!(
                    "refers to the members-only file content/{} from public content ({}); a \
                     gated file may be referenced only from a gated page or a members block. \
                     Move the reference into gated content, or keep the file public with \
                     `public_files: [\"{}\"]` in {}",
                    file.content_path,
                    violation.value,
                    file.name,
                    owner.source.display()
                );
                let page = format!("/{}", violation.output.trim_end_matches("index.html"));
                match doc_of.get(page.as_str()).map(|&i| &library.docs[i]) {
                    Some(doc) => {
                        let line = line_in_source(&site_root.join(&doc.source), &violation.value);
                        match line {
                            Some(line) => Diagnostic::new(&doc.source, Some(line), message),
                            // A list page shows other pages' teasers: name the one that says it.
                            None => match shown_from(library, site_root, &violation.value) {
                                Some((source, line)) => Diagnostic::new(
                                    source,
                                    Some(line),
                                    format!("(shown on {}) {message}", doc.path),
                                ),
                                None => Diagnostic::new(
                                    &doc.source,
                                    None,
                                    format!("its template {message}"),
                                ),
                            },
                        }
                    }
                    None => Diagnostic::new(
                        format!("public/{}", violation.output),
                        None,
                        format!("(written from a template) {message}"),
                    ),
                }
            })
            .collect()
    }

    /// Gated bodies that show a public file: allowed (it is public), but likely meant for
    /// members only, so the author hears of it with the way to gate it.
    pub fn public_file_warnings(&self, library: &Library) -> Vec<Diagnostic> {
        let mut noted = self
            .public_in_gated
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        noted.sort();
        noted.dedup_by(|a, b| a.2 == b.2);
        noted
            .into_iter()
            .map(|(page, _, asset)| {
                let source = &library.assets[asset].output;
                Diagnostic::new(
                    Path::new(crate::content::CONTENT_DIR).join(source),
                    None,
                    format!(
                        "published in the clear, yet the members-only page {page} shows it: files \
                         take the access of the page bundle or section they sit in; to gate it, \
                         put it in a gated page's bundle folder (`<page>/index.md` beside it) or \
                         in a gated section"
                    ),
                )
            })
            .collect()
    }

    /// Gated files that no gated body refers to: sealed and published, but no member gets
    /// their key.
    pub fn unreferenced_warnings(&self, library: &Library) -> Vec<Diagnostic> {
        self.sealed
            .iter()
            .zip(&library.gated_files)
            .filter(|(sealed, _)| !sealed.referenced.load(Ordering::Relaxed))
            .map(|(_, file)| {
                Diagnostic::new(
                    Path::new(crate::content::CONTENT_DIR).join(&file.content_path),
                    None,
                    "this members-only file is sealed, but no gated page or members block refers \
                     to it, so no member can open it; link it from gated content, or delete it",
                )
            })
            .collect()
    }
}

/// The first document source (and line) that holds `needle`.
fn shown_from<'l>(
    library: &'l Library,
    site_root: &Path,
    needle: &str,
) -> Option<(&'l Path, usize)> {
    library.docs.iter().find_map(|doc| {
        let line = line_in_source(&site_root.join(&doc.source), needle)?;
        Some((doc.source.as_path(), line))
    })
}

/// The 1-based line of the first line of `source` holding `needle`.
fn line_in_source(source: &Path, needle: &str) -> Option<usize> {
    let text = std::fs::read_to_string(source).ok()?;
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}

/// `gatehouse check` reads no media: a stand-in salt that is never written anywhere.
fn placeholder_salt(file: &GatedFile) -> FileSalt {
    let hash = digest::digest(&digest::SHA256, file.content_path.as_bytes());
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&hash.as_ref()[..16]);
    FileSalt::from_bytes(salt)
}

/// The media type of a file by its name, as the sealed meta carries it.
pub fn media_type_of(name: &str) -> &'static str {
    media_type::for_path(name)
}

/// Seals what the cache does not hold, links every object into the output, and updates the
/// cache's index. Returns each file's salt, in the order of `files`, and how many files (and
/// bytes) were read and sealed.
fn seal_into_cache(
    files: &[GatedFile],
    root: &FilesRoot,
    cache_dir: &Path,
    output: &Output,
    progress: bool,
) -> Result<(Vec<FileSalt>, (usize, u64)), Diagnostics> {
    let problem = |file: &GatedFile, message: String| {
        Diagnostics(vec![Diagnostic::new(
            Path::new(crate::content::CONTENT_DIR).join(&file.content_path),
            None,
            message,
        )])
    };
    let cache = FileCache::open(cache_dir, &root.fingerprint()).map_err(|error| {
        Diagnostics(vec![Diagnostic::new(
            cache_dir,
            None,
            format!("cannot open the cache of sealed files: {error}"),
        )])
    })?;
    let mut entries = Vec::with_capacity(files.len());
    let mut to_seal = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let stamp = Stamp::of(&file.source)
            .map_err(|error| problem(file, format!("cannot read: {error}")))?;
        let media_type = media_type_of(&file.name);
        let meta_len = meta_json(&file.name, media_type).len();
        let hit = cache.hit(
            &file.content_path,
            &stamp,
            media_type,
            object_len(stamp.size, meta_len),
        );
        match hit {
            Some(entry) => entries.push(Some(entry.clone())),
            None => {
                entries.push(None);
                to_seal.push((index, stamp));
            }
        }
    }

    let total: u64 = to_seal.iter().map(|(_, stamp)| stamp.size).sum();
    let sealed_now = (to_seal.len(), total);
    let bar = sealing_bar(progress && total > 0, total);
    let counter = AtomicU64::new(0);
    let sealed: Vec<(usize, Entry)> = to_seal
        .par_iter()
        .map(|(index, stamp)| {
            let file = &files[*index];
            let entry = seal_one(file, stamp, root, &cache, &counter)
                .map_err(|error| problem(file, format!("cannot seal: {error}")))?;
            bar.inc(stamp.size);
            Ok((*index, entry))
        })
        .collect::<Result<_, Diagnostics>>()?;
    bar.finish_and_clear();
    for (index, entry) in sealed {
        entries[index] = Some(entry);
    }
    let entries: Vec<Entry> = entries
        .into_iter()
        .map(|entry| entry.expect("every file was found in the cache or sealed"))
        .collect();

    // Two files with the same name and bytes seal to one object: link it once.
    let mut linked = HashSet::new();
    for entry in &entries {
        if linked.insert(entry.salt.clone()) {
            let relative = format!("_gated/files/{}.bin", entry.salt);
            output
                .link(&cache.object(&entry.salt), &relative)
                .map_err(|error| {
                    Diagnostics(vec![Diagnostic::new(
                        super::file_cache::CACHE_DIR,
                        None,
                        error.to_string(),
                    )])
                })?;
        }
    }
    // Every entry is a checked cache hit or was sealed just now, so each salt reads back.
    let salts = entries
        .iter()
        .map(|entry| FileSalt::from_hex(&entry.salt).expect("a salt this build wrote or checked"))
        .collect();
    let index: BTreeMap<String, Entry> = files
        .iter()
        .zip(entries)
        .map(|(file, entry)| (file.content_path.clone(), entry))
        .collect();
    let mut cache = cache;
    cache.save(index).map_err(|error| {
        Diagnostics(vec![Diagnostic::new(
            super::file_cache::CACHE_DIR,
            None,
            format!("cannot save the cache of sealed files: {error}"),
        )])
    })?;
    Ok((salts, sealed_now))
}

/// Files up to this size are read once into memory and sealed from there: one read, and the
/// salt is certain to cover exactly the bytes encrypted.
const IN_MEMORY: u64 = 64 << 20;

/// Seals one file into the cache, streaming: one pass for the salt, one to encrypt. A file up
/// to [`IN_MEMORY`] is read once; a larger one twice, with its stamp (size, times, inode)
/// checked before and after, so a file rewritten in between is refused rather than sealed
/// with a salt of other bytes.
fn seal_one(
    file: &GatedFile,
    stamp: &Stamp,
    root: &FilesRoot,
    cache: &FileCache,
    counter: &AtomicU64,
) -> std::io::Result<Entry> {
    let media_type = media_type_of(&file.name);
    let meta = meta_json(&file.name, media_type);
    let in_memory = if stamp.size <= IN_MEMORY {
        let bytes = std::fs::read(&file.source)?;
        if bytes.len() as u64 != stamp.size {
            return Err(changed_while_sealing());
        }
        Some(bytes)
    } else {
        None
    };
    let salt = match &in_memory {
        Some(bytes) => root.salt(meta.as_bytes(), &bytes[..])?,
        None => root.salt(meta.as_bytes(), BufReader::new(File::open(&file.source)?))?,
    };
    let key = root.file_key(&salt);
    let hex = salt.hex();
    let temporary = cache.dir().join(format!(
        "{hex}.{}.{}.tmp",
        std::process::id(),
        counter.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let out = BufWriter::with_capacity(1 << 20, File::create(&temporary)?);
        match &in_memory {
            Some(bytes) => seal_stream(&key, &salt, meta.as_bytes(), stamp.size, &bytes[..], out)?,
            None => seal_stream(
                &key,
                &salt,
                meta.as_bytes(),
                stamp.size,
                File::open(&file.source)?,
                out,
            )?,
        }
        if Stamp::of(&file.source)? != *stamp {
            return Err(changed_while_sealing());
        }
        std::fs::rename(&temporary, cache.object(&hex))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    Ok(Entry {
        stamp: stamp.clone(),
        media_type: media_type.to_owned(),
        salt: hex,
    })
}

fn changed_while_sealing() -> std::io::Error {
    std::io::Error::other("the file changed while it was being sealed; build again")
}

fn sealing_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} sealing files {bar:30} {bytes}/{total_bytes} ({bytes_per_sec})",
        )
        .expect("the progress template is valid"),
    );
    bar
}
