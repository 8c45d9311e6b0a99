// Shared by the tests in tests/js/: a GHF2 sealer written from DESIGN §4 "Files" alone (node's
// crypto, not the code under test), a CDN-like fake fetch with Range support, and loaders for
// ghf2.js and gatehouse-sw.js in their own vm contexts.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const STATIC = path.join(__dirname, "..", "..", "themes", "default", "static");
const GHF2_SOURCE = fs.readFileSync(path.join(STATIC, "ghf2.js"), "utf8");
const SW_SOURCE = fs.readFileSync(path.join(STATIC, "gatehouse-sw.js"), "utf8");

const R = 65536;
const SECRET = Buffer.from("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "base64url");

/** The vectors' test file: byte i = (i*7 + seed) & 0xFF (tests/vectors/gen_vectors.py). */
const fileBytes = (length, seed = 0) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function gcm(key, iv, aad, plain) {
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/**
 * Seals `data` as DESIGN §4 says. Options bend the format for refusal tests: `meta` (the exact
 * meta text), `lastFlag(i, n)` (the flag byte of record i), `length` (the header's length).
 * Returns {bytes, id, key (base64url), header, dataStart}.
 */
function seal(data, options = {}) {
  const { name = "file.bin", type = "application/octet-stream", secret = SECRET } = options;
  const meta = Buffer.from(options.meta !== undefined ? options.meta : JSON.stringify({ name, type }));
  // (JSON.stringify writes what serde_json's compact form writes for these strings)
  const root = Buffer.from(crypto.hkdfSync("sha256", secret, Buffer.alloc(0), "gatehouse/v2/files", 32));
  const salt = crypto.createHmac("sha256", root).update(meta).update("\n").update(data).digest()
    .subarray(0, 16);
  const key = Buffer.from(crypto.hkdfSync("sha256", root, salt, "gatehouse/v2/file", 32));
  const length = options.length !== undefined ? options.length : data.length;
  const n = Math.max(1, Math.ceil(data.length / R));
  const header = Buffer.alloc(36);
  header.write("GHF2", 0, "latin1");
  header.writeUInt32BE(R, 4);
  header.writeBigUInt64BE(BigInt(length), 8);
  salt.copy(header, 16);
  header.writeUInt32BE(meta.length + 16, 32);
  const parts = [header, gcm(key, Buffer.alloc(12, 0xff), header, meta)];
  const lastFlag = options.lastFlag || ((i, count) => (i === count - 1 ? 1 : 0));
  for (let i = 0; i < n; i++) {
    const iv = Buffer.concat([Buffer.alloc(4), u64(i)]);
    const aad = Buffer.concat([header, u64(i), Buffer.from([lastFlag(i, n)])]);
    parts.push(gcm(key, iv, aad, Buffer.from(data.subarray(i * R, (i + 1) * R))));
  }
  return {
    bytes: new Uint8Array(Buffer.concat(parts)),
    id: salt.toString("hex"),
    key: key.toString("base64url"),
    header: new Uint8Array(header),
    dataStart: 36 + meta.length + 16
  };
}

/** Where record i of a sealed object starts. */
const recordAt = (sealed, i) => sealed.dataStart + i * (R + 16);

/**
 * A fake fetch that serves `objects` (path → bytes) as a CDN does: 206 for `Range: bytes=a-b`
 * (clamped to the object), 416 past its end, 200 without Range (or always, with ignoreRange).
 * Bodies come in 1000-byte chunks and honour the abort signal. `log` collects
 * {path, range} of every request and `served` counts the body bytes handed out.
 */
function cdn(objects, { ignoreRange = false } = {}) {
  const state = { log: [], served: 0 };
  state.fetch = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const range = new Headers(init.headers || {}).get("Range");
    state.log.push({ path: url.pathname, range });
    const bytes = objects.get(url.pathname);
    if (!bytes) return new Response(null, { status: 404 });
    const m = !ignoreRange && range && /^bytes=(\d+)-(\d+)$/.exec(range);
    let body = bytes;
    const headers = { "Accept-Ranges": "bytes" };
    let status = 200;
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), bytes.length - 1);
      if (start >= bytes.length) {
        return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + bytes.length } });
      }
      body = bytes.subarray(start, end + 1);
      headers["Content-Range"] = "bytes " + start + "-" + end + "/" + bytes.length;
      status = 206;
    }
    headers["Content-Length"] = String(body.length);
    const signal = init.signal;
    let at = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (signal && signal.aborted) return controller.error(new DOMException("aborted", "AbortError"));
        if (at >= body.length) return controller.close();
        const chunk = body.slice(at, at + 1000);
        at += chunk.length;
        state.served += chunk.length;
        controller.enqueue(chunk);
      }
    }, { highWaterMark: 0 });
    return new Response(stream, { status, headers });
  };
  return state;
}

/** Loads ghf2.js into a fresh context and returns its GatehouseFiles, with `fetch` as given. */
function loadGhf2(fetch) {
  const context = vm.createContext(baseGlobals({ fetch }));
  vm.runInContext(GHF2_SOURCE, context, { filename: "ghf2.js" });
  return context.GatehouseFiles;
}

function baseGlobals(extra) {
  return Object.assign({
    crypto: globalThis.crypto, atob, TextDecoder, TextEncoder, URL, Headers, Request, Response,
    ReadableStream, AbortController, DOMException, MessageChannel, setTimeout, clearTimeout,
    console
  }, extra);
}

/**
 * Loads gatehouse-sw.js as the browser would, at https://site.test/gatehouse-sw.js?lib=<lib>,
 * scope https://site.test/ (or `scope`). Returns {emit, clients, timers, imported, listeners}:
 * `emit(type, event)` calls the worker's listener; `clients` is the list clients.matchAll sees;
 * with `fakeTimers`, setTimeout only records ({fn, ms}) and the test fires it.
 */
function loadWorker({ fetch, lib = "/ghf2.0123abcd.js", scope = "https://site.test/", fakeTimers } = {}) {
  const listeners = {};
  const clients = [];
  const timers = [];
  const imported = [];
  const extra = {
    fetch,
    location: new URL("https://site.test/gatehouse-sw.js?lib=" + encodeURIComponent(lib)),
    registration: { scope },
    addEventListener: (type, fn) => {
      listeners[type] = fn;
    },
    importScripts: (url) => {
      imported.push(url);
      // the site serves ghf2.js under its fingerprinted name, and nothing else
      if (url !== "https://site.test/ghf2.0123abcd.js") throw new Error("NetworkError: " + url);
      vm.runInContext(GHF2_SOURCE, context, { filename: "ghf2.js" });
    },
    skipWaiting: async () => {},
    clients: {
      get: async (id) => clients.find((c) => c.id === id),
      matchAll: async () => clients.slice(),
      claim: async () => {}
    }
  };
  if (fakeTimers) {
    extra.setTimeout = (fn, ms) => timers.push({ fn, ms, cleared: false });
    extra.clearTimeout = (n) => {
      if (timers[n - 1]) timers[n - 1].cleared = true;
    };
  }
  const context = vm.createContext(baseGlobals(extra));
  context.self = context;
  vm.runInContext(SW_SOURCE, context, { filename: "gatehouse-sw.js" });
  const emit = (type, event) => listeners[type] && listeners[type](event);
  return { emit, clients, timers, imported, listeners, context };
}

/**
 * A window client. `answer(id)` gives what it replies to a key request: a key, null, or
 * undefined for no reply at all.
 */
function windowClient(id, url, answer = () => null) {
  return {
    id, url, type: "window", messages: [],
    postMessage(message, ports) {
      this.messages.push(JSON.parse(JSON.stringify(message))); // a copy, as a message is
      if (message.type !== "gh-files-key-request" || !ports) return;
      const key = answer(message.id);
      if (key !== undefined) ports[0].postMessage({ key });
    }
  };
}

/** A fetch event as the worker sees it; `await event.response` is what it answered, or
 *  undefined when it let the request through. */
function fetchEvent(url, { range, method = "GET", clientId = "page", headers = {} } = {}) {
  const all = Object.assign({}, headers, range ? { Range: range } : {});
  let responded;
  const waits = [];
  return {
    request: new Request(url, { method, headers: all }),
    clientId,
    resultingClientId: clientId ? "" : "new-document",
    respondWith(promise) {
      if (responded) throw new Error("respondWith twice");
      responded = Promise.resolve(promise);
    },
    waitUntil(promise) {
      waits.push(promise);
    },
    get responded() {
      return Boolean(responded);
    },
    get response() {
      return responded;
    },
    waits
  };
}

/** Every byte of a response body, and whether the stream errored. */
async function readAll(response) {
  if (!response.body) return { bytes: new Uint8Array(0), error: null };
  const reader = response.body.getReader();
  const parts = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes: new Uint8Array(Buffer.concat(parts)), error: null };
      parts.push(Buffer.from(value));
    }
  } catch (error) {
    return { bytes: new Uint8Array(Buffer.concat(parts)), error };
  }
}

const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));

/** Lets pending promise jobs and message-port deliveries run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Lets everything already under way finish (WebCrypto answers from libuv's thread pool), so
 *  that a test can see that nothing more happens. */
async function quiet(rounds = 100) {
  for (let i = 0; i < rounds; i++) await settle();
}

module.exports = {
  R, SECRET, fileBytes, seal, recordAt, cdn, loadGhf2, loadWorker, windowClient, fetchEvent,
  readAll, same, settle, quiet
};
