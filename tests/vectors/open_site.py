"""Independently open and check everything under _gated/ of a built gatehouse site
(contract version 2): every page and block envelope, every bundle, every sealed file, and
the data-gh-files key list at the end of each body.

    GATEHOUSE_SECRET=... python3 tests/vectors/open_site.py PUBLIC_DIR [--dump DIR]
    python3 tests/vectors/open_site.py PUBLIC_DIR --secret-file .gatehouse/secret [--dump DIR]

Uses reference.py (written from DESIGN section 4 alone). Prints one summary line and exits
0, or prints one `FAIL <file>: <reason>` line per problem and exits 1. Never prints the
secret or any key. Sealed files are read one record at a time, so a site with large media
is checked in constant memory.
"""

import argparse
import hmac
import json
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

MANIFEST_KEYS = {"version", "epoch", "pages", "bundles"}
PAGE_KEYS = {"path", "gate", "rule", "src"}
BUNDLE_ITEM_KEYS = {"path", "title", "text"}
GATE_RE = re.compile(r"^[0-9a-f]{16}$")
SRC_RE = re.compile(r"^/_gated/([0-9a-f]{16})/([0-9a-f]{16})\.bin$")
BLOCK_RE = re.compile(r"^(.*)#([1-9][0-9]*)$")
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
# A reference to a sealed file, wherever it sits in the body (src, href, poster, srcset,
# absolute or root-relative URL). Any "_gated/files/" not in this shape is reported.
FILE_REF_RE = re.compile(r"/_gated/files/([0-9a-f]{32})\.bin")
FILES_MARK = "_gated/files/"
GH_FILES_OPEN = '<script type="application/json" data-gh-files>'
GH_FILES_CLOSE = "</script>"
# Files under _gated/ that are neither envelopes nor sealed files, and are allowed.
ALLOWED_EXTRA = {"_gated/manifest.json", "_gated/gates.json"}


class Fail(Exception):
    """One problem with one file; stops the check of that item."""

    def __init__(self, where, what):
        super().__init__("%s: %s" % (where, what))


class Checker:
    def __init__(self, public, secret, dump):
        self.public = public
        self.secret = secret
        self.files_root = ref.files_root(secret)
        self.dump = dump
        self.failures = []

    def fail(self, where, what):
        self.failures.append("%s: %s" % (where, what))

    def full(self, rel):
        """Path of a site-relative name ("/_gated/x" or "_gated/x") as the user would type it."""
        return os.path.join(self.public, *rel.strip("/").split("/"))

    # ---- manifest ----

    def load_manifest(self):
        where = self.full("_gated/manifest.json")
        try:
            with open(where, "r", encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail(where, "cannot read manifest (%s)" % e)
        if not isinstance(manifest, dict) or set(manifest) != MANIFEST_KEYS:
            raise Fail(where, "keys must be exactly %s" % sorted(MANIFEST_KEYS))
        if manifest["version"] != 2 or isinstance(manifest["version"], bool):
            raise Fail(where, "version must be 2")
        epoch = manifest["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= ref.U32_MAX:
            raise Fail(where, "epoch must be an integer in u32 range")
        if not isinstance(manifest["pages"], list):
            raise Fail(where, "pages must be an array")
        if not isinstance(manifest["bundles"], dict):
            raise Fail(where, "bundles must be an object")
        self.manifest_path = where
        return manifest

    def read_envelope(self, src, gate, where):
        """Bytes of a content-addressed envelope named by `src`, after checking the name."""
        m = SRC_RE.match(src) if isinstance(src, str) else None
        if not m or m.group(1) != gate:
            raise Fail(where, "src %r is not /_gated/%s/<16 hex>.bin" % (src, gate))
        self.listed.add(src.lstrip("/"))  # accounted for, even if it then fails
        full = self.full(src)
        try:
            with open(full, "rb") as f:
                env = f.read()
        except OSError as e:
            raise Fail(where, "cannot read %s (%s)" % (full, e.strerror))
        if ref.envelope_file_name(env) != m.group(2) + ".bin":
            raise Fail(full, "name is not the first 16 hex of SHA-256 of the file (%s)"
                       % ref.envelope_file_name(env))
        return full, env

    def open_envelope(self, full, env, rule, gate, path):
        try:
            got = ref.envelope_epoch(env)
            if got != self.epoch:
                raise Fail(full, "envelope epoch %d != manifest epoch %d" % (got, self.epoch))
            key = ref.derive_key(self.secret, self.epoch, rule)
            return ref.open_envelope(key, gate, path, env, self.epoch)
        except ref.EnvelopeError as e:
            raise Fail(full, str(e))

    # ---- pages and blocks ----

    def check_page(self, i, page):
        """Returns (path, gate, rule) when the entry is well formed enough to group by gate
        (even if its envelope then fails), else None."""
        where = "%s: pages[%d]" % (self.manifest_path, i)
        if not isinstance(page, dict) or set(page) != PAGE_KEYS:
            self.fail(where, "keys must be exactly %s" % sorted(PAGE_KEYS))
            return None
        if not all(isinstance(page[k], str) for k in PAGE_KEYS):
            self.fail(where, "path, gate, rule and src must be strings")
            return None
        path, gate, rule, src = page["path"], page["gate"], page["rule"], page["src"]
        where = "%s: page %s" % (self.manifest_path, path)
        try:
            if not path.startswith("/") or "\n" in path:
                raise Fail(where, "path must start with / and hold no newline")
            if "#" in path and not BLOCK_RE.match(path):
                raise Fail(where, "a block path must be <page path>#<n>, n from 1")
            try:
                ref.parse_rule(rule)
            except ref.RuleError as e:
                raise Fail(where, "rule %r: %s" % (rule, e))
            if ref.gate_id(rule) != gate:
                raise Fail(where, "gate %r != gate_id(rule) = %s" % (gate, ref.gate_id(rule)))
            full, env = self.read_envelope(src, gate, where)
            body = self.open_envelope(full, env, rule, gate, path)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise Fail(full, "body is not UTF-8")
            ok = self.check_body_files(full, text)
            if self.dump:
                name = (path.replace("/", "_").strip("_") or "index") + ".html"
                with open(os.path.join(self.dump, name), "wb") as f:
                    f.write(body)
            if ok:
                self.pages_ok += 1
        except Fail as e:
            self.failures.append(str(e))
        return path, gate, rule

    def check_body_files(self, where, body):
        """The trailing data-gh-files list against the body's references to sealed files.
        Returns False (after reporting) on any problem."""
        before = len(self.failures)
        listed = {}
        content = body
        if body.count("data-gh-files") > 1:
            self.fail(where, "data-gh-files appears more than once")
        elif "data-gh-files" in body:
            # §4: "the body ends with <script ...>". Trailing whitespace is tolerated.
            tail = body.rstrip()
            start = tail.rfind(GH_FILES_OPEN)
            if start < 0 or not tail.endswith(GH_FILES_CLOSE):
                self.fail(where, "data-gh-files is not a trailing %s...%s"
                          % (GH_FILES_OPEN, GH_FILES_CLOSE))
            else:
                content = body[:start]
                listed = self.parse_key_list(where, tail[start + len(GH_FILES_OPEN):
                                                        -len(GH_FILES_CLOSE)])
        refs = set(FILE_REF_RE.findall(content))
        at = content.find(FILES_MARK)
        while at >= 0:
            if not FILE_REF_RE.match(content, at - 1):
                self.fail(where, "malformed reference to a sealed file near %r"
                          % content[max(at - 1, 0):at + 50])
            at = content.find(FILES_MARK, at + 1)
        for h in sorted(refs - set(listed)):
            self.fail(where, "references /_gated/files/%s.bin but data-gh-files does not list it" % h)
        for h in sorted(set(listed) - refs):
            # a key for a file this body does not use would hand it to this gate's members
            self.fail(where, "data-gh-files lists %s, which the body does not reference" % h)
        return len(self.failures) == before

    def parse_key_list(self, where, text):
        """{hex: key} from the data-gh-files JSON, checking every key and object."""
        def no_dupes(pairs):
            keys = [k for k, _ in pairs]
            if len(set(keys)) != len(keys):
                raise ValueError("duplicate key")
            return dict(pairs)
        try:
            listed = json.loads(text, object_pairs_hook=no_dupes)
        except ValueError as e:
            self.fail(where, "data-gh-files is not a JSON object (%s)" % e)
            return {}
        if not isinstance(listed, dict):
            self.fail(where, "data-gh-files is not a JSON object")
            return {}
        good = {}
        for h, key in listed.items():
            if not HEX32_RE.match(h) or not isinstance(key, str):
                self.fail(where, "data-gh-files entry %r is not <32 hex>: <base64url key>" % h)
                continue
            good[h] = key
            want = ref.b64url_encode(ref.file_key(self.files_root, bytes.fromhex(h)))
            if not hmac.compare_digest(key.encode("utf-8", "replace"), want.encode("ascii")):
                self.fail(where, "data-gh-files key for %s is not that file's key" % h)
            if h not in self.sealed_names:
                self.fail(where, "data-gh-files lists %s but _gated/files/%s.bin does not exist"
                          % (h, h))
        return good

    def check_block_numbers(self, paths):
        """Blocks of a page count from 1 in document order and each is sealed, so a page's
        block numbers must be exactly 1..k."""
        numbers = defaultdict(set)
        for p in paths:
            m = BLOCK_RE.match(p)
            if m:
                numbers[m.group(1)].add(int(m.group(2)))
        for page, ns in sorted(numbers.items()):
            if ns != set(range(1, max(ns) + 1)):
                self.fail(self.manifest_path, "blocks of %s are numbered %s, not 1..%d"
                          % (page, sorted(ns), max(ns)))

    # ---- bundles ----

    def check_bundle(self, gate, src, rule, page_paths):
        where = "%s: bundles[%s]" % (self.manifest_path, gate)
        full, env = self.read_envelope(src, gate, where)
        pt = self.open_envelope(full, env, rule, gate, ref.bundle_path(gate))
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
            raise Fail(full, "bundle paths differ from the gate's pages: missing %s, extra %s"
                       % (sorted(page_paths - set(paths)), sorted(set(paths) - page_paths)))
        if self.dump:
            with open(os.path.join(self.dump, "bundle-%s.json" % gate), "wb") as f:
                f.write(pt)

    # ---- sealed files ----

    def check_file(self, h):
        full = self.full("_gated/files/%s.bin" % h)
        out = tmp = None
        try:
            if self.dump:
                tmp = os.path.join(self.dump, "files", h + ".bin.part")
                out = open(tmp, "wb")
            with open(full, "rb") as f:
                def read_at(offset, n):
                    f.seek(offset)
                    return ref.read_full(f, n)
                try:
                    r = ref.FileReader(read_at, os.fstat(f.fileno()).st_size, h,
                                       ref.file_key(self.files_root, bytes.fromhex(h)))
                    r.open_meta()

                    def records():
                        for rec in r.iter_records():  # final flag checked per record
                            if out:
                                out.write(rec)
                            yield rec
                    r.check_salt(records(), self.files_root)
                except ref.EnvelopeError as e:
                    raise Fail(full, str(e))
            if out:
                out.close()
                os.replace(tmp, tmp[:-len(".part")])
                out = tmp = None
            self.files_ok += 1
        except OSError as e:
            self.fail(full, "cannot read (%s)" % e.strerror)
        except Fail as e:
            self.failures.append(str(e))
        finally:
            if out:  # never leave a partial or unverified plaintext behind
                out.close()
                os.unlink(tmp)

    # ---- everything under _gated/ ----

    def list_gated(self):
        """All files under _gated/ (relative, '/'-separated) and the sealed files' hex names."""
        rels = []
        root = self.full("_gated")
        for d, _dirs, files in os.walk(root):
            for name in files:
                rels.append(os.path.relpath(os.path.join(d, name), self.public)
                            .replace(os.sep, "/"))
        sealed = set()
        for rel in rels:
            parts = rel.split("/")
            if len(parts) == 3 and parts[1] == "files" and ref.FILE_NAME_RE.match(parts[2]):
                sealed.add(parts[2][:32])
        return sorted(rels), sealed

    def run(self):
        manifest = self.load_manifest()
        self.epoch = manifest["epoch"]
        self.listed = set()  # envelopes named by the manifest, relative to public/
        self.pages_ok = self.bundles_ok = self.files_ok = 0
        rels, self.sealed_names = self.list_gated()
        if self.dump:
            os.makedirs(os.path.join(self.dump, "files"), exist_ok=True)

        gates = {}  # gate -> rule
        gate_paths = defaultdict(set)
        for i, page in enumerate(manifest["pages"]):
            got = self.check_page(i, page)
            if got is None:
                continue
            path, gate, rule = got
            if any(path in ps for ps in gate_paths.values()):
                self.fail(self.manifest_path, "duplicate page path %s" % path)
            gate_paths[gate].add(path)
            gates.setdefault(gate, rule)
        self.check_block_numbers([p for ps in gate_paths.values() for p in ps])

        bundles = manifest["bundles"]
        for gate in sorted(set(gates) | set(bundles)):
            where = "%s: bundles[%s]" % (self.manifest_path, gate)
            if gate not in bundles:
                self.fail(where, "gate has pages but no bundle")
                continue
            if gate not in gates:
                self.fail(where, "bundle for a gate with no pages")
                continue
            rule = gates[gate]
            if not GATE_RE.match(gate) or ref.gate_id(rule) != gate:
                self.fail(where, "gate id does not match its rule; bundle not opened")
                continue
            try:
                self.check_bundle(gate, bundles[gate], rule, gate_paths[gate])
                self.bundles_ok += 1
            except Fail as e:
                self.failures.append(str(e))

        for rel in rels:
            if rel in ALLOWED_EXTRA or rel in self.listed:
                continue
            parts = rel.split("/")
            if len(parts) == 3 and parts[1] == "files" and ref.FILE_NAME_RE.match(parts[2]):
                continue
            self.fail(self.full(rel), "not a manifest entry, a bundle or a sealed file")
        for h in sorted(self.sealed_names):
            self.check_file(h)
        return len(manifest["pages"]), len(gates)


def load_secret(args):
    if args.secret_file:
        origin = args.secret_file
        try:
            with open(args.secret_file, "r", encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise Fail(origin, "cannot read (%s)" % e.strerror)
    else:
        origin = "GATEHOUSE_SECRET"
        text = os.environ.get(origin)
        if not text:
            raise Fail(origin, "not set (or use --secret-file PATH)")
    try:
        return ref.b64url_decode_secret(text)
    except ValueError as e:
        raise Fail(origin, str(e))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("public_dir")
    ap.add_argument("--secret-file", metavar="PATH")
    ap.add_argument("--dump", metavar="DIR", help="write opened bodies, bundles and files here")
    args = ap.parse_args(argv)

    try:
        checker = Checker(args.public_dir, load_secret(args), args.dump)
        n_pages, n_gates = checker.run()
    except Fail as e:
        print("FAIL %s" % e)
        return 1
    if checker.failures:
        for f in checker.failures:
            print("FAIL %s" % f)
        print("%d failure(s); opened %d of %d pages, %d bundles and %d of %d files"
              % (len(checker.failures), checker.pages_ok, n_pages, checker.bundles_ok,
                 checker.files_ok, len(checker.sealed_names)))
        return 1
    print("opened %d pages, %d bundles and %d files in %d gates"
          % (checker.pages_ok, checker.bundles_ok, checker.files_ok, n_gates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
