//! Fuzzing on stable Rust: every parser of hand-written or untrusted input is given random and
//! mutated input (tests/fuzz/mutate.rs, from the realistic documents of tests/fuzz/seeds.rs)
//! and must not panic; where it is cheap to say, it must also answer as it should: an envelope
//! opens to what was sealed and to nothing else, errors name a line of the input.
//!
//! `GATEHOUSE_FUZZ_CASES` sets the cases per target (default CI-sized); `scripts/fuzz` runs
//! many more in release mode. Each target prints `fuzz <target>: <n> cases in <t> s (…)`, with
//! what became of its inputs.

#![allow(clippy::unwrap_used)]

#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/seeds.rs"]
mod seeds;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gatehouse::build::file_refs::{decode_entities, resolve, url_refs};
use gatehouse::config::{self, DAY, DeployTarget, SiteConfig};
use gatehouse::content::{self, Highlighter, LoadOptions};
use gatehouse::deploy::s3::xml;
use gatehouse::entitle::{grant_text, parse_grant};
use gatehouse::gate::file::{self as sealed_file, FileSalt, FilesRoot, HEADER_LEN, RECORD_SIZE};
use gatehouse::gate::{self, GateKey, MasterSecret, OpenError, Rule};
use gatehouse::payments::object as stripe;
use gatehouse::payments::projection::{SubState, steps};
use gatehouse::payments::signature::{self, SignatureError};
use gatehouse::payments::{StripeEvent, subscription_state};
use gatehouse::store::Store;
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{TestCaseResult, TestRunner};

/// Cases per target when `GATEHOUSE_FUZZ_CASES` is not set: the file runs in well under a
/// minute in a debug build on two cores.
const DEFAULT_CASES: u32 = 2000;

/// Runs `property` on `cases` inputs from `strategy` (scaled by `weight` for slow targets),
/// and says how many it ran, how long they took and what became of them (what each noted in
/// the [`Tally`]: how deep the inputs went, not only that nothing panicked).
fn fuzz<S: Strategy>(
    target: &str,
    weight: f64,
    strategy: S,
    property: impl Fn(S::Value, &Tally) -> TestCaseResult,
) {
    let all: u32 = std::env::var("GATEHOUSE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let cases = ((f64::from(all) * weight) as u32).max(1);
    let config = ProptestConfig {
        cases,
        // Nothing is written into the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let tally = Tally::default();
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| property(input, &tally));
    println!(
        "fuzz {target}: {cases} cases in {:.1} s ({tally})",
        started.elapsed().as_secs_f64()
    );
    if let Err(error) = result {
        panic!("fuzz {target}: {error}");
    }
}

/// How many inputs came to each outcome.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    fn note(&self, outcome: impl Into<String>) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(outcome.into()).or_default() += 1;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The demo site's configuration, with its root in a temporary folder that has the theme's
/// templates folder (all that validation looks at), so pages can be written there.
fn demo_site() -> (tempfile::TempDir, SiteConfig) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes/default/templates")).unwrap();
    // The theme's shortcodes, so that pages may call them.
    let shortcodes = dir.path().join("themes/default/templates/shortcodes");
    std::fs::create_dir_all(&shortcodes).unwrap();
    let theme = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates/shortcodes");
    for entry in std::fs::read_dir(theme).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), shortcodes.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir_all(dir.path().join(content::CONTENT_DIR)).unwrap();
    let config = config::parse(dir.path(), seeds::SITE_TOMLS[0]).unwrap();
    (dir, config)
}

/// Lines of `text` as an editor counts them, plus one for a position at its very end.
fn last_line(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// The longest input that is also rendered with code highlighting. giallo takes time that
/// grows with the square of the code's length on some inputs (a `python` block of lines with
/// unterminated strings: 400 lines 3.9 s, 800 lines 18 s in a debug build, 0.36 s in release),
/// which would make the run's length a matter of luck; the renderer around it is fuzzed at
/// every length.
const HIGHLIGHT_MAX: usize = 4096;

/// Loaded once per target that wants it: loading the grammars takes a while.
fn highlighter() -> Highlighter {
    Highlighter::load("github-light").unwrap()
}

#[test]
fn front_matter_pages_parse_or_name_their_line_never_panic() {
    let (site, config) = demo_site();
    let highlighter = highlighter();
    let shortcodes = content::Shortcodes::load(&config).unwrap();
    const FILES: &[&str] = &[
        "page.md",
        "course/_index.md",
        "course/lesson/index.md",
        "course/lesson-2.md",
        "_index.md",
        "course/My Lesson.md",
    ];
    for file in FILES {
        let dir = Path::new(file).parent().unwrap();
        std::fs::create_dir_all(site.path().join("content").join(dir)).unwrap();
    }
    let strategy = (
        // Text: a file that is not UTF-8 is refused before any parsing.
        mutate::text(&seeds::PAGE),
        select(FILES),
        any::<bool>(),
        any::<bool>(),
    );
    fuzz(
        "front_matter_pages",
        1.0,
        strategy,
        |(text, file, drafts, highlight), tally| {
            std::fs::write(site.path().join("content").join(file), &text).unwrap();
            let highlighter = (highlight && text.len() <= HIGHLIGHT_MAX).then_some(&highlighter);
            let parsed = content::parse_one(
                &config,
                Path::new(file),
                LoadOptions { drafts },
                highlighter,
                &shortcodes,
            );
            match parsed {
                Ok(Some(doc)) => {
                    tally.note(match doc.own_access {
                        Some(content::Access::Gated(_)) => "gated",
                        _ => "public",
                    });
                    prop_assert!(doc.path.starts_with('/') && doc.path.ends_with('/'));
                }
                Ok(None) => tally.note("draft"),
                Err(problems) => {
                    tally.note("refused");
                    prop_assert!(!problems.0.is_empty());
                    for problem in &problems.0 {
                        prop_assert_eq!(&problem.file, &Path::new("content").join(file));
                        if let Some(line) = problem.line {
                            prop_assert!(
                                (1..=last_line(&text)).contains(&line),
                                "{problem} is past the end"
                            );
                        }
                        let syntax = problem.message.contains("front matter");
                        prop_assert!(!syntax || problem.line.is_some(), "{problem} has no line");
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn site_toml_parses_or_names_its_line_never_panics() {
    let (site, _) = demo_site();
    fuzz(
        "site_toml",
        1.0,
        mutate::text(&seeds::SITE_TOML),
        |text, tally| {
            match config::parse(site.path(), &text) {
                Ok(config) => {
                    tally.note("valid");
                    prop_assert!(config.levels.windows(2).all(|w| w[0].rank <= w[1].rank));
                }
                Err(problems) => {
                    tally.note("refused");
                    prop_assert!(!problems.0.is_empty());
                    for problem in &problems.0 {
                        if let Some(line) = problem.line {
                            prop_assert!((1..=last_line(&text)).contains(&line), "{problem}");
                        }
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn markdown_with_raw_html_renders_and_its_urls_resolve_never_panic() {
    let highlighter = highlighter();
    let strategy = (mutate::text(&seeds::MARKDOWN_HTML), any::<bool>());
    fuzz(
        "markdown_html",
        1.0,
        strategy,
        |(markdown, highlight), tally| {
            let highlighter =
                (highlight && markdown.len() <= HIGHLIGHT_MAX).then_some(&highlighter);
            let rendered = content::render_markdown(&markdown, highlighter);
            tally.note(if rendered.toc.is_empty() {
                "no headings"
            } else {
                "headings"
            });
            if let Some(at) = rendered.more_at {
                tally.note("teaser");
                prop_assert!(
                    markdown.is_char_boundary(at),
                    "the teaser ends mid-character"
                );
            }
            for html in [rendered.html.as_str(), markdown.as_str()] {
                for found in url_refs(html) {
                    tally.note("url");
                    let written = html.get(found.range.clone());
                    prop_assert!(written.is_some(), "{:?} is not in the HTML", found.range);
                    prop_assert_eq!(
                        decode_entities(written.unwrap_or_default()),
                        found.value.clone()
                    );
                    if let Some((path, _)) = resolve(&found.value, "/course/lesson/", SITE) {
                        tally.note("resolved");
                        prop_assert!(path.starts_with('/'));
                        prop_assert!(
                            path.split('/').all(|s| s != ".." && s != "."),
                            "{} resolves to {path}",
                            found.value
                        );
                    }
                }
            }
            Ok(())
        },
    );
}

const SITE: &str = "https://academy.example.com";

#[test]
fn rule_texts_grants_and_durations_parse_canonically_never_panic() {
    let (site, config) = demo_site();
    fuzz(
        "rules_grants_durations",
        1.0,
        mutate::text(&seeds::RULE),
        |text, tally| {
            if let Ok(rule) = Rule::parse(&text) {
                tally.note("rule");
                prop_assert_eq!(rule.text(), text.clone(), "only the canonical text parses");
                prop_assert_eq!(rule.gate_id().as_str().len(), 16);
            }
            if let Ok(grant) = parse_grant(&text, &config) {
                tally.note("grant");
                prop_assert_eq!(grant_text(&grant), text.clone());
            }
            if let Ok(seconds) = config::parse_duration(&text) {
                tally.note("duration");
                prop_assert!(seconds <= 100 * 366 * DAY);
            }
            if let Ok(interval) = config::parse_interval(&text) {
                tally.note("interval");
                prop_assert!(interval.count >= 1);
                let _ = interval.max_seconds();
            }
            if gatehouse::instant::parse_instant(&text).is_ok() {
                tally.note("instant");
            }
            let _ = content::parse_date(&text);
            let _ = DeployTarget::parse(&text, site.path());
            let _ = MasterSecret::from_base64url(&text);
            let _ = gatehouse::percent::decode(&text);
            if let Ok(glob) = gatehouse::glob::Glob::new(&text) {
                tally.note("glob");
                // Its own text is the subject most like it: every wildcard has a choice.
                let own: String = text.chars().filter(|&c| c != '/').take(200).collect();
                let own = format!("/{own}");
                for path in ["/course/lesson/cover.png", &own, &format!("{own}{own}")] {
                    let _ = glob.matches(path);
                }
            }
            if let Some(salt) = FileSalt::from_hex(&text) {
                prop_assert_eq!(salt.hex(), text.clone());
            }
            if let Some(bytes) = gate::from_hex(&text) {
                prop_assert_eq!(gate::to_hex(&bytes), text.to_ascii_lowercase());
            }
            Ok(())
        },
    );
}

#[test]
fn stripe_event_json_is_read_or_refused_never_panics() {
    let states = [
        SubState::None,
        SubState::Active,
        SubState::PendingCancel(Timestamp::from_second(1_800_000_000).unwrap()),
        SubState::Overdue,
        SubState::Cancelled,
        SubState::PaidInFull,
    ];
    let strategy = (mutate::json(&seeds::STRIPE_EVENT), any::<bool>());
    fuzz("stripe_event_json", 1.0, strategy, |(body, plan), tally| {
        let Ok(event) = StripeEvent::parse(&body) else {
            tally.note("refused");
            return Ok(());
        };
        let object = &event.object;
        prop_assert!(object.is_object());
        let _ = stripe::text(object, "id");
        let _ = stripe::id_of(object, "customer");
        let _ = stripe::subscription_prices(object);
        let _ = stripe::period_end(object);
        let _ = stripe::invoice_subscription(object);
        let _ = stripe::invoice_prices(object);
        let _ = stripe::session_prices(object);
        let _ = stripe::session_email(object);
        let _ = stripe::metadata_product(object);
        let target = subscription_state(object, &event.kind, plan);
        tally.note(target.name());
        prop_assert_eq!(SubState::from_text(&target.to_text()), target);
        for written in states {
            let (_, next) = steps(written, target);
            let (again, _) = steps(next, target);
            prop_assert!(
                again.is_empty(),
                "{written:?} → {target:?} is not idempotent"
            );
        }
        Ok(())
    });
}

#[test]
fn stripe_events_applied_to_a_store_never_panic() {
    let (site, config) = demo_site();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}", site.path().join("fuzz.db").display());
    let store = runtime.block_on(Store::open(&url)).unwrap();
    let now = Timestamp::from_second(1_767_226_000).unwrap();
    let next_id = AtomicU64::new(0);
    // Each case is about a buyer of its own (the seeds' ids and email renamed), so that it can
    // make a member rather than replay what an earlier case bought.
    let strategy = (
        "[a-z]{1,3}",
        prop::collection::vec(mutate::json(&seeds::STRIPE_EVENT), 1..5),
    )
        .prop_map(|(buyer, bodies)| {
            let rename = |body: Vec<u8>| match String::from_utf8(body) {
                Ok(text) => text.replace("fuzz", &buyer).into_bytes(),
                Err(not_text) => not_text.into_bytes(),
            };
            bodies.into_iter().map(rename).collect::<Vec<_>>()
        });
    // Events accumulate in one database, as they do at an edge: later cases meet the members
    // and subscriptions that earlier ones made.
    fuzz("stripe_events_applied", 0.25, strategy, |bodies, tally| {
        runtime.block_on(async {
            for body in bodies {
                let payload = String::from_utf8_lossy(&body);
                let (kind, created) = StripeEvent::parse(&body)
                    .map_or(("unreadable".to_owned(), 0), |e| (e.kind, e.created));
                let id = format!("evt_fuzz_{}", next_id.fetch_add(1, Ordering::Relaxed));
                store
                    .record_stripe_event(&id, &kind, created, &payload, now)
                    .await
                    .unwrap();
                let applied = gatehouse::payments::apply_stored(&store, &config, &id, now).await;
                match applied {
                    Ok(Some(applied)) if applied.outcome.starts_with("failed: unreadable") => {
                        tally.note("unreadable")
                    }
                    Ok(Some(applied)) if applied.members.is_empty() => tally.note("no change"),
                    Ok(Some(_)) => tally.note("changed a member"),
                    other => prop_assert!(false, "{id}: {other:?}"),
                }
            }
            Ok(())
        })
    });
}

#[test]
fn stripe_signature_headers_verify_only_the_signed_body_never_panic() {
    const SECRET: &str = "whsec_fuzz";
    let times = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        1_700_000_000i64..1_900_000_000,
        any::<i64>(),
    ];
    let strategy = (
        times.clone(),
        times,
        prop::collection::vec(any::<u8>(), 0..64),
        mutate::edits(),
        prop::collection::vec(mutate::bytes(&HEADER), 0..2),
    );
    fuzz(
        "stripe_signature",
        1.0,
        strategy,
        |(signed_at, now, body, edits, headers), tally| {
            let header = signature::sign(SECRET, signed_at, &body);
            let verified = signature::verify(Some(&header), &body, &[SECRET], signed_at);
            prop_assert_eq!(verified, Ok(signed_at));
            let _ = signature::verify(Some(&header), &body, &[SECRET], now);
            let changed = mutate::apply_edits(body.clone(), &edits);
            if changed != body {
                let refused = signature::verify(Some(&header), &changed, &[SECRET], signed_at);
                prop_assert!(refused.is_err(), "a changed body passed");
            }
            let mangled = mutate::apply_edits(header.into_bytes(), &edits);
            for header in headers.into_iter().chain([mangled]) {
                let header = String::from_utf8_lossy(&header);
                let _ = signature::verify(Some(&header), &body, &[SECRET, ""], now);
                match signature::verify(Some(&header), &body, &[SECRET], signed_at) {
                    Ok(_) => tally.note("verified"),
                    Err(SignatureError::Mismatch) => tally.note("mismatch"),
                    Err(SignatureError::Stale { .. }) => tally.note("stale"),
                    Err(_) => tally.note("malformed"),
                }
            }
            Ok(())
        },
    );
}

/// `Stripe-Signature` headers, beyond the ones the test signs.
const HEADER: mutate::Format = mutate::Format {
    seeds: &["t=1767225600,v1=0a", "t=1767225600,v1=00,v1=ff,v0=11"],
    tokens: &["t=", "v1=", "v0=", ",", "=", " "],
    values: &[
        "-9223372036854775808",
        "9223372036854775807",
        "1767225600",
        "zz",
        "",
    ],
};

#[test]
fn members_import_csv_rows_are_read_or_refused_by_line_never_panic() {
    let (_site, config) = demo_site();
    let now = Timestamp::from_second(1_767_225_600).unwrap();
    fuzz(
        "members_import_csv",
        1.0,
        mutate::bytes(&seeds::CSV),
        |bytes, tally| {
            let (imported, errors) = gatehouse::cli::check_members_import(&bytes, now, &config);
            tally.note(if errors.is_empty() {
                "valid"
            } else {
                "refused"
            });
            if imported > 0 {
                tally.note("members");
            }
            let last = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            for (line, message) in &errors {
                prop_assert!(
                    (1..=last).contains(line),
                    "line {line} of {last}: {message}"
                );
            }
            Ok(())
        },
    );
}

fn gate_key(epoch: u32) -> (GateKey, gate::GateId) {
    let rule = Rule::new(Some("gold"), &["pricing-course"], 1_209_600).unwrap();
    let key = gate::derive_key(&MasterSecret::from_bytes([9; 32]), epoch, &rule);
    (key, rule.gate_id())
}

#[test]
fn gh2_envelopes_open_to_what_was_sealed_and_refuse_any_change() {
    let (key, gate_id) = gate_key(3);
    let (other_epoch, _) = gate_key(4);
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..1024),
        "/[a-z0-9/é-]{0,24}",
        mutate::edits(),
        prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 0..64)),
    );
    fuzz(
        "gh2_envelope",
        1.0,
        strategy,
        |(plain, path, edits, random), tally| {
            let sealed = gate::seal(&key, &gate_id, &path, &plain);
            prop_assert_eq!(
                gate::open(&key, &gate_id, &path, &sealed),
                Ok(plain.clone())
            );
            let other_path = format!("{path}x");
            prop_assert!(gate::open(&key, &gate_id, &other_path, &sealed).is_err());
            prop_assert!(gate::open(&other_epoch, &gate_id, &path, &sealed).is_err());
            let changed = random.unwrap_or_else(|| mutate::apply_edits(sealed.clone(), &edits));
            let _ = gate::envelope_epoch(&changed);
            prop_assert_eq!(gate::envelope_file_name(&changed).len(), 20);
            let opened = gate::open(&key, &gate_id, &path, &changed);
            if changed == sealed {
                tally.note("unchanged");
                prop_assert_eq!(opened, Ok(plain));
            } else {
                tally.note("changed");
                prop_assert_eq!(opened, Err(OpenError::Corrupt));
            }
            Ok(())
        },
    );
}

/// A change to a GHF2 header field, so that a length or a meta length that lies is tried.
#[derive(Debug, Clone)]
enum HeaderLie {
    Length(u64),
    LengthBy(i64),
    MetaLength(u32),
    RecordSize(u32),
}

fn header_lie() -> impl Strategy<Value = Option<HeaderLie>> {
    prop::option::weighted(
        0.3,
        prop_oneof![
            prop_oneof![
                Just(u64::MAX),
                Just(u64::MAX / 16),
                any::<u64>(),
                0..200_000u64
            ]
            .prop_map(HeaderLie::Length),
            (-70_000i64..70_000).prop_map(HeaderLie::LengthBy),
            prop_oneof![Just(u32::MAX), Just(0), 0..32u32, 0..5000u32]
                .prop_map(HeaderLie::MetaLength),
            prop_oneof![Just(0), Just(RECORD_SIZE as u32 * 2), any::<u32>()]
                .prop_map(HeaderLie::RecordSize),
        ],
    )
}

fn tell(object: &mut [u8], lie: &HeaderLie) {
    let length = u64::from_be_bytes(object[8..16].try_into().unwrap());
    match *lie {
        HeaderLie::Length(n) => object[8..16].copy_from_slice(&n.to_be_bytes()),
        HeaderLie::LengthBy(by) => {
            let n = length.wrapping_add_signed(by);
            object[8..16].copy_from_slice(&n.to_be_bytes());
        }
        HeaderLie::MetaLength(n) => object[32..36].copy_from_slice(&n.to_be_bytes()),
        HeaderLie::RecordSize(n) => object[4..8].copy_from_slice(&n.to_be_bytes()),
    }
}

#[test]
fn ghf2_sealed_files_open_to_what_was_sealed_and_refuse_any_change() {
    let root = FilesRoot::derive(&MasterSecret::from_bytes([5; 32]));
    let sizes = prop_oneof![
        8 => 0..400usize,
        1 => (RECORD_SIZE - 2)..(RECORD_SIZE + 3),
        1 => (2 * RECORD_SIZE - 1)..(2 * RECORD_SIZE + 2),
    ];
    let strategy = (
        sizes,
        any::<u8>(),
        "\\PC{0,40}",
        "[a-z]{1,12}/[a-z0-9.+-]{1,20}",
        mutate::edits(),
        header_lie(),
        "[0-9a-fA-F]{0,34}",
    );
    fuzz(
        "ghf2_sealed_file",
        1.0,
        strategy,
        |(size, fill, name, media_type, edits, lie, other_name), tally| {
            let content: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(fill)).collect();
            let sealed = sealed_file::seal_bytes(&root, &name, &media_type, &content);
            let name_hex = sealed.salt.hex();
            let opened = sealed_file::open_object(&sealed.key, &name_hex, &sealed.object);
            prop_assert_eq!(
                opened.map(|o| (o.meta, o.content)),
                Ok((sealed_file::meta_json(&name, &media_type), content.clone()))
            );
            if other_name != name_hex {
                let named_otherwise =
                    sealed_file::open_object(&sealed.key, &other_name, &sealed.object);
                prop_assert!(named_otherwise.is_err());
            }
            let mut changed = mutate::apply_edits(sealed.object.clone(), &edits);
            if let Some(lie) = &lie
                && changed.len() >= HEADER_LEN
            {
                tell(&mut changed, lie);
            }
            let opened = sealed_file::open_object(&sealed.key, &name_hex, &changed);
            if size > RECORD_SIZE {
                tally.note("several records");
            }
            if changed == sealed.object {
                tally.note("unchanged");
                prop_assert!(opened.is_ok());
            } else {
                tally.note("changed");
                prop_assert!(opened.is_err(), "a changed object opened");
            }
            Ok(())
        },
    );
}

#[test]
fn s3_xml_listings_are_read_or_refused_never_panic() {
    let key = prop_oneof![
        "\\PC{0,24}",
        "[a-z/]{0,8}(&|<|>|;|&amp;|&#|</Key>|<Contents>){0,3}[a-zé]{0,4}",
    ];
    let strategy = (
        mutate::text(&seeds::XML),
        prop::collection::vec(key, 0..6),
        prop::option::of("\\PC{1,16}"),
    );
    fuzz("s3_xml", 1.0, strategy, |(text, keys, token), tally| {
        let listed = xml::listing(&text);
        tally.note(match listed {
            Ok(page) if !page.keys.is_empty() => "keys",
            Ok(_) => "no keys",
            Err(_) => "refused",
        });
        let _ = xml::first(&text, "Code");
        let _ = xml::all(&text, "Key");
        let _ = xml::unescape(&text);
        prop_assert_eq!(xml::unescape(&xml::escape(&text)), text.clone());
        let page = listing_page(&keys, token.as_deref());
        let read = xml::listing(&page);
        prop_assert_eq!(
            read,
            Ok(xml::Listing {
                keys,
                next: token.filter(|t| !t.is_empty())
            })
        );
        Ok(())
    });
}

/// A ListObjectsV2 page listing `keys`, truncated when a `token` follows.
fn listing_page(keys: &[String], token: Option<&str>) -> String {
    let mut page = String::from("<?xml version=\"1.0\"?><ListBucketResult>");
    match token {
        Some(token) => page.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextContinuationToken>{}</NextContinuationToken>",
            xml::escape(token)
        )),
        None => page.push_str("<IsTruncated>false</IsTruncated>"),
    }
    for key in keys {
        page.push_str(&format!(
            "<Contents><Key>{}</Key><Size>1</Size></Contents>",
            xml::escape(key)
        ));
    }
    page.push_str("</ListBucketResult>");
    page
}
