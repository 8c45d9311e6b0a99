//! The limit that sealing gated files is measured against (`scripts/bench-files`): ring's raw
//! AES-256-GCM over 64 KiB records in memory, on one core and on every core, ring's raw
//! HMAC-SHA-256 (the salt's pass over each file), and gatehouse's own GHF2 sealing of the same
//! bytes from memory, so the cost of the format itself shows apart from the file system.
//!
//!   cargo run --release --example seal_limit -- [MiB]      (default 1024)

use std::time::Instant;

use gatehouse::gate::MasterSecret;
use gatehouse::gate::file::{FilesRoot, RECORD_SIZE, meta_json, seal_stream};
use rayon::prelude::*;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;

fn rate(bytes: usize, started: Instant) -> f64 {
    bytes as f64 / started.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let len = mib << 20;
    let mut data: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("32 bytes"));
    let seal = |(i, chunk): (usize, &mut [u8])| {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), chunk)
            .expect("seals");
        let _ = std::hint::black_box(tag);
    };

    let started = Instant::now();
    data.chunks_mut(RECORD_SIZE).enumerate().for_each(seal);
    let aes_one = rate(len, started);

    let started = Instant::now();
    data.par_chunks_mut(RECORD_SIZE).enumerate().for_each(seal);
    let aes_all = rate(len, started);

    let mac = hmac::Key::new(hmac::HMAC_SHA256, &[9; 32]);
    let started = Instant::now();
    std::hint::black_box(hmac::sign(&mac, &data));
    let hmac_one = rate(len, started);

    let root = FilesRoot::derive(&MasterSecret::from_bytes([3; 32]));
    let meta = meta_json("bench.webm", "video/webm");
    let started = Instant::now();
    let salt = root.salt(meta.as_bytes(), &data[..]).expect("memory reads");
    let file_key = root.file_key(&salt);
    seal_stream(
        &file_key,
        &salt,
        meta.as_bytes(),
        len as u64,
        &data[..],
        std::io::sink(),
    )
    .expect("memory writes");
    let ghf2 = rate(len, started);

    let cores = rayon::current_num_threads();
    println!("MiB={mib} cores={cores}");
    println!("aes_256_gcm_one_core_GBps={aes_one:.2}");
    println!("aes_256_gcm_all_cores_GBps={aes_all:.2}");
    println!("hmac_sha256_one_core_GBps={hmac_one:.2}");
    println!("ghf2_seal_from_memory_GBps={ghf2:.2}");
}
