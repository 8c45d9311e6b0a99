/* gatehouse: GHF2 sealed files in the browser (DESIGN §4 "Files", contract).
 *
 * A reader shared by the service worker (gatehouse-sw.js loads it with importScripts) and the
 * page (gate.js's fallback loads it with a script tag). It fetches only the records a byte range
 * needs, with HTTP Range requests, and hands out only bytes whose AES-GCM tag checked. Every way
 * an object can fail to open (bad magic, a salt that is not the object's name, a wrong record
 * size or length, a failed tag, a short, missing or swapped record) throws the one error
 * GatehouseFiles.Unverifiable, with no detail; an HTTP error throws GatehouseFiles.Unavailable.
 *
 * object = header (36) · sealed meta · records; record i starts at 36 + metaLen + i·(65536 + 16).
 *
 * Plain script (no modules: importScripts), no dependencies, no eval; attaches
 * globalThis.GatehouseFiles. Keys and plaintext are never logged.
 */
(function (root) {
  "use strict";

  const RECORD_SIZE = 65536;
  const TAG_LEN = 16;
  const HEADER_LEN = 36;
  // A sealed meta is {"name","type"} and a tag: a few hundred bytes. The cap bounds the first
  // request of every read (header and meta in one), and a hostile header cannot make it larger.
  const MAX_SEALED_META = 4096;
  const MIN_SEALED_META = TAG_LEN + '{"name":"","type":""}'.length;
  const BATCH = 16; // records per Range request: 1 MiB, so memory stays bounded
  const ID = /^[0-9a-f]{32}$/;
  // type/subtype, then parameters; a value is a token or a quoted string
  const TOKEN = "[\\w!#$&^.+-]+";
  const MEDIA_TYPE = new RegExp("^" + TOKEN + "/" + TOKEN +
    "(\\s*;\\s*" + TOKEN + "=(" + TOKEN + '|"[ !#-[\\]-~]*"))*$');

  /** The object did not verify. Deliberately without detail. */
  class Unverifiable extends Error {
    constructor() {
      super("gatehouse: this file could not be verified");
      this.name = "Unverifiable";
    }
  }

  /** The server answered with an HTTP error (`status`), e.g. 404 after a new deploy. */
  class Unavailable extends Error {
    constructor(status) {
      super("gatehouse: the file is unavailable (HTTP " + status + ")");
      this.name = "Unavailable";
      this.status = status;
    }
  }

  // Not `instanceof Uint8Array`: bytes may come from another realm (a frame, a test's vm).
  const isBytes = (x) => ArrayBuffer.isView(x) && x.BYTES_PER_ELEMENT === 1;

  const fail = () => {
    throw new Unverifiable();
  };

  const hex = (bytes) => Array.from(bytes, (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");

  function concat(parts, length) {
    const out = new Uint8Array(length);
    let at = 0;
    parts.forEach((part) => {
      out.set(part, at);
      at += part.length;
    });
    return out;
  }

  /** i as 8 bytes big-endian (i is a safe integer). */
  function u64(i) {
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, Math.floor(i / 2 ** 32));
    view.setUint32(4, i % 2 ** 32);
    return out;
  }

  /* ---------- the header ---------- */

  /**
   * Checks the 36-byte header of the object named `id` (its 32 hex digits) and returns what it
   * says: {bytes, id, length, metaLength, records, dataStart, total}. Numbers are safe integers.
   */
  function parseHeader(bytes, id) {
    if (!isBytes(bytes) || bytes.length < HEADER_LEN || !ID.test(id)) fail();
    const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LEN);
    const magic = bytes[0] === 0x47 && bytes[1] === 0x48 && bytes[2] === 0x46 && bytes[3] === 0x32;
    if (!magic || view.getUint32(4) !== RECORD_SIZE) fail();
    const high = view.getUint32(8);
    if (high >= 2 ** 21) fail(); // 2^53 bytes or more: not a length this reader can count
    const length = high * 2 ** 32 + view.getUint32(12);
    // The salt is the object's name: a CDN cannot hand one gated file out as another.
    if (hex(bytes.subarray(16, 32)) !== id) fail();
    const metaLength = view.getUint32(32);
    if (metaLength < MIN_SEALED_META || metaLength > MAX_SEALED_META) fail();
    const records = Math.max(1, Math.ceil(length / RECORD_SIZE));
    const dataStart = HEADER_LEN + metaLength;
    const total = dataStart + length + records * TAG_LEN;
    if (!Number.isSafeInteger(total)) fail();
    return Object.freeze({
      bytes: bytes.slice(0, HEADER_LEN), id, length, metaLength, records, dataStart, total
    });
  }

  /* ---------- keys and AES-GCM ---------- */

  /** The file key FK from its base64url text (32 bytes, no padding), as a non-extractable key. */
  async function importKey(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(text)) fail();
    let raw;
    try {
      raw = Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/") + "="), (c) =>
        c.charCodeAt(0));
    } catch (e) {
      fail();
    }
    if (raw.length !== 32) fail();
    return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
  }

  async function decrypt(key, iv, aad, sealed) {
    try {
      const params = { name: "AES-GCM", iv, additionalData: aad, tagLength: 128 };
      return new Uint8Array(await crypto.subtle.decrypt(params, key, sealed));
    } catch (e) {
      throw new Unverifiable();
    }
  }

  /** {name, type} from the sealed meta (nonce 12 × 0xFF, AAD = header). A type that cannot be
   *  a Content-Type header reads as application/octet-stream. */
  async function openMeta(key, header, sealed) {
    if (!isBytes(sealed) || sealed.length !== header.metaLength) fail();
    const plain = await decrypt(key, new Uint8Array(12).fill(0xff), header.bytes, sealed);
    let meta;
    try {
      meta = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
    } catch (e) {
      fail();
    }
    const keys = meta && typeof meta === "object" && !Array.isArray(meta) ? Object.keys(meta) : [];
    if (keys.join() !== "name,type" || typeof meta.name !== "string" ||
        typeof meta.type !== "string") {
      fail();
    }
    const type = meta.type.length <= 255 && MEDIA_TYPE.test(meta.type)
      ? meta.type
      : "application/octet-stream";
    return Object.freeze({ name: meta.name, type });
  }

  /* ---------- records ---------- */

  /** The records holding plaintext bytes [start, end) (end exclusive). An empty range at 0 is
   *  record 0: an empty file still has its final record, and it is opened and checked. */
  function recordsCovering(header, start, end) {
    const valid = Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 &&
      start <= end && end <= header.length && (start < end || start === 0);
    if (!valid) throw new RangeError("gatehouse: no such byte range");
    const first = Math.floor(start / RECORD_SIZE);
    return { first, last: start < end ? Math.floor((end - 1) / RECORD_SIZE) : first };
  }

  /** The plaintext length of record i. */
  const plainLength = (header, i) => Math.min(RECORD_SIZE, header.length - i * RECORD_SIZE);

  /** Where record i starts in the object. */
  const recordOffset = (header, i) => header.dataStart + i * (RECORD_SIZE + TAG_LEN);

  /** Byte span {start, end} (end inclusive, as in a Range header) of records first..last. */
  function recordSpan(header, first, last) {
    return {
      start: recordOffset(header, first),
      end: recordOffset(header, last) + plainLength(header, last) + TAG_LEN - 1
    };
  }

  /** The plaintext of record i from its sealed bytes (nonce = 0⁴ · i; AAD = header · i · last). */
  async function openRecord(key, header, i, sealed) {
    if (!Number.isSafeInteger(i) || i < 0 || i >= header.records) fail();
    if (!isBytes(sealed) || sealed.length !== plainLength(header, i) + TAG_LEN) fail();
    const iv = new Uint8Array(12);
    iv.set(u64(i), 4);
    const aad = new Uint8Array(HEADER_LEN + 9);
    aad.set(header.bytes);
    aad.set(u64(i), HEADER_LEN);
    aad[HEADER_LEN + 8] = i === header.records - 1 ? 1 : 0;
    return decrypt(key, iv, aad, sealed);
  }

  /* ---------- fetching ---------- */

  /** Reads exact byte counts from a response body; a body that ends early is a short object. */
  function byteReader(body, skip) {
    const reader = body ? body.getReader() : null;
    let parts = [];
    let have = 0;
    return {
      async take(n) {
        while (have < n) {
          const step = reader ? await reader.read() : { done: true };
          if (step.done) fail(); // the object is shorter than its header says
          let chunk = step.value;
          if (skip > 0) { // a server that ignored Range: drop what lies before the span
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
          }
          if (chunk.length) {
            parts.push(chunk);
            have += chunk.length;
          }
        }
        const all = parts.length === 1 ? parts[0] : concat(parts, have);
        parts = have > n ? [all.subarray(n)] : [];
        have -= n;
        return all.subarray(0, n);
      },
      cancel() {
        if (reader) reader.cancel().catch(() => {});
      }
    };
  }

  /**
   * GETs bytes start..end (inclusive) of `url` with a Range request. Resolves to {take, cancel,
   * total}: `total` is the object's size from Content-Range (null when the server did not say).
   */
  async function fetchRange(url, start, end, signal) {
    const response = await fetch(url, {
      headers: { Range: "bytes=" + start + "-" + end },
      credentials: "same-origin",
      signal
    });
    let skip = 0;
    let total = null;
    if (response.status === 206) {
      const said = response.headers.get("Content-Range") || "";
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(said);
      if (!range || Number(range[1]) !== start) fail();
      if (range[3] !== "*") total = Number(range[3]);
    } else if (response.status === 200) {
      skip = start;
    } else if (response.status === 416) {
      fail(); // the object ends before `start`: it is shorter than its header says
    } else {
      throw new Unavailable(response.status);
    }
    return Object.assign(byteReader(response.body, skip), { total });
  }

  /**
   * Opens the object at `url`, named `id`, with the key text `keyText`: one Range request for
   * its header and sealed meta. Resolves to {header, meta, key}.
   */
  async function openHead(url, id, keyText, signal) {
    const key = await importKey(keyText);
    const source = await fetchRange(url, 0, HEADER_LEN + MAX_SEALED_META - 1, signal);
    try {
      const header = parseHeader(await source.take(HEADER_LEN), id);
      if (source.total !== null && source.total !== header.total) fail(); // cut short or padded
      const meta = await openMeta(key, header, await source.take(header.metaLength));
      return Object.freeze({ header, meta, key });
    } finally {
      source.cancel();
    }
  }

  /**
   * The plaintext of bytes [start, end) of the file opened as `head` (from openHead), as an async
   * iterator of Uint8Array chunks. It fetches up to BATCH records per Range request, and the next
   * request only when the chunks before it have been taken; `signal` aborts it. Every chunk comes
   * from a record whose tag checked, and a bad record throws before any of its bytes is out.
   */
  async function* read(head, url, start, end, signal) {
    const { header, key } = head;
    const { first, last } = recordsCovering(header, start, end);
    for (let batch = first; batch <= last; batch += BATCH) {
      const upto = Math.min(last, batch + BATCH - 1);
      const span = recordSpan(header, batch, upto);
      const source = await fetchRange(url, span.start, span.end, signal);
      try {
        if (source.total !== null && source.total !== header.total) fail();
        for (let i = batch; i <= upto; i++) {
          const sealed = await source.take(plainLength(header, i) + TAG_LEN);
          const plain = await openRecord(key, header, i, sealed);
          const from = i === first ? start - i * RECORD_SIZE : 0;
          const to = i === last ? end - i * RECORD_SIZE : plain.length;
          if (to > from) yield plain.subarray(from, to);
        }
      } finally {
        source.cancel();
      }
    }
  }

  /** Opens a whole object held in memory: {meta, bytes}. For tests and small files. */
  async function openObject(bytes, id, keyText) {
    const key = await importKey(keyText);
    const header = parseHeader(bytes, id);
    if (bytes.length !== header.total) fail();
    const meta = await openMeta(key, header, bytes.subarray(HEADER_LEN, header.dataStart));
    const out = new Uint8Array(header.length);
    for (let i = 0; i < header.records; i++) {
      const at = recordOffset(header, i);
      const sealed = bytes.subarray(at, at + plainLength(header, i) + TAG_LEN);
      out.set(await openRecord(key, header, i, sealed), i * RECORD_SIZE);
    }
    return { meta, bytes: out };
  }

  root.GatehouseFiles = Object.freeze({
    RECORD_SIZE, TAG_LEN, HEADER_LEN, MAX_SEALED_META, BATCH,
    Unverifiable, Unavailable,
    parseHeader, importKey, openMeta, recordsCovering, recordOffset, recordSpan, openRecord,
    fetchRange, openHead, read, openObject
  });
})(globalThis);
