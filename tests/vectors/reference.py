"""Independent reference implementation of gatehouse's encryption contract, version 2.

Written from DESIGN section 4 ("Gates and envelopes (contract, version 2)") and the
"Files" part of section 3 alone, without looking at the Rust implementation, so that
the two can check each other. All text is UTF-8. Needs the `cryptography` package.

Gates (unchanged from version 1):
    rule      = "level=<id|->;bundles=<ids sorted, comma-joined|->;drip=<seconds>"
    gate_id   = hex(SHA-256("gatehouse-gate-v1\\n" + rule))[:16]
    K         = HKDF-SHA256(salt="gatehouse/v1/epoch/<epoch>", ikm=M, info=rule, L=32)

Page and block envelopes:
    nonce     = HMAC-SHA256(K, "nonce\\n" + path + "\\n" + plaintext)[:12]
    AAD       = "gatehouse/v2\\n" + gate_id + "\\n" + path + "\\n" + <epoch decimal>
    envelope  = "GH2" || epoch (u32 BE) || nonce (12) || AES-256-GCM(K, nonce, plaintext, AAD)
    file name = hex(SHA-256(envelope))[:16] + ".bin"

Files (sealed once, independent of the epoch):
    F         = HKDF-SHA256(salt=empty, ikm=M, info="gatehouse/v2/files", L=32)
    meta      = {"name":"<file name>","type":"<media type>"}   (serde_json compact)
    salt      = HMAC-SHA256(F, meta + "\\n" + file bytes)[:16]
    FK        = HKDF-SHA256(salt=salt, ikm=F, info="gatehouse/v2/file", L=32)
    header    = "GHF2" || 65536 (u32 BE) || length (u64 BE) || salt (16) || len(sealed meta) (u32 BE)
    sealed meta = AES-256-GCM(FK, nonce=0xFF*12, AAD=header, meta)
    record i  = AES-256-GCM(FK, nonce=0x00000000 || i (u64 BE),
                            AAD=header || i (u64 BE) || (0x01 if last else 0x00), bytes of record i)
    object    = header || sealed meta || record 0 || ... || record n-1,   n = max(1, ceil(length/65536))
    name      = hex(salt) + ".bin"  (32 hex digits)
"""

import base64
import hashlib
import hmac
import io
import json
import os
import re
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TAG_LEN = 16  # AES-GCM tag, appended to every ciphertext
U32_MAX = 2**32 - 1

# ---- envelopes ----
ENVELOPE_MAGIC = b"GH2"
ENVELOPE_HEADER_LEN = len(ENVELOPE_MAGIC) + 4 + 12  # magic, epoch u32 BE, nonce

# ---- files ----
FILE_MAGIC = b"GHF2"
RECORD_SIZE = 65536
FILE_HEADER = struct.Struct(">4sIQ16sI")  # magic, record size, length, salt, sealed meta length
FILE_HEADER_LEN = FILE_HEADER.size
assert FILE_HEADER_LEN == 36
META_NONCE = b"\xff" * 12
SALT_LEN = 16
FILE_NAME_RE = re.compile(r"^[0-9a-f]{32}\.bin$")


class EnvelopeError(Exception):
    """An envelope or sealed file is malformed, or does not authenticate."""


class RuleError(ValueError):
    """A rule that gatehouse refuses to build."""


def _utf8(s):
    return s.encode("utf-8")


def _as_bytes(data):
    return _utf8(data) if isinstance(data, str) else bytes(data)


def _hkdf(salt, ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


# ============================================================================
# Rules, gate ids, gate keys
# ============================================================================

def rule_text(level, bundles, drip_seconds):
    """The canonical rule text, with no policy checks (see canonical_rule).

    `level` is an id or None, `bundles` any iterable of ids in any order, `drip_seconds`
    an int. Python sorts str by code point, which for UTF-8 is the same as byte order,
    so this matches a byte-wise sort in any other language. Duplicates are kept: §4 says
    "sorted", not "deduplicated"."""
    bundles = sorted(bundles)
    return "level={};bundles={};drip={}".format(
        level if level is not None else "-",
        ",".join(bundles) if bundles else "-",
        int(drip_seconds),
    )


def canonical_rule(level, bundles, drip_seconds):
    """rule_text(), refusing rules gatehouse must not build.

    A rule with no level and no bundles names no right that could open it (§5: a page opens
    when ANY of its rule's rights is held), so it is refused whatever its drip. Ids must be
    non-empty and must not contain the rule's own separators, or two different rules could
    print the same text."""
    bundles = list(bundles)
    if level is None and not bundles:
        raise RuleError("a rule needs a level or at least one bundle")
    for ident in ([level] if level is not None else []) + bundles:
        if not ident or ident == "-" or any(c in ident for c in ";,=\n"):
            raise RuleError("invalid id %r in rule" % ident)
    if isinstance(drip_seconds, bool) or not isinstance(drip_seconds, int) or drip_seconds < 0:
        raise RuleError("drip must be a non-negative number of seconds")
    return rule_text(level, bundles, drip_seconds)


RULE_RE = re.compile(r"^level=([^;]+);bundles=([^;]+);drip=(0|[1-9][0-9]*)$")


def parse_rule(rule):
    """(level|None, [bundles], drip) from rule text; raises RuleError unless the text is
    canonical (re-printing it gives the same text) and allowed."""
    m = RULE_RE.match(rule)
    if not m:
        raise RuleError("not of the form level=..;bundles=..;drip=..")
    level = None if m.group(1) == "-" else m.group(1)
    bundles = [] if m.group(2) == "-" else m.group(2).split(",")
    parsed = (level, bundles, int(m.group(3)))
    if canonical_rule(*parsed) != rule:
        raise RuleError("not canonical (bundles must be sorted)")
    return parsed


def gate_id(rule):
    return hashlib.sha256(_utf8("gatehouse-gate-v1\n" + rule)).hexdigest()[:16]


def _check_epoch(epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= U32_MAX:
        raise ValueError("epoch must be an integer in u32 range")


def derive_key(secret, epoch, rule):
    """Gate key K (32 bytes) from the 32-byte master secret M, for one epoch."""
    _check_epoch(epoch)
    return _hkdf(_utf8("gatehouse/v1/epoch/%d" % epoch), secret, _utf8(rule))


# ============================================================================
# Page and block envelopes
# ============================================================================

def _check_path(path):
    # The nonce input is "nonce\n" + path + "\n" + plaintext. With a newline allowed in a path,
    # (path "/a\nb", plaintext "c") and (path "/a", plaintext "b\nc") would share a nonce under
    # one key: AES-GCM nonce reuse. §4 does not forbid it, so the reference refuses it.
    if "\n" in path:
        raise ValueError("an envelope path must not contain a newline")


def block_path(page_path, n):
    """Path of a page's n-th members block (n counts from 1)."""
    if n < 1:
        raise ValueError("members blocks count from 1")
    return "%s#%d" % (page_path, n)


def bundle_path(gate):
    return "/_gated/%s/bundle" % gate


def nonce(key, path, plaintext):
    return hmac.new(key, _utf8("nonce\n" + path + "\n") + _as_bytes(plaintext),
                    hashlib.sha256).digest()[:12]


def aad(gate, path, epoch):
    _check_epoch(epoch)
    return _utf8("gatehouse/v2\n%s\n%s\n%d" % (gate, path, epoch))


def seal(key, gate, epoch, path, plaintext):
    """Envelope bytes for one page body, members block or bundle (plaintext: str or bytes)."""
    _check_path(path)
    pt = _as_bytes(plaintext)
    n = nonce(key, path, pt)
    ct = AESGCM(key).encrypt(n, pt, aad(gate, path, epoch))
    return ENVELOPE_MAGIC + struct.pack(">I", epoch) + n + ct


def envelope_epoch(envelope):
    """The epoch written in an envelope's header (authenticated only once opened)."""
    if len(envelope) < ENVELOPE_HEADER_LEN + TAG_LEN:
        raise EnvelopeError("envelope too short (%d bytes)" % len(envelope))
    if envelope[:3] != ENVELOPE_MAGIC:
        raise EnvelopeError("bad magic %r (want GH2)" % envelope[:3])
    return struct.unpack(">I", envelope[3:7])[0]


def open_envelope(key, gate, path, envelope, expected_epoch):
    """Decrypt an envelope with K for `expected_epoch`; returns plaintext bytes.

    The header epoch must equal the expected one. Version 2 also puts the epoch in the AAD,
    so a header epoch changed after sealing fails authentication even if a caller derived
    K for the forged epoch."""
    epoch = envelope_epoch(envelope)
    if epoch != expected_epoch:
        raise EnvelopeError("envelope epoch %d != expected epoch %d" % (epoch, expected_epoch))
    n = envelope[7:ENVELOPE_HEADER_LEN]
    try:
        return AESGCM(key).decrypt(n, envelope[ENVELOPE_HEADER_LEN:], aad(gate, path, epoch))
    except InvalidTag:
        raise EnvelopeError("authentication failed (wrong key, gate, path, epoch or tampered bytes)")


def open_with_secret(secret, rule, path, envelope, expected_epoch=None):
    """Decrypt using the master secret. Without `expected_epoch`, K is derived for the
    epoch written in the header (the AAD still binds the header to it)."""
    epoch = envelope_epoch(envelope) if expected_epoch is None else expected_epoch
    return open_envelope(derive_key(secret, epoch, rule), gate_id(rule), path, envelope, epoch)


def envelope_file_name(envelope):
    return hashlib.sha256(envelope).hexdigest()[:16] + ".bin"


# ============================================================================
# Files: keys and metadata
# ============================================================================

def files_root(secret):
    """F. HKDF with an empty salt (RFC 5869 treats it as HashLen zero bytes)."""
    return _hkdf(b"", secret, b"gatehouse/v2/files")


def file_key(root, salt):
    """FK for one sealed file, from F and the file's salt."""
    if len(salt) != SALT_LEN:
        raise ValueError("a file salt is 16 bytes")
    return _hkdf(salt, root, b"gatehouse/v2/file")


def file_key_from_secret(secret, salt):
    """FK from the master secret and the salt (the object's name), so the holder of M can
    open any sealed file without anything from the build."""
    return file_key(files_root(secret), salt)


def json_string(s):
    """A JSON string literal exactly as serde_json writes it: escapes only '"', '\\' and
    C0 controls (\\b \\t \\n \\f \\r, else \\u00xx in lowercase hex); '/', DEL and non-ASCII
    (including U+2028/2029) are written as they are."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
             "\f": "\\f", "\r": "\\r"}
    out = []
    for c in s:
        if c in short:
            out.append(short[c])
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def meta_json(name, media_type):
    """The meta bytes: exactly {"name":...,"type":...}, compact, UTF-8."""
    return _utf8('{"name":%s,"type":%s}' % (json_string(name), json_string(media_type)))


def parse_meta(meta):
    """(name, type) from meta bytes; raises EnvelopeError unless the bytes are exactly what
    meta_json() would write for them (two string keys, name then type, compact)."""
    class Pairs(list):  # an object's members in order (a JSON array stays a plain list)
        pass
    try:
        pairs = json.loads(meta.decode("utf-8"), object_pairs_hook=Pairs)
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeError("meta is not UTF-8 JSON")
    if (not isinstance(pairs, Pairs) or [k for k, _ in pairs] != ["name", "type"]
            or not all(isinstance(v, str) for _, v in pairs)):
        raise EnvelopeError('meta must be {"name":<string>,"type":<string>}')
    name, media_type = pairs[0][1], pairs[1][1]
    if meta_json(name, media_type) != meta:
        raise EnvelopeError("meta is not in serde_json's compact form")
    return name, media_type


def record_count(length):
    return max(1, -(-length // RECORD_SIZE))


def object_len(length, sealed_meta_len):
    return FILE_HEADER_LEN + sealed_meta_len + length + record_count(length) * TAG_LEN


def record_offset(sealed_meta_len, i):
    """Where record i starts in the object."""
    return FILE_HEADER_LEN + sealed_meta_len + i * (RECORD_SIZE + TAG_LEN)


def file_header(length, salt, sealed_meta_len):
    return FILE_HEADER.pack(FILE_MAGIC, RECORD_SIZE, length, salt, sealed_meta_len)


def record_nonce(i):
    return b"\x00" * 4 + struct.pack(">Q", i)


def record_aad(header, i, final):
    return header + struct.pack(">Q", i) + (b"\x01" if final else b"\x00")


def object_name(salt):
    return salt.hex() + ".bin"


# ============================================================================
# Files: sealing
# ============================================================================

def read_full(f, n):
    """Read exactly n bytes unless EOF comes first (raw files may return short reads)."""
    parts, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _salt_and_length(root, meta, open_source):
    """Pass over the source: the salt needs every byte before the first record is sealed."""
    mac = hmac.new(root, meta + b"\n", hashlib.sha256)
    length = 0
    with open_source() as f:
        while True:
            chunk = read_full(f, RECORD_SIZE)
            if not chunk:
                break
            mac.update(chunk)
            length += len(chunk)
    return mac.digest()[:SALT_LEN], length


class SealedFile:
    """A file being sealed: its salt, key and header are known after the first pass;
    iterating `parts()` makes the second pass and yields the object in pieces
    (header + sealed meta, then one record at a time)."""

    def __init__(self, secret, name, media_type, open_source):
        """`open_source` is a callable returning a new binary file object; it is called twice."""
        self.root = files_root(secret)
        self.meta = meta_json(name, media_type)
        self.salt, self.length = _salt_and_length(self.root, self.meta, open_source)
        self.key = file_key(self.root, self.salt)
        self.sealed_meta_len = len(self.meta) + TAG_LEN
        self.header = file_header(self.length, self.salt, self.sealed_meta_len)
        self.name = object_name(self.salt)
        self.object_len = object_len(self.length, self.sealed_meta_len)
        self._open_source = open_source

    def sealed_meta(self):
        return AESGCM(self.key).encrypt(META_NONCE, self.meta, self.header)

    def parts(self):
        aead = AESGCM(self.key)
        n = record_count(self.length)
        yield self.header + self.sealed_meta()
        # Re-hash while sealing: if the source changed between the two passes, the object
        # would not match its own name, so refuse rather than write it.
        mac = hmac.new(self.root, self.meta + b"\n", hashlib.sha256)
        with self._open_source() as f:
            for i in range(n):
                chunk = read_full(f, RECORD_SIZE)
                mac.update(chunk)
                expect = min(RECORD_SIZE, self.length - i * RECORD_SIZE)
                if len(chunk) != expect:
                    raise ValueError("source changed while sealing (record %d)" % i)
                final = i == n - 1
                yield aead.encrypt(record_nonce(i), chunk, record_aad(self.header, i, final))
            if f.read(1) or mac.digest()[:SALT_LEN] != self.salt:
                raise ValueError("source changed while sealing")


def seal_file_bytes(secret, name, media_type, data):
    """The whole object for an in-memory file, and its SealedFile."""
    data = bytes(data)
    sf = SealedFile(secret, name, media_type, lambda: io.BytesIO(data))
    return b"".join(sf.parts()), sf


def seal_file_path(secret, name, media_type, src_path, out_dir):
    """Seal the file at src_path into out_dir/<32 hex of salt>.bin, streaming (two passes
    over the source, never the whole file in memory). Returns the SealedFile."""
    sf = SealedFile(secret, name, media_type, lambda: open(src_path, "rb"))
    dst = os.path.join(out_dir, sf.name)
    tmp = dst + ".part"
    with open(tmp, "wb") as out:
        for part in sf.parts():
            out.write(part)
    os.replace(tmp, dst)
    return sf


# ============================================================================
# Files: reading
# ============================================================================

class FileReader:
    """Opens a sealed object piecewise, as a browser would with HTTP Range requests.

    `read_at(offset, n)` returns up to n bytes of the object at offset; `size` is the
    object's total size (from stat or Content-Range). `expected_name` is the object's
    name ("<32 hex>.bin" or just the hex); the header's salt must equal it, so one object
    cannot be served in place of another. `key` is FK (from a page's data-gh-files list,
    or file_key_from_secret())."""

    def __init__(self, read_at, size, expected_name, key):
        self._read_at = read_at
        self.key = key
        self._aead = AESGCM(key)
        want = expected_name[:-4] if expected_name.endswith(".bin") else expected_name
        head = read_at(0, FILE_HEADER_LEN)
        if len(head) != FILE_HEADER_LEN:
            raise EnvelopeError("object too short for a header (%d bytes)" % len(head))
        magic, rsize, length, salt, sml = FILE_HEADER.unpack(head)
        if magic != FILE_MAGIC:
            raise EnvelopeError("bad magic %r (want GHF2)" % magic)
        if rsize != RECORD_SIZE:
            raise EnvelopeError("record size %d != %d" % (rsize, RECORD_SIZE))
        if salt.hex() != want:
            raise EnvelopeError("header salt %s != object name %s" % (salt.hex(), want))
        if sml < TAG_LEN:
            raise EnvelopeError("sealed meta length %d is shorter than a tag" % sml)
        self.header, self.length, self.salt, self.sealed_meta_len = head, length, salt, sml
        self.n = record_count(length)
        expected_size = object_len(length, sml)
        if size != expected_size:
            raise EnvelopeError("object is %d bytes, header implies %d (truncated or padded)"
                                % (size, expected_size))

    @classmethod
    def from_bytes(cls, data, expected_name, key):
        return cls(lambda off, n: data[off:off + n], len(data), expected_name, key)

    def open_meta(self):
        """(name, type) of the file; checks the sealed meta and the header together."""
        sealed = self._read_at(FILE_HEADER_LEN, self.sealed_meta_len)
        if len(sealed) != self.sealed_meta_len:
            raise EnvelopeError("sealed meta truncated")
        try:
            meta = self._aead.decrypt(META_NONCE, sealed, self.header)
        except InvalidTag:
            raise EnvelopeError("meta: authentication failed (wrong key or tampered bytes)")
        self.meta = meta
        return parse_meta(meta)

    def record_span(self, i):
        """(offset, size) of sealed record i in the object: what an HTTP Range asks for."""
        if not 0 <= i < self.n:
            raise EnvelopeError("record %d out of range (file has %d)" % (i, self.n))
        plain = min(RECORD_SIZE, self.length - i * RECORD_SIZE)
        return record_offset(self.sealed_meta_len, i), plain + TAG_LEN

    def open_record(self, i):
        """Plaintext of record i. The AAD carries the header (so the length and salt are
        authenticated), the index (no swapping or reordering) and the final flag (the last
        record cannot be dropped: its predecessor does not authenticate as final)."""
        off, size = self.record_span(i)
        sealed = self._read_at(off, size)
        if len(sealed) != size:
            raise EnvelopeError("record %d truncated" % i)
        try:
            return self._aead.decrypt(record_nonce(i), sealed,
                                      record_aad(self.header, i, i == self.n - 1))
        except InvalidTag:
            raise EnvelopeError("record %d: authentication failed (tampered, reordered or "
                                "wrong key)" % i)

    def iter_records(self):
        for i in range(self.n):
            yield self.open_record(i)

    def read_range(self, first, last):
        """Plaintext bytes first..last inclusive (as in an HTTP `Range: bytes=first-last`),
        opening only the records that hold them."""
        if not 0 <= first <= last < self.length:
            raise ValueError("range %d-%d outside a %d-byte file" % (first, last, self.length))
        out = []
        for i in range(first // RECORD_SIZE, last // RECORD_SIZE + 1):
            rec = self.open_record(i)
            start = i * RECORD_SIZE
            out.append(rec[max(first - start, 0):last - start + 1])
        return b"".join(out)

    def check_salt(self, plaintext_chunks, root):
        """Recompute the salt from meta + "\\n" + plaintext (needs F, i.e. the master secret):
        proves the plaintext is exactly the file that was sealed under this name."""
        if not hasattr(self, "meta"):
            raise ValueError("open_meta() first: the salt covers the meta")
        mac = hmac.new(root, self.meta + b"\n", hashlib.sha256)
        for chunk in plaintext_chunks:
            mac.update(chunk)
        if mac.digest()[:SALT_LEN] != self.salt:
            raise EnvelopeError("salt recomputed from meta and plaintext does not match")


def open_file_bytes(data, expected_name, key):
    """((name, type), plaintext) of a whole object held in memory."""
    r = FileReader.from_bytes(data, expected_name, key)
    meta = r.open_meta()
    return meta, b"".join(r.iter_records())


# ============================================================================
# base64url
# ============================================================================

def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding (re-encoding must give the same text)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ValueError("not valid base64url")
    if b64url_encode(raw) != text:
        raise ValueError("not canonical base64url without padding")
    return raw


def b64url_decode_secret(text):
    """Decode the master secret (surrounding whitespace and padding tolerated, as a file
    may end in a newline). Must give exactly 32 bytes. Never echoes the input."""
    raw = b64url_decode(text.strip().rstrip("="))
    if len(raw) != 32:
        raise ValueError("secret must be 32 bytes of base64url (got %d bytes)" % len(raw))
    return raw
