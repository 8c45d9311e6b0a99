//! Known-answer vectors for DESIGN §4, produced by an independent implementation written from
//! the design alone (tests/vectors/reference.py). Every byte of our output must match.

#![allow(clippy::unwrap_used)]

use gatehouse::gate::{
    GateKey, MasterSecret, Rule, derive_key, envelope_file_name, open, seal, to_hex,
};
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
    gate_id: String,
    key_hex: String,
    path: String,
    plaintext: String,
    nonce_hex: String,
    aad: String,
    envelope_hex: String,
    file_name: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/envelope_v1.json");
    serde_json::from_str(text).expect("envelope_v1.json parses")
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
        assert_eq!(rule.gate_id().as_str(), v.gate_id, "{}: gate id", v.name);

        let secret = MasterSecret::from_base64url(&v.secret_b64url).unwrap();
        let key = derive_key(&secret, v.epoch, &rule);
        assert_eq!(to_hex(key.as_bytes()), v.key_hex, "{}: key", v.name);

        let envelope = seal(&key, &rule.gate_id(), &v.path, v.plaintext.as_bytes());
        assert_eq!(to_hex(&envelope), v.envelope_hex, "{}: envelope", v.name);
        assert_eq!(to_hex(&envelope[7..19]), v.nonce_hex, "{}: nonce", v.name);
        assert_eq!(
            envelope_file_name(&envelope),
            v.file_name,
            "{}: file name",
            v.name
        );
        assert_eq!(
            v.aad,
            format!("gatehouse/v1\n{}\n{}", v.gate_id, v.path),
            "{}: the vector's AAD follows the contract",
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
    for v in vectors().into_iter().filter(|v| v.level.is_some()) {
        let rule = Rule::parse(&v.rule).unwrap();
        let bytes: Vec<u8> = (0..v.key_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&v.key_hex[i..i + 2], 16).unwrap())
            .collect();
        let key = GateKey::from_bytes(bytes.try_into().unwrap(), v.epoch);
        let envelope: Vec<u8> = (0..v.envelope_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&v.envelope_hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            open(&key, &rule.gate_id(), &v.path, &envelope).unwrap(),
            v.plaintext.as_bytes()
        );
    }
}
