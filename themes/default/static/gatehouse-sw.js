/* gatehouse: the service worker that serves gated files in the clear (DESIGN §3 and §4 "Files").
 *
 * Registered by gate.js at the site root as gatehouse-sw.js?lib=<path of ghf2.js>. It answers
 * only same-origin GETs of <scope>_gated/files/<32 hex>.bin, with the file's plaintext: it fetches
 * just the sealed records a request needs (HTTP Range, 16 records at a time, and the next ones
 * only as the body is read), opens them with GatehouseFiles (ghf2.js) and streams them out; a
 * media element's Range request gets a 206. Everything else goes to the network untouched.
 *
 * Keys and plaintext live in this worker's memory only: never the Cache API, IndexedDB or any
 * storage. The browser stops idle workers, which wipes them; a key it lacks, it asks the pages.
 *
 * Messages (every one {type, …}):
 *   page → worker  {type: "gh-files-keys", keys: {"<32 hex>": "<base64url FK>"}}  keys to hold
 *                  {type: "gh-files-forget"}   drop every key (logout)
 *                  {type: "gh-files-claim"}    take control of the open pages now
 *   worker → page  {type: "gh-files-key-request", id: "<32 hex>"} with a MessagePort; the page
 *                  answers on the port {key: "<base64url FK>" | null}
 *                  {type: "gh-files-error", url: "<path>"}  the file did not verify
 */
"use strict";

const KEY_WAIT_MS = 5000;
// No reader, no worker: a library that does not load fails the install, so a working worker
// already in place stays, and pages without one fall back to opening files themselves.
const FILES = loadLibrary();
const SCOPE = self.registration.scope;
const SCOPE_PATH = new URL(SCOPE).pathname.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const FILE_PATH = new RegExp("^" + SCOPE_PATH + "_gated/files/([0-9a-f]{32})\\.bin$");
const keys = new Map(); // "<32 hex>" → base64url FK
const heads = new Map(); // "<32 hex>" → Promise of GatehouseFiles.openHead's {header, meta, key}
const streaming = new Set(); // AbortControllers of the bodies being sent

/** The reader named by ?lib=: a same-origin path of plain characters ending in .js. Throws
 *  otherwise, which fails the worker's install. */
function loadLibrary() {
  const lib = new URL(self.location.href).searchParams.get("lib") || "";
  if (lib.length > 200 || !/^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+\.js$/.test(lib)) {
    throw new Error("gatehouse: no valid ?lib=");
  }
  const url = new URL(lib, self.location.href);
  if (url.origin !== self.location.origin) throw new Error("gatehouse: ?lib= is not this site's");
  importScripts(url.href); // throws when it cannot be loaded
  if (!self.GatehouseFiles) throw new Error("gatehouse: ?lib= is not the files reader");
  return self.GatehouseFiles;
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/* ---------- keys: memory only ---------- */

const validKey = (id, key) =>
  /^[0-9a-f]{32}$/.test(id) && typeof key === "string" && /^[A-Za-z0-9_-]{43}$/.test(key);

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "gh-files-keys" && data.keys && typeof data.keys === "object") {
    Object.entries(data.keys).forEach(([id, key]) => {
      if (validKey(id, key)) keys.set(id, key);
    });
  } else if (data.type === "gh-files-forget") {
    keys.clear();
    heads.clear();
    streaming.forEach((abort) => abort.abort()); // a logout stops the files being sent, too
  } else if (data.type === "gh-files-claim") {
    event.waitUntil(self.clients.claim().catch(() => {}));
  }
});

/** Whom to tell about a request: the page that made it, else every window of the scope. (Not a
 *  navigation's resultingClientId: that is the document being answered, which holds no keys and
 *  does not exist until the answer does.) */
async function clientsFor(event) {
  const own = event.clientId && (await self.clients.get(event.clientId));
  if (own) return [own];
  const all = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return all.filter((client) => client.url.startsWith(SCOPE));
}

/** Asks one client for the key of `id`; null after KEY_WAIT_MS or when it has none. */
function ask(client, id) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const done = (key) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(validKey(id, key) ? key : null);
    };
    const timer = setTimeout(() => done(null), KEY_WAIT_MS);
    channel.port1.onmessage = (ev) => done(ev.data && ev.data.key);
    client.postMessage({ type: "gh-files-key-request", id }, [channel.port2]);
  });
}

/** The first key that the requesting page or any window of the scope gives (a PDF viewer's
 *  own requests, or a page whose key another tab holds), or null once all have answered. */
async function askForKey(event, id) {
  const own = event.clientId && (await self.clients.get(event.clientId));
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const others = windows.filter((c) => c.url.startsWith(SCOPE) && !(own && c.id === own.id));
  const asked = (own ? [own] : []).concat(others).map((client) => ask(client, id));
  const key = await new Promise((resolve) => {
    asked.forEach((answer) => answer.then((k) => k && resolve(k)));
    Promise.all(asked).then(() => resolve(null));
  });
  if (key) keys.set(id, key);
  return key;
}

/** Tells the page(s) that the file at `url` did not verify, so they can say so. */
function report(event, url) {
  const message = { type: "gh-files-error", url: new URL(url).pathname };
  clientsFor(event).then((clients) => clients.forEach((c) => c.postMessage(message)), () => {});
}

/* ---------- requests ---------- */

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!FILES || request.method !== "GET") return;
  const url = new URL(request.url);
  const match = url.origin === self.location.origin && FILE_PATH.exec(url.pathname);
  if (match) event.respondWith(serve(event, url.origin + url.pathname, match[1]));
});

const empty = (status, headers) => new Response(null, { status, headers });

/** An HTTP Range header against a file of `length` bytes: null (serve it all: no Range, or one
 *  this worker ignores, as HTTP allows), "unsatisfiable", or {start, end} with end inclusive. */
function parseRange(text, length) {
  const m = /^bytes=(\d*)-(\d*)$/i.exec((text || "").trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") { // the last n bytes
    const n = Number(m[2]);
    if (n === 0 || length === 0) return "unsatisfiable";
    return { start: Math.max(0, length - n), end: length - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? length - 1 : Number(m[2]);
  if (end < start) return m[2] === "" ? "unsatisfiable" : null;
  return start >= length ? "unsatisfiable" : { start, end: Math.min(end, length - 1) };
}

/** inline; filename="<ASCII stand-in>"; filename*=UTF-8''<the name, percent-encoded> */
/** Types a browser only shows or plays: no script can run in them. Anything else (HTML, SVG,
 *  XML, unknown) is sandboxed and sent as an attachment. */
const PASSIVE = /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon)|audio\/[\w.+-]+|video\/[\w.+-]+|application\/pdf|text\/(plain|csv|vtt)|font\/[\w.+-]+)(;|$)/i;
const ACTIVE_CSP = "sandbox; default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'";

function disposition(name, passive) {
  const plain = (name || "file").replace(/[^\x20-\x7e]|["\\%/]/g, "_");
  let encoded;
  try {
    encoded = encodeURIComponent(name || "file").replace(/['()*]/g,
      (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  } catch (e) {
    encoded = encodeURIComponent(plain); // a lone surrogate cannot be UTF-8
  }
  const kind = passive === false ? "attachment" : "inline";
  return kind + "; filename=\"" + plain + "\"; filename*=UTF-8''" + encoded;
}

function headOf(url, id, key) {
  if (!heads.has(id)) {
    const head = FILES.openHead(url, id, key);
    heads.set(id, head);
    head.catch(() => heads.get(id) === head && heads.delete(id));
  }
  return heads.get(id);
}

async function serve(event, url, id) {
  const key = keys.get(id) || (await askForKey(event, id));
  if (!key) return empty(403); // never the ciphertext as if it were the file
  const abort = new AbortController();
  let head, range, chunks, first;
  try {
    head = await headOf(url, id, key);
    const length = head.header.length;
    range = parseRange(event.request.headers.get("Range"), length);
    if (range === "unsatisfiable") {
      return empty(416, { "Content-Range": "bytes */" + length, "Accept-Ranges": "bytes" });
    }
    const [start, end] = range ? [range.start, range.end + 1] : [0, length];
    chunks = FILES.read(head, url, start, end, abort.signal);
    first = await chunks.next(); // a bad first record is a 502, before any header is out
  } catch (err) {
    if (err instanceof FILES.Unverifiable) {
      report(event, url);
      return empty(502);
    }
    if (err instanceof FILES.Unavailable) return empty(err.status === 404 ? 404 : 502);
    return Response.error(); // the network failed
  }
  const { length } = head.header;
  const passive = PASSIVE.test(head.meta.type);
  const headers = {
    "Content-Type": head.meta.type,
    "Content-Length": String(range ? range.end - range.start + 1 : length),
    "Content-Disposition": disposition(head.meta.name, passive),
    "Accept-Ranges": "bytes",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff"
  };
  // A document that could run script (HTML, SVG, XML) would run it on the site's own origin,
  // where the member's session lives: it gets no script at all, and opens as a download.
  if (!passive) headers["Content-Security-Policy"] = ACTIVE_CSP;
  if (range) headers["Content-Range"] = "bytes " + range.start + "-" + range.end + "/" + length;
  const body = stream(event, url, chunks, first, abort);
  return new Response(body, { status: range ? 206 : 200, headers });
}

/** A body that pulls one verified chunk at a time: nothing is fetched ahead of the reader, and a
 *  reader that cancels (a seeking video) aborts the fetch. */
function stream(event, url, chunks, first, abort) {
  let pending = first;
  let done;
  event.waitUntil(new Promise((resolve) => (done = resolve))); // alive while the body streams
  streaming.add(abort);
  const finish = () => {
    streaming.delete(abort);
    done();
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        if (abort.signal.aborted) throw new Error("gatehouse: stopped"); // the keys were dropped
        const step = pending || (await chunks.next());
        pending = null;
        if (step.done) {
          controller.close();
          finish();
        } else {
          controller.enqueue(step.value);
        }
      } catch (err) {
        controller.error(err);
        finish();
        if (err instanceof FILES.Unverifiable && !abort.signal.aborted) report(event, url);
      }
    },
    cancel() {
      abort.abort();
      chunks.return().catch(() => {});
      finish();
    }
  }, { highWaterMark: 0 });
}
