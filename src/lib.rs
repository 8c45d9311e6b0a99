//! gatehouse: a static-site generator for membership businesses. Gated page bodies are sealed
//! per gate with AES-256-GCM; an edge server hands members the keys their entitlement opens.

pub mod build;
pub mod cli;
pub mod clock;
pub mod config;
pub mod content;
pub mod deploy;
pub mod diagnostic;
pub mod email;
pub mod entitle;
pub mod gate;
pub mod glob;
pub mod instant;
pub mod mail;
pub mod media_type;
pub mod notify;
pub mod payments;
pub mod percent;
pub mod render;
pub mod secret;
pub mod serve;
pub mod server;
pub mod store;
pub mod suggest;
