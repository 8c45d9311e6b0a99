//! The master secret and per-gate keys: K = HKDF-SHA256(salt = "gatehouse/v1/epoch/<epoch>",
//! IKM = M, info = rule). Both types print `[redacted]` so no log can carry key material.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hkdf;

use super::rule::Rule;

/// The 32-byte master secret M from which every gate key is derived.
#[derive(Clone)]
pub struct MasterSecret([u8; 32]);

/// A 32-byte AES-256-GCM gate key, and the epoch it was derived for: the epoch goes into the
/// envelope's header and AAD (DESIGN §4), and opening refuses an envelope of another epoch.
/// No `PartialEq`: a byte comparison of keys would not be constant-time.
#[derive(Clone)]
pub struct GateKey {
    bytes: [u8; 32],
    epoch: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    // The messages never echo the input: it may be a real secret with a typo.
    #[error("the secret is not valid base64url (no padding)")]
    NotBase64,
    #[error("the secret must decode to 32 bytes, not {0}")]
    WrongLength(usize),
}

impl MasterSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterSecret {
        MasterSecret(bytes)
    }

    /// Reads the base64url (no padding) text of `GATEHOUSE_SECRET` or `.gatehouse/secret`.
    pub fn from_base64url(text: &str) -> Result<MasterSecret, SecretError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| SecretError::NotBase64)?;
        let len = bytes.len();
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretError::WrongLength(len))?;
        Ok(MasterSecret(bytes))
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub(super) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl GateKey {
    /// A key received from elsewhere (the edge server's answer, a test vector).
    pub fn from_bytes(bytes: [u8; 32], epoch: u32) -> GateKey {
        GateKey { bytes, epoch }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }
}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret([redacted])")
    }
}

impl fmt::Debug for GateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GateKey([redacted])")
    }
}

struct KeyLen32;

impl hkdf::KeyType for KeyLen32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256(salt, IKM, info) to 32 bytes: every key of DESIGN §4 is one.
pub(super) fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, KeyLen32)
        .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
    let mut key = [0u8; 32];
    okm.fill(&mut key)
        .expect("the output length matches KeyLen32");
    key
}

/// Derives the key of `rule`'s gate for `epoch`.
pub fn derive_key(secret: &MasterSecret, epoch: u32, rule: &Rule) -> GateKey {
    let salt = format!("gatehouse/v1/epoch/{epoch}");
    let bytes = hkdf32(salt.as_bytes(), &secret.0, rule.text().as_bytes());
    GateKey { bytes, epoch }
}

/// Derives a 32-byte key for a purpose other than a gate (the edge server's address log).
/// The salt differs from every gate salt (`gatehouse/v1/epoch/<n>`), so no purpose key can
/// equal a gate key.
pub fn derive_purpose_key(secret: &MasterSecret, purpose: &str) -> [u8; 32] {
    hkdf32(b"gatehouse/v1/purpose", &secret.0, purpose.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let secret = MasterSecret::from_bytes([7; 32]);
        let rule = Rule::new(Some("gold"), &[] as &[&str], 0).unwrap();
        let key = derive_key(&secret, 1, &rule);
        assert_eq!(format!("{secret:?}"), "MasterSecret([redacted])");
        assert_eq!(format!("{key:?}"), "GateKey([redacted])");
    }

    #[test]
    fn epoch_and_rule_both_change_the_key() {
        let secret = MasterSecret::from_bytes([1; 32]);
        let gold = Rule::new(Some("gold"), &[] as &[&str], 0).unwrap();
        let silver = Rule::new(Some("silver"), &[] as &[&str], 0).unwrap();
        let bytes = |key: GateKey| *key.as_bytes();
        let gold_1 = bytes(derive_key(&secret, 1, &gold));
        assert_ne!(gold_1, bytes(derive_key(&secret, 2, &gold)));
        assert_ne!(gold_1, bytes(derive_key(&secret, 1, &silver)));
    }

    #[test]
    fn secret_text_must_be_32_bytes_of_base64url() {
        let secret = MasterSecret::from_bytes([9; 32]);
        let text = secret.to_base64url();
        assert_eq!(text.len(), 43);
        assert!(MasterSecret::from_base64url(&format!("{text}\n")).is_ok());
        assert_eq!(
            MasterSecret::from_base64url("AAAA").unwrap_err(),
            SecretError::WrongLength(3)
        );
        assert_eq!(
            MasterSecret::from_base64url("not base64!").unwrap_err(),
            SecretError::NotBase64
        );
    }
}
