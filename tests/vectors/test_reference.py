"""Self-test for reference.py, gen_vectors.py and open_site.py. Plain asserts.

    python3 tests/vectors/test_reference.py
"""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_vectors  # noqa: E402
import reference as ref  # noqa: E402

SECRET = bytes(range(32))
RULE = ref.canonical_rule("gold", ["pricing-course"], 1209600)
GATE = ref.gate_id(RULE)


def fails(fn, *args):
    try:
        fn(*args)
    except ref.EnvelopeError:
        return True
    return False


def hkdf_by_hand(salt, ikm, info, length=32):
    """RFC 5869 written out, to check the library call in reference.derive_key."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return okm[:length]


def test_rule_and_gate_id():
    assert RULE == "level=gold;bundles=pricing-course;drip=1209600"
    assert ref.canonical_rule(None, [], 0) == "level=-;bundles=-;drip=0"
    assert ref.canonical_rule("gold", [], 0) == "level=gold;bundles=-;drip=0"
    assert ref.canonical_rule(None, ["b", "a", "course-2", "course-10"], 60) == \
        "level=-;bundles=a,b,course-10,course-2;drip=60"
    assert GATE == hashlib.sha256(b"gatehouse-gate-v1\n" + RULE.encode()).hexdigest()[:16]
    assert len(GATE) == 16 and GATE == GATE.lower()


def test_key_derivation():
    # RFC 5869 test case 1 for the hand-written HKDF, then reference vs hand.
    okm = hkdf_by_hand(bytes.fromhex("000102030405060708090a0b0c"), b"\x0b" * 22,
                       bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")
    for epoch in (0, 1, 7, 2**32 - 1):
        k = ref.derive_key(SECRET, epoch, RULE)
        assert k == hkdf_by_hand(b"gatehouse/v1/epoch/%d" % epoch, SECRET, RULE.encode())
    assert ref.derive_key(SECRET, 1, RULE) != ref.derive_key(SECRET, 7, RULE)
    assert ref.derive_key(SECRET, 1, RULE) != ref.derive_key(SECRET, 1, "level=gold;bundles=-;drip=0")


def test_round_trip_and_layout():
    key = ref.derive_key(SECRET, 1, RULE)
    for path, pt in [("/a/", ""), ("/course/lesson-3/", "<p>hi</p>"),
                     ("/fr/", "Leçon — déjà vu ✓"), ("/big/", "x" * 100000)]:
        env = ref.seal(key, GATE, 1, path, pt)
        assert ref.open(key, GATE, path, env, 1) == pt.encode()
        assert ref.open(key, GATE, path, env) == pt.encode()
        assert ref.open_with_secret(SECRET, RULE, path, env) == pt.encode()
        assert env[:3] == b"GH1" and env[3:7] == b"\x00\x00\x00\x01"
        assert env[7:19] == ref.nonce(key, path, pt.encode())
        assert len(env) == 3 + 4 + 12 + len(pt.encode()) + 16
        assert env == ref.seal(key, GATE, 1, path, pt.encode())  # deterministic, str == bytes
        name = ref.envelope_file_name(env)
        assert name == hashlib.sha256(env).hexdigest()[:16] + ".bin"
    # same plaintext, different paths -> different nonces and envelopes
    e1 = ref.seal(key, GATE, 1, "/a/", "same")
    e2 = ref.seal(key, GATE, 1, "/b/", "same")
    assert e1[7:19] != e2[7:19] and e1 != e2


def test_every_byte_flip_fails():
    key = ref.derive_key(SECRET, 1, RULE)
    env = ref.seal(key, GATE, 1, "/course/lesson-3/", "<p>secret lesson</p>")
    for i in range(len(env)):
        for mask in (0x01, 0x80):
            bad = bytearray(env)
            bad[i] ^= mask
            bad = bytes(bad)
            assert fails(ref.open, key, GATE, "/course/lesson-3/", bad, 1), (i, mask)
            assert fails(ref.open_with_secret, SECRET, RULE, "/course/lesson-3/", bad), (i, mask)
    for n in range(len(env)):  # every truncation
        assert fails(ref.open, key, GATE, "/course/lesson-3/", env[:n], 1), n
    assert fails(ref.open, key, GATE, "/course/lesson-3/", env + b"\x00", 1)


def test_wrong_context_fails():
    k1 = ref.derive_key(SECRET, 1, RULE)
    k7 = ref.derive_key(SECRET, 7, RULE)
    env = ref.seal(k1, GATE, 1, "/course/lesson-3/", "<p>x</p>")
    assert fails(ref.open, k1, GATE, "/course/lesson-4/", env, 1)       # wrong path
    assert fails(ref.open, k1, GATE, "/course/lesson-3", env, 1)        # trailing slash matters
    other_gate = ref.gate_id("level=silver;bundles=-;drip=0")
    assert fails(ref.open, k1, other_gate, "/course/lesson-3/", env, 1)  # wrong gate_id
    assert fails(ref.open, k7, GATE, "/course/lesson-3/", env)           # wrong epoch key
    assert fails(ref.open, k1, GATE, "/course/lesson-3/", env, 7)        # wrong expected epoch
    other_key = ref.derive_key(b"\x42" * 32, 1, RULE)
    assert fails(ref.open, other_key, GATE, "/course/lesson-3/", env, 1)  # wrong secret
    # epoch rewritten in the header: caught by expected_epoch, or by deriving K from it
    forged = env[:3] + (7).to_bytes(4, "big") + env[7:]
    assert fails(ref.open, k1, GATE, "/course/lesson-3/", forged, 1)
    assert fails(ref.open_with_secret, SECRET, RULE, "/course/lesson-3/", forged)


def test_secret_encoding():
    text = ref.b64url_encode(SECRET)
    assert "=" not in text and len(text) == 43
    assert ref.b64url_decode_secret(text + "\n") == SECRET
    for bad in ("", text[:-1], text + "AA", "!" * 43):
        try:
            ref.b64url_decode_secret(bad)
            assert False, bad
        except ValueError:
            pass


def test_vectors_file():
    with open(os.path.join(HERE, "envelope_v1.json"), encoding="utf-8") as f:
        vectors = json.load(f)
    assert vectors == gen_vectors.build(), "envelope_v1.json is stale: run gen_vectors.py"
    keys = ["name", "secret_b64url", "epoch", "level", "bundles", "drip_seconds", "rule",
            "gate_id", "key_hex", "path", "plaintext", "nonce_hex", "aad", "envelope_hex",
            "file_name"]
    assert len(vectors) >= 8
    for v in vectors:
        assert list(v) == keys, v["name"]
        secret = ref.b64url_decode_secret(v["secret_b64url"])
        assert ref.canonical_rule(v["level"], v["bundles"], v["drip_seconds"]) == v["rule"]
        key = bytes.fromhex(v["key_hex"])
        env = bytes.fromhex(v["envelope_hex"])
        assert ref.open_with_secret(secret, v["rule"], v["path"], env) == v["plaintext"].encode()
        assert ref.open(key, v["gate_id"], v["path"], env, v["epoch"]) == v["plaintext"].encode()
        assert env[7:19].hex() == v["nonce_hex"]
        assert v["file_name"] == ref.envelope_file_name(env)
    by = {v["name"]: v for v in vectors}
    assert by["epoch-1"]["key_hex"] != by["epoch-7"]["key_hex"]
    assert by["epoch-1"]["rule"] == by["epoch-7"]["rule"]
    a, b = by["same-plaintext-path-1"], by["same-plaintext-path-2"]
    assert a["plaintext"] == b["plaintext"] and a["nonce_hex"] != b["nonce_hex"]
    assert any(v["bundles"] != sorted(v["bundles"]) for v in vectors)
    assert by["bundle"]["path"] == "/_gated/%s/bundle" % by["bundle"]["gate_id"]


# ---- open_site.py, end to end on a small fake site built with reference.py ----

def build_site(public, secret, epoch, gates):
    """gates: {rule: [(path, title, html)]}. Writes _gated/ like DESIGN section 4."""
    pages = []
    for rule, items in gates.items():
        gate = ref.gate_id(rule)
        key = ref.derive_key(secret, epoch, rule)
        d = os.path.join(public, "_gated", gate)
        os.makedirs(d, exist_ok=True)
        for path, _title, html in items:
            env = ref.seal(key, gate, epoch, path, html)
            name = ref.envelope_file_name(env)
            with open(os.path.join(d, name), "wb") as f:
                f.write(env)
            pages.append({"path": path, "gate": gate, "rule": rule,
                          "src": "/_gated/%s/%s" % (gate, name)})
        bundle = json.dumps([{"path": p, "title": t, "text": h} for p, t, h in items])
        with open(os.path.join(d, "bundle.bin"), "wb") as f:
            f.write(ref.seal(key, gate, epoch, ref.bundle_path(gate), bundle))
    with open(os.path.join(public, "_gated", "manifest.json"), "w") as f:
        json.dump({"version": 1, "epoch": epoch, "pages": pages}, f)
    return pages


def run_open_site(args, secret_text=None):
    env = dict(os.environ)
    env.pop("GATEHOUSE_SECRET", None)
    if secret_text is not None:
        env["GATEHOUSE_SECRET"] = secret_text
    p = subprocess.run([sys.executable, os.path.join(HERE, "open_site.py")] + args,
                       env=env, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def test_open_site():
    secret_text = ref.b64url_encode(SECRET)
    gold = ref.canonical_rule("gold", [], 0)
    course = ref.canonical_rule(None, ["pricing-course"], 1209600)
    with tempfile.TemporaryDirectory() as tmp:
        public = os.path.join(tmp, "public")
        pages = build_site(public, SECRET, 3, {
            gold: [("/members/", "Members", "<p>hi</p>"), ("/fr/", "Leçon", "déjà vu ✓")],
            course: [("/course/lesson-1/", "L1", "<p>one</p>")],
        })
        code, out = run_open_site([public], secret_text)
        assert code == 0 and out.strip() == "opened 3 pages and 2 bundles in 2 gates", out
        assert secret_text not in out

        sf = os.path.join(tmp, "secret")
        with open(sf, "w") as f:
            f.write(secret_text + "\n")
        dump = os.path.join(tmp, "dump")
        code, out = run_open_site([public, "--secret-file", sf, "--dump", dump])
        assert code == 0, out
        with open(os.path.join(dump, "fr.html"), encoding="utf-8") as f:
            assert f.read() == "déjà vu ✓"

        code, out = run_open_site([public], ref.b64url_encode(b"\x42" * 32))  # wrong secret
        assert code == 1 and "authentication failed" in out, out
        code, out = run_open_site([public])                                  # no secret
        assert code == 1 and "GATEHOUSE_SECRET" in out, out

        # flip one ciphertext byte of a page: reported, exit 1
        src = os.path.join(public, pages[0]["src"].lstrip("/"))
        with open(src, "rb") as f:
            good = f.read()
        with open(src, "wb") as f:
            f.write(good[:-1] + bytes([good[-1] ^ 1]))
        code, out = run_open_site([public], secret_text)
        assert code == 1 and pages[0]["src"].split("/")[-1] in out, out
        with open(src, "wb") as f:
            f.write(good)

        # manifest says another epoch than the envelopes
        mpath = os.path.join(public, "_gated", "manifest.json")
        with open(mpath) as f:
            manifest = json.load(f)
        with open(mpath, "w") as f:
            json.dump(dict(manifest, epoch=4), f)
        code, out = run_open_site([public], secret_text)
        assert code == 1 and "epoch 3 != manifest epoch 4" in out, out

        # a page missing from its gate's bundle (manifest lists an extra page)
        extra = dict(manifest["pages"][2], path="/course/lesson-2/")
        with open(mpath, "w") as f:
            json.dump(dict(manifest, pages=manifest["pages"] + [extra]), f)
        code, out = run_open_site([public], secret_text)
        assert code == 1 and "missing ['/course/lesson-2/']" in out, out

        # gate that does not match its rule
        wrong = dict(manifest["pages"][0], rule=course)
        with open(mpath, "w") as f:
            json.dump(dict(manifest, pages=[wrong] + manifest["pages"][1:]), f)
        code, out = run_open_site([public], secret_text)
        assert code == 1 and "gate_id(rule" in out, out


if __name__ == "__main__":
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    for t in tests:
        t()
        print("ok", t.__name__)
    print("all %d tests passed" % len(tests))
