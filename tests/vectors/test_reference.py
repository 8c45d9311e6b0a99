"""Self-test for reference.py, gen_vectors.py and open_site.py (contract version 2).

    python3 tests/vectors/test_reference.py [-v]
"""

import hashlib
import hmac
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_vectors  # noqa: E402
import reference as ref  # noqa: E402

SECRET = bytes(range(32))
OTHER_SECRET = b"\x42" * 32
RULE = ref.canonical_rule("gold", ["pricing-course"], 1209600)
GATE = ref.gate_id(RULE)
R = ref.RECORD_SIZE


def hkdf_by_hand(salt, ikm, info, length=32):
    """RFC 5869 written out, to check the library calls in reference.py."""
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return okm[:length]


def pattern(length, seed=0):
    return gen_vectors.file_bytes(length, seed)


def flip(data, i, mask=0x01):
    b = bytearray(data)
    b[i] ^= mask
    return bytes(b)


class RuleTest(unittest.TestCase):
    def test_canonical_text(self):
        self.assertEqual(RULE, "level=gold;bundles=pricing-course;drip=1209600")
        self.assertEqual(ref.canonical_rule("gold", [], 0), "level=gold;bundles=-;drip=0")
        self.assertEqual(ref.canonical_rule(None, ["b", "a", "course-2", "course-10"], 60),
                         "level=-;bundles=a,b,course-10,course-2;drip=60")

    def test_refused_rules(self):
        for args in [(None, [], 0), (None, [], 86400), ("", [], 0), ("gold", ["a;b"], 0),
                     ("gold", [], -1), ("a,b", [], 0), ("-", [], 0)]:
            with self.assertRaises(ref.RuleError, msg=args):
                ref.canonical_rule(*args)

    def test_parse_rule(self):
        self.assertEqual(ref.parse_rule(RULE), ("gold", ["pricing-course"], 1209600))
        self.assertEqual(ref.parse_rule("level=-;bundles=a,b;drip=0"), (None, ["a", "b"], 0))
        for bad in ["level=-;bundles=b,a;drip=0", "level=-;bundles=-;drip=0",
                    "level=gold;bundles=-;drip=01", "level=gold;bundles=-", "level=gold;drip=0",
                    "level=gold;bundles=-;drip=0 "]:
            with self.assertRaises(ref.RuleError, msg=bad):
                ref.parse_rule(bad)

    def test_gate_id(self):
        self.assertEqual(GATE, hashlib.sha256(b"gatehouse-gate-v1\n" + RULE.encode()).hexdigest()[:16])
        self.assertRegex(GATE, "^[0-9a-f]{16}$")


class KeyTest(unittest.TestCase):
    def test_hkdf_by_hand_is_rfc5869(self):
        okm = hkdf_by_hand(bytes.fromhex("000102030405060708090a0b0c"), b"\x0b" * 22,
                           bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
        self.assertEqual(okm.hex(), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                    "34007208d5b887185865")

    def test_gate_key(self):
        for epoch in (0, 1, 7, 2**32 - 1):
            self.assertEqual(ref.derive_key(SECRET, epoch, RULE),
                             hkdf_by_hand(b"gatehouse/v1/epoch/%d" % epoch, SECRET, RULE.encode()))
        self.assertNotEqual(ref.derive_key(SECRET, 1, RULE), ref.derive_key(SECRET, 7, RULE))
        for bad in (-1, 2**32, True, "1"):
            with self.assertRaises(ValueError):
                ref.derive_key(SECRET, bad, RULE)

    def test_file_keys(self):
        root = ref.files_root(SECRET)
        # an empty HKDF salt is HashLen zero bytes (RFC 5869 §2.2); both readings agree
        self.assertEqual(root, hkdf_by_hand(b"", SECRET, b"gatehouse/v2/files"))
        self.assertEqual(root, hkdf_by_hand(b"\x00" * 32, SECRET, b"gatehouse/v2/files"))
        salt = bytes(range(16))
        self.assertEqual(ref.file_key(root, salt), hkdf_by_hand(salt, root, b"gatehouse/v2/file"))
        self.assertEqual(ref.file_key_from_secret(SECRET, salt), ref.file_key(root, salt))
        self.assertNotEqual(ref.files_root(OTHER_SECRET), root)

    def test_secret_encoding(self):
        text = ref.b64url_encode(SECRET)
        self.assertEqual(len(text), 43)
        self.assertEqual(ref.b64url_decode_secret(text + "\n"), SECRET)
        for bad in ("", text[:-1], text + "AA", "!" * 43, text[:-1] + "+"):
            with self.assertRaises(ValueError):
                ref.b64url_decode_secret(bad)


class EnvelopeTest(unittest.TestCase):
    PATH = "/course/lesson-3/"

    def setUp(self):
        self.k1 = ref.derive_key(SECRET, 1, RULE)

    def seal(self, pt="<p>secret lesson</p>", epoch=1, path=PATH):
        return ref.seal(ref.derive_key(SECRET, epoch, RULE), GATE, epoch, path, pt)

    def test_round_trip_and_layout(self):
        for path, pt in [("/a/", ""), (self.PATH, "<p>hi</p>"), ("/fr/", "Leçon — déjà vu ✓"),
                         ("/blog/launch/#2", "<p>block</p>"), ("/big/", "x" * 100000)]:
            for epoch in (0, 1, 2**32 - 1):
                key = ref.derive_key(SECRET, epoch, RULE)
                env = ref.seal(key, GATE, epoch, path, pt)
                self.assertEqual(ref.open_envelope(key, GATE, path, env, epoch), pt.encode())
                self.assertEqual(ref.open_with_secret(SECRET, RULE, path, env), pt.encode())
                self.assertEqual(env[:3], b"GH2")
                self.assertEqual(env[3:7], struct.pack(">I", epoch))
                self.assertEqual(env[7:19], ref.nonce(key, path, pt.encode()))
                self.assertEqual(len(env), 3 + 4 + 12 + len(pt.encode()) + 16)
                self.assertEqual(env, ref.seal(key, GATE, epoch, path, pt.encode()))
                self.assertEqual(ref.envelope_file_name(env),
                                 hashlib.sha256(env).hexdigest()[:16] + ".bin")
        self.assertEqual(ref.aad(GATE, self.PATH, 7),
                         ("gatehouse/v2\n%s\n/course/lesson-3/\n7" % GATE).encode())
        self.assertEqual(ref.block_path("/blog/launch/", 2), "/blog/launch/#2")
        self.assertEqual(ref.bundle_path(GATE), "/_gated/%s/bundle" % GATE)

    def test_nonce_depends_on_path_and_plaintext(self):
        a = ref.seal(self.k1, GATE, 1, "/a/", "same")
        b = ref.seal(self.k1, GATE, 1, "/b/", "same")
        c = ref.seal(self.k1, GATE, 1, "/a/", "other")
        self.assertEqual(len({a[7:19], b[7:19], c[7:19]}), 3)

    def test_newline_in_path_refused(self):
        with self.assertRaises(ValueError):
            ref.seal(self.k1, GATE, 1, "/a\nb", "c")

    def test_every_byte_flip_and_truncation_fails(self):
        env = self.seal()
        for i in range(len(env)):
            for mask in (0x01, 0x80):
                bad = flip(env, i, mask)
                with self.assertRaises(ref.EnvelopeError, msg=(i, mask)):
                    ref.open_envelope(self.k1, GATE, self.PATH, bad, 1)
                with self.assertRaises(ref.EnvelopeError, msg=(i, mask)):
                    ref.open_with_secret(SECRET, RULE, self.PATH, bad)
        for n in range(len(env)):
            with self.assertRaises(ref.EnvelopeError, msg=n):
                ref.open_envelope(self.k1, GATE, self.PATH, env[:n], 1)
        with self.assertRaises(ref.EnvelopeError):
            ref.open_envelope(self.k1, GATE, self.PATH, env + b"\x00", 1)

    def test_wrong_context_fails(self):
        env = self.seal()
        k7 = ref.derive_key(SECRET, 7, RULE)
        other_gate = ref.gate_id("level=silver;bundles=-;drip=0")
        cases = {
            "wrong path": (self.k1, GATE, "/course/lesson-4/", 1),
            "no trailing slash": (self.k1, GATE, "/course/lesson-3", 1),
            "wrong gate": (self.k1, other_gate, self.PATH, 1),
            "wrong epoch key": (k7, GATE, self.PATH, 1),
            "wrong expected epoch": (k7, GATE, self.PATH, 7),
            "wrong secret": (ref.derive_key(OTHER_SECRET, 1, RULE), GATE, self.PATH, 1),
            "wrong rule": (ref.derive_key(SECRET, 1, "level=gold;bundles=-;drip=0"),
                           GATE, self.PATH, 1),
        }
        for what, (key, gate, path, epoch) in cases.items():
            with self.assertRaises(ref.EnvelopeError, msg=what):
                ref.open_envelope(key, gate, path, env, epoch)

    def test_epoch_is_in_the_aad(self):
        """Version 2's change: rewriting the header epoch fails even for a reader that
        derives K for the forged epoch (version 1 relied on K alone)."""
        env = self.seal(epoch=7)
        forged = env[:3] + struct.pack(">I", 8) + env[7:]
        with self.assertRaises(ref.EnvelopeError):
            ref.open_envelope(ref.derive_key(SECRET, 8, RULE), GATE, self.PATH, forged, 8)
        with self.assertRaises(ref.EnvelopeError):
            ref.open_with_secret(SECRET, RULE, self.PATH, forged)
        # with the right key but the header epoch changed: the AAD no longer matches
        with self.assertRaises(ref.EnvelopeError):
            key7 = ref.derive_key(SECRET, 7, RULE)
            ref.open_envelope(key7, GATE, self.PATH, forged, 8)
        # the header alone: GH1 is not accepted
        with self.assertRaises(ref.EnvelopeError):
            ref.open_with_secret(SECRET, RULE, self.PATH, b"GH1" + env[3:])


class MetaJsonTest(unittest.TestCase):
    def test_json_string_matches_serde_json_rules(self):
        # Python's json with ensure_ascii=False escapes exactly what serde_json does.
        chars = [chr(c) for c in range(0x3000)] + ["\u2028", "\u2029", "\ufeff", "😀", "\U0010ffff"]
        for c in chars:
            self.assertEqual(ref.json_string(c), json.dumps(c, ensure_ascii=False), repr(c))
        self.assertEqual(ref.json_string('a/b"c\\d\x01\x1f\x7f\n'), '"a/b\\"c\\\\d\\u0001\\u001f\x7f\\n"')

    def test_meta_json(self):
        self.assertEqual(ref.meta_json("Übung – 1.pdf", "application/pdf"),
                         '{"name":"Übung – 1.pdf","type":"application/pdf"}'.encode())
        for name, t in [("a", "b"), ('q"\\', "x/y"), ("\t\x00", "")]:
            m = ref.meta_json(name, t)
            self.assertEqual(m, json.dumps({"name": name, "type": t}, separators=(",", ":"),
                                           ensure_ascii=False).encode())
            self.assertEqual(ref.parse_meta(m), (name, t))

    def test_parse_meta_refuses_other_forms(self):
        for bad in ['{"type":"b","name":"a"}', '{"name":"a", "type":"b"}', '{"name":"a"}',
                    '{"name":"a","type":"b","x":1}', '{"name":"\\u00dc","type":"b"}',
                    '{"name":"a\\/b","type":"b"}', '{"name":1,"type":"b"}', '["a","b"]',
                    '{"name":"a","type":"b"} ', '{"name":"\\u001F","type":"b"}']:
            with self.assertRaises(ref.EnvelopeError, msg=bad):
                ref.parse_meta(bad.encode())


class FileTest(unittest.TestCase):
    SIZES = [0, 1, 100, R - 1, R, R + 1, 2 * R, 3 * R + 1000]

    def seal(self, data, name="f.bin", media_type="application/octet-stream", secret=SECRET):
        return ref.seal_file_bytes(secret, name, media_type, data)

    def open(self, obj, name, key):
        return ref.open_file_bytes(obj, name, key)

    def test_round_trip_and_layout(self):
        for size in self.SIZES:
            data = pattern(size, size % 251)
            obj, sf = self.seal(data, "ü.webm", "video/webm")
            meta = ref.meta_json("ü.webm", "video/webm")
            root = ref.files_root(SECRET)
            salt = hmac.new(root, meta + b"\n" + data, hashlib.sha256).digest()[:16]
            n = max(1, -(-size // R))
            self.assertEqual(sf.salt, salt)
            self.assertEqual(sf.name, salt.hex() + ".bin")
            self.assertEqual(sf.key, ref.file_key_from_secret(SECRET, salt))
            self.assertEqual(obj[:36], b"GHF2" + struct.pack(">IQ", R, size) + salt
                             + struct.pack(">I", len(meta) + 16))
            self.assertEqual(len(obj), 36 + len(meta) + 16 + size + 16 * n)
            self.assertEqual(self.open(obj, sf.name, sf.key), (("ü.webm", "video/webm"), data))
            # record i starts at 36 + sealed meta length + i*(size+16) and decrypts on its own
            aead = ref.AESGCM(sf.key)
            for i in range(n):
                off = 36 + len(meta) + 16 + i * (R + 16)
                chunk = data[i * R:(i + 1) * R]
                sealed = obj[off:off + len(chunk) + 16]
                aad = obj[:36] + struct.pack(">Q", i) + (b"\x01" if i == n - 1 else b"\x00")
                self.assertEqual(aead.decrypt(b"\x00" * 4 + struct.pack(">Q", i), sealed, aad), chunk)
            self.assertEqual(aead.decrypt(b"\xff" * 12, obj[36:36 + len(meta) + 16], obj[:36]), meta)

    def test_deterministic_and_bound_to_meta(self):
        data = pattern(10)
        a, sa = self.seal(data, "a.png", "image/png")
        self.assertEqual(a, self.seal(data, "a.png", "image/png")[0])
        b, sb = self.seal(data, "b.png", "image/png")
        c, sc = self.seal(data, "a.png", "image/jpeg")
        d, sd = self.seal(data, "a.png", "image/png", secret=OTHER_SECRET)
        self.assertEqual(len({sa.salt, sb.salt, sc.salt, sd.salt}), 4)

    def test_streaming_sealer_matches(self):
        data = pattern(2 * R + 5, 9)
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            with open(src, "wb") as f:
                f.write(data)
            sf = ref.seal_file_path(SECRET, "x.webm", "video/webm", src, tmp)
            with open(os.path.join(tmp, sf.name), "rb") as f:
                self.assertEqual(f.read(), self.seal(data, "x.webm", "video/webm")[0])
            self.assertEqual(sorted(os.listdir(tmp)), sorted(["src", sf.name]))

    def test_source_changed_between_passes(self):
        versions = iter([pattern(100), pattern(100, 1)])
        sf = ref.SealedFile(SECRET, "x", "y", lambda: io.BytesIO(next(versions)))
        with self.assertRaises(ValueError):
            b"".join(sf.parts())

    def test_every_byte_flip_fails(self):
        obj, sf = self.seal(pattern(100), "Übung – 1.pdf", "application/pdf")
        for i in range(len(obj)):
            for mask in (0x01, 0x80):
                with self.assertRaises(ref.EnvelopeError, msg=(i, mask)):
                    self.open(flip(obj, i, mask), sf.name, sf.key)

    def test_flips_in_every_record(self):
        data = pattern(3 * R + 1000, 3)
        obj, sf = self.seal(data)
        r = ref.FileReader.from_bytes(obj, sf.name, sf.key)
        for i in range(r.n):
            off, size = r.record_span(i)
            for pos in (off, off + size // 2, off + size - 1):
                bad = ref.FileReader.from_bytes(flip(obj, pos), sf.name, sf.key)
                with self.assertRaises(ref.EnvelopeError):
                    bad.open_record(i)
                if i:  # other records still open: damage stays local, as for Range reads
                    self.assertEqual(bad.open_record(0), data[:R])

    def test_truncation_fails(self):
        data = pattern(3 * R + 1000, 3)
        obj, sf = self.seal(data)
        r = ref.FileReader.from_bytes(obj, sf.name, sf.key)
        last_off, _ = r.record_span(r.n - 1)
        cuts = {"last record dropped": obj[:last_off], "mid-record": obj[:last_off - 100],
                "one byte short": obj[:-1], "header only": obj[:36], "short header": obj[:20],
                "one byte extra": obj + b"\x00", "empty": b""}
        for what, cut in cuts.items():
            with self.assertRaises(ref.EnvelopeError, msg=what):
                self.open(cut, sf.name, sf.key)
            # a reader that trusts the header for the size still fails on the missing bytes
            if 36 <= len(cut) < len(obj):
                lying = ref.FileReader(lambda off, n: cut[off:off + n], len(obj), sf.name, sf.key)
                with self.assertRaises(ref.EnvelopeError, msg=what):
                    b"".join(lying.iter_records())
        # an empty file still has its one final record; without it the object is refused
        e, se = self.seal(b"")
        with self.assertRaises(ref.EnvelopeError):
            self.open(e[:-16], se.name, se.key)

    def test_final_flag(self):
        """A record authenticates only with its own final flag: a file cut on a record
        boundary (with a header claiming the shorter length) cannot be assembled."""
        data = pattern(2 * R, 4)
        obj, sf = self.seal(data)
        aead = ref.AESGCM(sf.key)
        header = obj[:36]
        sml = sf.sealed_meta_len
        # re-seal record 1 as not final, and record 0 as final: both must be refused
        rec1 = aead.encrypt(ref.record_nonce(1), data[R:], ref.record_aad(header, 1, False))
        bad = obj[:ref.record_offset(sml, 1)] + rec1
        with self.assertRaises(ref.EnvelopeError):
            ref.FileReader.from_bytes(bad, sf.name, sf.key).open_record(1)
        rec0 = aead.encrypt(ref.record_nonce(0), data[:R], ref.record_aad(header, 0, True))
        bad = obj[:ref.record_offset(sml, 0)] + rec0 + obj[ref.record_offset(sml, 1):]
        with self.assertRaises(ref.EnvelopeError):
            ref.FileReader.from_bytes(bad, sf.name, sf.key).open_record(0)

    def test_swapped_records_fail(self):
        data = pattern(3 * R, 6)
        obj, sf = self.seal(data)
        r = ref.FileReader.from_bytes(obj, sf.name, sf.key)
        (o0, s0), (o1, s1) = r.record_span(0), r.record_span(1)
        swapped = obj[:o0] + obj[o1:o1 + s1] + obj[o0:o0 + s0] + obj[o1 + s1:]
        self.assertEqual(len(swapped), len(obj))
        with self.assertRaises(ref.EnvelopeError):
            self.open(swapped, sf.name, sf.key)

    def test_wrong_name_or_key_fails(self):
        obj, sf = self.seal(pattern(50), "a.png", "image/png")
        other, so = self.seal(pattern(50), "b.png", "image/png")
        with self.assertRaisesRegex(ref.EnvelopeError, "header salt"):
            self.open(obj, so.name, so.key)  # a CDN serving one object under another's name
        with self.assertRaisesRegex(ref.EnvelopeError, "header salt"):
            self.open(obj, "0" * 32 + ".bin", sf.key)
        with self.assertRaises(ref.EnvelopeError):
            self.open(obj, sf.name, so.key)
        with self.assertRaises(ref.EnvelopeError):
            self.open(obj, sf.name, ref.file_key_from_secret(OTHER_SECRET, sf.salt))

    def test_salt_check(self):
        obj, sf = self.seal(pattern(70))
        r = ref.FileReader.from_bytes(obj, sf.name, sf.key)
        r.open_meta()
        root = ref.files_root(SECRET)
        r.check_salt(r.iter_records(), root)
        with self.assertRaises(ref.EnvelopeError):
            r.check_salt([pattern(70, 1)], root)
        with self.assertRaises(ref.EnvelopeError):
            r.check_salt(r.iter_records(), ref.files_root(OTHER_SECRET))

    def test_range_reads(self):
        data = pattern(3 * R + 1000, 11)
        obj, sf = self.seal(data)
        fetched = []

        def read_at(off, n):  # an HTTP Range request, recorded
            fetched.append((off, n))
            return obj[off:off + n]
        r = ref.FileReader(read_at, len(obj), sf.name, sf.key)
        L = len(data)
        for a, b in [(0, 0), (0, R - 1), (R - 1, R), (R - 5, 2 * R + 5), (R, R),
                     (2 * R + 17, 3 * R - 1), (3 * R - 1, 3 * R), (0, L - 1), (L - 1, L - 1),
                     (12345, 190000)]:
            fetched.clear()
            self.assertEqual(r.read_range(a, b), data[a:b + 1], (a, b))
            # only the records holding the range were fetched, each exactly once
            self.assertEqual([f[0] for f in fetched],
                             [r.record_span(i)[0] for i in range(a // R, b // R + 1)])
        for a, b in [(-1, 0), (5, 4), (0, L)]:
            with self.assertRaises(ValueError):
                r.read_range(a, b)


class VectorsTest(unittest.TestCase):
    ENVELOPE_KEYS = ["name", "secret_b64url", "epoch", "level", "bundles", "drip_seconds", "rule",
                     "gate_id", "key_hex", "path", "plaintext", "nonce_hex", "aad",
                     "envelope_hex", "file_name"]
    FILE_KEYS = ["name", "secret_b64url", "file_name", "media_type", "meta", "length", "seed",
                 "plaintext_hex", "files_root_hex", "salt_hex", "file_key_hex", "header_hex",
                 "sealed_meta_hex", "object_len", "object_sha256_hex", "object_hex", "object_name"]

    @staticmethod
    def load(name):
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            return f.read()

    def test_up_to_date(self):
        self.assertEqual(self.load(gen_vectors.ENVELOPE_FILE),
                         gen_vectors.dumps(gen_vectors.build_envelopes()),
                         "envelope_v2.json is stale: run gen_vectors.py")
        self.assertEqual(self.load(gen_vectors.FILE_FILE),
                         gen_vectors.dumps(gen_vectors.build_files()),
                         "file_v2.json is stale: run gen_vectors.py")
        self.assertFalse(os.path.exists(os.path.join(HERE, "envelope_v1.json")))

    def test_envelope_vectors(self):
        vectors = json.loads(self.load(gen_vectors.ENVELOPE_FILE))
        self.assertGreaterEqual(len(vectors), 8)
        refused = 0
        for v in vectors:
            self.assertEqual(list(v), self.ENVELOPE_KEYS, v["name"])
            self.assertEqual(ref.rule_text(v["level"], v["bundles"], v["drip_seconds"]), v["rule"])
            if v["envelope_hex"] is None:  # the refused rule: nothing derived
                refused += 1
                self.assertEqual(v["rule"], "level=-;bundles=-;drip=0")
                with self.assertRaises(ref.RuleError):
                    ref.parse_rule(v["rule"])
                self.assertEqual([v[k] for k in ("gate_id", "key_hex", "nonce_hex", "aad",
                                                 "file_name")], [None] * 5)
                continue
            secret = ref.b64url_decode_secret(v["secret_b64url"])
            key = ref.derive_key(secret, v["epoch"], v["rule"])
            env = bytes.fromhex(v["envelope_hex"])
            pt = v["plaintext"].encode("utf-8")
            self.assertEqual(v["gate_id"], ref.gate_id(v["rule"]))
            self.assertEqual(v["key_hex"], key.hex())
            self.assertEqual(v["aad"], "gatehouse/v2\n%s\n%s\n%d" % (v["gate_id"], v["path"], v["epoch"]))
            self.assertEqual(env[:7], b"GH2" + struct.pack(">I", v["epoch"]))
            self.assertEqual(env[7:19].hex(), v["nonce_hex"])
            self.assertEqual(ref.open_envelope(key, v["gate_id"], v["path"], env, v["epoch"]), pt)
            self.assertEqual(v["file_name"], hashlib.sha256(env).hexdigest()[:16] + ".bin")
        self.assertEqual(refused, 1)
        by = {v["name"]: v for v in vectors}
        self.assertTrue({v["epoch"] for v in vectors} >= {0, 1, 7, 2**32 - 1})
        self.assertIn("", [v["plaintext"] for v in vectors])
        self.assertTrue(any(not v["plaintext"].isascii() for v in vectors))
        self.assertTrue(any(v["bundles"] != sorted(v["bundles"]) for v in vectors))
        self.assertTrue(any(v["drip_seconds"] for v in vectors))
        self.assertEqual(by["members-block"]["path"], "/blog/launch/#2")
        b = by["bundle"]
        self.assertEqual(b["path"], "/_gated/%s/bundle" % b["gate_id"])
        self.assertEqual([sorted(i) for i in json.loads(b["plaintext"])],
                         [["path", "text", "title"]] * 2)
        self.assertIn('data-gh-files>{"', by["page-with-file"]["plaintext"])

    def test_file_vectors(self):
        vectors = json.loads(self.load(gen_vectors.FILE_FILE))
        for v in vectors:
            self.assertEqual(list(v), self.FILE_KEYS, v["name"])
            secret = ref.b64url_decode_secret(v["secret_b64url"])
            data = pattern(v["length"], v["seed"])
            obj, sf = ref.seal_file_bytes(secret, v["file_name"], v["media_type"], data)
            self.assertEqual(v["meta"], json.dumps({"name": v["file_name"], "type": v["media_type"]},
                                                   separators=(",", ":"), ensure_ascii=False))
            self.assertEqual(v["plaintext_hex"], data.hex() if len(data) <= 64 else None)
            self.assertEqual(v["files_root_hex"], ref.files_root(secret).hex())
            salt = bytes.fromhex(v["salt_hex"])
            self.assertEqual(salt, hmac.new(ref.files_root(secret), v["meta"].encode() + b"\n" + data,
                                            hashlib.sha256).digest()[:16])
            self.assertEqual(v["file_key_hex"], ref.file_key_from_secret(secret, salt).hex())
            self.assertEqual(v["header_hex"], obj[:36].hex())
            self.assertEqual(v["object_len"], len(obj))
            self.assertEqual(v["object_sha256_hex"], hashlib.sha256(obj).hexdigest())
            self.assertEqual(v["object_hex"], obj.hex() if len(obj) <= 1024 else None)
            self.assertEqual(v["object_name"], v["salt_hex"] + ".bin")
            if v["object_hex"] is not None:
                self.assertTrue(obj.hex().startswith(v["header_hex"] + v["sealed_meta_hex"]))
            got = ref.open_file_bytes(obj, v["object_name"], bytes.fromhex(v["file_key_hex"]))
            self.assertEqual(got, ((v["file_name"], v["media_type"]), data))
        lengths = {v["length"] for v in vectors}
        self.assertTrue(lengths >= {0, 1, R, R + 1, 3 * R + 1000})
        self.assertEqual(len({v["secret_b64url"] for v in vectors}), 2)
        names = [v["file_name"] for v in vectors]
        self.assertIn("Übung – 1.pdf", names)
        self.assertTrue(any('"' in n and "\\" in n for n in names))
        self.assertTrue({v["media_type"] for v in vectors} >= {
            "image/png", "video/webm", "text/csv", "application/octet-stream", "application/pdf"})


# ---- open_site.py, end to end on small sites built with reference.py ----

def gh_files(secret, objects):
    """The trailing key list of a body that references `objects` (SealedFile)."""
    keys = ",".join('"%s":"%s"' % (sf.name[:32], ref.b64url_encode(ref.file_key_from_secret(
        secret, sf.salt))) for sf in objects)
    return '<script type="application/json" data-gh-files>{%s}</script>' % keys


def build_site(public, secret, epoch, gates, files=()):
    """gates: {rule: [(path, title, html)]}; files: [(name, type, bytes)], sealed first and
    passed as SealedFile objects to any html that is a callable. Lays out _gated/ as §4 says."""
    files_dir = os.path.join(public, "_gated", "files")
    os.makedirs(files_dir)
    sealed = []
    with tempfile.TemporaryDirectory() as src_dir:
        for i, (name, media_type, data) in enumerate(files):
            src = os.path.join(src_dir, str(i))
            with open(src, "wb") as f:
                f.write(data)
            sealed.append(ref.seal_file_path(secret, name, media_type, src, files_dir))
    pages, bundles = [], {}
    for rule, items in gates.items():
        gate = ref.gate_id(rule)
        key = ref.derive_key(secret, epoch, rule)
        d = os.path.join(public, "_gated", gate)
        os.makedirs(d)

        def put(path, text):
            env = ref.seal(key, gate, epoch, path, text)
            name = ref.envelope_file_name(env)
            with open(os.path.join(d, name), "wb") as f:
                f.write(env)
            return "/_gated/%s/%s" % (gate, name)
        bundle = []
        for path, title, html in items:
            html = html(sealed) if callable(html) else html
            pages.append({"path": path, "gate": gate, "rule": rule, "src": put(path, html)})
            bundle.append({"path": path, "title": title, "text": "text of " + title})
        bundles[gate] = put(ref.bundle_path(gate), json.dumps(bundle, ensure_ascii=False))
    with open(os.path.join(public, "_gated", "manifest.json"), "w") as f:
        json.dump({"version": 2, "epoch": epoch, "pages": pages, "bundles": bundles}, f)
    with open(os.path.join(public, "_gated", "gates.json"), "w") as f:
        json.dump(sorted(bundles), f)
    return pages, bundles, sealed


def run_open_site(args, secret_text=None):
    env = dict(os.environ)
    env.pop("GATEHOUSE_SECRET", None)
    if secret_text is not None:
        env["GATEHOUSE_SECRET"] = secret_text
    p = subprocess.run([sys.executable, os.path.join(HERE, "open_site.py")] + args,
                       env=env, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class OpenSiteTest(unittest.TestCase):
    GOLD = ref.canonical_rule("gold", [], 0)
    COURSE = ref.canonical_rule(None, ["pricing-course"], 1209600)
    VIDEO = pattern(2 * R + 123, 8)

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.public = os.path.join(self.tmp, "public")
        self.secret_text = ref.b64url_encode(SECRET)

        def lesson(sealed):
            url = "/_gated/files/%s" % sealed[0].name
            return ('<p>Watch:</p><video src="%s" poster="%s"></video>\n<a href="%s">download</a>\n%s'
                    % (url, url, url, gh_files(SECRET, sealed)))
        self.pages, self.bundles, self.sealed = build_site(self.public, SECRET, 3, {
            self.GOLD: [("/course/lesson-1/", "Lesson 1", lesson),
                        ("/blog/launch/#1", "Launch", "<p>gold block</p>")],
            self.COURSE: [("/fr/", "Leçon", "déjà vu ✓")],
        }, files=[("Übung – 1.webm", "video/webm", self.VIDEO)])
        self.obj = os.path.join(self.public, "_gated", "files", self.sealed[0].name)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def check(self, *extra, secret=None, ok=False, expect=()):
        code, out = run_open_site([self.public] + list(extra),
                                  self.secret_text if secret is None else secret)
        self.assertEqual(code, 0 if ok else 1, out)
        for text in expect:
            self.assertIn(text, out)
        # neither the secret nor any key is ever printed
        self.assertNotIn(self.secret_text, out)
        self.assertNotIn(ref.b64url_encode(self.sealed[0].key), out)
        if not ok:
            self.assertTrue(all(line.startswith("FAIL ") for line in out.splitlines()[:-1]), out)
        return out

    def rewrite_page(self, i, body):
        """Re-seal page i of the manifest with another body (and point the manifest at it)."""
        page = self.pages[i]
        os.unlink(os.path.join(self.public, page["src"].lstrip("/")))
        env = ref.seal(ref.derive_key(SECRET, 3, page["rule"]), page["gate"], 3, page["path"], body)
        src = "/_gated/%s/%s" % (page["gate"], ref.envelope_file_name(env))
        with open(os.path.join(self.public, src.lstrip("/")), "wb") as f:
            f.write(env)
        self.pages[i] = dict(page, src=src)
        self.write_manifest()

    def write_manifest(self, **changes):
        m = {"version": 2, "epoch": 3, "pages": self.pages, "bundles": self.bundles}
        m.update(changes)
        with open(os.path.join(self.public, "_gated", "manifest.json"), "w") as f:
            json.dump(m, f)

    def test_good_site(self):
        out = self.check(ok=True)
        self.assertEqual(out.strip(), "opened 3 pages, 2 bundles and 1 files in 2 gates")

    def test_secret_file_and_dump(self):
        sf = os.path.join(self.tmp, "secret")
        with open(sf, "w") as f:
            f.write(self.secret_text + "\n")
        dump = os.path.join(self.tmp, "dump")
        code, out = run_open_site([self.public, "--secret-file", sf, "--dump", dump])
        self.assertEqual(code, 0, out)
        with open(os.path.join(dump, "fr.html"), encoding="utf-8") as f:
            self.assertEqual(f.read(), "déjà vu ✓")
        with open(os.path.join(dump, "files", self.sealed[0].name), "rb") as f:
            self.assertEqual(f.read(), self.VIDEO)

    def test_wrong_or_missing_secret(self):
        self.check(secret=ref.b64url_encode(OTHER_SECRET), expect=["authentication failed"])
        code, out = run_open_site([self.public])
        self.assertEqual(code, 1)
        self.assertIn("GATEHOUSE_SECRET", out)

    def test_tampered_file(self):
        with open(self.obj, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 1]))
        self.check(expect=[self.sealed[0].name, "record 2: authentication failed"])

    def test_truncated_file(self):
        with open(self.obj, "r+b") as f:
            f.truncate(os.path.getsize(self.obj) - 1000)
        self.check(expect=[self.sealed[0].name, "truncated or padded"])

    def test_renamed_file(self):
        other = os.path.join(os.path.dirname(self.obj), "0" * 32 + ".bin")
        shutil.copy(self.obj, other)
        self.check(expect=["0" * 32 + ".bin: header salt"])

    def test_stray_files(self):
        for rel in ["_gated/files/notes.txt", "_gated/%s/0123456789abcdef.bin" % self.pages[0]["gate"],
                    "_gated/extra.json", "_gated/files/%s.bin.part" % ("a" * 32)]:
            with open(os.path.join(self.public, rel), "w") as f:
                f.write("x")
        out = self.check(expect=["notes.txt: not a manifest entry", "0123456789abcdef.bin: not a",
                                 "extra.json: not a", ".bin.part: not a"])
        self.assertEqual(out.count("FAIL "), 4, out)

    def test_body_reference_missing_from_list(self):
        url = "/_gated/files/%s" % self.sealed[0].name
        self.rewrite_page(0, '<img srcset="%s 2x">\n%s' % (url, gh_files(SECRET, [])))
        self.check(expect=["but data-gh-files does not list it"])
        self.rewrite_page(0, '<img src="%s">' % url)  # and with no list at all
        self.check(expect=["but data-gh-files does not list it"])

    def test_bad_key_lists(self):
        good = gh_files(SECRET, self.sealed)
        h = self.sealed[0].name[:32]
        ref_html = '<img src="/_gated/files/%s.bin">' % h
        self.rewrite_page(0, ref_html + gh_files(OTHER_SECRET, self.sealed))
        self.check(expect=["not that file's key"])
        self.rewrite_page(0, "<p>no references</p>" + good)
        self.check(expect=["which the body does not reference"])
        self.rewrite_page(0, good + ref_html)
        self.check(expect=["not a trailing"])
        missing = '<img src="/_gated/files/%s.bin">' % ("b" * 32)
        fake = '<script type="application/json" data-gh-files>{"%s":"%s"}</script>' % (
            "b" * 32, ref.b64url_encode(ref.file_key_from_secret(SECRET, b"\xbb" * 16)))
        self.rewrite_page(0, missing + fake)
        self.check(expect=["_gated/files/%s.bin does not exist" % ("b" * 32)])
        self.rewrite_page(0, '<img src="/_gated/files/%s.bin">' % h.upper() + good)
        self.check(expect=["malformed reference"])
        self.rewrite_page(0, ref_html + "\n" + good + "\n")  # trailing whitespace is fine
        self.check(ok=True)

    def test_manifest_problems(self):
        self.write_manifest(epoch=4)
        self.check(expect=["epoch 3 != manifest epoch 4"])
        self.write_manifest(version=1)
        self.check(expect=["version must be 2"])
        extra = dict(self.pages[2], path="/course/lesson-2/")
        self.write_manifest(pages=self.pages + [extra])
        self.check(expect=["missing ['/course/lesson-2/']"])
        self.write_manifest(pages=[dict(self.pages[0], rule=self.COURSE)] + self.pages[1:])
        self.check(expect=["gate_id(rule)"])
        self.write_manifest(pages=[dict(self.pages[1], path="/blog/launch/#2")] + self.pages[:1]
                            + self.pages[2:])
        self.check(expect=["numbered [2]"])
        bundles = dict(self.bundles)
        del bundles[self.pages[2]["gate"]]
        self.write_manifest(bundles=bundles)
        self.check(expect=["gate has pages but no bundle"])

    def test_envelope_renamed(self):
        src = self.pages[2]["src"]
        new = src[:-20] + "0000000000000000.bin"
        os.rename(os.path.join(self.public, src.lstrip("/")), os.path.join(self.public, new.lstrip("/")))
        self.pages[2] = dict(self.pages[2], src=new)
        self.write_manifest()
        self.check(expect=["not the first 16 hex of SHA-256"])


if __name__ == "__main__":
    unittest.main()
