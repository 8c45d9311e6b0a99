// gate.js in a fake page, for tests/js/gate.test.js: a small DOM (elements, text, fragments,
// events that bubble, the selectors gate.js and the tests use, an HTML parser for the simple
// markup the tests write and seal), a location that records navigations instead of leaving,
// storage, and a fake edge answering fetch. Not a browser: enough to drive gate.js's login form,
// account page and gated slots in node. What only a browser can show is in browser.test.js.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { settle } = require("./support");

const STATIC = path.join(__dirname, "..", "..", "themes", "default", "static");
const GATE_PATH = path.join(STATIC, "gate.js");
const ORIGIN = "https://site.test";

/* ---------- events ---------- */

class Event {
  constructor(type, init = {}) {
    this.type = type;
    this.bubbles = Boolean(init.bubbles);
    this.cancelable = Boolean(init.cancelable);
    this.defaultPrevented = false;
    this.target = null;
    this.currentTarget = null;
    this.stopped = false;
  }
  preventDefault() {
    if (this.cancelable) this.defaultPrevented = true;
  }
  stopPropagation() {
    this.stopped = true;
  }
}

class CustomEvent extends Event {
  constructor(type, init = {}) {
    super(type, init);
    this.detail = init.detail === undefined ? null : init.detail;
  }
}

class Target {
  constructor() {
    this.listeners = [];
  }
  addEventListener(type, fn, options) {
    const once = Boolean(options && typeof options === "object" && options.once);
    this.listeners.push({ type, fn, once });
  }
  removeEventListener(type, fn) {
    this.listeners = this.listeners.filter((l) => !(l.type === type && l.fn === fn));
  }
  /** Runs this target's listeners; a listener's exception is reported, as a browser does. */
  fire(event) {
    event.currentTarget = this;
    this.listeners.filter((l) => l.type === event.type).forEach((l) => {
      if (l.once) this.removeEventListener(l.type, l.fn);
      try {
        const done = l.fn.call(this, event);
        if (done && typeof done.catch === "function") done.catch((e) => this.report(e));
      } catch (e) {
        this.report(e);
      }
    });
  }
  report(error) {
    (this.ownerDocument || this).errors.push(error);
  }
}

/* ---------- nodes ---------- */

class Node extends Target {
  constructor(doc) {
    super();
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
  }
  get parentElement() {
    return this.parentNode instanceof Element ? this.parentNode : null;
  }
  get children() {
    return this.childNodes.filter((n) => n instanceof Element);
  }
  get firstChild() {
    return this.childNodes[0] || null;
  }
  get textContent() {
    return this.childNodes.map((n) => n.textContent).join("");
  }
  set textContent(text) {
    this.replaceChildren(String(text));
  }
  /** Strings become text nodes; a fragment gives up its children. */
  adopt(nodes) {
    const out = [];
    nodes.forEach((n) => {
      if (n instanceof DocumentFragment) out.push(...n.childNodes.splice(0));
      else out.push(typeof n === "string" ? new Text(this.ownerDocument || this, n) : n);
    });
    out.forEach((n) => {
      if (n.parentNode) n.remove();
    });
    return out;
  }
  insertAt(index, nodes) {
    const list = this.adopt(nodes);
    list.forEach((n) => (n.parentNode = this));
    this.childNodes.splice(index, 0, ...list);
  }
  append(...nodes) {
    this.insertAt(this.childNodes.length, nodes.map((n) => (n instanceof Node ? n : String(n))));
  }
  appendChild(node) {
    this.append(node);
    return node;
  }
  prepend(...nodes) {
    this.insertAt(0, nodes.map((n) => (n instanceof Node ? n : String(n))));
  }
  replaceChildren(...nodes) {
    this.childNodes.splice(0).forEach((n) => (n.parentNode = null));
    this.append(...nodes);
  }
  after(...nodes) {
    const parent = this.parentNode;
    if (parent) parent.insertAt(parent.childNodes.indexOf(this) + 1, nodes);
  }
  before(...nodes) {
    const parent = this.parentNode;
    if (parent) parent.insertAt(parent.childNodes.indexOf(this), nodes);
  }
  remove() {
    const parent = this.parentNode;
    if (!parent) return;
    parent.childNodes.splice(parent.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  /** Every element below this node, in document order. */
  descendants() {
    const out = [];
    const walk = (node) => node.children.forEach((c) => {
      out.push(c);
      walk(c);
    });
    walk(this);
    return out;
  }
  querySelectorAll(selector) {
    const groups = parseSelector(selector);
    return this.descendants().filter((el) => groups.some((g) => matchesComplex(el, g)));
  }
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] || null;
  }
  dispatchEvent(event) {
    event.target = this;
    const path = [];
    for (let n = this; n; n = n.parentNode) path.push(n);
    const doc = this.ownerDocument || (this instanceof Document ? this : null);
    if (doc && path[path.length - 1] === doc && doc.window) path.push(doc.window);
    // capturing listeners (the third argument true) are not told apart: gate.js uses one, for
    // load errors, which these tests do not raise
    for (const node of event.bubbles ? path : [this]) {
      node.fire(event);
      if (event.stopped) break;
    }
    return !event.defaultPrevented;
  }
}

class Text extends Node {
  constructor(doc, text) {
    super(doc);
    this.data = String(text);
  }
  get textContent() {
    return this.data;
  }
  set textContent(text) {
    this.data = String(text);
  }
}

class DocumentFragment extends Node {}

const BOOLEAN_PROPS = ["hidden", "disabled", "required", "checked"];
const STRING_PROPS = { id: "id", className: "class", type: "type", name: "name", placeholder: "placeholder" };
const URL_PROPS = ["href", "src"];

class Element extends Node {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.value = "";
    this.tabIndex = -1;
    if (this.tagName === "TEMPLATE") this.content = new DocumentFragment(doc);
    const el = this;
    this.dataset = new Proxy({}, {
      get: (_, key) => (typeof key === "string" ? el.getAttribute(dataName(key)) ?? undefined : undefined),
      set: (_, key, value) => {
        el.setAttribute(dataName(key), String(value));
        return true;
      },
      has: (_, key) => el.hasAttribute(dataName(key)),
      deleteProperty: (_, key) => {
        el.removeAttribute(dataName(key));
        return true;
      },
      ownKeys: () => Array.from(el.attributes.keys()).filter((a) => a.startsWith("data-"))
        .map((a) => a.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())),
      getOwnPropertyDescriptor: (_, key) => {
        const value = el.getAttribute(dataName(key));
        return value === null ? undefined : { value, enumerable: true, configurable: true, writable: true };
      }
    });
    this.classList = {
      contains: (c) => el.classNames().includes(c),
      add: (...cs) => cs.forEach((c) => el.classList.toggle(c, true)),
      remove: (...cs) => cs.forEach((c) => el.classList.toggle(c, false)),
      toggle(c, force) {
        const has = el.classNames().includes(c);
        const want = force === undefined ? !has : Boolean(force);
        if (want !== has) {
          const list = want ? el.classNames().concat(c) : el.classNames().filter((x) => x !== c);
          el.setAttribute("class", list.join(" "));
        }
        return want;
      }
    };
  }
  classNames() {
    return (this.getAttribute("class") || "").split(/\s+/).filter(Boolean);
  }
  getAttribute(name) {
    const value = this.attributes.get(name.toLowerCase());
    return value === undefined ? null : value;
  }
  setAttribute(name, value) {
    this.attributes.set(name.toLowerCase(), String(value));
  }
  hasAttribute(name) {
    return this.attributes.has(name.toLowerCase());
  }
  removeAttribute(name) {
    this.attributes.delete(name.toLowerCase());
  }
  matches(selector) {
    return parseSelector(selector).some((g) => matchesComplex(this, g));
  }
  closest(selector) {
    for (let n = this; n instanceof Element; n = n.parentNode) if (n.matches(selector)) return n;
    return null;
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
  select() {}
  scrollIntoView() {
    this.ownerDocument.scrolledTo.push(this);
  }
  /** A click: a submit button submits its form (which a listener may cancel). */
  click() {
    if (this.disabled) return;
    this.dispatchEvent(new Event("click", { bubbles: true, cancelable: true }));
    const form = this.closest("form");
    if (this.tagName === "BUTTON" && (this.getAttribute("type") || "submit") === "submit" && form) {
      form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    }
  }
  set innerHTML(html) {
    const holder = this.tagName === "TEMPLATE" ? this.content : this;
    holder.replaceChildren(...parseHtml(this.ownerDocument, html));
  }
}
BOOLEAN_PROPS.forEach((prop) => Object.defineProperty(Element.prototype, prop, {
  get() {
    return this.hasAttribute(prop);
  },
  set(on) {
    if (on) this.setAttribute(prop, "");
    else this.removeAttribute(prop);
  }
}));
Object.entries(STRING_PROPS).forEach(([prop, attr]) => Object.defineProperty(Element.prototype, prop, {
  get() {
    return this.getAttribute(attr) || "";
  },
  set(value) {
    this.setAttribute(attr, value);
  }
}));
// as in a browser, reading href or src gives the absolute URL
URL_PROPS.forEach((prop) => Object.defineProperty(Element.prototype, prop, {
  get() {
    const value = this.getAttribute(prop);
    return value === null ? "" : new URL(value, this.ownerDocument.location.href).href;
  },
  set(value) {
    this.setAttribute(prop, value);
  }
}));

const dataName = (key) => "data-" + String(key).replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

class Document extends Node {
  constructor(location) {
    super(null);
    this.location = location;
    this.errors = []; // exceptions thrown in listeners
    this.scrolledTo = [];
    this.readyState = "complete";
    this.documentElement = this.createElement("html");
    this.documentElement.setAttribute("lang", "en");
    this.head = this.createElement("head");
    this.body = this.createElement("body");
    this.documentElement.append(this.head, this.body);
    this.append(this.documentElement);
    this.activeElement = this.body;
    this.currentScript = null;
  }
  createElement(tag) {
    return new Element(this, tag);
  }
  createTextNode(text) {
    return new Text(this, text);
  }
  getElementById(id) {
    return this.descendants().find((el) => el.getAttribute("id") === id) || null;
  }
}

/* ---------- selectors: compound selectors (tag, #id, .class, [attr], [attr=value]) joined by
 * descendant combinators, in comma-separated groups ---------- */

function parseSelector(text) {
  return text.split(",").map((group) => group.trim().split(/\s+/).map(parseCompound));
}

function parseCompound(text) {
  const parts = { tag: null, id: null, classes: [], attrs: [] };
  const re = /^[a-zA-Z][\w-]*|#[\w-]+|\.[\w-]+|\[([\w-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\]]*)))?\]/g;
  let m;
  let at = 0;
  while ((m = re.exec(text))) {
    if (m.index !== at) break;
    at = re.lastIndex;
    const token = m[0];
    if (token[0] === "#") parts.id = token.slice(1);
    else if (token[0] === ".") parts.classes.push(token.slice(1));
    else if (token[0] === "[") parts.attrs.push({ name: m[1], value: m[2] ?? m[3] ?? m[4] });
    else parts.tag = token.toUpperCase();
  }
  if (at !== text.length) throw new Error("page.js: unsupported selector " + JSON.stringify(text));
  return parts;
}

function matchesCompound(el, c) {
  return (!c.tag || el.tagName === c.tag) &&
    (!c.id || el.getAttribute("id") === c.id) &&
    c.classes.every((name) => el.classNames().includes(name)) &&
    c.attrs.every((a) => el.hasAttribute(a.name) && (a.value === undefined || el.getAttribute(a.name) === a.value));
}

function matchesComplex(el, compounds) {
  if (!matchesCompound(el, compounds[compounds.length - 1])) return false;
  let i = compounds.length - 2;
  for (let n = el.parentElement; n && i >= 0; n = n.parentElement) {
    if (matchesCompound(n, compounds[i])) i--;
  }
  return i < 0;
}

/* ---------- HTML: elements, attributes, text, comments, raw <script> text ---------- */

const VOID = new Set(["area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);
const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };
const decodeEntities = (text) => text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, name) => {
  if (name[0] === "#") return String.fromCodePoint(parseInt(name.slice(1).replace(/^x/i, "0x"), name[1] === "x" || name[1] === "X" ? 16 : 10));
  return ENTITIES[name.toLowerCase()] ?? all;
});

function parseHtml(doc, html) {
  const root = new DocumentFragment(doc);
  const stack = [root];
  const top = () => stack[stack.length - 1];
  const token = /<!--[\s\S]*?-->|<\/([a-zA-Z][\w-]*)\s*>|<([a-zA-Z][\w-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/g;
  let at = 0;
  let m;
  while ((m = token.exec(html))) {
    if (m.index > at) top().append(decodeEntities(html.slice(at, m.index)));
    at = token.lastIndex;
    if (m[1]) { // an end tag closes the nearest open element of its name
      const name = m[1].toUpperCase();
      const i = stack.findLastIndex((n) => n.tagName === name);
      if (i > 0) stack.length = i;
    } else if (m[2]) {
      const el = doc.createElement(m[2]);
      const attr = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
      let a;
      while ((a = attr.exec(m[3]))) el.setAttribute(a[1], decodeEntities(a[2] ?? a[3] ?? a[4] ?? ""));
      top().append(el);
      const name = m[2].toLowerCase();
      if (name === "script" || name === "style") {
        const end = html.toLowerCase().indexOf("</" + name, at);
        const stop = end < 0 ? html.length : end;
        if (stop > at) el.append(html.slice(at, stop));
        token.lastIndex = stop;
        at = stop;
      } else if (!VOID.has(name)) {
        stack.push(el);
      }
    }
  }
  if (at < html.length) top().append(decodeEntities(html.slice(at)));
  return root.childNodes.slice();
}

/* ---------- storage, location ---------- */

function storageArea() {
  const items = new Map();
  return {
    items,
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
    clear: () => items.clear()
  };
}

/** The page's location at `href`; assign() and reload() only record. */
function fakeLocation(href) {
  const url = new URL(href);
  const location = {
    navigations: [],
    assign(to) {
      this.navigations.push(String(to));
    },
    replace(to) {
      this.navigations.push(String(to));
    },
    reload() {
      this.navigations.push("reload");
    },
    toString() {
      return url.href;
    }
  };
  ["href", "origin", "protocol", "host", "hostname", "port", "pathname", "search", "hash"].forEach((k) => {
    Object.defineProperty(location, k, { get: () => url[k], enumerable: true });
  });
  return location;
}

/* ---------- the edge ---------- */

/**
 * A fetch for the page: `routes` maps "METHOD /path" to a function (request) → {status, json}
 * or {status, bytes}, or to such an answer as is. `requests` records {method, path, url,
 * credentials, body} of each call. Anything else is a 404.
 */
function fakeFetch(routes, requests) {
  return async (input, init = {}) => {
    const url = new URL(String(input), ORIGIN);
    const method = (init.method || "GET").toUpperCase();
    const body = init.body === undefined || init.body === null ? null : String(init.body);
    const request = { method, path: url.pathname, url: url.href, credentials: init.credentials, body };
    requests.push(request);
    const route = routes[method + " " + url.pathname];
    const answer = typeof route === "function" ? await route(request) : route;
    if (!answer) return new Response(null, { status: 404 });
    const status = answer.status || 200;
    if (answer.bytes) return new Response(answer.bytes, { status });
    const json = answer.json === undefined ? null : JSON.stringify(answer.json);
    return new Response(json, { status, headers: { "Content-Type": "application/json" } });
  };
}

/* ---------- the page ---------- */

/**
 * Loads gate.js (or `source`, e.g. an older copy) into a page at `url` whose <body> holds
 * `body` (HTML). `settings` are the script tag's data-* attributes (edge defaults to /_gate),
 * `routes` the edge and CDN (see fakeFetch), `before(window)` runs before the script does.
 * Returns {window, document, location, requests, $(selector), until(what, fn)}.
 */
function loadGate({ url, body = "", settings = {}, routes = {}, source, before } = {}) {
  const location = fakeLocation(url);
  const document = new Document(location);
  const requests = [];
  document.body.innerHTML = body;
  const script = document.createElement("script");
  script.setAttribute("src", "/gate.0123abcd.js");
  Object.entries(Object.assign({ edge: "/_gate" }, settings)).forEach(([k, v]) => (script.dataset[k] = v));
  document.head.append(script);
  document.currentScript = script;

  const window = new Target();
  window.errors = document.errors;
  document.window = window;
  const context = vm.createContext(Object.assign(window, {
    document, location, window,
    navigator: { languages: ["en-GB"], language: "en-GB" }, // no serviceWorker
    isSecureContext: true,
    crypto: globalThis.crypto,
    sessionStorage: storageArea(),
    localStorage: storageArea(),
    fetch: fakeFetch(routes, requests),
    Event, CustomEvent, Element, Node,
    atob, TextDecoder, TextEncoder, URL, URLSearchParams, Headers, Request, Response,
    AbortController, DOMException, Blob, setTimeout, clearTimeout, console
  }));
  if (before) before(window);
  vm.runInContext(source || fs.readFileSync(GATE_PATH, "utf8"), context, { filename: "gate.js" });
  return {
    window, document, location, requests,
    $: (selector) => document.querySelector(selector),
    /** Waits (five seconds at most: WebCrypto answers from libuv's thread pool, which a busy
     *  machine can hold up for far longer than a few event-loop turns) until `fn()` is truthy;
     *  returns it. */
    async until(what, fn) {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const value = fn();
        if (value) return value;
        await settle();
      }
      throw new Error("waited for " + what + "; the page says: " + document.body.textContent.trim());
    }
  };
}

/* ---------- a sealed page (DESIGN §4, written from the contract with node's crypto) ---------- */

/** The envelope of `html` for `gate` at `pagePath`, epoch `epoch`, and its key (base64url). */
function sealPage(html, { gate, pagePath, epoch = 1, key = crypto.randomBytes(32) }) {
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from("gatehouse/v2\n" + gate + "\n" + pagePath + "\n" + epoch));
  const sealed = Buffer.concat([cipher.update(html), cipher.final(), cipher.getAuthTag()]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(epoch);
  return { bytes: new Uint8Array(Buffer.concat([Buffer.from("GH2"), head, nonce, sealed])), key: key.toString("base64url") };
}

module.exports = { ORIGIN, GATE_PATH, loadGate, sealPage };
