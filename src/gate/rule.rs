//! Rules and gate ids: the canonical text `level=<id|->;bundles=<ids|->;drip=<seconds>`.

use std::fmt;

use ring::digest;

use super::hex::to_hex;

/// What a gated page requires: a minimum level OR any of some bundles, then a drip delay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    level: Option<String>,
    bundles: Vec<String>,
    drip_seconds: u64,
}

/// The 16-hex-digit name of a gate, derived from its rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GateId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("a rule needs a level or at least one bundle")]
    Empty,
    #[error("`{0}` is not a valid id: use lowercase letters, digits, `-` and `_`")]
    BadId(String),
    #[error("bundle `{0}` is listed twice")]
    Duplicate(String),
    #[error(
        "`{0}` is not a canonical rule (expected `level=<id|->;bundles=<ids|->;drip=<seconds>`)"
    )]
    NotCanonical(String),
}

impl Rule {
    /// Builds a rule; bundles are sorted so equal rules share one gate. A bundle listed twice is
    /// refused rather than merged: the canonical text of DESIGN §4 only sorts, so merging would
    /// give a gate id that an independent tool computing from the same list would not.
    pub fn new(
        level: Option<&str>,
        bundles: &[impl AsRef<str>],
        drip_seconds: u64,
    ) -> Result<Rule, RuleError> {
        let level = level.map(str::to_owned);
        let mut bundles: Vec<String> = bundles.iter().map(|b| b.as_ref().to_owned()).collect();
        bundles.sort();
        if let Some(pair) = bundles.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(RuleError::Duplicate(pair[0].clone()));
        }
        if level.is_none() && bundles.is_empty() {
            return Err(RuleError::Empty);
        }
        for id in level.iter().chain(&bundles) {
            if !is_valid_id(id) {
                return Err(RuleError::BadId(id.clone()));
            }
        }
        Ok(Rule {
            level,
            bundles,
            drip_seconds,
        })
    }

    /// Parses canonical rule text, accepting only the exact form that [`Rule::text`] writes, so
    /// that one gate can never be reached under two spellings.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let not_canonical = || RuleError::NotCanonical(text.to_owned());
        let rest = text.strip_prefix("level=").ok_or_else(not_canonical)?;
        let (level, rest) = rest.split_once(";bundles=").ok_or_else(not_canonical)?;
        let (bundles, drip) = rest.split_once(";drip=").ok_or_else(not_canonical)?;
        let level = (level != "-").then_some(level);
        let bundles: Vec<&str> = if bundles == "-" {
            Vec::new()
        } else {
            bundles.split(',').collect()
        };
        let drip_seconds: u64 = drip.parse().map_err(|_| not_canonical())?;
        let rule = Rule::new(level, &bundles, drip_seconds)?;
        if rule.text() != text {
            return Err(not_canonical());
        }
        Ok(rule)
    }

    pub fn level(&self) -> Option<&str> {
        self.level.as_deref()
    }

    pub fn bundles(&self) -> &[String] {
        &self.bundles
    }

    pub fn drip_seconds(&self) -> u64 {
        self.drip_seconds
    }

    /// The canonical text, e.g. `level=gold;bundles=pricing-course;drip=1209600`.
    pub fn text(&self) -> String {
        let level = self.level.as_deref().unwrap_or("-");
        let bundles = if self.bundles.is_empty() {
            "-".to_owned()
        } else {
            self.bundles.join(",")
        };
        format!("level={level};bundles={bundles};drip={}", self.drip_seconds)
    }

    /// The first 16 hex digits of SHA-256(`"gatehouse-gate-v1\n" + rule`).
    pub fn gate_id(&self) -> GateId {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"gatehouse-gate-v1\n");
        ctx.update(self.text().as_bytes());
        let hex = to_hex(ctx.finish().as_ref());
        GateId(hex[..16].to_owned())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl GateId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Ids appear inside rule text, URLs and file names, so they may not carry `;`, `,` or `=`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_sorts_bundles_and_marks_absent_parts() {
        let rule = Rule::new(Some("gold"), &["zeta", "alpha"], 1_209_600).unwrap();
        assert_eq!(rule.text(), "level=gold;bundles=alpha,zeta;drip=1209600");
        assert_eq!(
            Rule::new(None, &["a", "b", "a"], 0),
            Err(RuleError::Duplicate("a".into()))
        );
        let bundles_only = Rule::new(None, &["pricing-course"], 0).unwrap();
        assert_eq!(bundles_only.text(), "level=-;bundles=pricing-course;drip=0");
        let level_only = Rule::new(Some("gold"), &[] as &[&str], 0).unwrap();
        assert_eq!(level_only.text(), "level=gold;bundles=-;drip=0");
    }

    #[test]
    fn rule_without_level_or_bundles_is_rejected() {
        assert_eq!(Rule::new(None, &[] as &[&str], 5), Err(RuleError::Empty));
    }

    #[test]
    fn ids_with_separators_are_rejected() {
        assert!(matches!(
            Rule::new(Some("gold;x"), &[] as &[&str], 0),
            Err(RuleError::BadId(_))
        ));
        assert!(matches!(
            Rule::new(None, &["a,b"], 0),
            Err(RuleError::BadId(_))
        ));
    }

    #[test]
    fn parse_accepts_only_canonical_text() {
        let text = "level=gold;bundles=a,b;drip=60";
        assert_eq!(Rule::parse(text).unwrap().text(), text);
        for bad in [
            "level=gold;bundles=b,a;drip=60",
            "level=gold;bundles=-;drip=060",
            "level=-;bundles=-;drip=0",
            "bundles=a;level=gold;drip=0",
            "level=gold;bundles=a;drip=1;x",
            "level=Gold;bundles=-;drip=0",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn gate_id_is_16_hex_digits_and_differs_by_rule() {
        let a = Rule::new(Some("gold"), &[] as &[&str], 0)
            .unwrap()
            .gate_id();
        let b = Rule::new(Some("gold"), &[] as &[&str], 1)
            .unwrap()
            .gate_id();
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
