"""Write tests/vectors/envelope_v1.json from reference.py. Deterministic.

    python3 tests/vectors/gen_vectors.py
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402

SECRET_A = bytes(range(32))  # 00 01 .. 1f
SECRET_B = b"\x42" * 32

GOLD = dict(level="gold", bundles=["pricing-course"], drip_seconds=1209600)
SAME_PT = "<h1>Lesson</h1>\n<p>Same body on two pages.</p>\n"
BUNDLE = None  # path placeholder: "/_gated/<gate_id>/bundle" of the case's own gate


def case(name, secret, epoch, level, bundles, drip_seconds, path, plaintext):
    return dict(name=name, secret=secret, epoch=epoch, level=level, bundles=bundles,
                drip_seconds=drip_seconds, path=path, plaintext=plaintext)


CASES = [
    case("level-only", SECRET_A, 1, "gold", [], 0,
         "/members/welcome/", "<p>Welcome, gold member.</p>\n"),
    case("bundles-only-unsorted", SECRET_A, 1, None,
         ["pricing-course", "alpha-pack", "course-2", "course-10"], 0,
         "/course/intro/", "<p>Intro for bundle buyers.</p>\n"),
    case("level-bundles-drip-unsorted", SECRET_A, 1, "gold", ["pricing-course", "bonus"], 1209600,
         "/course/lesson-3/", "<h1>Lesson 3</h1>\n<p>Pricing, in depth.</p>\n"),
    case("empty-rule-no-drip", SECRET_A, 1, None, [], 0,
         "/members-any/", "<p>Any signed-in member.</p>\n"),
    case("epoch-1", SECRET_A, 1, **GOLD, path="/course/rotated/", plaintext="<p>Rotation check.</p>\n"),
    case("epoch-7", SECRET_A, 7, **GOLD, path="/course/rotated/", plaintext="<p>Rotation check.</p>\n"),
    case("same-plaintext-path-1", SECRET_A, 1, **GOLD, path="/course/lesson-1/", plaintext=SAME_PT),
    case("same-plaintext-path-2", SECRET_A, 1, **GOLD, path="/course/lesson-2/", plaintext=SAME_PT),
    case("non-ascii-plaintext", SECRET_B, 1, "silver", [], 86400,
         "/fr/lecon/", "<p>Leçon — déjà vu ✓</p>\n"),
    case("empty-plaintext", SECRET_B, 1, "silver", [], 0, "/empty/", ""),
    case("bundle", SECRET_A, 1, **GOLD, path=BUNDLE,
         plaintext='[{"path":"/a/","title":"A","text":"x"}]'),
    case("bundle-non-ascii", SECRET_B, 3, "silver", ["b", "a"], 0, BUNDLE,
         '[{"path":"/fr/lecon/","title":"Leçon","text":"déjà vu ✓"},'
         '{"path":"/empty/","title":"","text":""}]'),
]


def make_vector(c):
    rule = ref.canonical_rule(c["level"], c["bundles"], c["drip_seconds"])
    gate = ref.gate_id(rule)
    path = c["path"] if c["path"] is not BUNDLE else ref.bundle_path(gate)
    key = ref.derive_key(c["secret"], c["epoch"], rule)
    pt = c["plaintext"].encode("utf-8")
    env = ref.seal(key, gate, c["epoch"], path, pt)
    assert ref.open(key, gate, path, env, c["epoch"]) == pt
    return {
        "name": c["name"],
        "secret_b64url": ref.b64url_encode(c["secret"]),
        "epoch": c["epoch"],
        "level": c["level"],
        "bundles": list(c["bundles"]),
        "drip_seconds": c["drip_seconds"],
        "rule": rule,
        "gate_id": gate,
        "key_hex": key.hex(),
        "path": path,
        "plaintext": c["plaintext"],
        "nonce_hex": ref.nonce(key, path, pt).hex(),
        "aad": ref.aad(gate, path).decode("utf-8"),
        "envelope_hex": env.hex(),
        "file_name": ref.envelope_file_name(env),
    }


def build():
    return [make_vector(c) for c in CASES]


def main():
    out = os.path.join(HERE, "envelope_v1.json")
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %d cases to %s" % (len(CASES), os.path.relpath(out)))


if __name__ == "__main__":
    main()
