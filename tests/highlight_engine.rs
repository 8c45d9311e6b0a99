//! Highlighting runs on oniguruma's pattern-set search, patched in `vendor/onig_sys` so that
//! a search of the line searched last, from further on, reuses where each pattern can next
//! match. These tests hold the patched search to the answers of a search that starts afresh:
//! the same pattern, start and capture groups, for every step of a tokenizer-like walk.

use std::sync::{Arc, Barrier};
use std::thread;

use onig::{Captures, RegSet, RegSetLead, RegexOptions, SearchOptions};
use proptest::prelude::*;

/// Pattern sets shaped like TextMate grammar states: keywords, comments to the end of the
/// line, lookahead and lookbehind, `\G`, captures, patterns with no literal at all, and
/// Unicode classes.
const SETS: &[&[&str]] = &[
    &[
        r"\b(let|if|else|fn|return)\b",
        r"//.*$",
        r#"""#,
        r"\b[0-9]+\b",
        r"([A-Za-z_][A-Za-z0-9_]*)(?=\()",
        r"(?<=\.)[a-z_]+",
        r"[<>=!]=?|&&|\|\|",
        r"[{}()\[\]]",
        r"\G\s+",
        r"'(?:[^'\\]|\\.)'",
    ],
    // Patterns whose literal can be any distance from the match start.
    &[
        r"\s*#.*$",
        r"(\w+)\s*=\s*(\w+)",
        r".*?;",
        r"(?i)select\s+.*\s+from",
        r"(?=\S)(\w+):",
        r"\s+",
    ],
    // Every pattern a bounded distance from its literal: lines over 500 bytes take the
    // search's other loop, which jumps to the nearest candidate.
    &[r"\bif\b", r"[0-9]", r"==", r#"""#, r"é", r"ab?c"],
    &[
        r"\p{Lu}\p{Ll}+",
        r"[à-ü]+",
        r"日本",
        r"(?<![a-z])x",
        r"\b",
        r"$",
    ],
    // All anchored: the set's search takes oniguruma's own path, which must still agree.
    &[r"\G[a-z]+", r"\G\s*", r"\G[0-9]"],
];

const WORDS: &[&str] = &[
    "let", "if", "else", "fn", "x", "foo_bar", "Déjà", "日本", "ab", "abc", "ac", "é", "0", "42",
    "==", "=", "!=", "&&", "(", ")", "{", "}", ".", ";", ":", "#", "//", "\"", "'a'", "'\\n'",
    "select", "FROM", "Straße", "x:", " ", "  ", "\t", "ü",
];

/// Search options as a tokenizer passes them: `\A` and `\G` on or off.
const OPTIONS: [SearchOptions; 4] = [
    SearchOptions::SEARCH_OPTION_NONE,
    SearchOptions::SEARCH_OPTION_NOT_BEGIN_STRING,
    SearchOptions::SEARCH_OPTION_NOT_BEGIN_POSITION,
    SearchOptions::SEARCH_OPTION_NOT_BEGIN_STRING
        .union(SearchOptions::SEARCH_OPTION_NOT_BEGIN_POSITION),
];

type Found = Option<(usize, Vec<Option<(usize, usize)>>)>;

fn found(result: Option<(usize, Captures<'_>)>) -> Found {
    result.map(|(index, captures)| {
        (
            index,
            (0..captures.len()).map(|i| captures.pos(i)).collect(),
        )
    })
}

fn compile(patterns: &[&str]) -> RegSet {
    RegSet::with_options(patterns, RegexOptions::REGEX_OPTION_CAPTURE_GROUP)
        .expect("the test's patterns compile")
}

/// The reference: each search goes oniguruma's own, unpatched way. Asking it to check the
/// text is valid UTF-8 (which the test texts are) is one of the options the patch leaves to
/// upstream's code, so this is the search as it was before the patch.
struct Fresh(RegSet);

impl Fresh {
    fn search(&self, text: &str, from: usize, to: usize, options: SearchOptions) -> Found {
        found(
            self.0
                .captures_with_options(text, from, to, RegSetLead::Position, upstream(options)),
        )
    }
}

/// `options` with ONIG_OPTION_CHECK_VALIDITY_OF_STRING (two places above NOTEOL in
/// oniguruma.h), which sends a search oniguruma's own way.
fn upstream(options: SearchOptions) -> SearchOptions {
    SearchOptions::from_bits_retain(
        options.bits() | (SearchOptions::SEARCH_OPTION_NOTEOL.bits() << 2),
    )
}

/// One step of a walk over a line.
#[derive(Debug, Clone)]
enum Step {
    /// Search from where the last match ended, as a tokenizer does.
    Next,
    /// Search again from a little before (a start the kept ranges do not cover).
    Back(usize),
    /// Search a shorter part of the line.
    Until(usize),
    /// Change one character in place, keeping the text's address and length.
    Edit(usize),
    /// Search another text, then come back.
    Elsewhere,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Next),
        1 => (1usize..12).prop_map(Step::Back),
        1 => (0usize..64).prop_map(Step::Until),
        1 => any::<usize>().prop_map(Step::Edit),
        1 => Just(Step::Elsewhere),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(proptest::sample::select(WORDS), 0..40),
        // Long lines: past 500 bytes the search loops differently.
        1 => proptest::collection::vec(proptest::sample::select(WORDS), 150..260),
    ]
    .prop_map(|words| {
        let mut line = words.join(" ");
        line.push('\n');
        line
    })
}

/// The character boundary at or after `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// Walks `text` with `steps`, comparing the reusing set against a fresh one at each search.
fn walk(patterns: &[&str], mut text: String, steps: &[Step]) -> Result<(), TestCaseError> {
    let reusing = compile(patterns);
    let fresh = Fresh(compile(patterns));
    let mut pos: usize = 0;
    for (n, step) in steps.iter().enumerate() {
        let mut to = text.len();
        match step {
            Step::Next => {}
            Step::Back(by) => pos = boundary(&text, pos.saturating_sub(*by)),
            Step::Until(cut) => to = boundary(&text, pos + cut),
            Step::Edit(at) => {
                let at = boundary(&text, at % text.len().max(1));
                if let Some(old) = text[at..].chars().next() {
                    // Same length in bytes, so the String keeps its buffer and address.
                    let new = if old == 'x' { "y" } else { "x" };
                    if old.len_utf8() == 1 {
                        let before = text.as_ptr();
                        text.replace_range(at..at + 1, new);
                        prop_assert_eq!(before, text.as_ptr(), "the edit kept the text in place");
                    }
                }
            }
            Step::Elsewhere => {
                let _ = reusing.captures_with_options(
                    "if x == 1 { return y; } // elsewhere\n",
                    3,
                    30,
                    RegSetLead::Position,
                    SearchOptions::SEARCH_OPTION_NONE,
                );
            }
        }
        let options = OPTIONS[n % OPTIONS.len()];
        let got =
            found(reusing.captures_with_options(&text, pos, to, RegSetLead::Position, options));
        let want = fresh.search(&text, pos, to, options);
        prop_assert_eq!(
            &got,
            &want,
            "step {} ({:?}) from {} to {} in {:?} with {:?}",
            n,
            step,
            pos,
            to,
            text,
            patterns
        );
        pos = match &got {
            Some((_, groups)) => match groups.first().copied().flatten() {
                // An empty match moves on by one character, as a tokenizer does.
                Some((start, end)) if end == start => boundary(&text, end + 1),
                Some((_, end)) => end,
                None => boundary(&text, pos + 1),
            },
            None => boundary(&text, pos + 1),
        };
        if pos >= text.len() {
            pos = 0;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_reused_search_finds_what_a_fresh_search_finds(
        set in 0..SETS.len(),
        text in line(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        walk(SETS[set], text, &steps)?;
    }
}

/// The cases the walk is built to reach, spelled out: each is a way a kept search could be
/// stale.
#[test]
fn a_kept_search_is_not_used_for_another_start_range_or_text() {
    let patterns = SETS[0];
    let reusing = compile(patterns);
    let fresh = Fresh(compile(patterns));
    // `\G` off, so that spaces at the start do not match.
    let options = SearchOptions::SEARCH_OPTION_NOT_BEGIN_POSITION;
    let search = |text: &str, from: usize, to: usize| {
        let got =
            found(reusing.captures_with_options(text, from, to, RegSetLead::Position, options));
        assert_eq!(
            got,
            fresh.search(text, from, to, options),
            "from {from} to {to} in {text:?}"
        );
        got.map(|(index, groups)| (index, groups[0].map(|(start, _)| start)))
    };
    let mut text = String::from("let a = b.c + x;\n");
    let dot = text.find('.').expect("a dot");

    assert_eq!(search(&text, 0, text.len()), Some((0, Some(0))), "`let`");
    assert_eq!(
        search(&text, 4, text.len()),
        Some((6, Some(6))),
        "`=`, further on"
    );
    // Before the last match: the kept ranges begin after `=`, and `let` is before it.
    assert_eq!(
        search(&text, 0, text.len()),
        Some((0, Some(0))),
        "`let` again"
    );
    // A shorter range: `=` starts past it.
    assert_eq!(search(&text, 4, 6), None);
    assert_eq!(
        search(&text, dot, text.len()),
        Some((5, Some(dot + 1))),
        "`c` after the dot"
    );

    // The same buffer with a digit where `x` was: the search kept from the dot found no
    // digit on the line.
    let x = text.find('x').expect("an x");
    let before = text.as_ptr();
    text.replace_range(x..x + 1, "7");
    assert_eq!(before, text.as_ptr(), "the edit kept the text in place");
    assert_eq!(
        search(&text, dot + 2, text.len()),
        Some((3, Some(x))),
        "the new digit"
    );
}

/// A pattern with its literal at any distance is tried at every position only while that
/// literal is still ahead. Past it, a kept search must drop it as a fresh search does: trying
/// `(a|aa)*\(` at each `a` of a long run backtracks until oniguruma's retry limit, an error
/// where the fresh search simply finds `a`.
#[test]
fn a_kept_search_drops_a_pattern_whose_literal_is_behind() {
    let patterns = [r"(a|aa)*\(", "x", "a"];
    let reusing = compile(&patterns);
    let fresh = Fresh(compile(&patterns));
    let options = SearchOptions::SEARCH_OPTION_NONE;
    let text = format!("x({}!", "a".repeat(44));
    for start in 0..4 {
        let got = found(reusing.captures_with_options(
            &text,
            start,
            text.len(),
            RegSetLead::Position,
            options,
        ));
        assert_eq!(
            got,
            fresh.search(&text, start, text.len(), options),
            "from {start}"
        );
    }
    let from_three = fresh.search(&text, 3, text.len(), options);
    assert_eq!(from_three.map(|f| f.0), Some(2), "`a` at 3");
}

/// A tokenizer's walk over `text` as the reference search answers it: each search's start,
/// options, and the pattern and match start found.
type Script = Vec<(usize, SearchOptions, Option<(usize, usize)>)>;

fn script(fresh: &Fresh, text: &str) -> Script {
    let mut steps = Script::new();
    let mut pos = 0;
    for n in 0.. {
        if pos >= text.len() {
            break;
        }
        let options = OPTIONS[n % OPTIONS.len()];
        let want = fresh.search(text, pos, text.len(), options);
        let matched = want
            .as_ref()
            .and_then(|(index, groups)| Some((*index, groups.first().copied().flatten()?)));
        steps.push((
            pos,
            options,
            matched.map(|(index, (start, _))| (index, start)),
        ));
        pos = match matched {
            Some((_, (start, end))) if end > start => end,
            Some((_, (_, end))) => boundary(text, end + 1),
            None => text.len(),
        };
    }
    steps
}

/// `RegSet` is `Sync`: threads may search one set at once. The kept state belongs to one
/// search at a time; a search that finds it in use goes oniguruma's own way, with buffers of
/// its own. Four threads walk four lines on one set, over and over, and every answer must be
/// the reference's. Only the pattern and match start are compared: the capture regions are
/// the set's, shared by every search of it, as they are in unpatched oniguruma. The threads
/// start together; the test can catch a missing lock only when they overlap, which two cores
/// make near certain (without the lock, 9 runs in 10 failed on this machine, 7 in 10 pinned
/// to one core).
#[test]
fn threads_searching_one_set_at_once_each_get_their_own_answers() {
    let patterns = SETS[0];
    let shared = Arc::new(compile(patterns));
    let fresh = Fresh(compile(patterns));
    let lines = [
        "let total = sum(items) + 42; // the running total\n",
        "if a.b == 'c' && x != 7 { return foo_bar(a, b); }\n",
        "else { fn inner() { let s = \"x\"; } }   // 日本 Déjà\n",
        "while (0 <= n) { n = n - 1; print(n.value); }\n",
    ];
    // Size every pattern's capture region before the threads start, as one search going
    // oniguruma's own way does: growing a region is not safe while another thread reads it,
    // patched or not.
    let _ =
        shared.captures_with_options(lines[0], 0, 1, RegSetLead::Position, upstream(OPTIONS[0]));
    let scripts: Vec<(String, Script)> = lines
        .iter()
        .map(|line| (line.to_string(), script(&fresh, line)))
        .collect();
    assert!(
        scripts.iter().all(|(_, s)| s.len() > 5),
        "each walk takes several searches"
    );
    let start = Arc::new(Barrier::new(scripts.len()));
    let workers: Vec<_> = scripts
        .into_iter()
        .map(|(text, script)| {
            let set = Arc::clone(&shared);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for round in 0..300 {
                    for (n, (from, options, want)) in script.iter().enumerate() {
                        let got = set
                            .captures_with_options(
                                &text,
                                *from,
                                text.len(),
                                RegSetLead::Position,
                                *options,
                            )
                            .map(|(index, captures)| (index, captures.offset()));
                        assert_eq!(
                            got, *want,
                            "round {round}, step {n} from {from} in {text:?}"
                        );
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .expect("a thread's searches agreed with the reference");
    }
}
