//! The rules `/keys` is asked for, each remembered by its text: parsed and checked against
//! site.toml once, with its gate id and, once handed out, its keys. A page's few rules come
//! with every request of every member; parsing them, hashing their gate ids and looking their
//! keys up under a freshly built text again each time was a fifth of a request (BENCHMARKS.md).
//!
//! Only rules that passed the check are remembered, so a refused text is refused again on
//! every request with the same error. The texts are the callers', so the memory is bounded:
//! past `capacity` texts the whole map is dropped and filled again from what is asked next.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::gate::{GateId, MasterSecret, Rule, derive_key};

/// Rule texts remembered by default.
pub const CAPACITY: usize = 4096;

/// A rule that passed the check, with what every answer about it needs.
pub struct KnownRule {
    rule: Rule,
    gate: GateId,
    /// The base64url key under the current epoch, derived when first handed out.
    current: OnceLock<String>,
    /// The key under the epoch before it, served during a rotation's grace window.
    previous: OnceLock<String>,
}

impl std::fmt::Debug for KnownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownRule")
            .field("rule", &self.rule)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl KnownRule {
    pub fn new(rule: Rule) -> KnownRule {
        KnownRule {
            gate: rule.gate_id(),
            rule,
            current: OnceLock::new(),
            previous: OnceLock::new(),
        }
    }

    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    pub fn gate(&self) -> &str {
        self.gate.as_str()
    }

    /// The gate's key under `epoch`, for a server whose current epoch is `current`. The two
    /// epochs a server can serve are remembered; any other is derived afresh each time.
    pub fn key(&self, epoch: u32, current: u32, secret: &MasterSecret) -> Cow<'_, str> {
        let derive = || derive_key(secret, epoch, &self.rule).to_base64url();
        let slot = if epoch == current {
            &self.current
        } else if epoch.checked_add(1) == Some(current) {
            &self.previous
        } else {
            return Cow::Owned(derive());
        };
        Cow::Borrowed(slot.get_or_init(derive).as_str())
    }
}

/// A rule of a request, checked: from memory, or `new`ly checked.
pub struct Checked {
    pub rule: Arc<KnownRule>,
    pub new: bool,
}

/// Rule texts that passed the check, bounded in number.
#[derive(Debug)]
pub struct KnownRules {
    capacity: usize,
    entries: Mutex<HashMap<String, Arc<KnownRule>>>,
}

impl Default for KnownRules {
    fn default() -> KnownRules {
        KnownRules::new(CAPACITY)
    }
}

impl KnownRules {
    pub fn new(capacity: usize) -> KnownRules {
        KnownRules {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<KnownRule>>> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The rule of `text`: remembered, or `check`ed now (`new` is then true, and nothing is
    /// remembered until [`KnownRules::remember`]). `check` runs without the lock held, so a
    /// flood of new texts does not stall the requests whose rules are known.
    pub fn get_or_check<E>(
        &self,
        text: &str,
        check: impl FnOnce(&str) -> Result<Rule, E>,
    ) -> Result<Checked, E> {
        if let Some(known) = self.lock().get(text) {
            return Ok(Checked {
                rule: known.clone(),
                new: false,
            });
        }
        Ok(Checked {
            rule: Arc::new(KnownRule::new(check(text)?)),
            new: true,
        })
    }

    /// Remembers a checked rule under its text. `/keys` does this only for a member's
    /// request: anyone may send rules, and a stranger's texts would push out the ones members
    /// ask for.
    pub fn remember(&self, text: &str, rule: &Arc<KnownRule>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(text) {
            entries.clear();
        }
        entries
            .entry(text.to_owned())
            .or_insert_with(|| rule.clone());
    }

    /// How many texts are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLD: &str = "level=gold;bundles=-;drip=0";
    const COURSE: &str = "level=-;bundles=course;drip=604800";

    fn parse(text: &str) -> Result<Rule, String> {
        Rule::parse(text).map_err(|error| error.to_string())
    }

    /// What `/keys` does for a member: check, then remember.
    fn ask<E>(
        rules: &KnownRules,
        text: &str,
        check: impl FnOnce(&str) -> Result<Rule, E>,
    ) -> Result<Arc<KnownRule>, E> {
        let checked = rules.get_or_check(text, check)?;
        if checked.new {
            rules.remember(text, &checked.rule);
        }
        Ok(checked.rule)
    }

    #[test]
    fn a_text_is_checked_once_and_then_remembered() {
        let rules = KnownRules::default();
        let mut checks = 0;
        for _ in 0..3 {
            let known = ask(&rules, GOLD, |text| {
                checks += 1;
                parse(text)
            })
            .unwrap();
            assert_eq!(known.rule().text(), GOLD);
            assert_eq!(known.gate(), Rule::parse(GOLD).unwrap().gate_id().as_str());
        }
        assert_eq!(checks, 1);
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn rules_are_told_apart_by_their_text() {
        let rules = KnownRules::default();
        let gold = ask(&rules, GOLD, parse).unwrap();
        let course = ask(&rules, COURSE, parse).unwrap();
        assert_eq!(course.rule().text(), COURSE);
        assert_ne!(gold.gate(), course.gate());
        assert_eq!(rules.len(), 2);
    }

    #[test]
    fn a_refused_text_is_not_remembered_and_is_refused_again() {
        let rules = KnownRules::default();
        let refuse = |_: &str| Err::<Rule, _>("unknown level".to_owned());
        assert_eq!(ask(&rules, GOLD, refuse).unwrap_err(), "unknown level");
        assert_eq!(rules.len(), 0);
        assert_eq!(
            ask(&rules, GOLD, refuse).unwrap_err(),
            "unknown level",
            "checked again, not answered from memory"
        );
        assert!(ask(&rules, "level=gold", parse).is_err());
        assert_eq!(rules.len(), 0);
    }

    #[test]
    fn the_number_of_texts_is_bounded() {
        let rules = KnownRules::new(8);
        for drip in 0..100 {
            let text = format!("level=gold;bundles=-;drip={drip}");
            let known = ask(&rules, &text, parse).unwrap();
            assert_eq!(known.rule().text(), text);
            assert!(rules.len() <= 8);
        }
        assert!(rules.len() >= 1, "the newest text stays");
    }

    #[test]
    fn keys_are_the_derived_keys_of_each_epoch() {
        let secret = MasterSecret::from_bytes([7; 32]);
        let rule = Rule::parse(GOLD).unwrap();
        let known = KnownRule::new(rule.clone());
        let derived = |epoch| derive_key(&secret, epoch, &rule).to_base64url();
        for _ in 0..2 {
            assert_eq!(known.key(3, 3, &secret), derived(3));
            assert_eq!(known.key(2, 3, &secret), derived(2));
            assert_eq!(known.key(1, 3, &secret), derived(1));
        }
        assert_ne!(known.key(3, 3, &secret), known.key(2, 3, &secret));
        assert!(matches!(known.key(3, 3, &secret), Cow::Borrowed(_)));
        assert!(matches!(known.key(1, 3, &secret), Cow::Owned(_)));
    }

    #[test]
    fn a_checked_rule_is_remembered_only_when_asked_to() {
        let rules = KnownRules::default();
        let checked = rules.get_or_check(GOLD, parse).unwrap();
        assert!(checked.new);
        assert_eq!(
            rules.len(),
            0,
            "a stranger's rules are checked, not remembered"
        );
        rules.remember(GOLD, &checked.rule);
        assert_eq!(rules.len(), 1);
        assert!(!rules.get_or_check(GOLD, parse).unwrap().new);
    }
}
