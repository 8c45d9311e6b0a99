//! A check on MP4 files (`.mp4`, `.m4v`, `.m4a`, `.mov`): a player needs the `moov` atom (the
//! index of the media) before it can play. When it sits after the media data (`mdat`), as many
//! encoders leave it, playback waits for the end of the file, which through a CDN (and through
//! gated media's record-by-record reading) means the whole download.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const EXTENSIONS: [&str; 4] = ["mp4", "m4v", "m4a", "mov"];

/// Whether `name` is a file this check reads.
pub fn is_mp4(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, extension)| EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()))
}

/// Whether the file's top-level `moov` atom comes after its `mdat`. Reads only the atoms'
/// 8- or 16-byte headers, seeking over their bodies. `false` for files it cannot make sense of.
pub fn moov_after_media(path: &Path) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut at = 0u64;
    let mut seen_media = false;
    // A few dozen top-level atoms at most in a real file; a bound keeps a corrupt one cheap.
    for _ in 0..1024 {
        if at + 8 > len {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8])?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let size = match size32 {
            0 => len - at,
            1 => {
                file.read_exact(&mut header[8..16])?;
                u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"))
            }
            n => u64::from(n),
        };
        match &kind {
            b"moov" => return Ok(seen_media),
            b"mdat" => seen_media = true,
            _ => {}
        }
        if size < 8 {
            return Ok(false);
        }
        at = at.saturating_add(size);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut out = ((body + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend(std::iter::repeat_n(0u8, body));
        out
    }

    #[test]
    fn finds_the_index_after_the_media_and_not_before() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let late = dir.path().join("late.mp4");
        let early = dir.path().join("early.mp4");
        let junk = dir.path().join("junk.mp4");
        std::fs::write(
            &late,
            [atom(b"ftyp", 16), atom(b"mdat", 1000), atom(b"moov", 50)].concat(),
        )
        .expect("write");
        std::fs::write(
            &early,
            [atom(b"ftyp", 16), atom(b"moov", 50), atom(b"mdat", 1000)].concat(),
        )
        .expect("write");
        std::fs::write(&junk, b"not an mp4 at all").expect("write");
        assert!(moov_after_media(&late).expect("reads"));
        assert!(!moov_after_media(&early).expect("reads"));
        assert!(!moov_after_media(&junk).expect("reads"));
        assert!(is_mp4("a/B.MP4") && is_mp4("x.mov") && !is_mp4("x.webm"));
    }
}
