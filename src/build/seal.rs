//! Sealing (DESIGN §4): group gated documents by rule, derive one key per gate, seal each
//! body into `_gated/<gate>/<hash>.bin`, and write each gate's encrypted search bundle (named by
//! its hash too) and the public manifest.

use std::collections::BTreeMap;

use serde::Serialize;

use super::files::FileTable;
use crate::content::{Doc, Library};
use crate::gate::{GateId, GateKey, MasterSecret, Rule, derive_key, envelope_file_name, seal};

pub struct Gate {
    pub id: GateId,
    pub rule: Rule,
    pub rule_text: String,
    key: GateKey,
    /// Gated documents of this gate, in library order.
    pub docs: Vec<usize>,
    /// Members blocks of this gate: (document, index in its `body.blocks`).
    pub blocks: Vec<(usize, usize)>,
}

pub struct Gates {
    pub list: Vec<Gate>,
    /// For each document, the index of its gate in `list`.
    pub of_doc: Vec<Option<usize>>,
    /// For each document, the gate of each of its members blocks.
    pub of_block: Vec<Vec<usize>>,
}

/// A sealed body or members block, ready to write.
pub struct Sealed {
    pub gate: usize,
    pub envelope: Vec<u8>,
    /// `/_gated/<gate>/<hash>.bin`
    pub src: String,
    /// The path in the envelope's AAD: the page's URL path, or `<path>#<n>` for a block.
    pub path: String,
}

#[derive(Serialize)]
pub struct ManifestEntry {
    pub path: String,
    pub gate: String,
    pub rule: String,
    pub src: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    version: u32,
    epoch: u32,
    pages: &'a [ManifestEntry],
    bundles: &'a BTreeMap<String, String>,
}

/// A gate's sealed search bundle and where it goes.
pub struct SealedBundle {
    pub envelope: Vec<u8>,
    /// `/_gated/<gate>/<hash>.bin`
    pub src: String,
}

#[derive(Serialize)]
struct BundleItem<'a> {
    path: &'a str,
    title: &'a str,
    text: &'a str,
}

/// Finds the gates of the library (of its documents and members blocks) and derives their
/// keys for `epoch`.
pub fn plan(library: &Library, secret: &MasterSecret, epoch: u32) -> Gates {
    let mut by_rule: BTreeMap<Rule, usize> = BTreeMap::new();
    let mut list: Vec<Gate> = Vec::new();
    let mut of_doc = vec![None; library.docs.len()];
    let mut of_block = vec![Vec::new(); library.docs.len()];
    let mut gate_of = |rule: &Rule, list: &mut Vec<Gate>| -> usize {
        *by_rule.entry(rule.clone()).or_insert_with(|| {
            list.push(Gate {
                id: rule.gate_id(),
                rule: rule.clone(),
                rule_text: rule.text(),
                key: derive_key(secret, epoch, rule),
                docs: Vec::new(),
                blocks: Vec::new(),
            });
            list.len() - 1
        })
    };
    for (index, doc) in library.docs.iter().enumerate() {
        if let Some(rule) = doc.access.rule() {
            let gate = gate_of(rule, &mut list);
            list[gate].docs.push(index);
            of_doc[index] = Some(gate);
        }
        for (block_index, block) in doc.body.blocks.iter().enumerate() {
            // A block's access is always a rule: `members()` needs a level or bundles.
            let Some(rule) = block.access.rule() else {
                continue;
            };
            let gate = gate_of(rule, &mut list);
            list[gate].blocks.push((index, block_index));
            of_block[index].push(gate);
        }
    }
    Gates {
        list,
        of_doc,
        of_block,
    }
}

/// A members block's path (DESIGN §4): the page's, `#`, and its number from 1.
pub fn block_path(page: &str, n: usize) -> String {
    format!("{page}#{n}")
}

impl Gates {
    /// Seals a gated document's body, `html` (its rendered body with each block's slot in
    /// place), or `None` for a public one. References to gated files point at their sealed
    /// objects (`files`).
    pub fn seal_doc(
        &self,
        index: usize,
        doc: &Doc,
        html: &str,
        files: &FileTable,
    ) -> Option<Sealed> {
        let gate_index = self.of_doc[index]?;
        Some(self.seal_html(gate_index, &doc.path, &doc.path, html, files))
    }

    /// Seals each members block of a document, in order.
    pub fn seal_blocks(&self, index: usize, doc: &Doc, files: &FileTable) -> Vec<Sealed> {
        doc.body
            .blocks
            .iter()
            .zip(&self.of_block[index])
            .map(|(block, &gate)| {
                let path = block_path(&doc.path, block.n);
                self.seal_html(gate, &doc.path, &path, &block.html, files)
            })
            .collect()
    }

    fn seal_html(
        &self,
        gate_index: usize,
        base: &str,
        path: &str,
        html: &str,
        files: &FileTable,
    ) -> Sealed {
        let gate = &self.list[gate_index];
        let html = files.rewrite_gated(html, base, &gate.rule);
        let envelope = seal(&gate.key, &gate.id, path, html.as_bytes());
        let src = format!("/_gated/{}/{}", gate.id, envelope_file_name(&envelope));
        Sealed {
            gate: gate_index,
            envelope,
            src,
            path: path.to_owned(),
        }
    }

    /// The encrypted bundle of a gate: `[{"path","title","text"}]` of its documents and
    /// members blocks.
    pub fn seal_bundle(&self, gate: &Gate, library: &Library) -> SealedBundle {
        let block_paths: Vec<String> = gate
            .blocks
            .iter()
            .map(|&(i, b)| block_path(&library.docs[i].path, library.docs[i].body.blocks[b].n))
            .collect();
        let pages = gate.docs.iter().map(|&i| {
            let doc = &library.docs[i];
            BundleItem {
                path: &doc.path,
                title: &doc.title,
                text: &doc.body.text,
            }
        });
        let blocks = gate.blocks.iter().zip(&block_paths).map(|(&(i, b), path)| {
            let doc = &library.docs[i];
            BundleItem {
                path,
                title: &doc.title,
                text: &doc.body.blocks[b].text,
            }
        });
        let items: Vec<BundleItem<'_>> = pages.chain(blocks).collect();
        let json = serde_json::to_vec(&items).expect("bundle items are plain strings");
        let path = format!("/_gated/{}/bundle", gate.id);
        let envelope = seal(&gate.key, &gate.id, &path, &json);
        let src = format!("/_gated/{}/{}", gate.id, envelope_file_name(&envelope));
        SealedBundle { envelope, src }
    }
}

/// `_gated/manifest.json`, with entries sorted by path so builds are byte-identical;
/// `bundles` maps each gate id to its bundle's `src`.
pub fn manifest_json(
    epoch: u32,
    entries: &mut [ManifestEntry],
    bundles: &BTreeMap<String, String>,
) -> String {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        version: 2,
        epoch,
        pages: entries,
        bundles,
    };
    serde_json::to_string(&manifest).expect("the manifest is plain strings and numbers")
}

#[derive(Serialize)]
struct GateList<'a> {
    version: u32,
    epoch: u32,
    gates: Vec<GateListEntry<'a>>,
}

#[derive(Serialize)]
struct GateListEntry<'a> {
    gate: &'a str,
    rule: &'a str,
    bundle: &'a str,
    label: String,
}

/// `_gated/gates.json`: every gate with its rule and bundle, so a member's browser can ask for
/// all its keys at once and search every page it may open. It says no more than the manifest.
pub fn gates_json(
    gates: &Gates,
    bundles: &BTreeMap<String, String>,
    config: &crate::config::SiteConfig,
) -> String {
    let list = GateList {
        version: 2,
        epoch: config.epoch,
        gates: gates
            .list
            .iter()
            .map(|gate| GateListEntry {
                gate: gate.id.as_str(),
                rule: &gate.rule_text,
                bundle: bundles.get(gate.id.as_str()).map_or("", String::as_str),
                label: crate::content::access_label(&gate.rule, config),
            })
            .collect(),
    };
    serde_json::to_string(&list).expect("the gate list is plain strings and numbers")
}
