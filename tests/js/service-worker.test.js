// gatehouse-sw.js, loaded as a browser would (a fake `self`): which requests it answers, its
// Range answers and headers, the keys it holds and asks for, and how it refuses a bad file.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const {
  R, fileBytes, seal, recordAt, cdn, loadWorker, windowClient, fetchEvent, readAll, same, settle, quiet
} = require("./support");

const SITE = "https://site.test";
const pathOf = (sealed) => "/_gated/files/" + sealed.id + ".bin";

const DATA = fileBytes(3 * R + 1000, 4);
const FILE = seal(DATA, { name: "Übung – 1 \"final\".webm", type: "video/webm" });

/**
 * A worker over a fake CDN holding `objects` (sealed files, or [path, bytes] pairs), with one
 * page client "page" that holds `pageKeys` (id → key) and answers key requests from them.
 */
function setup({ objects = [FILE], pageKeys = {}, fakeTimers, ignoreRange, lib } = {}) {
  const server = cdn(new Map(objects.map((o) => (Array.isArray(o) ? o : [pathOf(o), o.bytes]))),
    { ignoreRange });
  const worker = loadWorker({ fetch: server.fetch, fakeTimers, lib });
  const page = windowClient("page", SITE + "/course/lesson-1/", (id) => pageKeys[id] || null);
  worker.clients.push(page);
  const give = (...sealed) => worker.emit("message", {
    data: { type: "gh-files-keys", keys: Object.fromEntries(sealed.map((s) => [s.id, s.key])) }
  });
  /** Fetches `path` through the worker, with `options` for fetchEvent. */
  async function get(path, options) {
    const event = fetchEvent(SITE + path, options);
    worker.emit("fetch", event);
    return { event, response: await event.response };
  }
  return { server, worker, page, give, get };
}

test("answers a request without Range with the whole file, its type and its name", async () => {
  const { give, get } = setup();
  give(FILE);
  const { response } = await get(pathOf(FILE));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("Content-Type"), "video/webm");
  assert.equal(response.headers.get("Content-Length"), String(DATA.length));
  assert.equal(response.headers.get("Accept-Ranges"), "bytes");
  assert.equal(response.headers.get("Content-Range"), null);
  assert.equal(response.headers.get("Content-Disposition"),
    "inline; filename=\"_bung _ 1 _final_.webm\"; " +
    "filename*=UTF-8''%C3%9Cbung%20%E2%80%93%201%20%22final%22.webm");
  assert.equal(response.headers.get("Cache-Control"), "no-store");
  const { bytes, error } = await readAll(response);
  assert.equal(error, null);
  assert.ok(same(bytes, DATA));
});

const RANGES = [
  // [Range header, start, end (inclusive)]
  ["bytes=0-0", 0, 0],
  ["bytes=0-", 0, DATA.length - 1],
  ["bytes=65535-65536", R - 1, R],
  ["bytes=100000-150000", 100000, 150000],
  ["bytes=131072-", 2 * R, DATA.length - 1],
  ["bytes=5-99999999", 5, DATA.length - 1],
  ["bytes=-1", DATA.length - 1, DATA.length - 1],
  ["bytes=-1001", DATA.length - 1001, DATA.length - 1],
  ["bytes=-99999999", 0, DATA.length - 1],
  ["Bytes=10-20", 10, 20]
];

for (const [range, start, end] of RANGES) {
  test("answers Range: " + range + " with a 206 of exactly those bytes", async () => {
    const { give, get } = setup();
    give(FILE);
    const { response } = await get(pathOf(FILE), { range });
    assert.equal(response.status, 206);
    assert.equal(response.headers.get("Content-Range"), "bytes " + start + "-" + end + "/" + DATA.length);
    assert.equal(response.headers.get("Content-Length"), String(end - start + 1));
    assert.equal(response.headers.get("Content-Type"), "video/webm");
    assert.equal(response.headers.get("Accept-Ranges"), "bytes");
    const { bytes, error } = await readAll(response);
    assert.equal(error, null);
    assert.ok(same(bytes, DATA.subarray(start, end + 1)));
  });
}

test("answers an unsatisfiable range with 416 and the file's length", async () => {
  for (const range of ["bytes=" + DATA.length + "-", "bytes=999999999-1000000000", "bytes=-0"]) {
    const { give, get } = setup();
    give(FILE);
    const { response } = await get(pathOf(FILE), { range });
    assert.equal(response.status, 416, range);
    assert.equal(response.headers.get("Content-Range"), "bytes */" + DATA.length);
    assert.equal((await readAll(response)).bytes.length, 0);
  }
  // an empty file has no byte to give
  const empty = seal(new Uint8Array(0), { name: "empty.csv", type: "text/csv" });
  const { give, get } = setup({ objects: [empty] });
  give(empty);
  const { response } = await get(pathOf(empty), { range: "bytes=0-" });
  assert.equal(response.status, 416);
  assert.equal(response.headers.get("Content-Range"), "bytes */0");
  const whole = await get(pathOf(empty));
  assert.equal(whole.response.status, 200);
  assert.equal(whole.response.headers.get("Content-Length"), "0");
  assert.equal((await readAll(whole.response)).bytes.length, 0);
});

test("a Range it does not serve (several ranges, backwards, another unit) gets the whole file", async () => {
  for (const range of ["bytes=0-1,5-6", "bytes=20-10", "items=0-5", "bytes=-"]) {
    const { give, get } = setup();
    give(FILE);
    const { response } = await get(pathOf(FILE), { range });
    assert.equal(response.status, 200, range);
    assert.ok(same((await readAll(response)).bytes, DATA));
  }
});

test("lets every other request through untouched", async () => {
  const { give, worker, server } = setup();
  give(FILE);
  const others = [
    [SITE + "/_gated/files/" + FILE.id.toUpperCase() + ".bin"],
    [SITE + "/_gated/files/" + FILE.id + ".bin.js"],
    [SITE + "/_gated/files/" + FILE.id.slice(1) + ".bin"],
    [SITE + "/_gated/files/sub/" + FILE.id + ".bin"],
    [SITE + "/other/_gated/files/" + FILE.id + ".bin"],
    [SITE + "/_gated/abc/def.bin"],
    [SITE + "/course/lesson-1/"],
    ["https://cdn.other.test" + pathOf(FILE)],
    [SITE + pathOf(FILE), { method: "POST" }],
    [SITE + pathOf(FILE), { method: "HEAD" }]
  ];
  for (const [url, options] of others) {
    const event = fetchEvent(url, options);
    worker.emit("fetch", event);
    assert.equal(event.responded, false, url);
  }
  assert.equal(server.log.length, 0);
});

test("without a usable ?lib= it fails to install, so a working worker stays (fails closed)", async () => {
  const bad = ["https://evil.test/ghf2.js", "//evil.test/ghf2.js", "/ghf2.js?x=1", "/../ghf2.js",
    "/a/./ghf2.js", "/ghf2.mjs", "ghf2.js", "/gh f2.js", "/ghf2.js#x", "", "/" + "a".repeat(200) + ".js"];
  for (const lib of bad) {
    // The script throws while it is evaluated, before importing anything: the browser then
    // refuses to install it.
    assert.throws(() => setup({ lib }), /gatehouse: (no valid \?lib=|\?lib= is not this site's)/, lib);
  }
  // a good path that does not load fails the install too
  assert.throws(() => setup({ lib: "/missing.js" }), /NetworkError/);
});

test("a key it does not hold, it asks the requesting page for, once", async () => {
  const { get, page, server } = setup({ pageKeys: { [FILE.id]: FILE.key } });
  const first = await get(pathOf(FILE), { range: "bytes=0-9" });
  assert.equal(first.response.status, 206);
  assert.ok(same((await readAll(first.response)).bytes, DATA.subarray(0, 10)));
  assert.deepEqual(page.messages, [{ type: "gh-files-key-request", id: FILE.id }]);
  const second = await get(pathOf(FILE), { range: "bytes=10-19" });
  assert.equal(second.response.status, 206);
  assert.equal(page.messages.length, 1); // kept in memory
  assert.ok(server.log.length > 0);
});

test("a navigation (a download) asks every window of its scope, and takes the first key", async () => {
  const { get, worker, page } = setup();
  const other = windowClient("other", SITE + "/course/", (id) => (id === FILE.id ? FILE.key : null));
  const outside = windowClient("outside", "https://site.test.evil/", () => FILE.key);
  worker.clients.push(other, outside);
  const { response } = await get(pathOf(FILE), { clientId: "" });
  assert.equal(response.status, 200);
  assert.ok(same((await readAll(response)).bytes, DATA));
  assert.equal(page.messages.length, 1);
  assert.equal(other.messages.length, 1);
  assert.equal(outside.messages.length, 0);
});

test("no key anywhere: 403 with an empty body, and not one byte of ciphertext fetched", async () => {
  const { get, server, page } = setup();
  const { response } = await get(pathOf(FILE));
  assert.equal(response.status, 403);
  assert.equal((await readAll(response)).bytes.length, 0);
  assert.equal(page.messages.length, 1);
  assert.equal(server.log.length, 0);
  // and with no page open at all
  const lone = setup();
  lone.worker.clients.length = 0;
  assert.equal((await lone.get(pathOf(FILE))).response.status, 403);
});

test("a page that does not answer is given up on after 5 s: 403", async () => {
  const { get, worker, page } = setup({ fakeTimers: true });
  page.postMessage = function (message) {
    this.messages.push(JSON.parse(JSON.stringify(message))); // and never answers
  };
  const pending = get(pathOf(FILE));
  while (!page.messages.length) await settle();
  const timer = worker.timers.find((t) => !t.cleared);
  assert.equal(timer.ms, 5000);
  timer.fn();
  assert.equal((await pending).response.status, 403);
});

test("gh-files-forget drops every key: the next request asks again", async () => {
  const { give, get, worker, page } = setup();
  give(FILE);
  assert.equal((await get(pathOf(FILE), { range: "bytes=0-0" })).response.status, 206);
  worker.emit("message", { data: { type: "gh-files-forget" } });
  assert.equal((await get(pathOf(FILE), { range: "bytes=0-0" })).response.status, 403);
  assert.equal(page.messages.length, 1);
});

test("gh-files-forget stops a body that is being sent", async () => {
  const big = seal(fileBytes(40 * R, 8));
  const { give, get, worker } = setup({ objects: [big] });
  give(big);
  const { response } = await get(pathOf(big));
  const reader = response.body.getReader();
  assert.equal((await reader.read()).done, false);
  worker.emit("message", { data: { type: "gh-files-forget" } });
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  });
});

test("keys that are not 32 bytes of base64url for a 32-hex id are not taken", async () => {
  const { worker, get, page } = setup();
  worker.emit("message", {
    data: { type: "gh-files-keys", keys: { [FILE.id]: FILE.key + "=", [FILE.id.toUpperCase()]: FILE.key } }
  });
  assert.equal((await get(pathOf(FILE))).response.status, 403);
  assert.equal(page.messages.length, 1);
});

test("the body is pulled a few records at a time; a reader that cancels stops the fetching", async () => {
  const big = seal(fileBytes(40 * R, 6));
  const { give, get, server } = setup({ objects: [big] });
  give(big);
  const { response, event } = await get(pathOf(big), { range: "bytes=0-" });
  assert.equal(response.status, 206);
  await settle();
  // the head, and the first batch of 16 records
  assert.equal(server.log.length, 2);
  assert.equal(server.log[1].range, "bytes=" + recordAt(big, 0) + "-" + (recordAt(big, 16) - 1));
  // 14 of the 16 records read: nothing of the next batch is asked for ahead of the reader
  const reader = response.body.getReader();
  for (let i = 0; i < 14; i++) assert.equal((await reader.read()).value.length, R);
  await quiet();
  assert.equal(server.log.length, 2);
  await reader.cancel();
  await quiet();
  assert.equal(server.log.length, 2);
  assert.ok(server.served <= 4132 + 16 * (R + 16), "served " + server.served);
  await Promise.all(event.waits); // the worker stays alive exactly while the body is sent
});

test("reading a long file to the end takes 16 records per Range request", async () => {
  const big = seal(fileBytes(40 * R + 3, 6));
  const { give, get, server } = setup({ objects: [big] });
  give(big);
  const { response } = await get(pathOf(big));
  assert.ok(same((await readAll(response)).bytes, fileBytes(40 * R + 3, 6)));
  assert.deepEqual(server.log.slice(1).map((l) => l.range.split("=")[1].split("-")[0]),
    [0, 16, 32].map((i) => String(recordAt(big, i))));
});

test("a tampered record errors the stream after the good bytes, and the page is told", async () => {
  const bad = FILE.bytes.slice();
  bad[recordAt(FILE, 2) + 5] ^= 0x80;
  const { give, get, page } = setup({ objects: [[pathOf(FILE), bad]] });
  give(FILE);
  const { response } = await get(pathOf(FILE), { range: "bytes=100-" });
  assert.equal(response.status, 206); // records 0 and 1 are good: the headers went out
  const { bytes, error } = await readAll(response);
  assert.ok(error, "the stream must error");
  assert.ok(same(bytes, DATA.subarray(100, 2 * R)), "only verified bytes, up to the bad record");
  await settle();
  assert.deepEqual(page.messages, [{ type: "gh-files-error", url: pathOf(FILE) }]);
});

test("a bad file found before the headers is a 502 with no body, and the page is told", async () => {
  const cases = {
    "a flipped header byte": (b) => (b[10] ^= 1),
    "a flipped meta byte": (b) => (b[40] ^= 1),
    "a flipped first record": (b) => (b[recordAt(FILE, 0) + 3] ^= 1)
  };
  for (const [what, tamper] of Object.entries(cases)) {
    const bad = FILE.bytes.slice();
    tamper(bad);
    const { give, get, page } = setup({ objects: [[pathOf(FILE), bad]] });
    give(FILE);
    const { response } = await get(pathOf(FILE));
    assert.equal(response.status, 502, what);
    assert.equal((await readAll(response)).bytes.length, 0, what);
    await settle();
    assert.deepEqual(page.messages, [{ type: "gh-files-error", url: pathOf(FILE) }], what);
  }
});

test("a truncated object, or another file under this name, is a 502", async () => {
  const other = seal(fileBytes(500), { name: "x.png", type: "image/png" });
  const objects = [
    [pathOf(FILE), FILE.bytes.subarray(0, FILE.bytes.length - 1)],
    [pathOf(FILE), other.bytes]
  ];
  for (const object of objects) {
    const { give, get } = setup({ objects: [object] });
    give(FILE, other);
    assert.equal((await get(pathOf(FILE), { range: "bytes=0-0" })).response.status, 502);
  }
});

test("a missing object is a 404, not a 502", async () => {
  const { give, get, page } = setup({ objects: [] });
  give(FILE);
  assert.equal((await get(pathOf(FILE))).response.status, 404);
  await settle();
  assert.equal(page.messages.length, 0);
});

test("a CDN that ignores Range still yields a correct 206", async () => {
  const { give, get } = setup({ ignoreRange: true });
  give(FILE);
  const { response } = await get(pathOf(FILE), { range: "bytes=70000-140000" });
  assert.equal(response.status, 206);
  assert.ok(same((await readAll(response)).bytes, DATA.subarray(70000, 140001)));
});

test("install skips waiting and activate claims the open pages", async () => {
  const { worker } = setup();
  let skipped = false;
  worker.context.skipWaiting = async () => {
    skipped = true;
  };
  worker.emit("install", {});
  assert.ok(skipped);
  let claimed = null;
  worker.emit("activate", { waitUntil: (p) => (claimed = p) });
  assert.ok(claimed instanceof Object && typeof claimed.then === "function");
});

test("a file that could run script is sandboxed and sent as an attachment; media is not", async () => {
  const page = seal(new TextEncoder().encode("<script>parent.steal()</script>"),
    { name: "handout.html", type: "text/html; charset=utf-8" });
  const svg = seal(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"),
    { name: "logo.svg", type: "image/svg+xml" });
  const { give, get } = setup({ objects: [FILE, page, svg] });
  give(FILE, page, svg);
  for (const active of [page, svg]) {
    const { response } = await get(pathOf(active));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-security-policy"), /^sandbox; default-src 'none'/);
    assert.match(response.headers.get("content-disposition"), /^attachment; /);
  }
  const { response } = await get(pathOf(FILE), { range: "bytes=0-9" });
  assert.equal(response.headers.get("content-security-policy"), null);
  assert.match(response.headers.get("content-disposition"), /^inline; /);
});
