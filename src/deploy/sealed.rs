//! The deploy manifest as the target stores it: sealed. It lists every path of the site (the
//! sealed files under `_gated/files/`, pages left out of the sitemap) and sits in the served
//! prefix beside `index.html`, so by the leak rule (DESIGN §4) it must name nothing a visitor
//! could not already find: it is encrypted with a key derived from the master secret, and a
//! visitor who fetches it learns its length alone.
//!
//! bytes = `"GHDM"` · version (1 byte, 1) · nonce (12, random) · AES-256-GCM ciphertext‖tag,
//! with AAD = `"GHDM"` · version · the object's name (`.gatehouse-deploy.sealed`), so neither
//! the header nor the name it was written under can be changed unnoticed.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::gate::{MasterSecret, derive_purpose_key};

/// The HKDF info of the manifest key (`derive_purpose_key`): no other key of the site uses it.
pub const PURPOSE: &str = "gatehouse/v2/deploy-state";
const MAGIC: &[u8; 4] = b"GHDM";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;

/// The key that seals the deploy manifest.
pub struct ManifestKey([u8; 32]);

impl std::fmt::Debug for ManifestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManifestKey([redacted])")
    }
}

/// Why a stored manifest did not open; said to the person deploying, who then gets a listing
/// of the target instead. Never holds a byte of what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsealed {
    #[error("is not a sealed deploy manifest")]
    NotSealed,
    #[error("is sealed in format {0}, which this gatehouse does not read (a newer one wrote it?)")]
    Version(u8),
    #[error("does not open: it was sealed with another master secret, or damaged")]
    Corrupt,
}

impl ManifestKey {
    pub fn derive(secret: &MasterSecret) -> ManifestKey {
        ManifestKey(derive_purpose_key(secret, PURPOSE))
    }

    fn cipher(&self) -> LessSafeKey {
        let unbound = UnboundKey::new(&AES_256_GCM, &self.0).expect("the key is always 32 bytes");
        LessSafeKey::new(unbound)
    }

    /// Seals `plain` to be stored under `name`. Fails only when the system has no random
    /// source for the nonce.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, ring::error::Unspecified> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self.cipher().seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name)),
            &mut out[HEADER_LEN..],
        )?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`ManifestKey::seal`] sealed under `name`.
    pub fn open(&self, name: &str, bytes: &[u8]) -> Result<Vec<u8>, Unsealed> {
        let Some(rest) = bytes.strip_prefix(MAGIC) else {
            return Err(Unsealed::NotSealed);
        };
        match rest.first() {
            Some(&VERSION) => {}
            Some(&other) => return Err(Unsealed::Version(other)),
            None => return Err(Unsealed::Corrupt),
        }
        if bytes.len() < HEADER_LEN + AES_256_GCM.tag_len() {
            return Err(Unsealed::Corrupt);
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[MAGIC.len() + 1..HEADER_LEN])
            .map_err(|_| Unsealed::Corrupt)?;
        let mut sealed = bytes[HEADER_LEN..].to_vec();
        let plain_len = self
            .cipher()
            .open_in_place(nonce, Aad::from(aad(name)), &mut sealed)
            .map_err(|_| Unsealed::Corrupt)?
            .len();
        sealed.truncate(plain_len);
        Ok(sealed)
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MAGIC.len() + 1 + name.len());
    aad.extend_from_slice(MAGIC);
    aad.push(VERSION);
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ManifestKey {
        ManifestKey::derive(&MasterSecret::from_bytes([byte; 32]))
    }

    #[test]
    fn a_sealed_manifest_opens_with_its_key_under_its_name_only() {
        let plain = br#"{"files":{"_gated/files/0123.bin":1}}"#;
        let sealed = key(1).seal("m", plain).expect("random");
        assert!(sealed.starts_with(b"GHDM\x01"));
        assert!(
            !sealed.windows(6).any(|w| w == b"_gated"),
            "no plaintext in the sealed bytes"
        );
        assert_eq!(key(1).open("m", &sealed).as_deref(), Ok(&plain[..]));
        assert_eq!(key(2).open("m", &sealed), Err(Unsealed::Corrupt));
        assert_eq!(key(1).open("other", &sealed), Err(Unsealed::Corrupt));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key(1).open("m", &tampered), Err(Unsealed::Corrupt));
        assert_eq!(
            key(1).open("m", &sealed[..10]),
            Err(Unsealed::Corrupt),
            "cut short"
        );
        let mut newer = sealed.clone();
        newer[4] = 9;
        assert_eq!(key(1).open("m", &newer), Err(Unsealed::Version(9)));
        assert_eq!(key(1).open("m", b"{}"), Err(Unsealed::NotSealed));
        assert_ne!(
            key(1).seal("m", plain).expect("random"),
            sealed,
            "a fresh nonce every time"
        );
    }

    #[test]
    fn the_key_is_never_printed() {
        assert_eq!(format!("{:?}", key(1)), "ManifestKey([redacted])");
    }
}
