// gate.js, gatehouse-sw.js and ghf2.js together in a real headless Chromium, against a small
// server in this test (no gatehouse build: it seals its own page envelope and GHF2 files), with
// `Content-Security-Policy: script-src 'self'`. A member's page: the image, the audio and a
// download come through the worker, only as Range requests for sealed records, never stored;
// a lost key is asked of the page; a logout in another tab drops the keys; a tampered file says
// so next to it. Without service workers: the same files as blob: URLs, a large one refused.
//
// Needs chromium and chromedriver (GATEHOUSE_CHROMIUM / GATEHOUSE_CHROMEDRIVER, else on PATH).
// Without them it skips loudly; under CI=true it fails instead.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const zlib = require("node:zlib");
const { spawn, execFileSync } = require("node:child_process");
const { fileBytes, seal } = require("./support");

const STATIC = path.join(__dirname, "..", "..", "themes", "default", "static");
const WAIT_MS = 20000;

function program(env, name) {
  if (process.env[env]) return process.env[env];
  try {
    return execFileSync("/bin/sh", ["-c", "command -v " + name], { encoding: "utf8" }).trim() || null;
  } catch (e) {
    return null;
  }
}

const CHROMIUM = program("GATEHOUSE_CHROMIUM", "chromium");
const CHROMEDRIVER = program("GATEHOUSE_CHROMEDRIVER", "chromedriver");

/* ---------- what the server holds ---------- */

/** A PNG of w × h opaque pixels, stored uncompressed so that it spans several records. */
function png(w, h) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "latin1");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set([x & 0xff, y & 0xff, 128, 255], y * (w * 4 + 1) + 1 + x * 4);
  }
  return Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw, { level: 0 })), chunk("IEND", Buffer.alloc(0))]);
}

/** `seconds` of 8-bit mono PCM at 44.1 kHz, as a WAV file. */
function wav(seconds) {
  const rate = 44100;
  const data = Buffer.alloc(rate * seconds);
  for (let i = 0; i < data.length; i++) data[i] = 128 + Math.round(40 * Math.sin(i / 20));
  const head = Buffer.alloc(44);
  head.write("RIFF", 0, "latin1");
  head.writeUInt32LE(36 + data.length, 4);
  head.write("WAVEfmt ", 8, "latin1");
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate, 28);
  head.writeUInt16LE(1, 32);
  head.writeUInt16LE(8, 34);
  head.write("data", 36, "latin1");
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

const GATE = "0123456789abcdef";
const LESSON = "/lesson/";
const FALLBACK = "/private-window/";

function site() {
  const files = {
    pic: seal(png(300, 300), { name: "slide.png", type: "image/png" }),
    snd: seal(wav(10), { name: "talk.wav", type: "audio/wav" }),
    notes: seal(Buffer.from("Workbook, page 1.\n".repeat(5000)), { name: "Übung 1.txt", type: "text/plain; charset=utf-8" }),
    bad: seal(fileBytes(3 * 65536), { name: "broken.png", type: "image/png" }),
    big: seal(Buffer.alloc(50 * 1024 * 1024 + 1, 7), { name: "lecture.webm", type: "video/webm" })
  };
  const objects = new Map(Object.values(files).map((f) => ["/_gated/files/" + f.id + ".bin", f.bytes]));
  const bad = files.bad.bytes.slice();
  bad[bad.length - 100] ^= 1; // the last record's tag
  objects.set("/_gated/files/" + files.bad.id + ".bin", bad);
  const url = (name) => "/_gated/files/" + files[name].id + ".bin";
  const body = (pagePath) => [
    "<p>The members-only lesson.</p>",
    "<p><img id=\"pic\" src=\"" + url("pic") + "\" alt=\"slide\"></p>",
    "<audio id=\"snd\" src=\"" + url("snd") + "\" preload=\"auto\" controls></audio>",
    "<p><a id=\"notes\" href=\"" + url("notes") + "\">Workbook</a></p>",
    "<figure><img id=\"bad\" src=\"" + url("bad") + "\" alt=\"broken\"></figure>",
    "<video id=\"big\" preload=\"none\" controls><source src=\"" + url("big") + "\" type=\"video/webm\"></video>",
    // the same file as a src attribute, which gate.js sets again once in the page: still not fetched
    "<video id=\"lazy\" preload=\"none\" controls src=\"" + url("big") + "\"></video>",
    "<script type=\"application/json\" data-gh-files>" +
      JSON.stringify(Object.fromEntries(Object.values(files).map((f) => [f.id, f.key]))) + "</script>"
  ].join("\n") + "<!-- " + pagePath + " -->";
  const gateKey = crypto.randomBytes(32);
  const envelope = (pagePath) => {
    const nonce = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", gateKey, nonce);
    cipher.setAAD(Buffer.from("gatehouse/v2\n" + GATE + "\n" + pagePath + "\n1"));
    const sealed = Buffer.concat([cipher.update(body(pagePath)), cipher.final(), cipher.getAuthTag()]);
    const epoch = Buffer.alloc(4);
    epoch.writeUInt32BE(1);
    return Buffer.concat([Buffer.from("GH2"), epoch, nonce, sealed]);
  };
  objects.set("/_gated/" + GATE + "/lesson.bin", envelope(LESSON));
  objects.set("/_gated/" + GATE + "/fallback.bin", envelope(FALLBACK));
  const page = (pagePath, src, before) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lesson</title>
${before ? '<script src="/no-service-worker.js"></script>' : ""}
<script src="/gate.0123abcd.js" data-files="/ghf2.0123abcd.js" data-edge="/_gate" defer></script>
</head><body><div id="gh-account"></div>
<div class="gh-gate" data-gate="${GATE}" data-rule="level=gold;bundles=-;drip=0" data-src="${src}"
 data-path="${pagePath}" data-epoch="1" data-label="Gold"><div class="gh-locked">
<p class="gh-locked-title">Members only: Gold</p></div></div></body></html>`;
  const pages = {
    [LESSON]: page(LESSON, "/_gated/" + GATE + "/lesson.bin", false),
    [FALLBACK]: page(FALLBACK, "/_gated/" + GATE + "/fallback.bin", true),
    "/other/": "<!doctype html><title>Other tab</title><p>another page of the site</p>"
  };
  const scripts = {
    "/gate.0123abcd.js": fs.readFileSync(path.join(STATIC, "gate.js")),
    "/ghf2.0123abcd.js": fs.readFileSync(path.join(STATIC, "ghf2.js")),
    "/gatehouse-sw.js": fs.readFileSync(path.join(STATIC, "gatehouse-sw.js")),
    // what a browser without service workers looks like to gate.js
    "/no-service-worker.js": "Object.defineProperty(Navigator.prototype, 'serviceWorker', { get: () => undefined });"
  };
  return { files, objects, pages, scripts, gateKey };
}

/** The site over HTTP with Range support; `log` has {path, range} of every /_gated/files/ GET. */
function serve(s) {
  const log = [];
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    const csp = { "Content-Security-Policy": "script-src 'self'" };
    if (req.method === "POST" && pathname === "/_gate/keys") {
      req.resume();
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ epoch: 1, keys: { [GATE]: s.gateKey.toString("base64url") }, locked: {} }));
    }
    if (s.pages[pathname]) {
      res.writeHead(200, Object.assign({ "Content-Type": "text/html; charset=utf-8" }, csp));
      return res.end(s.pages[pathname]);
    }
    if (s.scripts[pathname]) {
      res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-cache" });
      return res.end(s.scripts[pathname]);
    }
    const bytes = s.objects.get(pathname);
    if (!bytes) {
      res.writeHead(404);
      return res.end();
    }
    if (pathname.startsWith("/_gated/files/")) log.push({ path: pathname, range: req.headers.range || null });
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || "");
    const headers = { "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes" };
    if (!m) {
      res.writeHead(200, Object.assign(headers, { "Content-Length": bytes.length }));
      return res.end(bytes);
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
    if (start >= bytes.length) {
      res.writeHead(416, { "Content-Range": "bytes */" + bytes.length });
      return res.end();
    }
    res.writeHead(206, Object.assign(headers, {
      "Content-Range": "bytes " + start + "-" + end + "/" + bytes.length, "Content-Length": end - start + 1
    }));
    res.end(bytes.subarray(start, end + 1));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, log })));
}

/* ---------- a minimal WebDriver client ---------- */

async function startDriver() {
  const child = spawn(CHROMEDRIVER, ["--port=0"], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let said = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("chromedriver did not start: " + said)), WAIT_MS);
    const read = (chunk) => {
      said += chunk;
      const m = /started successfully on port (\d+)/.exec(said);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => reject(new Error("chromedriver exited (" + code + "): " + said)));
  });
  return {
    url: "http://127.0.0.1:" + port,
    stop() {
      try {
        process.kill(-child.pid, "SIGKILL"); // its group: chromedriver and the browsers it started
      } catch (e) { /* already gone */ }
    }
  };
}

async function webdriver(base, method, route, body) {
  const response = await fetch(base + route, {
    method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body)
  });
  const data = await response.json();
  if (!response.ok) throw new Error(method + " " + route + ": " + JSON.stringify(data.value).slice(0, 500));
  return data.value;
}

async function browser(driver) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "gh-chromium-"));
  const options = {
    binary: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--autoplay-policy=no-user-gesture-required", "--user-data-dir=" + profile]
  };
  const session = await webdriver(driver.url, "POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "chrome", "goog:chromeOptions": options } }
  });
  const base = driver.url + "/session/" + session.sessionId;
  const call = (method, route, body) => webdriver(base, method, route, body);
  return {
    go: (url) => call("POST", "/url", { url }),
    /** Runs `fn(...args)` in the page (async allowed) and returns its JSON value. */
    run: (fn, ...args) => call("POST", "/execute/async", {
      script: "const done = arguments[arguments.length - 1];" +
        "Promise.resolve((" + fn + ").apply(null, Array.from(arguments).slice(0, -1)))" +
        ".then(done, (e) => done({ thrown: String(e) }));",
      args
    }),
    /** Polls `fn` until it returns something truthy; fails with the last value after WAIT_MS. */
    async until(what, fn, ...args) {
      const deadline = Date.now() + WAIT_MS;
      let last;
      while (Date.now() < deadline) {
        last = await this.run(fn, ...args);
        if (last && !last.thrown) return last;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail("waited " + WAIT_MS + " ms for " + what + "; last: " + JSON.stringify(last));
    },
    newTab: async () => (await call("POST", "/window/new", { type: "tab" })).handle,
    window: async () => call("GET", "/window"),
    switchTo: (handle) => call("POST", "/window", { handle }),
    close: async () => {
      await call("DELETE", "").catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
}

/* ---------- the scenarios ---------- */

function tools(t) {
  if (CHROMIUM && CHROMEDRIVER) return true;
  const missing = [!CHROMIUM && "chromium", !CHROMEDRIVER && "chromedriver"].filter(Boolean).join(" and ");
  if (process.env.CI === "true") assert.fail("CI=true: tests/js/browser.test.js needs " + missing);
  process.stderr.write("\n*** SKIPPED tests/js/browser.test.js: no " + missing + " (nothing was tested)\n\n");
  t.skip("no " + missing);
  return false;
}

test("in Chromium, a member's gated files open through the service worker, and only there", { timeout: 120000 }, async (t) => {
  if (!tools(t)) return;
  const s = site();
  const { server, log } = await serve(s);
  const origin = "http://127.0.0.1:" + server.address().port;
  const driver = await startDriver();
  const b = await browser(driver);
  try {
    await b.go(origin + LESSON);
    const state = await b.until("the image and the audio", () => {
      const pic = document.getElementById("pic");
      const snd = document.getElementById("snd");
      if (!pic || !pic.complete || !pic.naturalWidth || !(snd.duration > 0)) return null;
      return {
        width: pic.naturalWidth, duration: snd.duration, controlled: Boolean(navigator.serviceWorker.controller),
        script: document.querySelectorAll("script[data-gh-files]").length
      };
    });
    assert.deepEqual(state, { width: 300, duration: 10, controlled: true, script: 0 });
    // the tampered image says so, next to it
    const note = await b.until("the tampered file's message", () => {
      const n = document.querySelector("#bad + .gh-file-error, figure .gh-file-error");
      return n && n.textContent;
    });
    assert.equal(note, "This file could not be verified.");
    // the download, a Range request, and the audio seeking: through the worker, in the clear
    const got = await b.run(async (url) => {
      const whole = await fetch(url);
      const part = await fetch(url, { headers: { Range: "bytes=70000-70009" } });
      const snd = document.getElementById("snd");
      snd.currentTime = 8;
      await new Promise((resolve) => snd.addEventListener("seeked", resolve, { once: true }));
      return {
        status: whole.status, type: whole.headers.get("Content-Type"),
        disposition: whole.headers.get("Content-Disposition"), text: (await whole.text()).slice(0, 17),
        partStatus: part.status, range: part.headers.get("Content-Range"), part: await part.text(),
        seeked: snd.currentTime, error: snd.error && snd.error.code
      };
    }, "/_gated/files/" + s.files.notes.id + ".bin");
    const notes = "Workbook, page 1.\n".repeat(5000);
    assert.deepEqual(got, {
      status: 200, type: "text/plain; charset=utf-8",
      disposition: "inline; filename=\"_bung 1.txt\"; filename*=UTF-8''%C3%9Cbung%201.txt",
      text: "Workbook, page 1.", partStatus: 206, range: "bytes 70000-70009/" + notes.length,
      part: notes.slice(70000, 70010), seeked: 8, error: null
    });
    // a worker that lost its keys (as when the browser stops it) asks the page again
    const again = await b.run(async (url) => {
      navigator.serviceWorker.controller.postMessage({ type: "gh-files-forget" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const response = await fetch(url, { headers: { Range: "bytes=0-7" } });
      return { status: response.status, start: Array.from(new Uint8Array(await response.arrayBuffer())) };
    }, "/_gated/files/" + s.files.pic.id + ".bin");
    assert.deepEqual(again, { status: 206, start: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] });
    // nothing of it kept in storage
    const stored = await b.run(async () => ({
      caches: await caches.keys(), databases: (await indexedDB.databases()).map((d) => d.name)
    }));
    assert.deepEqual(stored, { caches: [], databases: [] });
    // The browser asked the server for sealed records only, each with a Range: never for a
    // gated file as a whole (as an <img> would have, before the worker controlled the page).
    assert.ok(log.length > 0);
    assert.deepEqual(log.filter((l) => !l.range), []);
    assert.ok(!log.some((l) => l.path.endsWith(s.files.big.id + ".bin")), "preload=none fetched nothing");
    // a download is a navigation: a worker without the key asks every window of the site
    const lesson = await b.window();
    await b.run(() => navigator.serviceWorker.controller.postMessage({ type: "gh-files-forget" }));
    await b.switchTo(await b.newTab());
    await b.go(origin + "/_gated/files/" + s.files.notes.id + ".bin");
    const opened = await b.run(() => ({ type: document.contentType, text: document.body.innerText.slice(0, 17) }));
    assert.deepEqual(opened, { type: "text/plain", text: "Workbook, page 1." });
    // a logout in another tab: the page and the worker drop the keys; the file is refused
    await b.go(origin + "/other/");
    await b.run(() => localStorage.setItem("gatehouse:auth", JSON.stringify({ state: "out", at: Date.now() })));
    await b.switchTo(lesson);
    const refused = await b.until("the refusal after logout", async (url) => {
      const response = await fetch(url, { headers: { Range: "bytes=0-7" } });
      return response.status === 403 && { status: 403, body: (await response.arrayBuffer()).byteLength };
    }, "/_gated/files/" + s.files.pic.id + ".bin");
    assert.deepEqual(refused, { status: 403, body: 0 });
  } finally {
    await b.close();
    driver.stop();
    server.close();
  }
});

test("in Chromium without service workers, images and files open in the page; a large video says why not", { timeout: 120000 }, async (t) => {
  if (!tools(t)) return;
  const s = site();
  const { server, log } = await serve(s);
  const origin = "http://127.0.0.1:" + server.address().port;
  const driver = await startDriver();
  const b = await browser(driver);
  try {
    await b.go(origin + FALLBACK);
    const state = await b.until("the page's own copies", () => {
      const pic = document.getElementById("pic");
      const snd = document.getElementById("snd");
      const notes = document.getElementById("notes");
      const big = document.querySelector("video + .gh-file-error");
      const bad = document.querySelector("figure .gh-file-error");
      if (!pic || !pic.naturalWidth || !(snd.duration > 0) || !notes.href || !big || !bad) return null;
      return {
        sw: typeof navigator.serviceWorker, width: pic.naturalWidth, duration: snd.duration,
        blobs: [pic.src, snd.src, notes.href].every((u) => u.startsWith("blob:")),
        download: notes.getAttribute("download"), big: big.textContent, bad: bad.textContent
      };
    });
    assert.deepEqual(state, {
      sw: "undefined", width: 300, duration: 10, blobs: true, download: "Übung 1.txt",
      big: "This video needs a browser that allows service workers; a private window may not.",
      bad: "This file could not be verified."
    });
    assert.deepEqual(log.filter((l) => !l.range), []);
    // of the large video, only its head was fetched
    const big = log.filter((l) => l.path.endsWith(s.files.big.id + ".bin"));
    assert.deepEqual(big.map((l) => l.range), ["bytes=0-4131"]);
  } finally {
    await b.close();
    driver.stop();
    server.close();
  }
});

test("in Chromium, a malformed fragment (#%E0) does not break an opened page", { timeout: 120000 }, async (t) => {
  if (!tools(t)) return;
  const s = site();
  const { server } = await serve(s);
  const origin = "http://127.0.0.1:" + server.address().port;
  const driver = await startDriver();
  const b = await browser(driver);
  try {
    // not percent-encoded UTF-8: decodeURIComponent throws on it (issue 15)
    await b.go(origin + LESSON + "#%E0");
    const state = await b.until("the slot to settle", () => {
      const slot = document.querySelector(".gh-gate[data-gate]");
      const state = slot.dataset.gateState;
      return state && state !== "loading" && { state, hash: location.hash, text: slot.textContent.trim().split("\n")[0] };
    });
    assert.deepEqual(state, { state: "open", hash: "#%E0", text: "The members-only lesson." });
  } finally {
    await b.close();
    driver.stop();
    server.close();
  }
});
