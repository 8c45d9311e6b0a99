//! Files beside the Markdown: copied as they are, never encrypted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::doc::Doc;
use super::{Asset, CONTENT_DIR, Library};
use crate::diagnostic::Diagnostic;

/// Places assets beside their pages and warns about files inside gated sections: assets are
/// copied as they are, never encrypted.
pub fn place_assets(
    content_dir: &Path,
    assets: Vec<PathBuf>,
    library: &Library,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Asset> {
    let by_path: HashMap<&str, &Doc> = library.docs.iter().map(|d| (d.path.as_str(), d)).collect();
    assets
        .into_iter()
        .map(|relative| {
            let mut dir = relative.parent().map(Path::to_path_buf).unwrap_or_default();
            loop {
                let key = if dir.as_os_str().is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{}/", dir.to_string_lossy().replace('\\', "/"))
                };
                if let Some(doc) = by_path.get(key.as_str()) {
                    if doc.is_gated() {
                        warnings.push(Diagnostic::new(
                            Path::new(CONTENT_DIR).join(&relative),
                            None,
                            format!(
                                "this file sits in the gated {key} but is published unencrypted, \
                                 like every asset; move it out if it is for members only"
                            ),
                        ));
                    }
                    break;
                }
                if !dir.pop() {
                    break;
                }
            }
            Asset {
                source: content_dir.join(&relative),
                output: relative,
            }
        })
        .collect()
}
