/* gatehouse default theme: members-only content in the browser (DESIGN §4 and §6).
 *
 * A gated page carries a slot (.gh-gate with data-gate, data-rule, data-src, data-path,
 * data-epoch, data-label, data-needs). This script asks the edge server for the slot's key
 * (POST /keys) while the envelope downloads (the page's head preloads it), opens it with
 * WebCrypto as soon as both are there, and puts the body in the slot.
 * Without a key it says why the page is closed and what to do next: log in, buy, wait for the
 * drip date, fix billing. It also labels the header's account link, fills the /account/ page,
 * and adds the member's gated pages to the site search. A body's gated files (images, media,
 * downloads) open through the service worker gatehouse-sw.js, or here as a fallback.
 * Theme authors: docs/members-browser.md.
 *
 * Plain JavaScript, no dependencies, no eval, no inline script: works under `script-src 'self'`.
 * Keys and decrypted text are never written to the console.
 */
(function () {
  "use strict";

  /* ---------- settings (the script tag's data-* attributes) ---------- */

  const script = document.currentScript;
  const settings = (script && script.dataset) || {};
  const EDGE = (settings.edge || "/_gate").replace(/\/+$/, "");
  const PASSWORDS = settings.passwords === "true";
  const BILLING = settings.billing || "";
  const FILES_LIB = settings.files || ""; // ghf2.js, the GHF2 reader (fingerprinted name)
  const ACCOUNT_PATH = "/account/";
  const SITE_ROOT = script && script.src ? new URL(".", script.src).href : location.origin + "/";
  // Same origin by default; an edge on another origin (DESIGN §6) needs the cookie sent explicitly.
  const CREDENTIALS =
    new URL(EDGE, location.href).origin === location.origin ? "same-origin" : "include";
  const KEY_LIFETIME_MS = 5 * 60 * 1000;
  const MAX_RULES = 64; // the edge refuses more rules per request
  const TIMEOUT_MS = 15000;
  const DAY_MS = 864e5;
  const SECURE = Boolean(window.isSecureContext && window.crypto && crypto.subtle);

  // Words follow the page's language; dates use the reader's region when it speaks that language
  // (on an English site, en-GB readers see "5 Dec" and en-US readers "Dec 5").
  const LANG = document.documentElement.lang || "en";
  const base = (tag) => String(tag).split("-")[0].toLowerCase();
  const LOCALE =
    (navigator.languages || [navigator.language]).find((l) => l && base(l) === base(LANG)) || LANG;

  /* ---------- DOM helpers ---------- */

  const present = (c) => c != null && c !== false;

  /** h("a", {class: "x", href: "/"}, "text", node): null/false props and children are skipped. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([name, value]) => {
      if (!present(value)) return;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    node.append(...children.filter(present));
    return node;
  }

  // replaceChildren would print a null as "null"
  const fillWith = (node, ...children) => node.replaceChildren(...children.filter(present));
  const actions = (...nodes) => h("p", { class: "gh-actions" }, ...nodes);
  const buttonClass = (secondary) => "gh-button" + (secondary ? " gh-secondary" : "");
  const linkButton = (href, text, secondary) => h("a", { class: buttonClass(secondary), href }, text);
  const button = (text, onclick, secondary) =>
    h("button", { type: "button", class: buttonClass(secondary), onclick }, text);

  let lastId = 0;
  const newId = (name) => "gh-" + name + "-" + ++lastId;

  function setMessage(node, text, kind) {
    node.textContent = text || "";
    node.classList.toggle("gh-message-error", kind === "error");
    node.classList.toggle("gh-message-pending", kind === "pending");
  }

  /* ---------- URLs from the page (query, fragment, answers, stored values) ---------- */

  /** `value` resolved against `base` when it stays on this site, else null. Resolved as the
   *  browser resolves it, which a pattern cannot foresee: it drops tabs and newlines and reads
   *  "\" as "/", so "/\t/evil.example" is "//evil.example", another host (issue 15). A URL whose
   *  path starts "//" is refused too: written back as a path ("/.//evil.example" has the path
   *  "//evil.example"), it would name a host. */
  function onThisSite(value, base) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, base);
      return url.origin === location.origin && !url.pathname.startsWith("//") ? url : null;
    } catch (e) {
      return null;
    }
  }

  /** A path on this site ("/course/?q#h") for a link or a navigation, else null. */
  function sitePath(value) {
    const url = onThisSite(value, location.origin);
    return url && url.pathname + url.search + url.hash;
  }

  /** The element that the URL's fragment names, as the browser finds it (the fragment as it is,
   *  then percent-decoded), or null. A fragment that is not percent-encoded UTF-8 ("#%E0") names
   *  nothing; it must never stop a body from opening (issue 15). */
  function fragmentTarget() {
    const raw = location.hash.slice(1);
    if (!raw) return null;
    let decoded = null;
    try {
      decoded = decodeURIComponent(raw);
    } catch (e) { /* not UTF-8: there is nothing to scroll to */ }
    return document.getElementById(raw) || (decoded && document.getElementById(decoded)) || null;
  }

  /* ---------- what the browser remembers ----------
   * sessionStorage "gatehouse:cache" = {at, entries: {"<epoch>:<gate>": {exp, key | locked}}}:
   *   this tab's /keys answers, 5 minutes at most and never past a drip date, so reading a
   *   course costs one key request, not one per lesson. Gone when the tab closes. "Log in
   *   first" is never kept: a login by link or in another window happens out of our sight.
   * localStorage "gatehouse:auth" = {state: "in" | "out", at}: no secret, shared by the tabs.
   *   It picks the header label; a change (a login or logout in any tab) voids every older
   *   cache and, through the storage event, makes the other open tabs check again. */

  const CACHE = "gatehouse:cache";
  const AUTH = "gatehouse:auth";

  /** Storage may be missing, blocked or full: then nothing is kept and everything still works. */
  function storage(kind) {
    const area = () => window[kind]; // reading it throws when the browser blocks storage
    return {
      get(name) {
        try { return JSON.parse(area().getItem(name)); } catch (e) { return null; }
      },
      set(name, value) {
        try { area().setItem(name, JSON.stringify(value)); } catch (e) { /* not kept */ }
      },
      drop(name) {
        try { area().removeItem(name); } catch (e) { /* nothing kept */ }
      }
    };
  }
  const SESSION = storage("sessionStorage");
  const LOCAL = storage("localStorage");

  const auth = () => LOCAL.get(AUTH) || {};
  const clearCache = () => SESSION.drop(CACHE);

  function setAuth(state) {
    if (auth().state !== state) LOCAL.set(AUTH, { state, at: Date.now() });
    if (state === "out") forgetFiles(); // no session: no file keys either
    renderHeader();
  }

  // What storage gives back is whatever was written there, by this script or not: a cache of
  // any other shape is no cache, and an entry of any other shape is no entry.
  const isRecord = (v) => Boolean(v) && typeof v === "object" && !Array.isArray(v);
  const isAnswer = (e) => isRecord(e) &&
    (typeof e.key === "string" || (isRecord(e.locked) && typeof e.locked.reason === "string"));

  function loadCache() {
    const cache = SESSION.get(CACHE);
    const valid = isRecord(cache) && isRecord(cache.entries) && !(cache.at < (auth().at || 0));
    return valid ? cache : { at: Date.now(), entries: {} };
  }

  function cached(epoch, gate, cache = loadCache()) {
    const entry = cache.entries[epoch + ":" + gate];
    return isAnswer(entry) && entry.exp > Date.now() ? entry : null;
  }

  function remember(epoch, answers) {
    const cache = loadCache();
    const now = Date.now();
    Object.keys(cache.entries).forEach((id) => {
      if (!(isAnswer(cache.entries[id]) && cache.entries[id].exp > now)) delete cache.entries[id];
    });
    Object.entries(answers).forEach(([gate, answer]) => {
      // "log in first" is never kept: a login through a link, another tab or another window
      // happens where this script cannot see it, and asking again costs a visitor little.
      if (answer.locked && answer.locked.reason === "login") return;
      const opens = answer.locked && Date.parse(answer.locked.unlocks_at);
      const exp = opens ? Math.min(now + KEY_LIFETIME_MS, opens) : now + KEY_LIFETIME_MS;
      cache.entries[epoch + ":" + gate] = Object.assign({ exp }, answer);
    });
    SESSION.set(CACHE, cache);
  }

  /* ---------- the edge API ---------- */

  const httpError = (status, data) => Object.assign(new Error("HTTP " + status), { status, data });

  /** fetch, then `read` the response, within TIMEOUT_MS: a stalled request ends in an error
   *  (and a "Try again" button), never in an endless "Checking your access…". */
  async function fetchWithin(url, options, read) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      return await read(await fetch(url, Object.assign({ signal: abort.signal }, options)));
    } finally {
      clearTimeout(timer);
    }
  }

  /** JSON in and out; rejects with {status, data} on an HTTP error, a TypeError when offline. */
  function call(method, path, body, credentials = CREDENTIALS) {
    const headers = { Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    const options = { method, headers, credentials, body: body && JSON.stringify(body) };
    return fetchWithin(EDGE + path, options, async (response) => {
      const data = await response.json().catch(() => null);
      if (response.status === 401) {
        clearCache(); // the session is gone: nothing remembered for it holds
        setAuth("out");
      }
      if (!response.ok) throw httpError(response.status, data);
      return data || {};
    });
  }

  /** A sentence for the reader: the server's own message when it sent one. */
  function errorText(err) {
    const data = err && err.data;
    const message = data && typeof data.message === "string" ? data.message.trim() : "";
    if (message) {
      return message[0].toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
    }
    if (err && err.status >= 500) return "The members server had a problem. Try again in a moment.";
    if (err && err.status) return "The members server refused the request (HTTP " + err.status + ").";
    return "Could not reach the members server. Check your connection and try again.";
  }

  /** Keys for [{gate, rule}] at `epoch`: cached ones, else one POST /keys per 64 rules.
   *  Resolves to {"<gate>": {epoch, key} | {epoch, locked: {reason, unlocks_at?}}}. */
  async function keysFor(pairs, epoch, fresh) {
    const out = {};
    const missing = [];
    const cache = loadCache(); // read once: it is JSON in sessionStorage
    pairs.forEach((pair) => {
      const hit = !fresh && cached(epoch, pair.gate, cache);
      if (hit) out[pair.gate] = { epoch, key: hit.key, locked: hit.locked };
      else if (!missing.some((m) => m.gate === pair.gate)) missing.push(pair);
    });
    for (let i = 0; i < missing.length; i += MAX_RULES) {
      const chunk = missing.slice(i, i + MAX_RULES);
      const answer = await call("POST", "/keys", { rules: chunk.map((p) => p.rule), epoch });
      const got = {};
      chunk.forEach(({ gate }) => {
        const key = answer.keys && answer.keys[gate];
        const locked = answer.locked && answer.locked[gate];
        if (typeof key === "string") got[gate] = { key };
        else if (locked && typeof locked.reason === "string") got[gate] = { locked };
        if (got[gate]) out[gate] = Object.assign({ epoch: answer.epoch }, got[gate]);
      });
      // what the answer says about the session: a `login` lock means logged out
      const list = Object.values(got);
      if (list.some((a) => a.locked && a.locked.reason === "login")) setAuth("out");
      else if (list.length) setAuth("in");
      remember(answer.epoch, got);
    }
    return out;
  }

  /* ---------- envelopes (DESIGN §4, contract) ----------
   * "GH2" · epoch (u32 BE) · nonce (12) · AES-256-GCM ciphertext‖tag (16);
   * AAD = "gatehouse/v2\n" + gate + "\n" + path + "\n" + epoch. */

  const HEADER_LEN = 3 + 4 + 12;
  const TAG_LEN = 16;

  /** Every way an envelope can fail to open looks the same, to the reader and to the console. */
  class Unverifiable extends Error {}

  function base64url(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    try {
      return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    } catch (e) {
      return null;
    }
  }

  function fetchBytes(url) {
    return fetchWithin(url, { credentials: "same-origin" }, async (response) => {
      if (!response.ok) throw httpError(response.status);
      return new Uint8Array(await response.arrayBuffer());
    });
  }

  /** The text sealed in `bytes` for `gate` at `path`, opened with `keyText` of epoch `epoch`. */
  async function openEnvelope(bytes, keyText, epoch, gate, path) {
    const magic = bytes[0] === 0x47 && bytes[1] === 0x48 && bytes[2] === 0x32; // "GH2"
    if (bytes.length < HEADER_LEN + TAG_LEN || !magic) throw new Unverifiable();
    // The AAD covers the epoch too; an envelope of another epoch is refused before decrypting.
    const sealedEpoch = new DataView(bytes.buffer, bytes.byteOffset).getUint32(3);
    const raw = base64url(keyText);
    if (sealedEpoch !== epoch || !raw || raw.length !== 32) throw new Unverifiable();
    try {
      const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
      const aad = new TextEncoder().encode(
        "gatehouse/v2\n" + gate + "\n" + path + "\n" + epoch
      );
      const iv = bytes.subarray(7, HEADER_LEN);
      const params = { name: "AES-GCM", iv, additionalData: aad, tagLength: 128 };
      const plain = await crypto.subtle.decrypt(params, key, bytes.subarray(HEADER_LEN));
      return new TextDecoder("utf-8", { fatal: true }).decode(plain);
    } catch (e) {
      throw new Unverifiable();
    }
  }

  /* ---------- dates ---------- */

  /** "5 Dec", with the year when it is not this year, and the time of day when `withTime`. */
  function dayText(date, withTime) {
    const options = { day: "numeric", month: "short" };
    if (date.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
    if (withTime) Object.assign(options, { hour: "numeric", minute: "2-digit" });
    try {
      return new Intl.DateTimeFormat(LOCALE, options).format(date);
    } catch (e) {
      return new Intl.DateTimeFormat("en", options).format(date); // a malformed lang attribute
    }
  }

  /** "in 3 days", "tomorrow", "in 5 hours", "in 10 minutes". */
  function relativeText(date, now) {
    const ms = date - now;
    const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    let n = Math.round((midnight(date) - midnight(now)) / DAY_MS);
    let unit = "day";
    if (ms < 3600e3) {
      [n, unit] = [Math.max(1, Math.ceil(ms / 60e3)), "minute"];
    } else if (n === 0 || ms < 6 * 3600e3) {
      [n, unit] = [Math.round(ms / 3600e3), "hour"];
    }
    try {
      return new Intl.RelativeTimeFormat(LANG, { numeric: "auto" }).format(n, unit);
    } catch (e) {
      return n === 1 && unit === "day" ? "tomorrow" : "in " + n + " " + unit + (n > 1 ? "s" : "");
    }
  }

  /** "5 Dec (in 3 days)", with the time of day when that is soon. */
  function whenText(date) {
    const now = new Date();
    return dayText(date, date - now < 2 * DAY_MS) + " (" + relativeText(date, now) + ")";
  }

  /* ---------- gated slots ---------- */

  /** A members block (DESIGN §3) rather than a whole page's body. */
  function isBlock(slot) {
    return slot.hasAttribute("data-block");
  }

  function slotInfo(slot) {
    const d = slot.dataset;
    // data-needs ("Gold or Pricing Course") is data-label without the drip ("Gold · day 14")
    const needs = d.needs || d.label;
    return { gate: d.gate, rule: d.rule, src: d.src, path: d.path, epoch: Number(d.epoch), needs };
  }

  /** Sets data-gate-state; for a final state also tells other scripts (gatehouse:* events). */
  function setState(slot, state, extra) {
    slot.dataset.gateState = state;
    slot.setAttribute("aria-busy", String(state === "loading"));
    if (state === "loading") return;
    const { gate, path } = slotInfo(slot);
    const name = state === "open" ? "gatehouse:unlocked" : "gatehouse:locked";
    const detail = Object.assign({ gate, path }, state === "open" ? {} : { state }, extra);
    // on the page's timeline too, for the site's own measurements (the time to text)
    if (state === "open") mark(name, { gate, path });
    slot.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));
  }

  function mark(name, detail) {
    try {
      window.performance.mark(name, { detail });
    } catch (e) { /* no User Timing: nothing to note */ }
  }

  /** The slot's locked box, reset: the title stays, the help text is emptied, what this script
   *  added before (marked data-gh-extra) goes, and the offers hide again. */
  function lockedBox(slot) {
    let box = slot.querySelector(".gh-locked");
    if (!box) slot.replaceChildren((box = h("div", { class: "gh-locked" })));
    let help = box.querySelector(".gh-locked-help");
    if (!help) {
      help = h("p", { class: "gh-locked-help" });
      const title = box.querySelector(".gh-locked-title");
      if (title) title.after(help);
      else box.prepend(help);
    }
    help.setAttribute("aria-live", "polite"); // screen readers hear the state change
    box.querySelectorAll("[data-gh-extra]").forEach((n) => n.remove());
    const offers = box.querySelector(".gh-offers");
    if (offers) offers.hidden = true;
    let last = help;
    return {
      say(text) {
        help.textContent = text;
      },
      /** Puts `node` below the help text (and below what was added before). */
      add(node) {
        node.setAttribute("data-gh-extra", "");
        last.after(node);
        last = node;
      },
      /** Reveals the site's product links under `title`; false when the page has none. */
      offers(title) {
        if (!offers || !offers.querySelector("li")) return false;
        offers.before(h("p", { class: "gh-offers-title", "data-gh-extra": true }, title));
        offers.hidden = false;
        return true;
      }
    };
  }

  /** A state with a message and maybe one button. */
  function showProblem(slot, state, text, action) {
    const box = lockedBox(slot);
    box.say(text);
    if (action) box.add(actions(action));
    setState(slot, state);
  }

  const showRetry = (slot, err) =>
    showProblem(slot, "error", errorText(err), button("Try again", () => openSlots([slot], true)));
  const reloadButton = () => button("Reload", () => location.reload());

  function showInsecure(slot) {
    const https = location.protocol === "http:" && "https://" + location.host + location.pathname;
    const text = "This page needs a secure connection (https) to open members-only content.";
    showProblem(slot, "insecure", text, https && linkButton(https, "Open with https"));
  }

  function showLocked(slot, locked) {
    const reason = locked.reason;
    const box = lockedBox(slot);
    const accountLink = () => box.add(actions(linkButton(ACCOUNT_PATH, "See your account", true)));
    let state = reason;
    let extra = {};
    if (reason === "login" && isBlock(slot)) {
      // a page may hold several blocks: each links to the login, none repeats the form
      box.say("Log in to read this part.");
      const next = sitePath(location.pathname) || "/";
      box.add(actions(linkButton(ACCOUNT_PATH + "?next=" + encodeURIComponent(next), "Log in")));
      box.offers("Not a member yet? Get access:");
    } else if (reason === "login") {
      box.say("Log in to read this page.");
      // the link comes back here; a page reached as "//host/…" (a server that folds slashes)
      // must not send it to another host
      box.add(loginForm(sitePath(location.pathname) || "/", () => refresh(true)));
      box.offers("Not a member yet? Get access:");
    } else if (reason === "drip") {
      const opens = new Date(locked.unlocks_at);
      if (isNaN(opens)) {
        box.say((isBlock(slot) ? "This part" : "This page") + " opens later in your membership.");
      } else {
        box.say("Unlocks on " + whenText(opens) + ".");
        const note = "It opens by itself: come back then, or keep this page open.";
        box.add(h("p", { class: "gh-locked-note" }, note));
        recheckAt(slot, opens);
        extra = { unlocksAt: locked.unlocks_at };
      }
    } else if (reason === "overdue") {
      box.say("Your last payment failed. Update your billing details to keep reading.");
      box.add(actions(BILLING
        ? linkButton(BILLING, "Update billing details")
        : linkButton(ACCOUNT_PATH, "Go to your account")));
    } else if (reason === "cancelled" || reason === "expired") {
      box.say(reason === "cancelled"
        ? "Your membership was cancelled, so " + (isBlock(slot) ? "this part" : "this page") + " is closed."
        : "Your access has expired.");
      accountLink();
      box.offers("Get access again:");
    } else {
      // level, bundle, or a reason newer than this script: the member lacks what the page needs
      if (reason !== "bundle") state = "level";
      const what = isBlock(slot) ? "This part" : "This page";
      box.say(what + " requires " + (slotInfo(slot).needs || "a membership") + ".");
      if (!box.offers("Get access:")) accountLink();
    }
    setState(slot, state, extra);
  }

  /** A drip date within a day: check again when it comes (the cache never outlives it). */
  function recheckAt(slot, date) {
    clearTimeout(slot.ghTimer);
    const wait = date - Date.now();
    if (wait > DAY_MS) return;
    // a second late, so the server's clock has surely passed it; a date already past (the
    // clocks disagree) waits half a minute rather than asking in a loop
    slot.ghTimer = setTimeout(() => openSlots([slot], true), wait > 0 ? wait + 1000 : 30000);
  }

  /** Puts the opened body in the slot. The HTML is the site's own rendered Markdown, parsed by
   *  a <template>: inert, nothing loads or runs until its nodes move into the page. Its gated
   *  files are readied first, so that not one request for them goes out unanswerable. */
  async function fill(slot, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const afterFill = await prepareFiles(template.content);
    const hadFocus = slot.contains(document.activeElement);
    const media = Array.from(template.content.querySelectorAll("audio[src], video[src]"));
    slot.replaceChildren(template.content);
    // An <audio src> or <video src> runs its load algorithm as soon as it is parsed, and in the
    // template's document (no window) that fails before any request: MediaError 4, "Media load
    // rejected by URL safety check". Chromium 156 no longer starts it again when the element
    // moves into the page, so setting src again does, here. (Not load(): Chromium's load()
    // fetches a preload="none" file. <source> children are retried on the move.)
    media.forEach((el) => el.setAttribute("src", el.getAttribute("src")));
    // a page's plaintext starts with the teaser, so the public copy of it goes (a members
    // block's public part was inside the slot, and went with the children it replaced)
    if (!isBlock(slot)) document.querySelectorAll("[data-gate-teaser]").forEach((t) => t.remove());
    slot.classList.add("gh-open");
    if (hadFocus) {
      slot.tabIndex = -1; // the login form had focus and is gone: keep the reader's place
      slot.focus({ preventScroll: true });
    }
    // a link to a heading in the body could not scroll there before the body existed
    const target = fragmentTarget();
    if (target && slot.contains(target)) target.scrollIntoView();
    setState(slot, "open");
    if (afterFill) afterFill();
    // a gated page may hold members blocks of a higher tier: they open (or say why not) now
    const inner = Array.from(slot.querySelectorAll(".gh-gate[data-gate]"));
    if (inner.length) openSlots(inner, false);
  }

  async function openSlot(slot, answer, envelope) {
    const info = slotInfo(slot);
    if (!answer) return showRetry(slot, null);
    if (answer.locked) return showLocked(slot, answer.locked);
    if (answer.epoch !== info.epoch) {
      const text = "This page was published with other keys. Reload it to get the current version.";
      return showProblem(slot, "error", text, reloadButton());
    }
    let bytes;
    try {
      bytes = await (envelope || fetchBytes(info.src));
    } catch (err) {
      // envelopes are named by their hash: a missing one means the site was published again
      if (err.status !== 404) return showRetry(slot, err);
      const text = "This page has changed since it was loaded. Reload it to get the current version.";
      return showProblem(slot, "error", text, reloadButton());
    }
    let html;
    try {
      html = await openEnvelope(bytes, answer.key, answer.epoch, info.gate, info.path);
    } catch (err) {
      return showProblem(slot, "error", "This content could not be verified.");
    }
    await fill(slot, html);
  }

  /** Whether to fetch the slot's envelope before its key is known, alongside /keys rather than
   *  after it: when the browser preloads it anyway (the theme's <link rel="preload">), when the
   *  key is cached, or when the reader is logged in, so likely to get one. A visitor's members
   *  blocks and a gate cached as locked wait: no download of ciphertext that cannot open. */
  function fetchEarly(info, fresh, cache) {
    const src = onThisSite(info.src, location.href);
    const preloaded = Array.from(document.querySelectorAll('link[rel="preload"][as="fetch"]'))
      .some((link) => src && link.href === src.href);
    if (preloaded) return true;
    const hit = !fresh && cached(info.epoch, info.gate, cache);
    return hit ? typeof hit.key === "string" : auth().state === "in";
  }

  /** One /keys request for every rule of these slots, then each slot opens or says why not.
   *  The envelopes download meanwhile (fetchEarly); each opens as soon as its key is there. */
  async function openSlots(slots, fresh) {
    slots = slots.filter((s) => !["open", "loading"].includes(s.dataset.gateState));
    if (!slots.length) return;
    if (!SECURE) return slots.forEach(showInsecure);
    const cache = loadCache();
    const envelopes = slots.map((slot) => {
      const info = slotInfo(slot);
      if (!fetchEarly(info, fresh, cache)) return null;
      const envelope = fetchBytes(info.src);
      envelope.catch(() => {}); // a locked gate never reads it; openSlot reports its failure
      return envelope;
    });
    slots.forEach((slot) => {
      lockedBox(slot).say("Checking your access…");
      setState(slot, "loading");
    });
    let answers;
    try {
      answers = await keysFor(slots.map(slotInfo), slotInfo(slots[0]).epoch, fresh);
    } catch (err) {
      return slots.forEach((slot) => showRetry(slot, err));
    }
    await Promise.all(slots.map((slot, i) => openSlot(slot, answers[slot.dataset.gate], envelopes[i])));
  }

  /* ---------- gated files (DESIGN §3 and §4 "Files") ----------
   * A body names each gated file by its URL, <site root>_gated/files/<32 hex>.bin, and ends with
   * <script type="application/json" data-gh-files>{"<32 hex>":"<base64url key>",…}</script>.
   * The keys stay in this page's memory (fileKeys) until a logout. The service worker
   * gatehouse-sw.js, registered at the site root, answers the file URLs with the opened files
   * and asks the page for a key it has lost (an idle worker is stopped, and forgets). A body moves
   * into the page only once the worker controls it, so its first image request goes through it.
   * Where no worker can (no navigator.serviceWorker, as in some private windows, or none in
   * control within WORKER_WAIT_MS), images and files up to PAGE_LIMIT are opened here with
   * ghf2.js (the script tag's data-files) into blob: URLs; larger ones say why they do not open.
   * The messages between the two are listed at the top of gatehouse-sw.js. */

  const SCOPE = new URL(SITE_ROOT).pathname;
  const WORKER_URL = SITE_ROOT + "gatehouse-sw.js";
  const FILE_PATH = new RegExp(
    "^" + SCOPE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "_gated/files/([0-9a-f]{32})\\.bin$"
  );
  const WORKER_WAIT_MS = 3000;
  const PAGE_LIMIT = 50 * 1024 * 1024;
  // Types a browser only shows or plays (as in gatehouse-sw.js): anything else may run script.
  const PASSIVE_TYPE =
    /^(image\/(png|jpeg|gif|webp|avif|bmp|x-icon)|audio\/[\w.+-]+|video\/[\w.+-]+|application\/pdf|text\/(plain|csv|vtt)|font\/[\w.+-]+)(;|$)/i;
  const FILE_ERROR = "This file could not be verified.";
  const fileKeys = new Map(); // "<32 hex>" → base64url key: memory only, gone at logout
  let pageFiles = new Map(); // "<32 hex>" → Promise of {url: "blob:…", meta}, the fallback's
  let pageQueue = Promise.resolve(); // the fallback opens one file at a time
  let pageGeneration = 0; // a logout while a file opens: its blob is not kept
  let filesLib = null; // Promise of GatehouseFiles, loaded for the fallback
  let worker = null; // Promise: true once gatehouse-sw.js controls this page
  const noted = new WeakSet(); // elements that already show a file message

  /** navigator.serviceWorker, or null where there is none (or reading it throws). */
  function serviceWorkers() {
    try {
      return (window.isSecureContext && navigator.serviceWorker) || null;
    } catch (e) {
      return null;
    }
  }

  // This page's worker: the same script with the same reader (an older page's worker, made with
  // another deploy's reader, is not trusted to open this page's files).
  const ours = (sw) => Boolean(sw && sw.scriptURL && sw.scriptURL === workerScriptUrl());

  /** The worker's URL for this page's reader, as the browser writes it; null without one. */
  function workerScriptUrl() {
    const lib = sameOriginPath(FILES_LIB);
    return lib ? new URL(WORKER_URL + "?lib=" + encodeURIComponent(lib)).href : null;
  }

  /** The path of a URL on this site, else "". */
  function sameOriginPath(value) {
    const url = onThisSite(value, location.href);
    return url ? url.pathname : "";
  }

  /** The 32-hex id of the gated file at URL `value`, else null. */
  function fileId(value) {
    try {
      const url = new URL(value, location.href);
      const match = url.origin === location.origin && FILE_PATH.exec(url.pathname);
      return match ? match[1] : null;
    } catch (e) {
      return null;
    }
  }

  /** An attribute's value with each URL passed through `change`; a srcset is a comma-separated
   *  list of "url [descriptor]". */
  function mapUrls(attr, value, change) {
    if (attr !== "srcset") return change(value.trim());
    return value.split(",").map((candidate) => {
      const parts = candidate.trim().split(/\s+/);
      if (parts[0]) parts[0] = change(parts[0]);
      return parts.join(" ");
    }).join(", ");
  }

  /** {el, attr, value, ids} for each of `el`'s attributes among `attrs` naming gated files. */
  function fileRefsOf(el, attrs) {
    const refs = [];
    attrs.forEach((attr) => {
      const value = el.getAttribute(attr);
      const ids = [];
      if (value) mapUrls(attr, value, (url) => (ids.push(fileId(url)), url));
      if (ids.some(Boolean)) refs.push({ el, attr, value, ids: ids.filter(Boolean) });
    });
    return refs;
  }

  const FILE_ATTRS = ["src", "srcset", "href", "poster"];
  const fileRefs = (root) => [].concat(...Array.from(
    root.querySelectorAll("[src],[srcset],[href],[poster]"), (el) => fileRefsOf(el, FILE_ATTRS)));

  /** Keeps the keys of a body's data-gh-files list, and takes the list out of the body. */
  function takeFileKeys(root) {
    root.querySelectorAll("script[data-gh-files]").forEach((list) => {
      list.remove();
      let keys = null;
      try {
        keys = JSON.parse(list.textContent);
      } catch (e) { /* no keys */ }
      Object.entries(keys && typeof keys === "object" ? keys : {}).forEach(([id, key]) => {
        const valid = /^[0-9a-f]{32}$/.test(id) && typeof key === "string" &&
          /^[A-Za-z0-9_-]{43}$/.test(key);
        if (valid) fileKeys.set(id, key);
      });
    });
  }

  /** A message under the element (under its paragraph, for an inline one): once per element. */
  function showFileNote(el, text) {
    let anchor = /^(SOURCE|TRACK)$/.test(el.tagName) && el.parentElement ? el.parentElement : el;
    if (anchor.parentElement && anchor.parentElement.tagName === "PICTURE") {
      anchor = anchor.parentElement;
    }
    if (noted.has(anchor)) return;
    noted.add(anchor);
    const paragraph = anchor.parentElement && anchor.parentElement.closest("p");
    (paragraph || anchor).after(h("p", { class: "gh-error gh-file-error", role: "alert" }, text));
  }

  const showFileError = (el) => showFileNote(el, FILE_ERROR);

  function postKeys() {
    const sw = serviceWorkers();
    const controller = sw && sw.controller;
    if (ours(controller) && fileKeys.size) {
      controller.postMessage({ type: "gh-files-keys", keys: Object.fromEntries(fileKeys) });
    }
  }

  /** `promise`'s value, or null when it fails or takes longer than `ms`. */
  const within = (promise, ms) => Promise.race([
    promise.catch(() => null), new Promise((resolve) => setTimeout(resolve, Math.max(0, ms), null))
  ]);

  /** true once gatehouse-sw.js controls this page; false when it cannot within WORKER_WAIT_MS. */
  function useWorker() {
    if (!worker) worker = startWorker().catch(() => false);
    return worker;
  }

  async function startWorker() {
    const sw = serviceWorkers();
    const script = workerScriptUrl();
    if (!sw || !script) return false;
    const deadline = Date.now() + WORKER_WAIT_MS;
    const claimed = new Promise((resolve) => sw.addEventListener("controllerchange", resolve));
    sw.addEventListener("controllerchange", postKeys); // an updated worker starts with no keys
    // A new ghf2.js (a new deploy) is a new worker URL, so the browser updates the worker.
    const registering = sw.register(script, { scope: SCOPE });
    if (ours(sw.controller)) {
      registering.catch(() => {});
      return true;
    }
    const registration = await within(registering, deadline - Date.now());
    if (!registration) return false; // refused (a private window) or too slow: the fallback
    // an active worker that does not control this page (a reload that bypassed it) takes it now
    if (registration.active && !sw.controller) {
      registration.active.postMessage({ type: "gh-files-claim" });
    }
    await within(claimed, deadline - Date.now());
    return ours(sw.controller);
  }

  /** Readies a body's gated files before the body goes into the page. Resolves to what to run
   *  once the body is in (the fallback's work), or null. Never rejects. */
  async function prepareFiles(root) {
    takeFileKeys(root);
    const refs = fileRefs(root);
    if (!refs.length) return null;
    if (await useWorker()) {
      postKeys();
      return null;
    }
    // no worker: nothing may ask for the sealed bytes as if they were the file
    refs.forEach((ref) => ref.el.removeAttribute(ref.attr));
    return () => refs.forEach(openInPage);
  }

  /* The fallback: whole files opened in this page. */

  function loadFilesLib() {
    if (!filesLib) {
      filesLib = new Promise((resolve, reject) => {
        const failed = () => reject(new Error("gatehouse: ghf2.js did not load"));
        const loaded = () => (window.GatehouseFiles ? resolve(window.GatehouseFiles) : failed());
        const lib = sameOriginPath(FILES_LIB);
        if (window.GatehouseFiles || !lib) return loaded();
        document.head.append(h("script", { src: lib, onload: loaded, onerror: failed }));
      });
      filesLib.catch(() => (filesLib = null));
    }
    return filesLib;
  }

  const tooLarge = () =>
    Object.assign(new Error("gatehouse: too large to open in the page"), { tooLarge: true });

  async function openFileHere(id, generation) {
    const lib = await loadFilesLib();
    const key = fileKeys.get(id);
    if (!key) throw new lib.Unverifiable();
    const url = SCOPE + "_gated/files/" + id + ".bin";
    const head = await lib.openHead(url, id, key);
    if (head.header.length > PAGE_LIMIT) throw tooLarge();
    const parts = [];
    for await (const chunk of lib.read(head, url, 0, head.header.length)) parts.push(chunk);
    if (generation !== pageGeneration) throw new lib.Unverifiable(); // logged out meanwhile
    // A type that could run script (HTML, SVG) would run it on this site's origin from a blob:
    // URL shown in a frame: such files are plain bytes here, and open as downloads.
    const type = PASSIVE_TYPE.test(head.meta.type) ? head.meta.type : "application/octet-stream";
    return { url: URL.createObjectURL(new Blob(parts, { type })), meta: head.meta };
  }

  /** The file `id` opened in this page: a Promise of {url: "blob:…", meta}, shared by its uses. */
  function pageFile(id) {
    if (!pageFiles.has(id)) {
      const generation = pageGeneration;
      const opened = pageQueue.then(() => openFileHere(id, generation));
      pageQueue = opened.catch(() => {});
      pageFiles.set(id, opened);
      opened.catch(() => pageFiles.get(id) === opened && pageFiles.delete(id));
    }
    return pageFiles.get(id);
  }

  /** Puts one attribute back with blob: URLs of its files, or says why it cannot. */
  async function openInPage(ref) {
    const { el, attr, value } = ref;
    try {
      const opened = {};
      for (const id of ref.ids) opened[id] = await pageFile(id);
      const swap = (url) => (fileId(url) ? opened[fileId(url)].url : url);
      el.setAttribute(attr, mapUrls(attr, value, swap));
      if (el.tagName === "A" && attr === "href" && !el.hasAttribute("download")) {
        el.setAttribute("download", opened[ref.ids[0]].meta.name); // a blob: URL has no name
      }
      const media = el.tagName === "SOURCE" && el.parentElement;
      if (media && typeof media.load === "function") media.load(); // picks up the new source
    } catch (err) {
      if (!(err && err.tooLarge)) return showFileError(el);
      const media = el.closest("video, audio");
      const what = media ? media.tagName.toLowerCase() : "file";
      const why = " needs a browser that allows service workers; a private window may not.";
      showFileNote(el, "This " + what + why);
    }
  }

  function revokePageFiles() {
    pageGeneration++;
    pageFiles.forEach((opened) => opened.then((file) => URL.revokeObjectURL(file.url), () => {}));
    pageFiles = new Map();
  }

  /** A logout: the file keys leave this page and the worker; opened files are released. */
  function forgetFiles() {
    fileKeys.clear();
    revokePageFiles();
    const sw = serviceWorkers();
    if (!sw) return;
    const message = { type: "gh-files-forget" };
    if (sw.controller) sw.controller.postMessage(message);
    sw.getRegistration(SITE_ROOT).then((registration) => {
      const active = registration && registration.active;
      if (active && active !== sw.controller) active.postMessage(message);
    }, () => {});
  }

  /** The worker's key requests and error reports; a gated image or media that fails to load. */
  function listenForFiles() {
    const sw = serviceWorkers();
    if (sw) {
      sw.addEventListener("message", (ev) => {
        const data = ev.data || {};
        if (!ours(ev.source)) return;
        if (data.type === "gh-files-key-request" && ev.ports && ev.ports[0]) {
          ev.ports[0].postMessage({ key: fileKeys.get(data.id) || null });
        } else if (data.type === "gh-files-error" && typeof data.url === "string") {
          const id = fileId(data.url);
          const uses = fileRefs(document).filter((ref) => ref.ids.includes(id));
          uses.forEach((ref) => showFileError(ref.el));
        }
      });
      sw.startMessages();
    }
    // load errors do not bubble; they are caught on the way down
    document.addEventListener("error", (ev) => {
      const el = ev.target;
      const loads = el instanceof Element && /^(IMG|VIDEO|AUDIO|SOURCE|TRACK)$/.test(el.tagName);
      if (loads && fileRefsOf(el, ["src", "srcset"]).length) showFileError(el);
    }, true);
    window.addEventListener("pagehide", (ev) => {
      if (!ev.persisted) revokePageFiles();
    });
  }

  /* ---------- the login form: a magic link, or a password when the site allows ---------- */

  function loginForm(next, onLoggedIn) {
    const emailId = newId("email");
    const email = h("input", {
      id: emailId, type: "email", name: "email", autocomplete: "email", required: true,
      placeholder: "you@example.com"
    });
    const submit = h("button", { type: "submit", class: "gh-button" }, "Email me a login link");
    const message = h("p", { class: "gh-message", role: "status", "aria-live": "polite" });
    const form = h("form", { class: "gh-login gh-form" }, h("label", { for: emailId }, "Email"), email);
    let password = null;
    let usePassword = false;
    if (PASSWORDS) {
      const passwordId = newId("password");
      password = h("input", {
        id: passwordId, type: "password", name: "password", autocomplete: "current-password"
      });
      const label = h("label", { for: passwordId }, "Password");
      const field = h("div", { class: "gh-password-field", hidden: true }, label, password);
      const toggle = h("button", {
        type: "button", class: "gh-link-button gh-password-toggle", "aria-expanded": "false"
      }, "Use a password instead");
      toggle.addEventListener("click", () => {
        usePassword = !usePassword;
        field.hidden = !usePassword;
        password.required = usePassword; // a hidden required field would block the form
        toggle.setAttribute("aria-expanded", String(usePassword));
        toggle.textContent = usePassword ? "Email me a link instead" : "Use a password instead";
        submit.textContent = usePassword ? "Log in" : "Email me a login link";
        setMessage(message, "");
        (usePassword && email.value ? password : email).focus();
      });
      form.append(field, submit, toggle, message);
    } else {
      form.append(submit, message);
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      setMessage(message, usePassword ? "Logging in…" : "Sending…", "pending");
      const address = email.value.trim();
      try {
        if (usePassword) {
          await call("POST", "/login/password", { email: address, password: password.value });
          password.value = "";
          clearCache();
          setAuth("in");
          setMessage(message, "You are logged in.");
          onLoggedIn();
        } else {
          const answer = await call("POST", "/login", { email: address, next });
          clearCache();
          const sent = answer.message || "If that address has an account, a link is on its way.";
          setMessage(message, "Check your inbox. " + sent);
        }
      } catch (err) {
        setMessage(message, errorText(err), "error");
        if (usePassword && err.status === 401) password.select();
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  /* ---------- the header's account link ---------- */

  function renderHeader() {
    const holder = document.getElementById("gh-account");
    if (!holder) return;
    let link = holder.querySelector("a.gh-account-link");
    if (!link) holder.append((link = h("a", { class: "gh-account-link" })));
    const out = auth().state === "out";
    const here = location.pathname === ACCOUNT_PATH;
    link.textContent = out ? "Log in" : "Account";
    // "Log in" comes back here afterwards
    link.href = ACCOUNT_PATH + (out && !here ? "?next=" + encodeURIComponent(location.pathname) : "");
    link.classList.toggle("gh-account-login", out);
    if (here) link.setAttribute("aria-current", "page");
  }

  /* ---------- the account page ---------- */

  const STATUS = {
    active: "Active", "pending-cancel": "Pending cancel", overdue: "Payment overdue",
    cancelled: "Cancelled", expired: "Expired", revoked: "Refunded or disputed"
  };

  const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
  const wordsOf = (right) => (isRecord(right.words) ? right.words : {});
  const textOr = (value, other) => (typeof value === "string" && value ? value : other);

  /** The line under a right saying when, for a /me without `words` (an older edge). */
  function whenLine(right, status) {
    const when = [];
    if (status === "pending-cancel" && right.until) {
      when.push("access until " + dayText(new Date(right.until)));
    }
    if (right.expires_at) {
      when.push((status === "expired" ? "expired " : "expires ") + dayText(new Date(right.expires_at)));
    }
    return when.join(", ");
  }

  /** A level or bundle of GET /me: its name and status, then how it is paid ("Monthly
   *  subscription · Gold, monthly") and its status in words with its date ("Pending cancel:
   *  access until 12 Jan 2027"), as the edge words them (the console's dates, in UTC). */
  function rightLine(tag, className, right) {
    const status = String(right.status || "");
    const label = STATUS[status] || status;
    const words = wordsOf(right);
    const product = isRecord(right.product) && typeof right.product.name === "string"
      ? right.product.name : "";
    const billing = textOr(words.billing, "");
    const plan = [billing && capital(billing), product].filter(Boolean).join(" · ");
    const when = "status" in words ? textOr(words.status, "") : whenLine(right, status);
    return h(tag, { class: className + " gh-account-right" },
      h("span", { class: "gh-account-right-head" },
        h("strong", { class: "gh-account-name" }, right.name || right.id || "Membership"), " ",
        h("span", { class: "gh-status", "data-status": status }, label)),
      plan && h("span", { class: "gh-account-plan" }, plan),
      when && when !== label && h("span", { class: "gh-account-when" }, when));
  }

  const section = (title, ...children) =>
    h("section", { class: "gh-account-section" }, h("h2", {}, title), ...children);

  /** Where the member manages billing (site.toml's billing_url, from /me, else the script
   *  tag's data-billing): an http(s) address or a path on this site, else none. */
  function billingUrl(me) {
    const raw = textOr(me.billing_url, BILLING);
    if (!raw) return "";
    try {
      const url = new URL(raw, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : "";
    } catch (e) {
      return "";
    }
  }

  /** What an overdue member does next, above everything else on the page. */
  function overdueNotice(rights, billing) {
    const names = rights.map((r) => r.name || r.id).filter(Boolean);
    const what = names.length ? names.join(" and ") + (names.length > 1 ? " are" : " is") : "Your access is";
    const fix = billing
      ? "Update your card on the billing page: your access comes back as soon as the payment goes through."
      : "Update your card with the link in your last payment email: your access comes back as soon as the payment goes through.";
    return h("div", { class: "gh-account-alert", role: "alert" },
      h("h2", {}, "Your last payment failed"),
      h("p", {}, what + " paused until it is paid. " + fix),
      billing && actions(h("a", { class: "gh-button gh-account-fix-billing", href: billing }, "Update billing details")));
  }

  /** Where to go after a login from this page: ?next= when it stays on this site. */
  function nextPath() {
    return sitePath(new URLSearchParams(location.search).get("next")) || ACCOUNT_PATH;
  }

  function showLoggedOut(root, note) {
    const next = nextPath();
    const intro = "Log in to see your membership, and to read the pages it opens.";
    fillWith(root,
      h("p", { class: "gh-account-intro" }, intro),
      note && h("p", { class: "gh-message" }, note),
      loginForm(next, () => (next === ACCOUNT_PATH ? renderAccount(root) : location.assign(next))));
    root.dataset.accountState = "login";
  }

  /** "Log out" ends this browser's session (POST /logout); "Log out everywhere" ends every
   *  session of the member, on every device (POST /logout/everywhere), once the member confirms
   *  it in the page. Both end in the login form. The session cookie is HttpOnly, and its name
   *  and path are the server's business: the request only has to carry it, so it goes with
   *  credentials "include" (the same as "same-origin" for an edge on this site, and what an
   *  edge on another origin needs). */
  function logoutButtons(root) {
    const message = h("p", { class: "gh-message", role: "status", "aria-live": "polite" });
    const buttons = [];
    const confirmId = newId("confirm");
    const confirm = h("div", { id: confirmId, class: "gh-account-confirm", hidden: true });
    const logOut = async (path, done) => {
      buttons.forEach((b) => (b.disabled = true));
      confirm.hidden = true;
      setMessage(message, "Logging out…", "pending");
      try {
        await call("POST", path, null, "include");
      } catch (err) {
        buttons.forEach((b) => (b.disabled = false));
        return setMessage(message, errorText(err), "error");
      }
      clearCache();
      setAuth("out");
      showLoggedOut(root, done);
    };
    const logoutButton = (text, className, onclick) => {
      const logout = h("button", { type: "button", class: "gh-button gh-secondary " + className }, text);
      logout.addEventListener("click", onclick);
      buttons.push(logout);
      return logout;
    };
    const here = logoutButton("Log out", "gh-logout", () => logOut("/logout", "You are logged out."));
    const everywhere = logoutButton("Log out everywhere", "gh-logout-everywhere", () => {
      confirm.hidden = false;
      everywhere.setAttribute("aria-expanded", "true");
      setMessage(message, "");
      yes.focus();
    });
    everywhere.setAttribute("aria-controls", confirmId);
    everywhere.setAttribute("aria-expanded", "false");
    const yes = h("button", { type: "button", class: "gh-button gh-logout-everywhere-confirm" },
      "Yes, log out everywhere");
    yes.addEventListener("click", () =>
      logOut("/logout/everywhere", "You are logged out on every device."));
    const no = h("button", { type: "button", class: "gh-button gh-secondary gh-logout-cancel" }, "Cancel");
    no.addEventListener("click", () => {
      confirm.hidden = true;
      everywhere.setAttribute("aria-expanded", "false");
      everywhere.focus();
    });
    confirm.append(
      h("p", {}, "Log out on every device, this one included? Each will need a new login."),
      actions(yes, no));
    return h("div", { class: "gh-account-logout" },
      h("div", { class: "gh-account-actions" }, here, everywhere, message), confirm);
  }

  async function renderAccount(root) {
    root.setAttribute("aria-busy", "true");
    let me;
    try {
      me = await call("GET", "/me");
    } catch (err) {
      root.setAttribute("aria-busy", "false");
      if (err.status === 401) return showLoggedOut(root);
      root.dataset.accountState = "error";
      const retry = button("Try again", () => renderAccount(root));
      return fillWith(root, h("p", { class: "gh-message gh-message-error" }, errorText(err)), actions(retry));
    }
    setAuth("in");
    const level = isRecord(me.standing) && isRecord(me.standing.level) ? me.standing.level : null;
    const bundles = ((me.standing && Array.isArray(me.standing.bundles) && me.standing.bundles) || [])
      .filter(isRecord);
    const unlocks = (Array.isArray(me.unlocks) ? me.unlocks : []).filter((u) => u && sitePath(u.path));
    const overdue = [level].concat(bundles).filter((r) => r && r.status === "overdue");
    const since = new Date(me.created_at);
    const billing = billingUrl(me);

    fillWith(root,
      overdue.length > 0 && overdueNotice(overdue, billing),
      h("dl", { class: "gh-account-facts" },
        h("div", {}, h("dt", {}, "Email"), h("dd", { class: "gh-account-email" }, me.email || "")),
        !isNaN(since) && h("div", {}, h("dt", {}, "Member since"), h("dd", {}, dayText(since)))),
      section("Membership",
        level
          ? rightLine("p", "gh-account-level", level)
          : h("p", { class: "gh-account-level" }, "No membership level yet."),
        billing && actions(h("a", { class: "gh-button gh-secondary gh-account-billing", href: billing },
          "Manage billing"))),
      bundles.length > 0 && section("Bundles", h("ul", { class: "gh-account-bundles" },
        ...bundles.map((b) => rightLine("li", "gh-account-bundle", b)))),
      unlocks.length > 0 && section("Coming up", h("ul", { class: "gh-account-unlocks" },
        ...unlocks.map((u) => {
          const at = new Date(u.unlocks_at);
          const when = h("span", { class: "gh-account-when" }, isNaN(at) ? "" : whenText(at));
          return h("li", {}, h("a", { href: sitePath(u.path) }, u.path), " ", when);
        }))),
      // An operator's preview answers as the member: logging out there would end the
      // operator's own sessions, not the member's.
      !me.preview && logoutButtons(root));
    root.dataset.accountState = "member";
    root.setAttribute("aria-busy", "false");
  }

  /* ---------- members' pages in the site search ----------
   * Each gate has an encrypted bundle of its pages' text. A member's first use of the search box
   * opens the bundles of the gates they hold and hands the entries to search.js. A failure here
   * only means fewer results: it warns, with no detail that could hold a key or plaintext. */

  let searchLoaded = null;

  const isGate = (g) =>
    g && /^[0-9a-f]{16}$/.test(g.gate) && typeof g.rule === "string" &&
    onThisSite(g.bundle, location.href) !== null;

  async function openBundle(g, answer) {
    if (!answer || !answer.key) return [];
    try {
      const bytes = await fetchBytes(g.bundle);
      const path = "/_gated/" + g.gate + "/bundle";
      const list = JSON.parse(await openEnvelope(bytes, answer.key, answer.epoch, g.gate, path));
      return Array.isArray(list) ? list : [];
    } catch (e) {
      console.warn("gatehouse: the search bundle of gate " + g.gate + " did not open");
      return [];
    }
  }

  function addGatedSearch() {
    // A remembered "logged out" is not trusted here: a login through a link or another tab
    // happens where this script cannot see it, and /keys answers a visitor cheaply.
    if (searchLoaded || !SECURE) return;
    searchLoaded = (async () => {
      const url = new URL("_gated/gates.json", SITE_ROOT);
      const index = await fetchWithin(url, { credentials: "same-origin" }, (response) => {
        if (!response.ok) throw httpError(response.status);
        return response.json();
      });
      const gates = (Array.isArray(index.gates) ? index.gates : []).filter(isGate);
      const answers = await keysFor(gates, index.epoch, false);
      const lists = await Promise.all(gates.map((g) => {
        const answer = answers[g.gate];
        return openBundle(g, answer && answer.epoch === index.epoch ? answer : null);
      }));
      const entries = [].concat(...lists)
        .filter((e) => e && typeof e.path === "string")
        .map((e) => ({ path: e.path, title: e.title, text: e.text, gated: true }));
      // search.js takes entries through push(), loaded yet or not
      if (entries.length) (window.gatehouseSearch = window.gatehouseSearch || []).push(entries);
    })().catch((err) => {
      searchLoaded = null; // try again on the next focus
      const why = err.status ? "HTTP " + err.status : err.name;
      console.warn("gatehouse: members' pages are not in the search now (" + why + ")");
    });
  }

  /* ---------- start ---------- */

  /** Checks everything again (after a login): slots not open yet, the account page. */
  function refresh(fresh) {
    renderHeader();
    const slots = Array.from(document.querySelectorAll(".gh-gate[data-gate]"));
    if (slots.length) openSlots(slots, fresh);
    const page = document.querySelector("[data-gh-account-page]");
    if (page) renderAccount(page);
  }

  function start() {
    refresh(false);
    const input = document.getElementById("gh-search-input");
    if (input) {
      input.addEventListener("focus", addGatedSearch);
      if (input.value.trim()) addGatedSearch();
    }
    listenForFiles();
    // a login or logout in another tab: what this tab remembers is stale
    window.addEventListener("storage", (ev) => {
      if (ev.key !== AUTH) return;
      clearCache();
      if (auth().state === "out") forgetFiles();
      searchLoaded = null;
      refresh(true);
    });
  }

  window.gatehouse = { refresh: () => refresh(true), clearCache };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
