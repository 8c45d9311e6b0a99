// The browser part of scripts/bench-media (which sets the BENCH_* variables): starts
// `gatehouse serve` on the prepared site, then for each round and each page kind launches a
// fresh headless Chromium (its own profile) and drives it over the Chrome DevTools Protocol
// directly (no chromedriver): the page's target for navigation and timings, the service
// worker's target for its heap. Run with `node --experimental-websocket` (Node 20).
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { spawn } = require("node:child_process");

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback === undefined) throw new Error("scripts/bench-media.js needs " + name + " (run scripts/bench-media)");
    return fallback;
  }
  return value;
};

const BIN = env("BENCH_BIN");
const SITE = env("BENCH_SITE");
const WORK = env("BENCH_WORK");
const CHROMIUM = env("BENCH_CHROMIUM");
const ROUNDS = Number(env("BENCH_ROUNDS", "5"));
const PLAY_MS = Number(env("BENCH_PLAY_SECONDS", "4")) * 1000;
const GC_ROUNDS = Number(env("BENCH_GC_ROUNDS", "1"));
const VIDEO_BYTES = Number(env("BENCH_VIDEO_BYTES", "0"));
const VIDEO_DURATION = Number(env("BENCH_VIDEO_DURATION", "0"));
const SERVE_START_MS = 180000;
const MEDIA_WAIT_MS = 90000; // a busy 2-core machine, a cold browser
const SAMPLE_MS = 100;
const RECORD = 65536 + 16; // a sealed GHF2 record

const PAGES = {
  gated: "/course/bench-video/",
  public: "/bench-public/"
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What to end if the run is interrupted: the browser (its own process group) and serve.
const running = new Set();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    running.forEach((end) => end());
    process.exit(130);
  });
}

/* ---------- gatehouse serve ---------- */

/** Starts serve and resolves to {url, goldLink, stop, log} once it says where it listens. */
function startServe() {
  const childEnv = Object.assign({}, process.env);
  delete childEnv.GATEHOUSE_SMTP_URL;
  delete childEnv.GATEHOUSE_ADMIN_TOKEN;
  delete childEnv.RUST_LOG;
  const started = Date.now();
  const child = spawn(BIN, ["--root", SITE, "serve", "--port", "0"], {
    cwd: SITE, env: childEnv, stdio: ["ignore", "pipe", "pipe"]
  });
  const end = () => child.kill("SIGKILL");
  running.add(end);
  child.on("exit", () => running.delete(end));
  const log = [];
  readline.createInterface({ input: child.stderr }).on("line", (line) => log.push(line));
  const lines = readline.createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const stdout = [];
    const timer = setTimeout(() => fail("did not say it was listening within " + SERVE_START_MS + " ms"), SERVE_START_MS);
    function fail(why) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error("gatehouse serve " + why + ":\n" + stdout.concat(log).join("\n")));
    }
    child.on("exit", (code) => fail("exited (" + code + ")"));
    lines.on("line", (line) => {
      stdout.push(line);
      log.push(line);
      const m = /^gatehouse serve listening on (\S+?)\/?$/.exec(line.trim());
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      // Demo members come as pairs of lines after "Demo members": "  email  what", "  link".
      const at = stdout.findIndex((l) => l.startsWith("Demo members"));
      const members = [];
      for (let i = at + 1; i + 1 < stdout.length && stdout[i].startsWith("  "); i += 2) {
        members.push({ email: stdout[i].trim().split(/\s+/)[0], link: stdout[i + 1].trim() });
      }
      const gold = members.find((member) => member.email === "gold@demo.test");
      if (at < 0 || !gold) return fail("printed no one-click link for gold@demo.test");
      resolve({
        url: m[1],
        goldLink: gold.link,
        startMs: Date.now() - started,
        log,
        stop() {
          child.kill("SIGTERM");
        }
      });
    });
  });
}

/* ---------- Chromium over the DevTools protocol ---------- */

/** A fresh headless Chromium with its own profile; resolves to {cdp, close}. */
async function launchBrowser(label) {
  const profile = fs.mkdtempSync(path.join(WORK, "profile-"));
  const logPath = path.join(WORK, "chromium-" + label + ".log");
  const logFd = fs.openSync(logPath, "w");
  const child = spawn(CHROMIUM, [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--no-first-run", "--no-default-browser-check", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900",
    "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"
  ], { detached: true, stdio: ["ignore", logFd, logFd] });
  fs.closeSync(logFd);
  let exited = false;
  child.on("exit", () => (exited = true));
  const killAll = () => {
    try {
      process.kill(-child.pid, "SIGKILL"); // its process group: the browser and its children
    } catch (e) { /* gone already */ }
  };
  running.add(killAll);
  const close = async (cdp) => {
    if (cdp) {
      await Promise.race([cdp.send("Browser.close").catch(() => {}), sleep(3000)]);
      cdp.close();
    }
    for (let i = 0; i < 50 && !exited; i++) await sleep(100);
    killAll();
    running.delete(killAll);
    fs.rmSync(profile, { recursive: true, force: true });
  };
  // Chromium writes the port it chose (and the browser target's path) to DevToolsActivePort.
  const portFile = path.join(profile, "DevToolsActivePort");
  const deadline = Date.now() + 30000;
  let wsUrl = null;
  while (!wsUrl) {
    if (exited || Date.now() > deadline) {
      await close(null);
      throw new Error("chromium did not start; its log (" + logPath + "):\n" + fs.readFileSync(logPath, "utf8").slice(-3000));
    }
    try {
      const [port, where] = fs.readFileSync(portFile, "utf8").split("\n");
      if (port && where) wsUrl = "ws://127.0.0.1:" + port.trim() + where.trim();
    } catch (e) { /* not yet */ }
    if (!wsUrl) await sleep(50);
  }
  const cdp = await connect(wsUrl);
  return { cdp, close: () => close(cdp) };
}

/** One WebSocket to the browser target; sessions of attached targets are flattened into it. */
function connect(wsUrl) {
  const ws = new WebSocket(wsUrl);
  const pending = new Map();
  const listeners = new Set();
  let nextId = 1;
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id !== undefined) {
      const call = pending.get(message.id);
      if (!call) return;
      pending.delete(message.id);
      if (message.error) call.reject(new Error(call.method + ": " + JSON.stringify(message.error)));
      else call.resolve(message.result);
    } else {
      listeners.forEach((listener) => listener(message));
    }
  };
  ws.onclose = () => {
    pending.forEach((call) => call.reject(new Error(call.method + ": the browser connection closed")));
    pending.clear();
  };
  return new Promise((resolve, reject) => {
    ws.onerror = () => reject(new Error("cannot connect to " + wsUrl));
    ws.onopen = () => resolve({
      send(method, params, sessionId) {
        const id = nextId++;
        const message = { id, method, params: params || {} };
        if (sessionId) message.sessionId = sessionId;
        return new Promise((res, rej) => {
          pending.set(id, { resolve: res, reject: rej, method });
          ws.send(JSON.stringify(message));
        });
      },
      on(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close() {
        try {
          ws.close();
        } catch (e) { /* closed */ }
      }
    });
  });
}

/** Evaluates `expression` in the page (promises awaited) and returns its JSON value. */
async function evaluate(cdp, session, expression) {
  const { result, exceptionDetails } = await cdp.send("Runtime.evaluate", {
    expression, returnByValue: true, awaitPromise: true
  }, session);
  if (exceptionDetails) {
    const text = exceptionDetails.exception ? exceptionDetails.exception.description : exceptionDetails.text;
    throw new Error("in the page: " + text);
  }
  return result.value;
}

/** Polls `expression` until it returns something truthy; also across a navigation. */
async function until(cdp, session, what, expression, ms) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await evaluate(cdp, session, expression);
      if (last) return last;
    } catch (e) {
      last = String(e.message || e); // a context destroyed by the navigation: try again
    }
    await sleep(50);
  }
  throw new Error("waited " + ms + " ms for " + what + "; last: " + JSON.stringify(last));
}

/* In every new document, before its scripts: note when the first <video> enters the DOM, mute
 * it and call play() right then, and log its media events, all in performance.now() (ms since
 * the navigation started). Media events do not bubble; a capturing listener still sees them. */
const INSTRUMENT = `(() => {
  if (window.top !== window) return;
  const b = window.__bench = { events: [], inserted: null, playError: null };
  const take = (v) => {
    b.inserted = performance.now();
    b.src = v.currentSrc || v.getAttribute("src");
    v.muted = true;
    const p = v.play();
    if (p) p.catch((e) => { b.playError = String(e); });
  };
  new MutationObserver(() => {
    if (b.inserted !== null) return;
    const v = document.querySelector("video");
    if (v) take(v);
  }).observe(document, { childList: true, subtree: true });
  ["loadstart", "loadedmetadata", "loadeddata", "canplay", "canplaythrough", "playing", "waiting",
   "seeking", "seeked", "stalled", "error"].forEach((type) => document.addEventListener(type, (e) => {
    const v = e.target;
    if (v.tagName !== "VIDEO") return;
    b.events.push({ type, t: performance.now(), readyState: v.readyState, at: v.currentTime,
                    error: v.error && v.error.code });
  }, true));
})();`;

/** What the page shows once the video has its first frame, or failed. */
const FIRST_FRAME = `(() => {
  const b = window.__bench;
  if (!b) return null;
  const first = b.events.find((e) => e.type === "loadeddata");
  const failed = b.events.find((e) => e.type === "error");
  const note = document.querySelector(".gh-file-error, .gh-gate .gh-error");
  if (!first && !failed && !note && !b.playError) return null;
  const v = document.querySelector("video");
  return { inserted: b.inserted, firstFrame: first ? first.t : null, playError: b.playError,
           error: failed ? failed.error : null, note: note ? note.textContent : null,
           src: v && v.currentSrc, duration: v && v.duration,
           controlled: Boolean(navigator.serviceWorker && navigator.serviceWorker.controller) };
})()`;

/** Seeks to the middle; resolves when it has seeked and plays again (readyState ≥ 3). */
const SEEK = `new Promise((resolve) => {
  const v = document.querySelector("video");
  const target = v.duration / 2;
  let seeked = null, finished = false;
  const check = (how) => {
    if (finished || seeked === null || v.readyState < 3 || v.paused) return;
    finished = true;
    clearInterval(poll);
    resolve({ seeked: seeked - t0, playing: performance.now() - t0, how, target,
              at: v.currentTime, readyState: v.readyState });
  };
  const poll = setInterval(() => check("poll"), 4);
  v.addEventListener("seeked", () => { seeked = performance.now(); check("seeked"); }, { once: true });
  ["canplay", "canplaythrough", "playing"].forEach((type) => v.addEventListener(type, () => check(type)));
  setTimeout(() => { if (!finished) { finished = true; clearInterval(poll);
    resolve({ timeout: true, seeked: seeked && seeked - t0, readyState: v.readyState, at: v.currentTime }); } },
    ${MEDIA_WAIT_MS});
  const t0 = performance.now();
  v.currentTime = target;
})`;

const PLAYBACK = `(() => { const v = document.querySelector("video");
  return { at: v.currentTime, paused: v.paused, readyState: v.readyState, error: v.error && v.error.code }; })()`;

/**
 * Attaches to every service worker of `origin` as it appears and samples its heap every
 * SAMPLE_MS (after a forced garbage collection each time when `gcEachSample`: the live size).
 * `gc()` forces a garbage collection in each and returns the sizes after it.
 */
async function watchWorkers(cdp, origin, gcEachSample) {
  const workers = new Map(); // targetId → {sessionId, url}
  const samples = [];
  let stopped = false;
  const off = cdp.on(async (message) => {
    if (message.method === "Target.detachedFromTarget") {
      for (const [id, w] of workers) if (w.sessionId === message.params.sessionId) workers.delete(id);
    }
    if (message.method !== "Target.targetCreated" && message.method !== "Target.targetInfoChanged") return;
    const info = message.params.targetInfo;
    if (info.type !== "service_worker" || !info.url.startsWith(origin) || workers.has(info.targetId)) return;
    const worker = { sessionId: null, url: info.url };
    workers.set(info.targetId, worker);
    try {
      worker.sessionId = (await cdp.send("Target.attachToTarget", { targetId: info.targetId, flatten: true })).sessionId;
    } catch (e) {
      workers.delete(info.targetId);
      return;
    }
    while (!stopped && workers.get(info.targetId) === worker) {
      const t = Date.now();
      try {
        if (gcEachSample) await cdp.send("HeapProfiler.collectGarbage", {}, worker.sessionId);
        samples.push(Object.assign({ t }, await cdp.send("Runtime.getHeapUsage", {}, worker.sessionId)));
      } catch (e) {
        break; // the worker stopped
      }
      await sleep(Math.max(0, SAMPLE_MS - (Date.now() - t)));
    }
  });
  await cdp.send("Target.setDiscoverTargets", { discover: true });
  return {
    samples,
    count: () => workers.size,
    forced: [], // [from, to] of each forced collection, in Date.now() time
    async gc() {
      const after = [];
      const from = Date.now();
      for (const worker of workers.values()) {
        if (!worker.sessionId) continue;
        try {
          await cdp.send("HeapProfiler.collectGarbage", {}, worker.sessionId);
          after.push(await cdp.send("Runtime.getHeapUsage", {}, worker.sessionId));
        } catch (e) { /* stopped */ }
      }
      this.forced.push([from, Date.now()]);
      return after;
    },
    stop() {
      stopped = true;
      off();
    }
  };
}

/** V8 heap in use plus ArrayBuffer backing stores (and the embedder's heap, where reported). */
const heapTotal = (s) => s.usedSize + (s.backingStorageSize || 0) + (s.embedderHeapUsedSize || 0);

/** One measurement: a fresh browser logs in, opens the page of `kind`, plays, seeks, plays. */
async function measure(serve, kind, label, gcEachSample) {
  const browser = await launchBrowser(label);
  const { cdp } = browser;
  let workers = null;
  try {
    const { targetInfos } = await cdp.send("Target.getTargets");
    const page = targetInfos.find((t) => t.type === "page");
    const targetId = page ? page.targetId : (await cdp.send("Target.createTarget", { url: "about:blank" })).targetId;
    const { sessionId: s } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    await cdp.send("Page.enable", {}, s);
    await cdp.send("Page.addScriptToEvaluateOnNewDocument", { source: INSTRUMENT }, s);

    // Log in as the gold member (both kinds: the same visitor, only the page differs).
    await cdp.send("Page.navigate", { url: serve.goldLink + "&next=/" }, s);
    await until(cdp, s, "the login to land on /",
      "location.pathname === '/' && document.readyState === 'complete'", 30000);

    workers = await watchWorkers(cdp, serve.url, gcEachSample);
    await cdp.send("Page.navigate", { url: serve.url + PAGES[kind] }, s);
    const first = await until(cdp, s, "the first frame", FIRST_FRAME, MEDIA_WAIT_MS);
    if (first.firstFrame === null) throw new Error("no first frame: " + JSON.stringify(first));
    if (kind === "gated" && !/\/_gated\/files\/[0-9a-f]{32}\.bin$/.test(first.src || "")) {
      throw new Error("the gated video is not a sealed file: " + JSON.stringify(first));
    }
    if (kind === "gated" && !first.controlled) throw new Error("no service worker controls the page: " + JSON.stringify(first));

    // Play, then take the worker's live size, then seek to the middle and play on.
    await until(cdp, s, "playback", `(() => { const v = document.querySelector("video");
      return v.currentTime > 0.2 && !v.paused && v.currentTime; })()`, MEDIA_WAIT_MS);
    await sleep(PLAY_MS);
    const before = await evaluate(cdp, s, PLAYBACK);
    const live = await workers.gc();
    await sleep(300);
    const seek = await evaluate(cdp, s, SEEK);
    if (seek.timeout) throw new Error("the seek did not finish: " + JSON.stringify(seek));
    await sleep(PLAY_MS);
    const after = await evaluate(cdp, s, PLAYBACK);
    if (after.error || after.paused || after.at < seek.target + 0.5) {
      throw new Error("the video does not play after the seek: " + JSON.stringify({ seek, after }));
    }
    live.push(...(await workers.gc()));
    workers.stop();
    const samples = workers.samples;
    const peak = (f) => (samples.length ? Math.max(...samples.map(f)) : null);
    // The heap over time, for a closer look: ms since the first sample, V8 heap, ArrayBuffers.
    if (samples.length) {
      fs.writeFileSync(path.join(WORK, "heap-" + label + ".json"), JSON.stringify(samples.map((x) =>
        [x.t - samples[0].t, x.usedSize, x.backingStorageSize || 0, x.embedderHeapUsedSize || 0])));
    }
    // Drops of more than 4 MiB between samples: V8's own collections that freed sent records
    // (not counting the forced ones, nor any in a run that forces one before every sample).
    let drops = 0;
    for (let i = 1; i < samples.length && !gcEachSample; i++) {
      const forced = workers.forced.some(([from, to]) => to >= samples[i - 1].t && from <= samples[i].t);
      if (!forced && heapTotal(samples[i - 1]) - heapTotal(samples[i]) > 4 << 20) drops++;
    }
    return {
      kind,
      navToFrame: first.firstFrame,
      insertedAt: first.inserted,
      insertedToFrame: first.firstFrame - first.inserted,
      seekToSeeked: seek.seeked,
      seekToPlaying: seek.playing,
      seekHow: seek.how,
      playedBefore: before.at,
      playedAfter: after.at - seek.target,
      workers: kind === "gated" ? workers.count() : 0,
      samples: samples.length,
      drops,
      swPeak: peak(heapTotal),
      swPeakUsed: peak((x) => x.usedSize),
      swPeakBacking: peak((x) => x.backingStorageSize || 0),
      swFirst: samples.length ? heapTotal(samples[0]) : null,
      swLive: live.length ? Math.max(...live.map(heapTotal)) : null
    };
  } finally {
    if (workers) workers.stop();
    await browser.close();
  }
}

/* ---------- figures ---------- */

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1)) + " ms";
const mb = (x) => (x / 1048576).toFixed(x >= 10 * 1048576 ? 0 : 1) + " MiB";
const spread = (xs, unit) => xs.length
  ? unit(median(xs)) + " (" + unit(Math.min(...xs)).replace(/ \w+$/, "") + "–" + unit(Math.max(...xs)) + ")"
  : "–";

function line(r, round) {
  const parts = [
    "round " + round, r.kind.padEnd(6),
    "nav→frame " + ms(r.navToFrame), "inserted at " + ms(r.insertedAt),
    "inserted→frame " + ms(r.insertedToFrame),
    "seek→seeked " + ms(r.seekToSeeked), "seek→playing " + ms(r.seekToPlaying) + " (" + (r.seekHow === "seeked" ? "ready at seeked" : "at " + r.seekHow) + ")"
  ];
  if (r.kind === "gated") {
    parts.push("worker peak " + mb(r.swPeak) + " (V8 " + mb(r.swPeakUsed) + ", buffers " + mb(r.swPeakBacking) +
      "; at start " + mb(r.swFirst) + ", live after GC " + mb(r.swLive) + ", " + r.samples + " samples, " + r.drops + " collections by V8 that freed > 4 MiB)");
  }
  return parts.join("  ");
}

async function main() {
  const loadStart = os.loadavg();
  const started = new Date();
  const serve = await startServe();
  console.log("gatehouse serve on " + serve.url + " (build of the site, the video sealed, in " + (serve.startMs / 1000).toFixed(1) + " s)");
  const results = { gated: [], public: [], live: [] };
  const failures = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? ["gated", "public"] : ["public", "gated"];
      for (const kind of order) {
        try {
          const r = await measure(serve, kind, kind + "-" + round);
          results[kind].push(r);
          console.log(line(r, round));
        } catch (e) {
          failures.push("round " + round + " " + kind + ": " + e.message);
          console.log("round " + round + "  " + kind + "  FAILED: " + e.message);
        }
      }
    }
    // The worker's live size over a whole playback: a garbage collection before every sample.
    // It slows the worker down, so these runs are not timed.
    for (let round = 1; round <= GC_ROUNDS; round++) {
      try {
        const r = await measure(serve, "gated", "gated-gc-" + round, true);
        results.live.push(r);
        console.log("gc run " + round + "  gated  worker peak live (GC before each sample) " + mb(r.swPeak) +
          " (V8 " + mb(r.swPeakUsed) + ", buffers " + mb(r.swPeakBacking) + ", " + r.samples + " samples)");
      } catch (e) {
        failures.push("gc run " + round + ": " + e.message);
        console.log("gc run " + round + "  gated  FAILED: " + e.message);
      }
    }
  } finally {
    serve.stop();
  }
  const loadEnd = os.loadavg();
  const g = results.gated;
  const p = results.public;
  const pick = (rs, key) => rs.map((r) => r[key]).filter((x) => typeof x === "number");
  const ratio = (key) => (g.length && p.length ? (median(pick(g, key)) / median(pick(p, key))).toFixed(2) + "×" : "–");
  const verdict = (key) => {
    if (!g.length || !p.length) return "not measured";
    return median(pick(g, key)) / median(pick(p, key)) <= 1.5 ? "met" : "**missed**";
  };

  const date = started.toISOString().slice(0, 10);
  const out = [];
  out.push("");
  out.push("## Members-only video through the service worker vs the same video public (" + date + ")");
  out.push("");
  out.push("`" + env("BENCH_COMMAND", "scripts/bench-media") + "` (commit " + env("BENCH_COMMIT", "unknown") + "): the release `gatehouse serve` of the demo");
  out.push("site plus a gold lesson (`content/course/bench-video/`) and a public page (`content/bench-public/`)");
  out.push("holding the same WebM: " + (VIDEO_BYTES / 1e6).toFixed(1) + " MB (" + VIDEO_BYTES.toLocaleString("en-US") + " bytes), " +
    VIDEO_DURATION.toFixed(0) + " s, " + env("BENCH_VIDEO_DESC", "") + ".");
  out.push("Each round and kind: a fresh headless Chromium profile, the gold demo member's one-click login, then the");
  out.push("page; the video is muted and play() called when it enters the DOM; " + PLAY_MS / 1000 + " s of playback, a seek to");
  out.push("duration / 2, " + PLAY_MS / 1000 + " s more. Medians of " + ROUNDS + " round" + (ROUNDS === 1 ? "" : "s") + " (min–max).");
  out.push("");
  out.push("Machine: " + env("BENCH_MACHINE", os.cpus().length + " cores") + ".");
  out.push("Load average " + loadStart.map((x) => x.toFixed(2)).join(", ") + " at the start, " +
    loadEnd.map((x) => x.toFixed(2)).join(", ") + " at the end.");
  out.push("");
  out.push("| measurement | gated (service worker) | public | gated / public | goal |");
  out.push("|---|---:|---:|---:|---|");
  out.push("| navigation → first frame (`loadeddata`) | " + spread(pick(g, "navToFrame"), ms) + " | " +
    spread(pick(p, "navToFrame"), ms) + " | " + ratio("navToFrame") + " | ≤ 1.5×: " + verdict("navToFrame") + " |");
  out.push("| navigation → `<video>` in the DOM | " + spread(pick(g, "insertedAt"), ms) + " | " +
    spread(pick(p, "insertedAt"), ms) + " | | |");
  out.push("| `<video>` in the DOM → first frame | " + spread(pick(g, "insertedToFrame"), ms) + " | " +
    spread(pick(p, "insertedToFrame"), ms) + " | " + ratio("insertedToFrame") + " | ≤ 1.5×: " + verdict("insertedToFrame") + " |");
  out.push("| seek to the middle → `seeked` | " + spread(pick(g, "seekToSeeked"), ms) + " | " +
    spread(pick(p, "seekToSeeked"), ms) + " | " + ratio("seekToSeeked") + " | |");
  out.push("| seek to the middle → playing (readyState ≥ 3) | " + spread(pick(g, "seekToPlaying"), ms) + " | " +
    spread(pick(p, "seekToPlaying"), ms) + " | " + ratio("seekToPlaying") + " | ≤ 1.5×: " + verdict("seekToPlaying") + " |");
  out.push("| service worker, peak heap + ArrayBuffers (every " + SAMPLE_MS + " ms) | " + spread(pick(g, "swPeak"), mb) +
    " | – | | a few records, not the file (" + mb(VIDEO_BYTES) + ") |");
  out.push("| of which V8 heap / ArrayBuffer backing stores, peak | " + spread(pick(g, "swPeakUsed"), mb) + " / " +
    spread(pick(g, "swPeakBacking"), mb) + " | – | | |");
  out.push("| service worker at its start | " + spread(pick(g, "swFirst"), mb) + " | – | | |");
  out.push("| service worker, live after a forced GC at the end of each playing phase | " + spread(pick(g, "swLive"), mb) + " | – | | |");
  out.push("| service worker, peak live size (GC before every sample; " + results.live.length + " extra untimed run" +
    (results.live.length === 1 ? "" : "s") + ") | " + spread(pick(results.live, "swPeak"), mb) + " | – | | a few records |");
  out.push("");
  if (g.length) {
    const peakRecords = median(pick(g, "swPeak")) / RECORD;
    const growth = median(pick(g, "swPeak")) - median(pick(g, "swFirst"));
    out.push("- Worker memory: the peak is " + (100 * median(pick(g, "swPeak")) / VIDEO_BYTES).toFixed(1) + "% of the file, " +
      peakRecords.toFixed(0) + " sealed records' worth; above the worker's size at its start it grew by " + mb(growth) +
      " (" + (growth / RECORD).toFixed(0) + " records). A read fetches 16 records (1 MiB) per Range request.");
  }
  if (results.live.length) {
    const live = median(pick(results.live, "swPeak")) - median(pick(results.live, "swFirst"));
    out.push("- Live, with a GC before every sample, the worker never held more than " + mb(median(pick(results.live, "swPeak"))) +
      ", " + mb(live) + " (" + (live / RECORD).toFixed(0) + " records) above its size at its start: the sampled peak above is " +
      "mostly garbage (records already sent) that V8 had not collected yet.");
  }
  out.push("- Runs: " + g.length + " gated and " + p.length + " public measurements succeeded" +
    (failures.length ? "; failed: " + failures.join("; ") : "") + ".");
  console.log(out.join("\n"));
  if (!g.length || !p.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error("bench-media: " + (e.stack || e));
  process.exit(1);
});
