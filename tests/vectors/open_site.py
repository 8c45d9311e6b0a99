"""Independently open and check every gated page and bundle of a built gatehouse site.

    GATEHOUSE_SECRET=... python3 tests/vectors/open_site.py PUBLIC_DIR [--dump DIR]
    python3 tests/vectors/open_site.py PUBLIC_DIR --secret-file .gatehouse/secret [--dump DIR]

Uses reference.py (written from DESIGN section 4 alone). Prints one summary line and
exits 0, or prints each failure (file and reason) and exits 1. Never prints the
secret or any key.
"""

import argparse
import hashlib
import json
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

PAGE_KEYS = {"path", "gate", "rule", "src"}
BUNDLE_ITEM_KEYS = {"path", "title", "text"}
GATE_RE = re.compile(r"^[0-9a-f]{16}$")
SRC_RE = re.compile(r"^/_gated/[0-9a-f]{16}/[0-9a-f]{16}\.bin$")


class Fail(Exception):
    def __init__(self, where, what):
        super().__init__("%s: %s" % (where, what))


def load_secret(args):
    if args.secret_file:
        with open(args.secret_file, "r", encoding="utf-8") as f:
            text = f.read()
        origin = args.secret_file
    else:
        text = os.environ.get("GATEHOUSE_SECRET")
        origin = "GATEHOUSE_SECRET"
        if not text:
            raise Fail(origin, "not set (or use --secret-file PATH)")
    try:
        return ref.b64url_decode_secret(text)
    except ValueError as e:
        raise Fail(origin, str(e))


def read_bytes(public, rel, where):
    full = os.path.join(public, *rel.strip("/").split("/"))
    try:
        with open(full, "rb") as f:
            return full, f.read()
    except OSError as e:
        raise Fail(where, "cannot read %s (%s)" % (full, e.strerror))


def open_envelope(secret, epoch, rule, gate, path, env, where):
    """Check header epoch, derive K for the manifest epoch, decrypt. Returns plaintext bytes."""
    try:
        got = ref.envelope_epoch(env)
        if got != epoch:
            raise Fail(where, "envelope epoch %d != manifest epoch %d" % (got, epoch))
        return ref.open(ref.derive_key(secret, epoch, rule), gate, path, env, epoch)
    except ref.EnvelopeError as e:
        raise Fail(where, str(e))


def dump_name(path):
    name = path.replace("/", "_").strip("_")
    return (name or "index") + ".html"


def check_page(public, secret, epoch, i, page, dump):
    where = "manifest pages[%d]" % i
    if not isinstance(page, dict) or set(page) != PAGE_KEYS:
        raise Fail(where, "keys must be exactly %s" % sorted(PAGE_KEYS))
    if not all(isinstance(page[k], str) for k in PAGE_KEYS):
        raise Fail(where, "path, gate, rule and src must be strings")
    path, gate, rule, src = page["path"], page["gate"], page["rule"], page["src"]
    where = "manifest page %s" % path
    if ref.gate_id(rule) != gate:
        raise Fail(where, "gate %r != gate_id(rule %r) = %s" % (gate, rule, ref.gate_id(rule)))
    if not SRC_RE.match(src) or not src.startswith("/_gated/%s/" % gate):
        raise Fail(where, "src %r is not /_gated/<gate>/<16 hex>.bin" % src)
    full, env = read_bytes(public, src, where)
    expected_src = "/_gated/%s/%s" % (gate, ref.envelope_file_name(env))
    if src != expected_src:
        raise Fail(full, "src %s != %s (from SHA-256 of the file)" % (src, expected_src))
    pt = open_envelope(secret, epoch, rule, gate, path, env, full)
    try:
        pt.decode("utf-8")
    except UnicodeDecodeError:
        raise Fail(full, "plaintext is not UTF-8")
    if dump:
        with open(os.path.join(dump, dump_name(path)), "wb") as f:
            f.write(pt)


def check_bundle(public, secret, epoch, gate, rule, page_paths):
    path = ref.bundle_path(gate)
    full, env = read_bytes(public, "/_gated/%s/bundle.bin" % gate, "gate %s bundle" % gate)
    pt = open_envelope(secret, epoch, rule, gate, path, env, full)
    try:
        items = json.loads(pt.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Fail(full, "bundle is not UTF-8 JSON (%s)" % e)
    if not isinstance(items, list):
        raise Fail(full, "bundle JSON is not an array")
    for j, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != BUNDLE_ITEM_KEYS:
            raise Fail(full, "item %d: keys must be exactly path, title, text" % j)
        if not all(isinstance(item[k], str) for k in BUNDLE_ITEM_KEYS):
            raise Fail(full, "item %d: path, title and text must be strings" % j)
    paths = [item["path"] for item in items]
    if len(set(paths)) != len(paths):
        raise Fail(full, "duplicate paths in bundle")
    if set(paths) != page_paths:
        missing = sorted(page_paths - set(paths))
        extra = sorted(set(paths) - page_paths)
        raise Fail(full, "bundle paths differ from manifest: missing %s, extra %s" % (missing, extra))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("public_dir")
    ap.add_argument("--secret-file", metavar="PATH")
    ap.add_argument("--dump", metavar="DIR")
    args = ap.parse_args(argv)

    failures = []
    pages_ok = bundles_ok = 0
    try:
        secret = load_secret(args)
        mpath = os.path.join(args.public_dir, "_gated", "manifest.json")
        try:
            with open(mpath, "r", encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail(mpath, "cannot read manifest (%s)" % e)
        if not isinstance(manifest, dict) or manifest.get("version") != 1:
            raise Fail(mpath, "version must be 1")
        epoch, pages = manifest.get("epoch"), manifest.get("pages")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch < 2**32:
            raise Fail(mpath, "epoch must be an integer in u32 range")
        if not isinstance(pages, list):
            raise Fail(mpath, "pages must be an array")
        if args.dump:
            os.makedirs(args.dump, exist_ok=True)
    except Fail as e:
        print("FAIL %s" % e)
        return 1

    gates = {}  # gate -> rule
    gate_paths = defaultdict(set)
    seen_paths = set()
    for i, page in enumerate(pages):
        try:
            check_page(args.public_dir, secret, epoch, i, page, args.dump)
            pages_ok += 1
        except Fail as e:
            failures.append(str(e))
        if isinstance(page, dict) and isinstance(page.get("gate"), str):
            gate, path, rule = page["gate"], page.get("path"), page.get("rule")
            if path in seen_paths:
                failures.append("%s: duplicate page path %s" % (mpath, path))
            seen_paths.add(path)
            gate_paths[gate].add(path)
            if gate in gates and gates[gate] != rule:
                failures.append("%s: gate %s has two rules %r and %r" % (mpath, gate, gates[gate], rule))
            gates.setdefault(gate, rule)

    for gate in sorted(gates):
        rule = gates[gate]
        if not GATE_RE.match(gate) or not isinstance(rule, str) or ref.gate_id(rule) != gate:
            failures.append("gate %s: skipping bundle, gate id/rule invalid" % gate)
            continue
        try:
            check_bundle(args.public_dir, secret, epoch, gate, rule, gate_paths[gate])
            bundles_ok += 1
        except Fail as e:
            failures.append(str(e))

    if failures:
        for f in failures:
            print("FAIL %s" % f)
        print("%d failure(s); opened %d of %d pages and %d of %d bundles"
              % (len(failures), pages_ok, len(pages), bundles_ok, len(gates)))
        return 1
    print("opened %d pages and %d bundles in %d gates" % (pages_ok, bundles_ok, len(gates)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
