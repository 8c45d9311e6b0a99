//! Gates, envelopes and sealed files (DESIGN §4, contract version 2). Pure: no file system, no clock.
//!
//! A [`Rule`] is what a page's `access:` says; its canonical text names its gate. Each gate has
//! one key per epoch, derived from the master secret, so the edge server can hand out keys
//! without a copy of the build.

mod envelope;
pub mod file;
mod hex;
mod key;
mod rule;

pub use envelope::{OpenError, envelope_epoch, envelope_file_name, open, seal};
pub use hex::{from_hex, to_hex};
pub use key::{GateKey, MasterSecret, SecretError, derive_key, derive_purpose_key};
pub use rule::{GateId, Rule, RuleError};
