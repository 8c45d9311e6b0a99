"""Independent reference implementation of the gatehouse envelope format, version 1.

Written from DESIGN section 4 ("Gates and envelopes (contract, version 1)") alone,
without looking at the Rust implementation, so the two can check each other.

    rule      = "level=<id|->;bundles=<ids sorted, comma-joined|->;drip=<seconds>"
    gate_id   = hex(SHA-256("gatehouse-gate-v1\\n" + rule))[:16]
    K         = HKDF-SHA256(salt="gatehouse/v1/epoch/<epoch decimal>", ikm=M, info=rule, L=32)
    nonce     = HMAC-SHA256(K, "nonce\\n" + path + "\\n" + plaintext)[:12]
    AAD       = "gatehouse/v1\\n" + gate_id + "\\n" + path
    envelope  = "GH1" || epoch (u32 BE) || nonce (12) || AES-256-GCM(K, nonce, plaintext, AAD)
    file name = hex(SHA-256(envelope))[:16] + ".bin"

All text is encoded as UTF-8. Requires the `cryptography` package.
"""

import base64
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"GH1"
HEADER_LEN = len(MAGIC) + 4 + 12  # magic, epoch u32 BE, nonce
TAG_LEN = 16


class EnvelopeError(Exception):
    """The envelope is malformed or does not authenticate."""


def _utf8(s):
    return s.encode("utf-8")


def canonical_rule(level, bundles, drip_seconds):
    """Canonical rule text. `level` is a string or None; `bundles` any iterable of ids
    (sorted here); `drip_seconds` a non-negative int (0 = no drip)."""
    bundles = sorted(bundles)  # Python str order = code point order = UTF-8 byte order
    return "level={};bundles={};drip={}".format(
        level if level is not None else "-",
        ",".join(bundles) if bundles else "-",
        int(drip_seconds),
    )


def gate_id(rule):
    return hashlib.sha256(_utf8("gatehouse-gate-v1\n" + rule)).hexdigest()[:16]


def derive_key(secret, epoch, rule):
    """Gate key K (32 bytes) from the 32-byte master secret M."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_utf8("gatehouse/v1/epoch/%d" % epoch),
        info=_utf8(rule),
    )
    return hkdf.derive(secret)


def nonce(key, path, plaintext):
    return hmac.new(key, _utf8("nonce\n" + path + "\n") + plaintext, hashlib.sha256).digest()[:12]


def aad(gate, path):
    return _utf8("gatehouse/v1\n" + gate + "\n" + path)


def _as_bytes(plaintext):
    return _utf8(plaintext) if isinstance(plaintext, str) else bytes(plaintext)


def seal(key, gate, epoch, path, plaintext):
    """Envelope bytes for one page (plaintext: str or UTF-8 bytes)."""
    pt = _as_bytes(plaintext)
    n = nonce(key, path, pt)
    ct = AESGCM(key).encrypt(n, pt, aad(gate, path))
    return MAGIC + struct.pack(">I", epoch) + n + ct


def envelope_epoch(envelope):
    """The epoch written in an envelope header (not itself authenticated)."""
    if len(envelope) < HEADER_LEN + TAG_LEN:
        raise EnvelopeError("envelope too short (%d bytes)" % len(envelope))
    if envelope[:3] != MAGIC:
        raise EnvelopeError("bad magic %r" % envelope[:3])
    return struct.unpack(">I", envelope[3:7])[0]


def open(key, gate, path, envelope, expected_epoch=None):
    """Decrypt an envelope, returning plaintext bytes; raises EnvelopeError.

    The header epoch is not covered by the AAD; it is bound only through K. When
    `key` was derived for a known epoch, pass it as `expected_epoch` so that a
    header whose epoch was altered is rejected too."""
    epoch = envelope_epoch(envelope)
    if expected_epoch is not None and epoch != expected_epoch:
        raise EnvelopeError("envelope epoch %d != expected epoch %d" % (epoch, expected_epoch))
    n = envelope[7:HEADER_LEN]
    try:
        return AESGCM(key).decrypt(n, envelope[HEADER_LEN:], aad(gate, path))
    except Exception:  # cryptography raises InvalidTag
        raise EnvelopeError("authentication failed (wrong key, gate, path or tampered bytes)")


def open_with_secret(secret, rule, path, envelope):
    """Decrypt using the master secret, deriving K from the epoch in the header."""
    epoch = envelope_epoch(envelope)
    return open(derive_key(secret, epoch, rule), gate_id(rule), path, envelope, epoch)


def envelope_file_name(envelope):
    return hashlib.sha256(envelope).hexdigest()[:16] + ".bin"


def bundle_path(gate):
    return "/_gated/%s/bundle" % gate


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode_secret(text):
    """Decode a base64url secret (no padding expected; surrounding whitespace and
    padding tolerated). Must give exactly 32 bytes. Never echoes the input."""
    t = text.strip().rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    except Exception:
        raise ValueError("secret is not valid base64url")
    if len(raw) != 32 or b64url_encode(raw) != t:
        raise ValueError("secret must be 32 bytes of base64url (got %d bytes)" % len(raw))
    return raw
