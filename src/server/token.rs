//! Random bearer tokens (sessions, magic links), their stored hashes, and constant-time
//! comparison of secrets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::gate::to_hex;

/// 32 random bytes as base64url: what a member's browser or mailbox holds.
pub fn new_token(rng: &SystemRandom) -> Option<String> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database holds instead of a token: SHA-256, in hex. Tokens are 256 random bits,
/// so a plain hash is enough; no salt or stretching is needed.
pub fn token_hash(token: &str) -> String {
    to_hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

/// Compares two secrets in time that depends only on their hashes, not on where they differ.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let a = digest::digest(&digest::SHA256, a.as_bytes());
    let b = digest::digest(&digest::SHA256, b.as_bytes());
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed_differently() {
        let rng = SystemRandom::new();
        let a = new_token(&rng).expect("random");
        let b = new_token(&rng).expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
