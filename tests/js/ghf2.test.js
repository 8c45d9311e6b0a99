// ghf2.js, the browser's GHF2 reader (DESIGN §4 "Files"): it opens what the format says, any
// byte range by the records that hold it, and refuses every kind of tampering with one error.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");
const { R, fileBytes, seal, recordAt, cdn, loadGhf2, same } = require("./support");

const URL_OF = (id) => "https://site.test/_gated/files/" + id + ".bin";

/** A reader over one object served by a fake CDN under the name `id` (its own by default). */
function served(sealed, { id = sealed.id, bytes = sealed.bytes, ignoreRange } = {}) {
  const server = cdn(new Map([["/_gated/files/" + id + ".bin", bytes]]), { ignoreRange });
  const files = loadGhf2(server.fetch);
  const url = URL_OF(id);
  return {
    server, files, url,
    head: () => files.openHead(url, id, sealed.key),
    async read(start, end) {
      const head = await files.openHead(url, id, sealed.key);
      const parts = [];
      for await (const chunk of files.read(head, url, start, end)) parts.push(Buffer.from(chunk));
      return new Uint8Array(Buffer.concat(parts));
    }
  };
}

/** Rejects with GatehouseFiles.Unverifiable and nothing that could say why. */
async function refused(files, promise) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof files.Unverifiable, "expected Unverifiable, got " + err);
    assert.equal(err.message, "gatehouse: this file could not be verified");
    return true;
  });
}

const SIZES = [
  ["an empty file", 0],
  ["one byte", 1],
  ["exactly one record", R],
  ["one record and one byte", R + 1],
  ["several records", 3 * R + 1000]
];

for (const [what, length] of SIZES) {
  test("opens " + what + " whole, in memory and through Range requests", async () => {
    const data = fileBytes(length, 3);
    const sealed = seal(data, { name: "clip.webm", type: "video/webm" });
    const { files, read, head, server } = served(sealed);
    const opened = await files.openObject(sealed.bytes, sealed.id, sealed.key);
    assert.deepEqual({ ...opened.meta }, { name: "clip.webm", type: "video/webm" });
    assert.ok(same(opened.bytes, data));
    const h = await head();
    assert.equal(h.header.length, length);
    assert.equal(h.header.records, Math.max(1, Math.ceil(length / R)));
    assert.equal(h.header.total, sealed.bytes.length);
    assert.ok(same(await read(0, length), data));
    // the head is one request; the records come 16 to a request
    const ranges = server.log.map((l) => l.range);
    assert.equal(ranges[0], "bytes=0-4131");
  });
}

test("reads any byte range, fetching only the records that hold it", async () => {
  const length = 5 * R + 123;
  const data = fileBytes(length, 11);
  const sealed = seal(data);
  const ranges = [
    [0, 1], [0, R], [R - 1, R + 1], [R, 2 * R], [R + 5, R + 6], [2 * R - 5, 4 * R + 5],
    [5 * R, length], [length - 1, length], [0, length], [123, 5 * R + 1]
  ];
  for (const [start, end] of ranges) {
    const { read, server } = served(sealed);
    assert.ok(same(await read(start, end), data.subarray(start, end)), start + ".." + end);
    const first = Math.floor(start / R);
    const last = Math.floor((end - 1) / R);
    const recordEnd = Math.min(recordAt(sealed, last) + R + 16, sealed.bytes.length) - 1;
    assert.deepEqual(server.log.slice(1).map((l) => l.range),
      ["bytes=" + recordAt(sealed, first) + "-" + recordEnd], start + ".." + end);
  }
});

test("a long read takes at most 16 records per request, in order", async () => {
  const length = 40 * R + 7;
  const data = fileBytes(length, 1);
  const sealed = seal(data);
  const { read, server } = served(sealed);
  assert.ok(same(await read(0, length), data));
  const spans = server.log.slice(1).map((l) => l.range.slice(6).split("-").map(Number));
  assert.deepEqual(spans.map(([a]) => a), [0, 16, 32].map((i) => recordAt(sealed, i)));
  spans.forEach(([a, b]) => assert.ok(b - a + 1 <= 16 * (R + 16)));
});

test("a server that ignores Range still gives the right bytes", async () => {
  const data = fileBytes(3 * R + 9, 2);
  const sealed = seal(data);
  const { read } = served(sealed, { ignoreRange: true });
  assert.ok(same(await read(R + 3, 2 * R + 9), data.subarray(R + 3, 2 * R + 9)));
});

test("records and offsets follow the format", async () => {
  const sealed = seal(fileBytes(2 * R + 1), { name: "a", type: "b/c" });
  const files = loadGhf2();
  const header = files.parseHeader(sealed.bytes, sealed.id);
  const metaLength = '{"name":"a","type":"b/c"}'.length + 16;
  assert.equal(header.metaLength, metaLength);
  assert.equal(header.dataStart, 36 + metaLength);
  assert.equal(header.records, 3);
  assert.equal(files.recordOffset(header, 2), 36 + metaLength + 2 * (R + 16));
  assert.deepEqual({ ...files.recordsCovering(header, R - 1, R + 1) }, { first: 0, last: 1 });
  assert.deepEqual({ ...files.recordsCovering(header, 2 * R, 2 * R + 1) }, { first: 2, last: 2 });
  assert.deepEqual({ ...files.recordSpan(header, 1, 2) },
    { start: 36 + metaLength + R + 16, end: sealed.bytes.length - 1 });
  const outside = { name: "RangeError", message: "gatehouse: no such byte range" };
  assert.throws(() => files.recordsCovering(header, 0, 2 * R + 2), outside);
  assert.throws(() => files.recordsCovering(header, 5, 4), outside);
});

test("opens every known-answer vector of tests/vectors/file_v2.json, sealed the same way", async (t) => {
  const file = path.join(__dirname, "..", "vectors", "file_v2.json");
  if (!fs.existsSync(file)) return t.skip("no tests/vectors/file_v2.json");
  const vectors = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.ok(vectors.length >= 5);
  for (const v of vectors) {
    const data = fileBytes(v.length, v.seed);
    const sealed = seal(data, {
      name: v.file_name, type: v.media_type, secret: Buffer.from(v.secret_b64url, "base64url")
    });
    // this test's sealer and the Python reference agree, byte for byte
    assert.equal(sealed.id + ".bin", v.object_name, v.name);
    assert.equal(crypto.createHash("sha256").update(sealed.bytes).digest("hex"), v.object_sha256_hex, v.name);
    const files = loadGhf2();
    const key = Buffer.from(v.file_key_hex, "hex").toString("base64url");
    const opened = await files.openObject(sealed.bytes, v.salt_hex, key);
    assert.equal(opened.meta.name, v.file_name, v.name);
    assert.equal(opened.meta.type, v.media_type, v.name);
    assert.ok(same(opened.bytes, data), v.name);
  }
});

/* ---------- refusals ---------- */

const DATA = fileBytes(3 * R + 500, 9);
const SEALED = seal(DATA, { name: "lecture.mp4", type: "video/mp4" });

/** A copy of the object with byte `at` flipped. */
function flipped(at, bytes = SEALED.bytes) {
  const copy = bytes.slice();
  copy[at] ^= 0x01;
  return copy;
}

test("refuses a flipped bit anywhere in the header", async () => {
  const files = loadGhf2();
  for (let at = 0; at < 36; at++) {
    await refused(files, files.openObject(flipped(at), SEALED.id, SEALED.key));
  }
});

test("refuses a flipped byte in the sealed meta, its tag, a record or a record's tag", async () => {
  const files = loadGhf2();
  const places = [36, 40, SEALED.dataStart - 16, SEALED.dataStart - 1, // meta, meta tag
    SEALED.dataStart, recordAt(SEALED, 1) + 7, recordAt(SEALED, 2) - 1, // records, a tag
    recordAt(SEALED, 3), SEALED.bytes.length - 1];
  for (const at of places) {
    await refused(files, files.openObject(flipped(at), SEALED.id, SEALED.key));
  }
});

test("a flipped byte in one record is refused when that record is read, and not before", async () => {
  const bad = flipped(recordAt(SEALED, 2) + 100);
  const { read, files, head } = served(SEALED, { bytes: bad });
  assert.ok(same(await read(0, 2 * R), DATA.subarray(0, 2 * R))); // records 0 and 1 are fine
  await refused(files, read(2 * R - 1, 2 * R + 1));
  // an iterator never hands out a byte of the bad record: it stops at the one before
  const iterator = files.read(await head(), URL_OF(SEALED.id), 0, 3 * R);
  const got = [];
  await refused(files, (async () => {
    for await (const chunk of iterator) got.push(Buffer.from(chunk));
  })());
  assert.ok(same(Buffer.concat(got), DATA.subarray(0, 2 * R)));
});

test("refuses a truncated object and one whose final record is missing", async () => {
  const cuts = [SEALED.bytes.length - 1, recordAt(SEALED, 3) + 10, recordAt(SEALED, 3), 40];
  for (const cut of cuts) {
    const short = SEALED.bytes.subarray(0, cut);
    const files = loadGhf2();
    await refused(files, files.openObject(short, SEALED.id, SEALED.key));
    // through Range requests: the head sees the object's size; the last record its own length
    const cdnCopy = served(SEALED, { bytes: short });
    await refused(cdnCopy.files, cdnCopy.head());
    await refused(cdnCopy.files, cdnCopy.read(DATA.length - 1, DATA.length));
  }
});

test("a server that hides the size still cannot pass off a short last record", async () => {
  const short = SEALED.bytes.subarray(0, SEALED.bytes.length - 3);
  const { read, files } = served(SEALED, { bytes: short, ignoreRange: true });
  await refused(files, read(DATA.length - 10, DATA.length));
});

test("refuses swapped records", async () => {
  const swapped = SEALED.bytes.slice();
  const one = SEALED.bytes.slice(recordAt(SEALED, 0), recordAt(SEALED, 1));
  const two = SEALED.bytes.slice(recordAt(SEALED, 1), recordAt(SEALED, 2));
  swapped.set(two, recordAt(SEALED, 0));
  swapped.set(one, recordAt(SEALED, 1));
  const files = loadGhf2();
  await refused(files, files.openObject(swapped, SEALED.id, SEALED.key));
  const cdnCopy = served(SEALED, { bytes: swapped });
  await refused(cdnCopy.files, cdnCopy.read(0, 10));
  await refused(cdnCopy.files, cdnCopy.read(R, R + 10));
});

test("refuses a salt that is not the object's name: a CDN cannot swap gated files", async () => {
  const other = seal(fileBytes(100, 1), { name: "other.png", type: "image/png" });
  const files = loadGhf2();
  await refused(files, files.openObject(SEALED.bytes, other.id, SEALED.key));
  // the other file's bytes under this file's name, opened with either key
  const swappedBytes = served(SEALED, { bytes: other.bytes });
  await refused(swappedBytes.files, swappedBytes.head());
  const swappedKey = served(other, { id: SEALED.id });
  await refused(swappedKey.files, swappedKey.head());
  assert.throws(() => files.parseHeader(SEALED.bytes, SEALED.id.toUpperCase()), files.Unverifiable);
});

test("refuses a last-record flag that does not match the record's place", async () => {
  const files = loadGhf2();
  const noLast = seal(DATA, { lastFlag: () => 0 });
  await refused(files, files.openObject(noLast.bytes, noLast.id, noLast.key));
  const earlyLast = seal(DATA, { lastFlag: (i) => (i === 1 ? 1 : i === 3 ? 1 : 0) });
  await refused(files, files.openObject(earlyLast.bytes, earlyLast.id, earlyLast.key));
  // a file cut after a record, with a header that says so, is another header: the meta fails
  const cut = seal(DATA, { length: 2 * R });
  await refused(files, files.openObject(cut.bytes.subarray(0, recordAt(cut, 2)), cut.id, cut.key));
});

test("refuses a wrong key and a key that is not 32 bytes of base64url", async () => {
  const files = loadGhf2();
  const other = seal(fileBytes(10));
  await refused(files, files.openObject(SEALED.bytes, SEALED.id, other.key));
  for (const key of ["", "abc", SEALED.key + "A", SEALED.key.slice(1) + "=", null]) {
    await refused(files, files.openObject(SEALED.bytes, SEALED.id, key));
  }
});

test("refuses a meta that is not exactly {name, type}", async () => {
  const files = loadGhf2();
  const metas = ['{"type":"a/b","name":"x"}', '{"name":"x"}', '{"name":"x","type":"a/b","z":1}',
    '{"name":1,"type":"a/b"}', '["x","a/b"]', "not json", '{"name":"x","type":null}',
    Buffer.from('{"name":"\xff","type":"a/b"}', "latin1")]; // not UTF-8
  for (const meta of metas) {
    const sealed = seal(fileBytes(5), { meta });
    await refused(files, files.openObject(sealed.bytes, sealed.id, sealed.key));
  }
});

test("a media type that cannot be a header reads as application/octet-stream", async () => {
  const files = loadGhf2();
  for (const [type, read] of [["text/plain; charset=utf-8", "text/plain; charset=utf-8"],
    ["text/html\r\nSet-Cookie: a=b", "application/octet-stream"], ["", "application/octet-stream"],
    ["image/svg+xml", "image/svg+xml"]]) {
    const sealed = seal(fileBytes(5), { type });
    assert.equal((await files.openObject(sealed.bytes, sealed.id, sealed.key)).meta.type, read);
  }
});

test("refuses lengths of 2^53 bytes or more and a sealed meta over the cap", () => {
  const files = loadGhf2();
  const header = SEALED.bytes.slice(0, 36);
  const view = new DataView(header.buffer);
  view.setUint32(8, 0x200000); // length 2^53 + …
  assert.throws(() => files.parseHeader(header, SEALED.id), files.Unverifiable);
  view.setUint32(8, 0x1fffff); // below 2^53, but the object would not be countable
  view.setUint32(12, 0xffffffff);
  assert.throws(() => files.parseHeader(header, SEALED.id), files.Unverifiable);
  const meta = SEALED.bytes.slice(0, 36);
  new DataView(meta.buffer).setUint32(32, 4097);
  assert.throws(() => files.parseHeader(meta, SEALED.id), files.Unverifiable);
  new DataView(meta.buffer).setUint32(32, 10);
  assert.throws(() => files.parseHeader(meta, SEALED.id), files.Unverifiable);
  assert.throws(() => files.parseHeader(SEALED.bytes.subarray(0, 35), SEALED.id), files.Unverifiable);
});

test("a missing object is Unavailable with its status, not Unverifiable", async () => {
  const { files, url } = served(SEALED);
  await assert.rejects(files.openHead(url.replace(SEALED.id, "0".repeat(32)), "0".repeat(32), SEALED.key),
    (err) => err instanceof files.Unavailable && err.status === 404);
});
