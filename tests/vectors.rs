//! Known-answer vectors for DESIGN §4 (contract version 2), produced by an independent
//! implementation written from the design alone (tests/vectors/reference.py). Every byte of our
//! output must match: page and block envelopes (GH2) and sealed files (GHF2).

#![allow(clippy::unwrap_used)]

use gatehouse::gate::file::{self, FileSalt, FilesRoot};
use gatehouse::gate::{
    GateKey, MasterSecret, Rule, derive_key, envelope_file_name, from_hex, open, seal, to_hex,
};
use ring::digest;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret_b64url: String,
    epoch: u32,
    level: Option<String>,
    bundles: Vec<String>,
    drip_seconds: u64,
    rule: String,
    // Null for the one rule that gatehouse must refuse.
    gate_id: Option<String>,
    key_hex: Option<String>,
    path: String,
    plaintext: String,
    nonce_hex: Option<String>,
    aad: Option<String>,
    envelope_hex: Option<String>,
    file_name: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/envelope_v2.json");
    serde_json::from_str(text).expect("envelope_v2.json parses")
}

#[test]
fn vectors_file_covers_the_cases_it_promises() {
    let all = vectors();
    assert!(
        all.len() >= 8,
        "expected at least 8 vectors, found {}",
        all.len()
    );
    assert!(all.iter().any(|v| v.epoch != 1), "an epoch other than 1");
    assert!(
        all.iter().any(|v| v.plaintext.is_empty()),
        "an empty plaintext"
    );
    assert!(
        all.iter().any(|v| !v.plaintext.is_ascii()),
        "a non-ASCII plaintext"
    );
    assert!(
        all.iter().any(|v| v.path.ends_with("/bundle")),
        "a bundle envelope"
    );
    assert!(
        all.iter()
            .any(|v| v.bundles.windows(2).any(|w| w[0] > w[1])),
        "bundles written out of order"
    );
}

#[test]
fn every_vector_matches_byte_for_byte() {
    let mut checked = 0;
    for v in vectors() {
        let rule = match Rule::new(v.level.as_deref(), &v.bundles, v.drip_seconds) {
            Ok(rule) => rule,
            Err(_) => {
                // A rule with neither level nor bundles is legal text but opens for nobody;
                // gatehouse refuses to build one, and must refuse to parse it too.
                assert_eq!(
                    v.rule, "level=-;bundles=-;drip=0",
                    "{}: unexpected refusal",
                    v.name
                );
                assert!(Rule::parse(&v.rule).is_err(), "{}", v.name);
                continue;
            }
        };
        assert_eq!(rule.text(), v.rule, "{}: canonical rule", v.name);
        assert_eq!(
            Rule::parse(&v.rule).unwrap(),
            rule,
            "{}: rule parses back",
            v.name
        );
        let gate_id = v.gate_id.as_deref().unwrap();
        assert_eq!(rule.gate_id().as_str(), gate_id, "{}: gate id", v.name);

        let secret = MasterSecret::from_base64url(&v.secret_b64url).unwrap();
        let key = derive_key(&secret, v.epoch, &rule);
        assert_eq!(Some(to_hex(key.as_bytes())), v.key_hex, "{}: key", v.name);

        let envelope = seal(&key, &rule.gate_id(), &v.path, v.plaintext.as_bytes());
        assert_eq!(
            Some(to_hex(&envelope)),
            v.envelope_hex,
            "{}: envelope",
            v.name
        );
        assert_eq!(&envelope[..3], b"GH2", "{}: magic", v.name);
        assert_eq!(
            Some(to_hex(&envelope[7..19])),
            v.nonce_hex,
            "{}: nonce",
            v.name
        );
        assert_eq!(
            Some(envelope_file_name(&envelope)),
            v.file_name,
            "{}: file name",
            v.name
        );
        assert_eq!(
            v.aad.as_deref(),
            Some(format!("gatehouse/v2\n{gate_id}\n{}\n{}", v.path, v.epoch).as_str()),
            "{}: the vector's AAD follows the contract",
            v.name
        );
        // The epoch is inside the AAD: the same bytes relabelled as another epoch, opened with
        // that epoch's key bytes, fail.
        let mut relabelled = envelope.clone();
        relabelled[3..7].copy_from_slice(&v.epoch.wrapping_add(1).to_be_bytes());
        let same_bytes = GateKey::from_bytes(*key.as_bytes(), v.epoch.wrapping_add(1));
        assert!(
            open(&same_bytes, &rule.gate_id(), &v.path, &relabelled).is_err(),
            "{}: a relabelled epoch must not open",
            v.name
        );

        let opened = open(&key, &rule.gate_id(), &v.path, &envelope).unwrap();
        assert_eq!(opened, v.plaintext.as_bytes(), "{}: opens", v.name);
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} vectors were checked");
}

#[test]
fn a_key_received_as_bytes_opens_the_vector_envelope() {
    // The browser and other tools receive K as bytes (base64url), not as a derivation.
    for v in vectors().into_iter().filter(|v| v.key_hex.is_some()) {
        let rule = Rule::parse(&v.rule).unwrap();
        let bytes = from_hex(v.key_hex.as_deref().unwrap()).unwrap();
        let key = GateKey::from_bytes(bytes.try_into().unwrap(), v.epoch);
        let envelope = from_hex(v.envelope_hex.as_deref().unwrap()).unwrap();
        assert_eq!(
            open(&key, &rule.gate_id(), &v.path, &envelope).unwrap(),
            v.plaintext.as_bytes()
        );
    }
}

#[derive(Deserialize)]
struct FileVector {
    name: String,
    secret_b64url: String,
    file_name: String,
    media_type: String,
    meta: String,
    length: usize,
    seed: u64,
    plaintext_hex: Option<String>,
    salt_hex: String,
    file_key_hex: String,
    header_hex: String,
    sealed_meta_hex: String,
    object_len: u64,
    object_sha256_hex: String,
    object_hex: Option<String>,
    object_name: String,
}

fn file_vectors() -> Vec<FileVector> {
    serde_json::from_str(include_str!("vectors/file_v2.json")).expect("file_v2.json parses")
}

/// The vectors' plaintext: byte i = (i·7 + seed) mod 256.
fn file_plaintext(v: &FileVector) -> Vec<u8> {
    (0..v.length as u64)
        .map(|i| (i.wrapping_mul(7).wrapping_add(v.seed) & 0xFF) as u8)
        .collect()
}

#[test]
fn file_vectors_cover_every_record_boundary() {
    let lengths: Vec<usize> = file_vectors().iter().map(|v| v.length).collect();
    for wanted in [0, 1, file::RECORD_SIZE, file::RECORD_SIZE + 1] {
        assert!(lengths.contains(&wanted), "a file of {wanted} bytes");
    }
    assert!(
        lengths.iter().any(|&l| l > 2 * file::RECORD_SIZE),
        "several records"
    );
    assert!(
        file_vectors().iter().any(|v| !v.file_name.is_ascii()),
        "a non-ASCII name"
    );
}

#[test]
fn every_file_vector_matches_byte_for_byte() {
    for v in file_vectors() {
        let content = file_plaintext(&v);
        if let Some(hex) = &v.plaintext_hex {
            assert_eq!(&to_hex(&content), hex, "{}: the plaintext rule", v.name);
        }
        assert_eq!(
            file::meta_json(&v.file_name, &v.media_type),
            v.meta,
            "{}: meta",
            v.name
        );
        let secret = MasterSecret::from_base64url(&v.secret_b64url).unwrap();
        let root = FilesRoot::derive(&secret);
        let sealed = file::seal_bytes(&root, &v.file_name, &v.media_type, &content);
        assert_eq!(sealed.salt.hex(), v.salt_hex, "{}: salt", v.name);
        assert_eq!(
            to_hex(sealed.key.as_bytes()),
            v.file_key_hex,
            "{}: file key",
            v.name
        );
        assert_eq!(
            format!("{}.bin", sealed.salt.hex()),
            v.object_name,
            "{}: object name",
            v.name
        );
        assert_eq!(
            to_hex(&sealed.object[..file::HEADER_LEN]),
            v.header_hex,
            "{}: header",
            v.name
        );
        let meta_end = file::HEADER_LEN + v.sealed_meta_hex.len() / 2;
        assert_eq!(
            to_hex(&sealed.object[file::HEADER_LEN..meta_end]),
            v.sealed_meta_hex,
            "{}: sealed meta",
            v.name
        );
        assert_eq!(
            sealed.object.len() as u64,
            v.object_len,
            "{}: length",
            v.name
        );
        assert_eq!(
            to_hex(digest::digest(&digest::SHA256, &sealed.object).as_ref()),
            v.object_sha256_hex,
            "{}: object hash",
            v.name
        );
        if let Some(hex) = &v.object_hex {
            assert_eq!(&to_hex(&sealed.object), hex, "{}: object", v.name);
        }
        let opened = file::open_object(&sealed.key, &v.salt_hex, &sealed.object).unwrap();
        assert_eq!(opened.content, content, "{}: opens", v.name);
        assert_eq!(opened.meta, v.meta, "{}: meta opens", v.name);
    }
}

#[test]
fn a_file_key_and_salt_received_as_text_open_the_vector_object() {
    // The browser receives FK as base64url in `data-gh-files` and the salt as the object name.
    for v in file_vectors()
        .into_iter()
        .filter(|v| v.object_hex.is_some())
    {
        let salt: [u8; 16] = from_hex(&v.salt_hex).unwrap().try_into().unwrap();
        let secret = MasterSecret::from_base64url(&v.secret_b64url).unwrap();
        let key = FilesRoot::derive(&secret).file_key(&FileSalt::from_bytes(salt));
        let object = from_hex(v.object_hex.as_deref().unwrap()).unwrap();
        let opened = file::open_object(&key, &v.salt_hex, &object).unwrap();
        assert_eq!(opened.content, file_plaintext(&v), "{}", v.name);
    }
}
