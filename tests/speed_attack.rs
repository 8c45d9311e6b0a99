//! Regressions from the attacker review of the speed work (issue 18): a forged highlight
//! cache, the `/keys` answer's bytes, and strangers churning the rule cache.

#![allow(clippy::unwrap_used)]

mod common;

use common::Site;
use common::edge::TestEdge;
use gatehouse::gate::{MasterSecret, Rule, derive_key};
use jiff::Timestamp;
use ring::digest::{SHA256, digest};

const CACHE: &str = ".gatehouse/highlight.cache";

/// The entries of a highlight cache file: (key, html), plus its magic+version prefix.
fn read_cache(bytes: &[u8]) -> (Vec<u8>, Vec<([u8; 32], String)>) {
    let body = &bytes[..bytes.len() - 32];
    let u32_at = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().unwrap()) as usize;
    let version_len = u32_at(8);
    let mut at = 12 + version_len;
    let prefix = body[..at].to_vec();
    let count = u32_at(at);
    at += 4;
    let mut entries = Vec::new();
    for _ in 0..count {
        let key: [u8; 32] = body[at..at + 32].try_into().unwrap();
        let len = u32_at(at + 32);
        let html = String::from_utf8(body[at + 36..at + 36 + len].to_vec()).unwrap();
        at += 36 + len;
        entries.push((key, html));
    }
    (prefix, entries)
}

/// A cache file anyone can write: the trailer is a plain SHA-256, no key needed.
fn write_cache(prefix: &[u8], entries: &[([u8; 32], String)]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (key, html) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(&(html.len() as u32).to_le_bytes());
        out.extend_from_slice(html.as_bytes());
    }
    let sum = digest(&SHA256, &out);
    out.extend_from_slice(sum.as_ref());
    out
}

const PAYLOAD: &str = "<script>fetch('/_gate/keys',{method:'POST',credentials:'include'})</script><img src=x onerror=alert(document.domain)>";

/// A site with one public code block, built once (so the cache holds it), then the cache
/// rewritten with `PAYLOAD` before that block's HTML, its checksum made right.
fn site_with_a_forged_cache() -> Site {
    let site = Site::fixture("leak");
    site.write(
        "content/blog/code.md",
        "---\ntitle: Code\n---\n\n```rust\nfn open_zqxcode1() -> u8 { 1 }\n```\n",
    );
    site.build_into(&site.root().join("one")).unwrap();
    let honest = std::fs::read(site.path(CACHE)).unwrap();
    let (prefix, mut entries) = read_cache(&honest);
    let mut forged = 0;
    for (_, html) in &mut entries {
        if html.contains("open_zqxcode1") {
            *html = format!("{PAYLOAD}{html}");
            forged += 1;
        }
    }
    assert_eq!(forged, 1);
    std::fs::write(site.path(CACHE), write_cache(&prefix, &entries)).unwrap();
    site
}

#[test]
fn a_forged_highlight_cache_puts_no_script_into_a_page() {
    let site = site_with_a_forged_cache();
    // The next build (what CI does after restoring `.gatehouse/` from a cache).
    let report = site.build_into(&site.root().join("two")).unwrap();
    assert_eq!(
        report.code_blocks.1, 1,
        "the forged block is highlighted again"
    );
    let page = std::fs::read_to_string(site.root().join("two/blog/code/index.html")).unwrap();
    assert!(!page.contains("<script>fetch"), "{page}");
    assert!(!page.contains("onerror"), "{page}");
    assert!(
        page.contains("open_zqxcode1"),
        "the block is still there: {page}"
    );
}

#[test]
fn a_forged_cache_entry_is_replaced_by_the_next_save() {
    let site = site_with_a_forged_cache();
    site.build_into(&site.root().join("two")).unwrap();
    let (_, entries) = read_cache(&std::fs::read(site.path(CACHE)).unwrap());
    assert!(
        entries.iter().all(|(_, html)| !html.contains("<script>")),
        "the forged entry was written back"
    );
    let report = site.build_into(&site.root().join("three")).unwrap();
    assert_eq!(
        report.code_blocks.1, 0,
        "the replacement is used: {report:?}"
    );
}

const GOLD: &str = "level=gold;bundles=-;drip=0";
const SILVER_DRIP_7D: &str = "level=silver;bundles=-;drip=604800";
const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
const PASSWORD: &str = "correct horse battery";

/// An edge with one gold member, three days in, logged in: the edge and the member's cookie.
async fn gold_member_logged_in() -> (TestEdge, String) {
    let edge = TestEdge::sqlite().await;
    let since = Timestamp::from_second(Timestamp::now().as_second() - 3 * 86_400).unwrap();
    edge.add_member(
        "alice@example.com",
        "gold",
        &since.to_string(),
        Some(PASSWORD),
    )
    .await;
    let cookie = edge.login("alice@example.com", PASSWORD).await;
    (edge, cookie)
}

fn gate(rule: &str) -> String {
    Rule::parse(rule).unwrap().gate_id().as_str().to_owned()
}

#[tokio::test]
async fn the_keys_answer_is_byte_for_byte_the_old_json() {
    let (edge, cookie) = gold_member_logged_in().await;
    let answer = edge
        .keys(&[GOLD, SILVER_DRIP_7D, COURSE, GOLD], Some(&cookie))
        .await;
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    let key = derive_key(&secret, 1, &Rule::parse(GOLD).unwrap()).to_base64url();
    let body = answer.json();
    let unlocks = body["locked"][gate(SILVER_DRIP_7D)]["unlocks_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let unlocks_at: Timestamp = unlocks.parse().unwrap();
    assert_eq!(
        unlocks,
        unlocks_at.to_string(),
        "RFC 3339 as jiff writes it"
    );
    // What the old handler wrote with serde_json::json!.
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(gate(GOLD), serde_json::json!(key));
    let mut locked = std::collections::BTreeMap::new();
    locked.insert(
        gate(SILVER_DRIP_7D),
        serde_json::json!({"reason": "drip", "unlocks_at": unlocks}),
    );
    locked.insert(gate(COURSE), serde_json::json!({"reason": "bundle"}));
    let old = serde_json::json!({"epoch": 1, "keys": keys, "locked": locked}).to_string();
    assert_eq!(answer.body, old);

    let anonymous = edge.keys(&[GOLD], None).await;
    let old =
        serde_json::json!({"epoch": 1, "keys": {}, "locked": {gate(GOLD): {"reason": "login"}}})
            .to_string();
    assert_eq!(anonymous.body, old);
}

#[tokio::test]
async fn a_visitor_churning_the_rule_cache_changes_no_members_keys() {
    let (edge, cookie) = gold_member_logged_in().await;
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    let expected = derive_key(&secret, 1, &Rule::parse(GOLD).unwrap()).to_base64url();
    // 80 requests x 64 new valid texts: more than the 4096 the cache holds, so it clears.
    for round in 0..80u64 {
        let texts: Vec<String> = (0..64u64)
            .map(|i| format!("level=gold;bundles=-;drip={}", 1_000_000 + round * 64 + i))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let answer = edge.keys(&refs, None).await;
        assert_eq!(answer.status, 200, "no session: 200, every gate locked");
        if round % 7 == 0 {
            let mine = edge
                .keys(&[GOLD, "level=gold;bundles=-;drip=1000000"], Some(&cookie))
                .await;
            let body = mine.json();
            assert_eq!(body["keys"][gate(GOLD)], expected.as_str());
            assert_eq!(
                body["locked"][gate("level=gold;bundles=-;drip=1000000")]["reason"],
                "drip"
            );
        }
    }
    // Refused texts stay refused, even right after a valid look-alike was cached.
    let answer = edge.keys(&["level=nobody;bundles=-;drip=0"], None).await;
    assert_eq!(answer.status, 400);
    let answer = edge.keys(&["level=gold;bundles=-;drip=00"], None).await;
    assert_eq!(answer.status, 400);
}
