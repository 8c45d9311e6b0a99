//! Sealed files (DESIGN §4 "Files", contract version 2): a gated image, PDF or video becomes a
//! GHF2 object of 64 KiB records, each sealed on its own, so a browser can fetch and open any
//! byte range with HTTP Range requests.
//!
//! A file is sealed independently of the epoch: its key comes from the files root F and a salt
//! computed over the file itself, so rotating gate keys never changes (or re-uploads) media.

use std::fmt;
use std::io::{self, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rayon::prelude::*;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use serde::Serialize;

use super::hex::to_hex;
use super::key::{MasterSecret, hkdf32};

/// Plaintext bytes per record.
pub const RECORD_SIZE: usize = 65536;
/// `"GHF2"` · record size (u32) · length (u64) · salt (16) · sealed meta length (u32).
pub const HEADER_LEN: usize = 36;
const MAGIC: &[u8; 4] = b"GHF2";
const TAG_LEN: usize = 16;
/// The longest meta (`{"name":…,"type":…}`) a file may have: browsers read the header and the
/// sealed meta in one request of a fixed size, so a longer one could not be opened there.
pub const MAX_META_LEN: usize = 4080;
/// Records sealed together, in parallel, between reads and writes: 1 MiB of plaintext, so
/// memory stays the same whatever the file's size.
const BATCH_RECORDS: usize = 16;

/// The files root F = HKDF-SHA256(salt = empty, IKM = M, info = "gatehouse/v2/files").
#[derive(Clone)]
pub struct FilesRoot {
    bytes: [u8; 32],
    mac: hmac::Key,
}

/// The first 16 bytes of HMAC-SHA256(F, meta + "\n" + file bytes); its hex names the object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileSalt([u8; 16]);

/// A file's AES-256-GCM key FK. No `PartialEq`, and `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct FileKey([u8; 32]);

/// Why a sealed file did not open. One coarse reason, as for envelopes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileOpenError {
    #[error("the sealed file is corrupt, truncated, was tampered with, or is another file")]
    Corrupt,
}

#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    media_type: &'a str,
}

/// The sealed meta's plaintext: `{"name":"…","type":"…"}`, serde_json's compact form.
pub fn meta_json(name: &str, media_type: &str) -> String {
    serde_json::to_string(&Meta { name, media_type }).expect("two strings always serialize")
}

impl FilesRoot {
    pub fn derive(secret: &MasterSecret) -> FilesRoot {
        let bytes = hkdf32(&[], secret.as_bytes(), b"gatehouse/v2/files");
        FilesRoot {
            bytes,
            mac: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        }
    }

    /// The salt of a file, reading `content` to its end once.
    pub fn salt(&self, meta: &[u8], mut content: impl Read) -> io::Result<FileSalt> {
        let mut context = hmac::Context::with_key(&self.mac);
        context.update(meta);
        context.update(b"\n");
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            match content.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => context.update(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&context.sign().as_ref()[..16]);
        Ok(FileSalt(salt))
    }

    /// FK = HKDF-SHA256(salt = salt, IKM = F, info = "gatehouse/v2/file").
    pub fn file_key(&self, salt: &FileSalt) -> FileKey {
        FileKey(hkdf32(&salt.0, &self.bytes, b"gatehouse/v2/file"))
    }

    /// A short public name for this root, so a cache of sealed files made under another secret
    /// is never reused. It reveals nothing of F: it is an HMAC output.
    pub fn fingerprint(&self) -> String {
        let tag = hmac::sign(&self.mac, b"gatehouse/v2/files-cache");
        to_hex(&tag.as_ref()[..8])
    }
}

impl FileSalt {
    pub fn from_bytes(bytes: [u8; 16]) -> FileSalt {
        FileSalt(bytes)
    }

    /// The salt an object's name spells: exactly 32 lowercase hex digits, else `None`.
    pub fn from_hex(text: &str) -> Option<FileSalt> {
        let bytes: [u8; 16] = super::hex::from_hex(text)?.try_into().ok()?;
        let salt = FileSalt(bytes);
        (salt.hex() == text).then_some(salt)
    }

    /// 32 lowercase hex digits: the object's name without `.bin`.
    pub fn hex(&self) -> String {
        to_hex(&self.0)
    }

    /// `_gated/files/<hex>.bin`, relative to the output folder.
    pub fn object_path(&self) -> String {
        format!("_gated/files/{}.bin", self.hex())
    }
}

impl fmt::Debug for FileSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileSalt({})", self.hex())
    }
}

impl FileKey {
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("FK is 32 bytes"))
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileKey([redacted])")
    }
}

/// Number of records of a file of `length` bytes: at least one, so an empty file has one
/// empty final record.
pub fn record_count(length: u64) -> u64 {
    length.div_ceil(RECORD_SIZE as u64).max(1)
}

/// Size of the sealed object of a file of `length` bytes whose meta is `meta_len` bytes.
pub fn object_len(length: u64, meta_len: usize) -> u64 {
    // Saturating: a header claiming an absurd length yields a size no object has.
    ((HEADER_LEN + meta_len + TAG_LEN) as u64)
        .saturating_add(record_count(length).saturating_mul(TAG_LEN as u64))
        .saturating_add(length)
}

fn header(length: u64, salt: &FileSalt, sealed_meta_len: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(MAGIC);
    header[4..8].copy_from_slice(&(RECORD_SIZE as u32).to_be_bytes());
    header[8..16].copy_from_slice(&length.to_be_bytes());
    header[16..32].copy_from_slice(&salt.0);
    header[32..36].copy_from_slice(&sealed_meta_len.to_be_bytes());
    header
}

fn record_nonce(index: u64) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(nonce)
}

fn record_aad(header: &[u8; HEADER_LEN], index: u64, last: bool) -> [u8; HEADER_LEN + 9] {
    let mut aad = [0u8; HEADER_LEN + 9];
    aad[..HEADER_LEN].copy_from_slice(header);
    aad[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&index.to_be_bytes());
    aad[HEADER_LEN + 8] = u8::from(last);
    aad
}

const META_NONCE: [u8; NONCE_LEN] = [0xFF; NONCE_LEN];

/// Writes the GHF2 object of a file of exactly `length` bytes read from `content`, with the
/// salt computed over the same bytes. Streams: memory stays at one batch of records.
pub fn seal_stream(
    key: &FileKey,
    salt: &FileSalt,
    meta: &[u8],
    length: u64,
    mut content: impl Read,
    mut out: impl Write,
) -> io::Result<()> {
    let sealed_meta_len = u32::try_from(meta.len() + TAG_LEN)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the file name is too long"))?;
    let header = header(length, salt, sealed_meta_len);
    let cipher = key.cipher();
    out.write_all(&header)?;
    let mut sealed_meta = meta.to_vec();
    cipher
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(META_NONCE),
            Aad::from(&header),
            &mut sealed_meta,
        )
        .expect("a meta far below AES-GCM's limit seals");
    out.write_all(&sealed_meta)?;

    let records = record_count(length);
    let slot = RECORD_SIZE + TAG_LEN;
    let mut batch = vec![0u8; BATCH_RECORDS * slot];
    let mut next: u64 = 0;
    while next < records {
        let count = (records - next).min(BATCH_RECORDS as u64) as usize;
        let mut lengths = [0usize; BATCH_RECORDS];
        for (k, record_len) in lengths.iter_mut().enumerate().take(count) {
            let start = (next + k as u64) * RECORD_SIZE as u64;
            *record_len = (length - start).min(RECORD_SIZE as u64) as usize;
            let at = k * slot;
            content.read_exact(&mut batch[at..at + *record_len])?;
        }
        batch[..count * slot]
            .par_chunks_mut(slot)
            .zip(lengths[..count].par_iter())
            .enumerate()
            .for_each(|(k, (chunk, &record_len))| {
                let index = next + k as u64;
                let aad = record_aad(&header, index, index + 1 == records);
                let tag = cipher
                    .seal_in_place_separate_tag(
                        record_nonce(index),
                        Aad::from(&aad),
                        &mut chunk[..record_len],
                    )
                    .expect("a 64 KiB record seals");
                chunk[record_len..record_len + TAG_LEN].copy_from_slice(tag.as_ref());
            });
        for (k, record_len) in lengths.iter().enumerate().take(count) {
            let at = k * slot;
            out.write_all(&batch[at..at + record_len + TAG_LEN])?;
        }
        next += count as u64;
    }
    // A file that grew while it was sealed would not match its salt: refuse it.
    if content.read(&mut [0u8; 1])? != 0 {
        return Err(io::Error::other(
            "the file changed while it was being sealed",
        ));
    }
    out.flush()
}

/// Seals a file held in memory (tests, vectors).
pub fn seal_bytes(root: &FilesRoot, name: &str, media_type: &str, content: &[u8]) -> Sealed {
    let meta = meta_json(name, media_type);
    let salt = root
        .salt(meta.as_bytes(), content)
        .expect("reading memory cannot fail");
    let key = root.file_key(&salt);
    let mut object = Vec::with_capacity(object_len(content.len() as u64, meta.len()) as usize);
    seal_stream(
        &key,
        &salt,
        meta.as_bytes(),
        content.len() as u64,
        content,
        &mut object,
    )
    .expect("writing memory cannot fail");
    Sealed { salt, key, object }
}

/// A file sealed in memory.
pub struct Sealed {
    pub salt: FileSalt,
    pub key: FileKey,
    pub object: Vec<u8>,
}

/// An opened object: its meta JSON and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub meta: String,
    pub content: Vec<u8>,
}

/// Opens a whole object named `<name_hex>.bin` with `key`: checks the header's salt against the
/// name, every record, the final flag and the exact length.
pub fn open_object(key: &FileKey, name_hex: &str, object: &[u8]) -> Result<Opened, FileOpenError> {
    fn corrupt<E>(_: E) -> FileOpenError {
        FileOpenError::Corrupt
    }
    let header: [u8; HEADER_LEN] = object
        .get(..HEADER_LEN)
        .ok_or(FileOpenError::Corrupt)?
        .try_into()
        .map_err(corrupt)?;
    let be_u32 = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let length = u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"));
    if &header[..4] != MAGIC
        || be_u32(4) as usize != RECORD_SIZE
        || to_hex(&header[16..32]) != name_hex
    {
        return Err(FileOpenError::Corrupt);
    }
    let sealed_meta_len = be_u32(32) as usize;
    if sealed_meta_len < TAG_LEN {
        return Err(FileOpenError::Corrupt);
    }
    let meta_len = sealed_meta_len - TAG_LEN;
    if object.len() as u64 != object_len(length, meta_len) {
        return Err(FileOpenError::Corrupt);
    }
    let cipher = key.cipher();
    let mut meta = object[HEADER_LEN..HEADER_LEN + sealed_meta_len].to_vec();
    cipher
        .open_in_place(
            Nonce::assume_unique_for_key(META_NONCE),
            Aad::from(&header),
            &mut meta,
        )
        .map_err(corrupt)?;
    meta.truncate(meta_len);
    let meta = String::from_utf8(meta).map_err(corrupt)?;

    let records = record_count(length);
    let mut content = Vec::with_capacity(length as usize);
    let mut at = HEADER_LEN + sealed_meta_len;
    for index in 0..records {
        let start = index * RECORD_SIZE as u64;
        let record_len = (length - start).min(RECORD_SIZE as u64) as usize;
        let mut record = object[at..at + record_len + TAG_LEN].to_vec();
        let aad = record_aad(&header, index, index + 1 == records);
        cipher
            .open_in_place(record_nonce(index), Aad::from(&aad), &mut record)
            .map_err(corrupt)?;
        content.extend_from_slice(&record[..record_len]);
        at += record_len + TAG_LEN;
    }
    Ok(Opened { meta, content })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn root() -> FilesRoot {
        FilesRoot::derive(&MasterSecret::from_bytes([7; 32]))
    }

    #[test]
    fn meta_is_serde_jsons_compact_form_with_name_then_type() {
        assert_eq!(
            meta_json("Übung \"1\".pdf", "application/pdf"),
            r#"{"name":"Übung \"1\".pdf","type":"application/pdf"}"#
        );
    }

    #[test]
    fn sizes_at_record_boundaries_round_trip_and_have_the_right_length() {
        for length in [
            0,
            1,
            RECORD_SIZE - 1,
            RECORD_SIZE,
            RECORD_SIZE + 1,
            3 * RECORD_SIZE + 5,
        ] {
            let content: Vec<u8> = (0..length).map(|i| (i * 7 + 3) as u8).collect();
            let sealed = seal_bytes(&root(), "a.bin", "application/octet-stream", &content);
            let meta_len = meta_json("a.bin", "application/octet-stream").len();
            assert_eq!(
                sealed.object.len() as u64,
                object_len(length as u64, meta_len)
            );
            let opened = open_object(&sealed.key, &sealed.salt.hex(), &sealed.object).unwrap();
            assert_eq!(opened.content, content, "length {length}");
        }
    }

    #[test]
    fn the_name_must_be_the_salt_and_the_key_must_be_the_files() {
        let sealed = seal_bytes(&root(), "a.png", "image/png", b"picture");
        let other = seal_bytes(&root(), "b.png", "image/png", b"picture");
        assert_ne!(sealed.salt, other.salt, "the meta is part of the salt");
        assert_eq!(
            open_object(&sealed.key, &other.salt.hex(), &sealed.object),
            Err(FileOpenError::Corrupt)
        );
        assert_eq!(
            open_object(&other.key, &sealed.salt.hex(), &sealed.object),
            Err(FileOpenError::Corrupt)
        );
    }

    #[test]
    fn a_dropped_final_record_or_a_cut_object_fails() {
        let content = vec![9u8; 2 * RECORD_SIZE + 10];
        let sealed = seal_bytes(&root(), "v.webm", "video/webm", &content);
        let name = sealed.salt.hex();
        let cut = &sealed.object[..sealed.object.len() - (10 + TAG_LEN)];
        assert_eq!(
            open_object(&sealed.key, &name, cut),
            Err(FileOpenError::Corrupt)
        );
        let short = &sealed.object[..sealed.object.len() - 1];
        assert_eq!(
            open_object(&sealed.key, &name, short),
            Err(FileOpenError::Corrupt)
        );
    }

    #[test]
    fn the_same_file_seals_to_the_same_bytes() {
        let a = seal_bytes(&root(), "a.pdf", "application/pdf", b"%PDF-1.7");
        let b = seal_bytes(&root(), "a.pdf", "application/pdf", b"%PDF-1.7");
        assert_eq!(a.object, b.object);
    }

    proptest! {
        #[test]
        fn any_flipped_byte_fails_to_open(content in proptest::collection::vec(any::<u8>(), 0..300),
                                          index in any::<prop::sample::Index>(),
                                          bit in 0u8..8) {
            let sealed = seal_bytes(&root(), "x.csv", "text/csv", &content);
            let mut object = sealed.object.clone();
            let i = index.index(object.len());
            object[i] ^= 1 << bit;
            prop_assert_eq!(open_object(&sealed.key, &sealed.salt.hex(), &object),
                            Err(FileOpenError::Corrupt));
        }
    }
}
