//! The element a gated body is decrypted into (DESIGN §4), with the locked message that
//! readers without a key see, and the products that would open it. gate.js reads the data
//! attributes; docs/members-browser.md documents them for theme authors.

use super::escape;
use crate::config::{Grant, SiteConfig};
use crate::gate::Rule;

/// What the slot of one gated page says.
pub struct Slot<'a> {
    pub gate_id: &'a str,
    pub rule: &'a str,
    pub src: &'a str,
    pub path: &'a str,
    pub epoch: u32,
    /// "Gold or Pricing Course": what opens the page, in words.
    pub label: &'a str,
    /// "Gold or Pricing Course" without the drip: what a reader must hold.
    pub needs: &'a str,
    pub offers: &'a [Offer],
    /// For a members block (DESIGN §3), its public `else` part, rendered ("" without one),
    /// shown until the block opens; `None` for a page's slot.
    pub block_else: Option<&'a str>,
}

/// A product that opens a gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub name: String,
    pub url: Option<String>,
}

/// The products whose grant opens `rule`: a level of at least the rule's rank, or one of its
/// bundles. Drip is not considered: buying is the first step either way.
pub fn offers_for(rule: &Rule, config: &SiteConfig) -> Vec<Offer> {
    let needed_rank = rule
        .level()
        .and_then(|id| config.level(id))
        .map(|level| level.rank);
    config
        .products
        .iter()
        .filter(|product| match &product.grants {
            Grant::Level(id) => match (needed_rank, config.level(id)) {
                (Some(needed), Some(level)) => level.rank >= needed,
                _ => false,
            },
            Grant::Bundle(id) => rule.bundles().iter().any(|b| b == id),
        })
        .map(|product| Offer {
            name: product.name.clone(),
            url: product.url.clone(),
        })
        .collect()
}

impl Slot<'_> {
    pub fn html(&self) -> String {
        let mut out = String::with_capacity(640);
        let what = if self.block_else.is_some() {
            out.push_str("<div class=\"gh-gate gh-block\" data-block data-gate=\"");
            "this part"
        } else {
            out.push_str("<div class=\"gh-gate\" data-gate=\"");
            "this page"
        };
        out.push_str(&escape(self.gate_id));
        out.push_str("\" data-rule=\"");
        out.push_str(&escape(self.rule));
        out.push_str("\" data-src=\"");
        out.push_str(&escape(self.src));
        out.push_str("\" data-path=\"");
        out.push_str(&escape(self.path));
        out.push_str(&format!("\" data-epoch=\"{}\" data-label=\"", self.epoch));
        out.push_str(&escape(self.label));
        out.push_str("\" data-needs=\"");
        out.push_str(&escape(self.needs));
        out.push_str("\">\n");
        if let Some(public) = self.block_else.filter(|html| !html.trim().is_empty()) {
            out.push_str("  <div class=\"gh-else\">\n");
            out.push_str(public);
            out.push_str("  </div>\n");
        }
        out.push_str("  <div class=\"gh-locked\">\n");
        out.push_str("    <p class=\"gh-locked-title\">Members only: ");
        out.push_str(&escape(self.label));
        out.push_str("</p>\n    <p class=\"gh-locked-help\">Log in to read ");
        out.push_str(what);
        out.push_str(".</p>\n");
        if !self.offers.is_empty() {
            // Hidden until gate.js knows the reader lacks the level or bundle: a member who
            // only waits for drip should not be offered what they already have.
            out.push_str("    <ul class=\"gh-offers\" hidden>\n");
            for offer in self.offers {
                out.push_str("      <li>");
                match &offer.url {
                    Some(url) => {
                        out.push_str("<a href=\"");
                        out.push_str(&escape(url));
                        out.push_str("\">");
                        out.push_str(&escape(&offer.name));
                        out.push_str("</a>");
                    }
                    None => {
                        out.push_str("<span>");
                        out.push_str(&escape(&offer.name));
                        out.push_str("</span>");
                    }
                }
                out.push_str("</li>\n");
            }
            out.push_str("    </ul>\n");
        }
        out.push_str(
            "    <noscript><p>Members-only content needs JavaScript.</p></noscript>\n  </div>\n</div>",
        );
        out
    }
}
