"""Write envelope_v2.json and file_v2.json from reference.py. Deterministic: fixed
secrets, fixed inputs, and every nonce and salt is derived, never random.

    python3 tests/vectors/gen_vectors.py
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402

SECRET_A = bytes(range(32))  # 00 01 .. 1f
SECRET_B = b"\x42" * 32

ENVELOPE_FILE = "envelope_v2.json"
FILE_FILE = "file_v2.json"

# Vectors hold whole plaintexts and objects only while they stay readable.
PLAINTEXT_HEX_MAX = 64
OBJECT_HEX_MAX = 1024

# ---------------------------------------------------------------------------
# Files first: one envelope case embeds a file's name and key in its body.
# ---------------------------------------------------------------------------


def file_bytes(length, seed):
    """The test file: byte i = (i*7 + seed) & 0xFF. 7 is odd, so a 256-byte period with no
    runs, and records differ from each other (a swapped record is visible)."""
    return bytes((i * 7 + seed) & 0xFF for i in range(length))


def fcase(name, secret, file_name, media_type, length, seed):
    return dict(name=name, secret=secret, file_name=file_name, media_type=media_type,
                length=length, seed=seed)


R = ref.RECORD_SIZE
FILE_CASES = [
    fcase("empty", SECRET_A, "empty.csv", "text/csv", 0, 0),
    fcase("one-byte", SECRET_A, "dot.png", "image/png", 1, 5),
    # same bytes, other name: the meta is in the salt, so another object and key
    fcase("one-byte-other-name", SECRET_A, "dot-copy.png", "image/png", 1, 5),
    fcase("small-pdf-non-ascii-name", SECRET_A, "Übung – 1.pdf", "application/pdf", 100, 9),
    fcase("quote-backslash-name", SECRET_B, 'say "hi"\\there.csv', "text/csv", 40, 3),
    # serde_json escapes C0 controls (\t as \t, U+0001 as \u0001) but not DEL, "/" or U+2028
    fcase("control-chars-name", SECRET_B, "tab\there\u0001\u007f\u2028/x.txt",
          "text/plain; charset=utf-8", 10, 77),
    fcase("emoji-name", SECRET_B, "🎬 trailer.webm", "video/webm", 33, 200),
    fcase("exactly-one-record", SECRET_A, "clip.webm", "video/webm", R, 1),
    fcase("one-record-plus-one-byte", SECRET_B, "data.bin", "application/octet-stream", R + 1, 2),
    fcase("several-records", SECRET_A, "lecture.webm", "video/webm", 3 * R + 1000, 3),
]


def make_file_vector(c):
    data = file_bytes(c["length"], c["seed"])
    obj, sf = ref.seal_file_bytes(c["secret"], c["file_name"], c["media_type"], data)
    # Every vector is opened again here, with FK derived the long way from M and the name.
    fk = ref.file_key_from_secret(c["secret"], bytes.fromhex(sf.name[:32]))
    assert ref.open_file_bytes(obj, sf.name, fk) == ((c["file_name"], c["media_type"]), data)
    sealed_meta = obj[ref.FILE_HEADER_LEN:ref.FILE_HEADER_LEN + sf.sealed_meta_len]
    return {
        "name": c["name"],
        "secret_b64url": ref.b64url_encode(c["secret"]),
        "file_name": c["file_name"],
        "media_type": c["media_type"],
        "meta": sf.meta.decode("utf-8"),
        "length": c["length"],
        "seed": c["seed"],
        "plaintext_hex": data.hex() if len(data) <= PLAINTEXT_HEX_MAX else None,
        "files_root_hex": sf.root.hex(),
        "salt_hex": sf.salt.hex(),
        "file_key_hex": sf.key.hex(),
        "header_hex": sf.header.hex(),
        "sealed_meta_hex": sealed_meta.hex(),
        "object_len": len(obj),
        "object_sha256_hex": hashlib.sha256(obj).hexdigest(),
        "object_hex": obj.hex() if len(obj) <= OBJECT_HEX_MAX else None,
        "object_name": sf.name,
    }


def build_files():
    return [make_file_vector(c) for c in FILE_CASES]


# ---------------------------------------------------------------------------
# Envelopes
# ---------------------------------------------------------------------------

BUNDLE = object()  # path placeholder: "/_gated/<gate_id>/bundle" of the case's own gate
GOLD = dict(level="gold", bundles=["pricing-course"], drip_seconds=1209600)


def ecase(name, secret, epoch, level, bundles, drip_seconds, path, plaintext, refused=False):
    return dict(name=name, secret=secret, epoch=epoch, level=level, bundles=bundles,
                drip_seconds=drip_seconds, path=path, plaintext=plaintext, refused=refused)


def page_with_file():
    """A gated body that embeds the "one-byte" file vector, ending in its data-gh-files list."""
    c = next(c for c in FILE_CASES if c["name"] == "one-byte")
    _obj, sf = ref.seal_file_bytes(c["secret"], c["file_name"], c["media_type"],
                                   file_bytes(c["length"], c["seed"]))
    hexname = sf.name[:32]
    return ('<p>Slide:</p>\n<img src="/_gated/files/%s.bin" alt="">\n'
            '<script type="application/json" data-gh-files>{"%s":"%s"}</script>'
            % (hexname, hexname, ref.b64url_encode(sf.key)))


ENVELOPE_CASES = [
    ecase("level-only", SECRET_A, 1, "gold", [], 0,
          "/members/welcome/", "<p>Welcome, gold member.</p>\n"),
    ecase("bundles-only-unsorted", SECRET_A, 1, None,
          ["pricing-course", "alpha-pack", "course-2", "course-10"], 0,
          "/course/intro/", "<p>Intro for bundle buyers.</p>\n"),
    ecase("level-bundles-drip-unsorted", SECRET_A, 1, "gold", ["pricing-course", "bonus"], 1209600,
          "/course/lesson-3/", "<h1>Lesson 3</h1>\n<p>Pricing, in depth.</p>\n"),
    ecase("epoch-7", SECRET_A, 7, **GOLD, path="/course/rotated/",
          plaintext="<p>Rotation check.</p>\n"),
    ecase("epoch-u32-max", SECRET_A, 4294967295, **GOLD, path="/course/rotated/",
          plaintext="<p>Rotation check.</p>\n"),
    ecase("epoch-0", SECRET_A, 0, **GOLD, path="/course/rotated/",
          plaintext="<p>Rotation check.</p>\n"),
    ecase("non-ascii-plaintext", SECRET_B, 1, "silver", [], 86400,
          "/fr/lecon/", "<p>Leçon — déjà vu ✓ 🎬</p>\n"),
    ecase("empty-plaintext", SECRET_B, 1, "silver", [], 0, "/empty/", ""),
    ecase("members-block", SECRET_A, 2, "gold", [], 0,
          "/blog/launch/#2", "<p>Gold-only part of the launch post.</p>\n"),
    ecase("page-with-file", SECRET_A, 1, **GOLD, path="/course/lesson-4/",
          plaintext=page_with_file()),
    ecase("bundle", SECRET_A, 1, **GOLD, path=BUNDLE,
          plaintext=json.dumps([
              {"path": "/course/lesson-3/", "title": "Lesson 3 — Pricing tiers",
               "text": "Pricing, in depth."},
              {"path": "/blog/launch/#2", "title": "Launch", "text": "Gold-only part."},
          ], separators=(",", ":"), ensure_ascii=False)),
    ecase("bundle-empty-texts", SECRET_B, 3, "silver", ["b", "a"], 0, BUNDLE,
          '[{"path":"/empty/","title":"","text":""}]'),
    # gatehouse must refuse this rule (no level, no bundle: nobody could ever open it);
    # the derived fields are null because there is no gate to derive them for.
    ecase("refused-empty-rule", SECRET_A, 1, None, [], 0,
          "/members-any/", "<p>Nobody.</p>\n", refused=True),
]


def make_envelope_vector(c):
    rule = ref.rule_text(c["level"], c["bundles"], c["drip_seconds"])
    v = {
        "name": c["name"],
        "secret_b64url": ref.b64url_encode(c["secret"]),
        "epoch": c["epoch"],
        "level": c["level"],
        "bundles": list(c["bundles"]),
        "drip_seconds": c["drip_seconds"],
        "rule": rule,
        "gate_id": None, "key_hex": None,
        "path": c["path"] if c["path"] is not BUNDLE else None,
        "plaintext": c["plaintext"],
        "nonce_hex": None, "aad": None, "envelope_hex": None, "file_name": None,
    }
    try:
        assert ref.canonical_rule(c["level"], c["bundles"], c["drip_seconds"]) == rule
        assert not c["refused"], c["name"]
    except ref.RuleError:
        assert c["refused"], c["name"]
        return v
    gate = ref.gate_id(rule)
    path = c["path"] if c["path"] is not BUNDLE else ref.bundle_path(gate)
    key = ref.derive_key(c["secret"], c["epoch"], rule)
    pt = c["plaintext"].encode("utf-8")
    env = ref.seal(key, gate, c["epoch"], path, pt)
    assert ref.open_envelope(key, gate, path, env, c["epoch"]) == pt
    v.update(gate_id=gate, key_hex=key.hex(), path=path, nonce_hex=ref.nonce(key, path, pt).hex(),
             aad=ref.aad(gate, path, c["epoch"]).decode("utf-8"), envelope_hex=env.hex(),
             file_name=ref.envelope_file_name(env))
    return v


def build_envelopes():
    return [make_envelope_vector(c) for c in ENVELOPE_CASES]


def dumps(vectors):
    """The exact file text (the self-test compares it byte for byte)."""
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def main():
    for fname, vectors in ((ENVELOPE_FILE, build_envelopes()), (FILE_FILE, build_files())):
        out = os.path.join(HERE, fname)
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            f.write(dumps(vectors))
        print("wrote %d cases to %s" % (len(vectors), os.path.relpath(out)))


if __name__ == "__main__":
    main()
