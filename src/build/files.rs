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
use super::file_refs::{resolve, url_refs};
use super::output::Output;
use crate::content::{GatedFile, Library};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::gate::file::{
    FileKey, FileSalt, FilesRoot, MAX_META_LEN, meta_json, object_len, seal_stream,
};
use crate::media_type;

/// Every gated file of a build, sealed, by the URLs pages use for it.
pub struct FileTable {
    sealed: Vec<SealedFile>,
    by_url: HashMap<String, usize>,
    /// The site's `base_url`, so absolute links to the site itself are recognised.
    site: String,
    violations: Mutex<Vec<Violation>>,
}

struct SealedFile {
    salt: FileSalt,
    key: FileKey,
    /// Set when a gated body refers to it.
    referenced: AtomicBool,
}

/// A public output that refers to a gated file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    /// The output file, relative to the output folder: `blog/post/index.html`.
    output: String,
    /// The URL as the HTML has it.
    value: String,
    file: usize,
}

/// Where sealed files come from: a real build seals (or finds in the cache) and writes them;
/// `gatehouse check` only needs each file's place in the table.
pub enum Sealing<'a> {
    Write { site_root: &'a Path, progress: bool },
    Check,
}

impl FileTable {
    /// A table with no files: every page passes through unchanged.
    pub fn empty() -> FileTable {
        FileTable {
            sealed: Vec::new(),
            by_url: HashMap::new(),
            site: String::new(),
            violations: Mutex::new(Vec::new()),
        }
    }

    /// Seals the library's gated files and links their objects into `output`.
    pub fn seal(
        library: &Library,
        base_url: &str,
        root: &FilesRoot,
        output: &Output,
        sealing: Sealing<'_>,
    ) -> Result<FileTable, Diagnostics> {
        let files = &library.gated_files;
        let mut table = FileTable::empty();
        table.site = base_url.trim_end_matches('/').to_owned();
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
                site_root,
                progress,
            } => seal_into_cache(files, root, site_root, output, progress)?,
        };
        for (index, (file, salt)) in files.iter().zip(salts).enumerate() {
            for url in &file.urls {
                table.by_url.insert(url.clone(), index);
            }
            table.sealed.push(SealedFile {
                key: root.file_key(&salt),
                salt,
                referenced: AtomicBool::new(false),
            });
        }
        Ok(table)
    }

    /// A gated body with every reference to a gated file pointing at its sealed object, ending
    /// with the `data-gh-files` list of their keys (DESIGN §4 Files). `base` is the page's URL
    /// path, against which relative references resolve.
    pub fn rewrite_gated<'h>(&self, html: &'h str, base: &str) -> Cow<'h, str> {
        if self.sealed.is_empty() {
            return Cow::Borrowed(html);
        }
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        let mut out = String::with_capacity(html.len() + 256);
        let mut copied = 0;
        for found in url_refs(html) {
            let Some(index) = self.lookup(&found.value, base) else {
                continue;
            };
            let (_, fragment) = resolve(&found.value, base, &self.site).unwrap_or_default();
            let sealed = &self.sealed[index];
            sealed.referenced.store(true, Ordering::Relaxed);
            let hex = sealed.salt.hex();
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
            "xml" => (Cow::Owned(unescape_xml(text)), "/".to_owned()),
            _ => return,
        };
        let found: Vec<Violation> = url_refs(&text)
            .into_iter()
            .filter_map(|r| {
                Some(Violation {
                    file: self.lookup(&r.value, &base)?,
                    output: relative.to_owned(),
                    value: r.value,
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
    pub fn public_reference_problems(
        &self,
        library: &Library,
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

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
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
/// cache's index. Returns each file's salt, in the order of `files`.
fn seal_into_cache(
    files: &[GatedFile],
    root: &FilesRoot,
    site_root: &Path,
    output: &Output,
    progress: bool,
) -> Result<Vec<FileSalt>, Diagnostics> {
    let problem = |file: &GatedFile, message: String| {
        Diagnostics(vec![Diagnostic::new(
            Path::new(crate::content::CONTENT_DIR).join(&file.content_path),
            None,
            message,
        )])
    };
    let cache = FileCache::open(site_root, &root.fingerprint()).map_err(|error| {
        Diagnostics(vec![Diagnostic::new(
            super::file_cache::CACHE_DIR,
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
    let salts = entries
        .iter()
        .map(|entry| {
            let mut bytes = [0u8; 16];
            let decoded = crate::gate::from_hex(&entry.salt).unwrap_or_default();
            if decoded.len() == 16 {
                bytes.copy_from_slice(&decoded);
            }
            FileSalt::from_bytes(bytes)
        })
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
    Ok(salts)
}

/// Seals one file into the cache: one pass for the salt, one to encrypt, streaming both.
fn seal_one(
    file: &GatedFile,
    stamp: &Stamp,
    root: &FilesRoot,
    cache: &FileCache,
    counter: &AtomicU64,
) -> std::io::Result<Entry> {
    let media_type = media_type_of(&file.name);
    let meta = meta_json(&file.name, media_type);
    let salt = root.salt(meta.as_bytes(), BufReader::new(File::open(&file.source)?))?;
    let key = root.file_key(&salt);
    let hex = salt.hex();
    let temporary = cache.dir().join(format!(
        "{hex}.{}.{}.tmp",
        std::process::id(),
        counter.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let out = BufWriter::with_capacity(1 << 20, File::create(&temporary)?);
        seal_stream(
            &key,
            &salt,
            meta.as_bytes(),
            stamp.size,
            File::open(&file.source)?,
            out,
        )?;
        if Stamp::of(&file.source)? != *stamp {
            return Err(std::io::Error::other(
                "the file changed while it was being sealed; build again",
            ));
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
