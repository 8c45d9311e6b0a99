//! Envelopes (DESIGN §4, version 2): `"GH2"` · epoch (u32 BE) · nonce (12) · AES-256-GCM
//! ciphertext‖tag, with a deterministic nonce so an unchanged page seals to the same bytes on
//! every build, and the epoch inside the AAD so a changed header cannot pass as another epoch.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{digest, hmac};

use super::hex::to_hex;
use super::key::GateKey;
use super::rule::GateId;

const MAGIC: &[u8; 3] = b"GH2";
const HEADER_LEN: usize = MAGIC.len() + 4 + NONCE_LEN;

/// Why an envelope did not open. Deliberately coarse: callers must not learn which check failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the envelope is corrupt, was tampered with, or belongs to another page or key")]
    Corrupt,
}

fn aad(gate: &GateId, path: &str, epoch: u32) -> Vec<u8> {
    format!("gatehouse/v2\n{gate}\n{path}\n{epoch}").into_bytes()
}

fn cipher(key: &GateKey) -> LessSafeKey {
    let unbound =
        UnboundKey::new(&AES_256_GCM, key.as_bytes()).expect("a GateKey is always 32 bytes");
    LessSafeKey::new(unbound)
}

fn nonce_for(key: &GateKey, path: &str, plaintext: &[u8]) -> [u8; NONCE_LEN] {
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut ctx = hmac::Context::with_key(&mac_key);
    ctx.update(b"nonce\n");
    ctx.update(path.as_bytes());
    ctx.update(b"\n");
    ctx.update(plaintext);
    let tag = ctx.sign();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&tag.as_ref()[..NONCE_LEN]);
    nonce
}

/// Seals `plaintext` (the rendered body of the page at URL `path`) into envelope bytes.
pub fn seal(key: &GateKey, gate: &GateId, path: &str, plaintext: &[u8]) -> Vec<u8> {
    let nonce = nonce_for(key, path, plaintext);
    let tag_len = AES_256_GCM.tag_len();
    // One buffer, one copy of the plaintext: builds write thousands of envelopes.
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + tag_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key.epoch().to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher(key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(gate, path, key.epoch())),
            &mut out[HEADER_LEN..],
        )
        .expect("AES-GCM sealing fails only past 64 GiB of plaintext");
    out.extend_from_slice(tag.as_ref());
    out
}

/// The epoch written in an envelope's header, if the header is well formed.
pub fn envelope_epoch(envelope: &[u8]) -> Option<u32> {
    if envelope.len() < HEADER_LEN || &envelope[..3] != MAGIC {
        return None;
    }
    let epoch: [u8; 4] = envelope[3..7].try_into().ok()?;
    Some(u32::from_be_bytes(epoch))
}

/// Opens an envelope sealed for `gate` at `path`; any changed byte, path, key or epoch fails.
pub fn open(
    key: &GateKey,
    gate: &GateId,
    path: &str,
    envelope: &[u8],
) -> Result<Vec<u8>, OpenError> {
    if envelope_epoch(envelope) != Some(key.epoch())
        || envelope.len() < HEADER_LEN + AES_256_GCM.tag_len()
    {
        return Err(OpenError::Corrupt);
    }
    let nonce: [u8; NONCE_LEN] = envelope[7..HEADER_LEN]
        .try_into()
        .map_err(|_| OpenError::Corrupt)?;
    let mut body = envelope[HEADER_LEN..].to_vec();
    let plain_len = cipher(key)
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(gate, path, key.epoch())),
            &mut body,
        )
        .map_err(|_| OpenError::Corrupt)?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

/// `<first 16 hex of SHA-256(envelope)>.bin`: content-addressed, so CDNs may cache it forever.
pub fn envelope_file_name(envelope: &[u8]) -> String {
    let hash = to_hex(digest::digest(&digest::SHA256, envelope).as_ref());
    format!("{}.bin", &hash[..16])
}

#[cfg(test)]
mod tests {
    use super::super::{MasterSecret, Rule, derive_key};
    use super::*;
    use proptest::prelude::*;

    fn fixture() -> (GateKey, GateId) {
        let rule = Rule::new(Some("gold"), &["pricing-course"], 1_209_600).unwrap();
        let key = derive_key(&MasterSecret::from_bytes([3; 32]), 1, &rule);
        (key, rule.gate_id())
    }

    #[test]
    fn sealing_is_deterministic_per_path_and_plaintext() {
        let (key, gate) = fixture();
        let a = seal(&key, &gate, "/a/", b"body");
        assert_eq!(a, seal(&key, &gate, "/a/", b"body"));
        assert_ne!(a, seal(&key, &gate, "/b/", b"body"));
        assert_eq!(envelope_epoch(&a), Some(1));
        assert_eq!(&a[..3], b"GH2");
    }

    #[test]
    fn wrong_path_or_gate_or_key_fails_to_open() {
        let (key, gate) = fixture();
        let sealed = seal(&key, &gate, "/a/", b"secret body");
        assert_eq!(open(&key, &gate, "/b/", &sealed), Err(OpenError::Corrupt));
        let other_rule = Rule::new(Some("silver"), &[] as &[&str], 0).unwrap();
        assert_eq!(
            open(&key, &other_rule.gate_id(), "/a/", &sealed),
            Err(OpenError::Corrupt)
        );
        let other_key = derive_key(&MasterSecret::from_bytes([3; 32]), 2, &other_rule);
        let same_bytes_other_epoch = GateKey::from_bytes(*key.as_bytes(), 2);
        assert_eq!(
            open(&same_bytes_other_epoch, &gate, "/a/", &sealed),
            Err(OpenError::Corrupt)
        );
        assert_eq!(
            open(&other_key, &gate, "/a/", &sealed),
            Err(OpenError::Corrupt)
        );
        assert_eq!(
            open(&key, &gate, "/a/", &sealed[..10]),
            Err(OpenError::Corrupt)
        );
    }

    proptest! {
        #[test]
        fn round_trip_opens_what_was_sealed(plain in proptest::collection::vec(any::<u8>(), 0..2048),
                                            path in "/[a-z0-9/-]{0,40}") {
            let (key, gate) = fixture();
            let sealed = seal(&key, &gate, &path, &plain);
            prop_assert_eq!(open(&key, &gate, &path, &sealed).unwrap(), plain);
        }

        #[test]
        fn any_flipped_byte_fails_to_open(plain in proptest::collection::vec(any::<u8>(), 0..256),
                                          index in any::<prop::sample::Index>(),
                                          bit in 0u8..8) {
            let (key, gate) = fixture();
            let mut sealed = seal(&key, &gate, "/p/", &plain);
            let i = index.index(sealed.len());
            sealed[i] ^= 1 << bit;
            prop_assert_eq!(open(&key, &gate, "/p/", &sealed), Err(OpenError::Corrupt));
        }
    }
}
