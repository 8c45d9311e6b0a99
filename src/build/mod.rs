//! The build pipeline: load → render and seal in parallel → write → swap into place.
//! `gatehouse check` runs the same pipeline with output discarded.

mod extras;
mod feeds;
mod file_cache;
// Public only so that tests/fuzz.rs can throw random HTML at the tokenizer.
#[doc(hidden)]
pub mod file_refs;
mod files;
mod live;
mod output;
mod paginate;
pub mod redirect;
mod seal;
mod search;
mod spare;
mod taxonomies;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use ring::rand::{SecureRandom, SystemRandom};
use tera::{Context, Value};

pub use live::{LiveSite, Update};
pub use output::{BUILD_MARKER, OutputError, SERVE_DIR, holds_site_files, resolved};

use crate::config::{self, ConfigError, SiteConfig};
use crate::content::{self, DocKind, Library, LoadOptions, access_label};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::gate::MasterSecret;
use crate::gate::file::FilesRoot;
use crate::render::context::{self as ctx, GateCtx, LinkCtx};
use crate::render::{RenderError, Slot, Theme, offers_for};
use crate::secret::{self, SecretLoadError, SecretSource};

use files::{FileTable, Sealing};
use output::Output;
use seal::{Gates, ManifestEntry};

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub root: PathBuf,
    /// Defaults to `<root>/public`.
    pub out: Option<PathBuf>,
    pub drafts: bool,
    /// Validate and render everything, write nothing (`gatehouse check`).
    pub check_only: bool,
    pub progress: bool,
    /// Replaces site.toml's `base_url`, and an absolute `edge_url` by its path (`gatehouse
    /// serve` links to itself and is its own API).
    pub base_url: Option<String>,
    /// Seal with this secret instead of the site's, and cache sealed files apart
    /// (`gatehouse serve`'s development secret).
    pub dev_secret: Option<MasterSecret>,
}

/// What a build did, for the summary line.
#[derive(Debug)]
pub struct BuildReport {
    pub documents: usize,
    pub gated: usize,
    /// Members blocks (DESIGN §3), each sealed on its own.
    pub blocks: usize,
    pub gates: usize,
    /// Members-only files (DESIGN §3 Files).
    pub gated_files: usize,
    /// Files this build read and sealed, and their bytes: the rest came from the cache.
    pub sealed_now: (usize, u64),
    /// Fenced code blocks taken from the highlight cache, and highlighted by this build.
    pub code_blocks: (usize, usize),
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub out: PathBuf,
    pub warnings: Vec<Diagnostic>,
    pub secret: Option<SecretSource>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    // Transparent: with `{0}` and `#[from]`, the problems would print twice (as the message
    // and again as its source).
    #[error(transparent)]
    Content(#[from] Diagnostics),
    #[error(transparent)]
    Secret(#[from] SecretLoadError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl BuildOptions {
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| self.root.join("public"))
    }
}

/// Prints how long each stage took when `GATEHOUSE_TIMINGS` is set, for profiling builds: the
/// time, and the CPU time of the whole process over it (where it reads it), so a stage that
/// leaves cores idle shows (CPU time near the time: one core).
struct Timings {
    enabled: bool,
    last: Instant,
    last_cpu: Option<Duration>,
}

impl Timings {
    fn new() -> Timings {
        let enabled = std::env::var_os("GATEHOUSE_TIMINGS").is_some();
        Timings {
            enabled,
            last: Instant::now(),
            last_cpu: enabled.then(process_cpu_time).flatten(),
        }
    }

    fn stage(&mut self, name: &str) {
        if self.enabled {
            let ms = self.last.elapsed().as_secs_f64() * 1000.0;
            let cpu = process_cpu_time();
            match (cpu, self.last_cpu) {
                (Some(now), Some(before)) => {
                    let cpu_ms = now.saturating_sub(before).as_secs_f64() * 1000.0;
                    eprintln!("timing: {name:<10} {ms:>7.1} ms  (cpu {cpu_ms:>6.0} ms)");
                }
                _ => eprintln!("timing: {name:<10} {ms:>7.1} ms"),
            }
            self.last_cpu = cpu;
        }
        self.last = Instant::now();
    }

    fn note(&self, text: &str) {
        if self.enabled {
            eprintln!("timing: {text}");
        }
    }
}

/// User and system time of this process so far, from `/proc/self/stat` (Linux; 10 ms ticks on
/// the usual kernel).
fn process_cpu_time() -> Option<Duration> {
    cpu_time_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User and system time in a `/proc/<pid>/stat` line (fields 14 and 15).
fn cpu_time_of(stat: &str) -> Option<Duration> {
    // Fields after the command name, which is in parentheses and may hold spaces and `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    const TICKS_PER_SECOND: u64 = 100;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

fn subtract(after: (usize, usize), before: (usize, usize)) -> (usize, usize) {
    (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    )
}

pub fn build(options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let highlights = Arc::new(content::HighlightCache::open(&options.root));
    build_keeping(options, None, &highlights).map(|(report, built)| {
        if !options.check_only {
            // A cache that cannot be written costs the next build time, nothing else.
            let _ = highlights.save();
        }
        // Freeing every page, body and template value one by one was 2.5% of a 10k-page
        // build's CPU, spent after the build was done. A thread frees it instead: a process
        // that exits next skips the work, and a long-lived caller (tests) still gets the memory
        // back. Nothing in `Built` does anything on drop but free memory.
        std::thread::spawn(move || drop(built));
        report
    })
}

/// Everything a finished build knew, kept by `gatehouse serve` to re-render single pages.
pub(crate) struct Built {
    config: SiteConfig,
    library: content::Library,
    theme: Theme,
    gates: Gates,
    files: Arc<FileTable>,
    summaries: Vec<Value>,
    manifest: Vec<ManifestEntry>,
    /// Each gate's bundle `src`, by gate id.
    bundles: BTreeMap<String, String>,
}

/// A build that also returns what it knew; with `cache`, unchanged files are not parsed again.
/// Code already in `highlights` is not highlighted again; saving it is the caller's part.
pub(crate) fn build_keeping(
    options: &BuildOptions,
    cache: Option<&content::ParseCache>,
    highlights: &Arc<content::HighlightCache>,
) -> Result<(BuildReport, Built), BuildError> {
    let started = Instant::now();
    let mut timings = Timings::new();
    if !options.check_only {
        output::restore_interrupted_swap(&options.out_dir());
    }
    let mut config = config::load(&options.root)?;
    if let Some(base_url) = &options.base_url {
        config.base_url = base_url.trim_end_matches('/').to_owned();
        // `gatehouse serve` is the API too: pages must ask it, never a production edge.
        if config.edge_url.contains("://") {
            let path = crate::server::base_path(&config.edge_url);
            config.edge_url = if path.is_empty() {
                "/_gate".to_owned()
            } else {
                path
            };
        }
    }
    let code_blocks_before = highlights.counts();
    let library = content::load_with(
        &config,
        LoadOptions {
            drafts: options.drafts,
        },
        cache,
        Some(highlights),
    )?;
    timings.stage("load");
    let code_blocks = subtract(highlights.counts(), code_blocks_before);
    timings.note(&format!(
        "highlight  {} code blocks from the cache, {} highlighted",
        code_blocks.0, code_blocks.1
    ));
    let theme = load_theme(&config, &library)?;
    let (secret, secret_source) = if library.gated_count() == 0 {
        (MasterSecret::from_bytes([0; 32]), None)
    } else if options.check_only {
        // `check` seals with a throwaway key: nothing is written, and no secret file is made;
        // a secret that is already there must still be valid.
        secret::validate_existing(&options.root)?;
        (throwaway_secret(), None)
    } else if let Some(dev) = &options.dev_secret {
        (dev.clone(), None)
    } else {
        let (secret, source) = secret::load_or_create(&options.root)?;
        (secret, Some(source))
    };
    let gates = seal::plan(&library, &secret, config.epoch);
    let out_dir = options.out_dir();
    let output = if options.check_only {
        Output::discard()
    } else {
        Output::stage(&options.root, &out_dir)?
    };

    let cache_dir = options.root.join(if options.dev_secret.is_some() {
        file_cache::DEV_CACHE_DIR
    } else {
        file_cache::CACHE_DIR
    });
    let sealing = if options.check_only {
        Sealing::Check
    } else {
        Sealing::Write {
            cache_dir: &cache_dir,
            progress: options.progress,
        }
    };
    let files = Arc::new(FileTable::seal(
        &library,
        &config,
        &FilesRoot::derive(&secret),
        &output,
        sealing,
    )?);
    output.guard_with(files.clone());
    timings.stage("files");
    let lists_taxonomies = taxonomies::lists_taxonomies(&theme);
    timings.stage("prepare");
    let progress = progress_bar(options.progress, library.docs.len() as u64);
    let summaries = ctx::summary_values(&library, &config);
    timings.stage("summaries");
    let site = Site {
        config: &config,
        library: &library,
        theme: &theme,
        gates: &gates,
        files: &files,
        output: &output,
        summaries: &summaries,
    };
    // Documents and everything else are independent until the gate lists: rendering them side
    // by side keeps both cores busy through the extras' serial stretches (feeds, sitemap,
    // search index), which ran on one core after the documents and took a tenth of the build.
    let (documents, others) = rayon::join(
        || {
            (0..library.docs.len())
                .into_par_iter()
                .map(|index| {
                    let entry = site.render_doc(index);
                    progress.inc(1);
                    entry
                })
                .collect::<Result<Vec<_>, BuildError>>()
        },
        || -> Result<_, BuildError> {
            site.render_extras(lists_taxonomies)?;
            redirect::write_aliases(&library, &config, &output)?;
            let bundles = gates
                .list
                .par_iter()
                .map(|gate| {
                    let bundle = gates.seal_bundle(gate, &library);
                    output.write(&bundle.src, &bundle.envelope)?;
                    Ok((gate.id.to_string(), bundle.src))
                })
                .collect::<Result<BTreeMap<_, _>, OutputError>>()?;
            extras::copy_static(&theme, &library, &output)?;
            Ok(bundles)
        },
    );
    // A document's error is reported first: it is the one an author is most likely editing.
    let mut manifest: Vec<ManifestEntry> = documents?.into_iter().flatten().collect();
    let bundles = others?;
    progress.finish_and_clear();
    timings.stage("render");
    write_gate_lists(&output, &config, &gates, &mut manifest, &bundles)?;
    timings.stage("gate lists");
    let problems = files.reference_problems(&library, &config, &options.root);
    if !problems.is_empty() {
        return Err(Diagnostics(problems).into());
    }
    let mut warnings = library.warnings.clone();
    warnings.extend(files.unreferenced_warnings(&library));
    warnings.extend(files.public_file_warnings(&library));

    let (file_count, bytes) = output.totals();
    if !options.check_only {
        output.commit(&out_dir)?;
        timings.stage("swap");
    }
    let report = BuildReport {
        documents: library.docs.len(),
        gated: library.gated_count(),
        blocks: library.docs.iter().map(|doc| doc.body.blocks.len()).sum(),
        gates: gates.list.len(),
        gated_files: library.gated_files.len(),
        sealed_now: files.sealed_now(),
        code_blocks,
        files: file_count,
        bytes,
        elapsed: started.elapsed(),
        out: out_dir,
        warnings,
        secret: secret_source,
    };
    let built = Built {
        config,
        library,
        theme,
        gates,
        files,
        summaries,
        manifest,
        bundles,
    };
    Ok((report, built))
}

/// `_gated/manifest.json` and `_gated/gates.json`, written even when nothing is gated, so
/// clients never meet a 404 for them.
fn write_gate_lists(
    output: &Output,
    config: &SiteConfig,
    gates: &Gates,
    manifest: &mut [ManifestEntry],
    bundles: &BTreeMap<String, String>,
) -> Result<(), OutputError> {
    let manifest_text = seal::manifest_json(config.epoch, manifest, bundles);
    output.write("_gated/manifest.json", manifest_text.as_bytes())?;
    let gate_list = seal::gates_json(gates, bundles, config);
    output.write("_gated/gates.json", gate_list.as_bytes())
}

/// The theme, with the globals every template sees: the site's config and its main nav.
fn load_theme(config: &SiteConfig, library: &content::Library) -> Result<Theme, RenderError> {
    let mut theme = Theme::load(config)?;
    theme.set_global(
        "config",
        &ctx::config_ctx(config, true, library.highlight_css.is_some()),
    );
    let nav: Vec<LinkCtx<'_>> = library.docs[library.root]
        .subsections
        .iter()
        .map(|&i| LinkCtx {
            title: &library.docs[i].title,
            path: &library.docs[i].path,
        })
        .collect();
    theme.set_global("nav", &nav);
    Ok(theme)
}

/// The template a document renders with: its own `template:`, else its kind's.
fn template_of(library: &content::Library, index: usize) -> &str {
    let doc = &library.docs[index];
    doc.template.as_deref().unwrap_or(match doc.kind {
        DocKind::Section if index == library.root => "index.html",
        DocKind::Section => "section.html",
        DocKind::Page => "page.html",
    })
}

/// Templates rendered by name for something other than a document.
const EXTRA_TEMPLATES: [&str; 4] = [
    "taxonomy_list.html",
    "taxonomy_single.html",
    "404.html",
    "account.html",
];

/// Everything rendering threads share.
pub(crate) struct Site<'a> {
    config: &'a SiteConfig,
    library: &'a Library,
    theme: &'a Theme,
    gates: &'a Gates,
    files: &'a FileTable,
    output: &'a Output,
    summaries: &'a [Value],
}

impl Site<'_> {
    /// Seals (if gated) the document and each of its members blocks, renders and writes it;
    /// returns their manifest entries.
    fn render_doc(&self, index: usize) -> Result<Vec<ManifestEntry>, BuildError> {
        let doc = &self.library.docs[index];
        let blocks = self.gates.seal_blocks(index, doc, self.files);
        let block_slots: Vec<String> = blocks
            .iter()
            .zip(&doc.body.blocks)
            .map(|(sealed, block)| self.slot_html(sealed, Some(&block.else_html)))
            .collect();
        // Each block's placeholder becomes its slot, in a public body as in a sealed one.
        let body = content::fill_blocks(&doc.body.html, |n| {
            block_slots.get(n.wrapping_sub(1)).cloned()
        });
        let sealed = self.gates.seal_doc(index, doc, &body, self.files);
        let gate = self.gates_ctx(sealed.as_ref());
        let mut context = Context::new();
        context.insert("current_path", &doc.path);
        context.insert(
            "current_url",
            &format!("{}{}", self.config.base_url, doc.path),
        );
        match doc.kind {
            DocKind::Page => {
                let mut page = ctx::page_ctx(self.library, self.config, index, gate);
                if !doc.is_gated() {
                    page.content = &body;
                }
                context.insert_value("page", ctx::over_summary(&self.summaries[index], &page));
            }
            DocKind::Section => {
                let mut section =
                    ctx::section_ctx(self.library, self.config, index, gate, self.summaries);
                if !doc.is_gated() {
                    section.content = &body;
                }
                context.insert_value(
                    "section",
                    ctx::over_summary(&self.summaries[index], &section),
                );
            }
        }
        if index == self.library.root {
            context.insert_value("recent", self.recent());
        }
        let pagers = self.section_paginators(index);
        if doc.kind == DocKind::Section {
            context.insert("paginator", &pagers.first());
        }
        let template = template_of(self.library, index);
        let html = self.theme.render(template, &context, &doc.source)?;
        // Pagers 2… of a paginated section: this context with another slice of its pages.
        let paginate = doc.paginate.as_ref();
        self.write_later_pagers(
            &doc.path,
            paginate,
            &pagers,
            template,
            &mut context,
            &doc.source,
        )?;

        let mut entries = Vec::with_capacity(blocks.len() + 1);
        for block in blocks {
            self.output.write(&block.src, &block.envelope)?;
            entries.push(self.manifest_entry(block));
        }
        let Some(sealed) = sealed else {
            self.output
                .write(&extras::index_file(&doc.path), html.as_bytes())?;
            return Ok(entries);
        };
        if !html.contains(&format!("data-src=\"{}\"", sealed.src)) {
            return Err(RenderError::MissingSlot {
                source_file: doc.source.display().to_string(),
                template: template.to_owned(),
            }
            .into());
        }
        self.output.write(&sealed.src, &sealed.envelope)?;
        self.output
            .write(&extras::index_file(&doc.path), html.as_bytes())?;
        entries.push(self.manifest_entry(sealed));
        Ok(entries)
    }

    fn manifest_entry(&self, sealed: seal::Sealed) -> ManifestEntry {
        let gate = &self.gates.list[sealed.gate];
        ManifestEntry {
            path: sealed.path,
            gate: gate.id.to_string(),
            rule: gate.rule_text.clone(),
            src: sealed.src,
        }
    }

    /// The slot a sealed body or block opens into (DESIGN §4), with the locked message; a
    /// block's shows its public `else` part until it opens.
    fn slot_html(&self, sealed: &seal::Sealed, block_else: Option<&str>) -> String {
        let gate = &self.gates.list[sealed.gate];
        Slot {
            gate_id: gate.id.as_str(),
            rule: &gate.rule_text,
            src: &sealed.src,
            path: &sealed.path,
            epoch: self.config.epoch,
            label: &access_label(&gate.rule, self.config),
            needs: &crate::content::needs_label(&gate.rule, self.config),
            offers: &offers_for(&gate.rule, self.config),
            block_else,
        }
        .html()
    }

    fn gates_ctx<'s>(&'s self, sealed: Option<&'s seal::Sealed>) -> Option<GateCtx<'s>> {
        let sealed = sealed?;
        let gate = &self.gates.list[sealed.gate];
        Some(GateCtx {
            id: gate.id.as_str(),
            rule: &gate.rule_text,
            src: &sealed.src,
            slot: self.slot_html(sealed, None),
            level: gate.rule.level(),
            bundles: gate.rule.bundles(),
            drip_days: gate.rule.drip_seconds().div_ceil(config::DAY),
        })
    }

    /// Up to ten dated pages, newest first, for the home page.
    fn recent(&self) -> Value {
        let mut dated: Vec<usize> = self
            .library
            .pages()
            .filter(|(_, doc)| doc.date.is_some())
            .map(|(i, _)| i)
            .collect();
        let docs = &self.library.docs;
        dated.sort_by(|&a, &b| {
            docs[b]
                .date
                .cmp(&docs[a].date)
                .then_with(|| docs[a].path.cmp(&docs[b].path))
        });
        dated.truncate(10);
        Value::from(
            dated
                .into_iter()
                .map(|i| self.summaries[i].clone())
                .collect::<Vec<_>>(),
        )
    }
}

fn progress_bar(enabled: bool, length: u64) -> ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{spinner} rendering {bar:30} {pos}/{len} pages")
            .expect("the progress template is valid"),
    );
    bar
}

fn throwaway_secret() -> MasterSecret {
    let mut bytes = [0u8; 32];
    let _ = SystemRandom::new().fill(&mut bytes);
    MasterSecret::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        // utime 150 and stime 25 ticks: 1.75 s.
        let stat = "4242 (gate (house) x) R 1 4242 4242 0 -1 4194304 900 0 0 0 150 25 0 0 20 0 3 0";
        assert_eq!(cpu_time_of(stat), Some(Duration::from_millis(1750)));
        assert_eq!(cpu_time_of("4242 (cut short) R 1"), None);
        assert_eq!(cpu_time_of("no parentheses at all"), None);
    }

    #[test]
    fn this_process_cpu_time_is_read() {
        assert!(process_cpu_time().is_some());
    }
}
