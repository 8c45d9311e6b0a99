// gate.js in a fake page (page.js): when envelopes are fetched (issue 18). A member's envelope
// downloads while /keys is still unanswered, not after; the blocks of a page still share one
// /keys request; a visitor downloads no envelope the page did not preload, and uses the one it
// did; the checks on the way (a missing envelope, a key of another epoch, a cached lock) hold.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { ORIGIN, loadGate, sealPage } = require("./page");
const { settle } = require("./support");

const LESSON = "/course/lesson-3/";
const RULE = "level=gold;bundles=-;drip=0";
const LOGGED_IN = { state: "in", at: 0 };

const gateOf = (n) => "0123456789abcd0" + n;
const srcOf = (n) => "/_gated/" + gateOf(n) + "/00000000000000a" + n + ".bin";

/** The slot of a page (n = 0) or of members block n of the lesson. */
function slotHtml(n) {
  const block = n > 0;
  return '<div class="gh-gate' + (block ? ' gh-block" data-block' : '"') + ' data-gate="' + gateOf(n) +
    '" data-rule="' + RULE.replace("drip=0", "drip=" + n) + '" data-src="' + srcOf(n) +
    '" data-path="' + LESSON + (block ? "#" + n : "") + '" data-epoch="1" data-label="Gold">' +
    '<div class="gh-locked"><p class="gh-locked-title">Members only: Gold</p></div></div>';
}

const preloadOf = (n) => '<link rel="preload" href="' + srcOf(n) + '" as="fetch" crossorigin>';

/** A /keys route that answers only once `release(answer)` is called, with that answer. */
function heldKeys() {
  let release;
  const released = new Promise((resolve) => (release = resolve));
  return { route: async () => ({ json: await released }), release };
}

/** The lesson with the slots `ns`, each sealed with its own key; `auth` is what localStorage
 *  remembers ("gatehouse:auth"), `cache` the tab's key cache, `head` extra HTML (a preload). */
function lesson({ ns, keys, envelopes = {}, auth = null, cache = null, head = "" }) {
  const sealed = {};
  const routes = { "POST /_gate/keys": keys };
  ns.forEach((n) => {
    sealed[n] = sealPage("<p>Sealed part " + n + ".</p>", {
      gate: gateOf(n), pagePath: LESSON + (n > 0 ? "#" + n : "")
    });
    routes["GET " + srcOf(n)] = envelopes[n] || { bytes: sealed[n].bytes };
  });
  const page = loadGate({
    url: ORIGIN + LESSON,
    body: head + ns.map(slotHtml).join("<p>Public text.</p>"),
    routes,
    before(window) {
      if (auth) window.localStorage.setItem("gatehouse:auth", JSON.stringify(auth));
      if (cache) window.sessionStorage.setItem("gatehouse:cache", JSON.stringify(cache(sealed)));
    }
  });
  const slot = (n) => page.$('.gh-gate[data-gate="' + gateOf(n) + '"]');
  const asked = (path) => page.requests.filter((r) => r.path === path);
  const settled = () => page.until("every slot to settle", () =>
    ns.every((n) => !["", "loading", undefined].includes(slot(n).dataset.gateState || "")));
  return { page, sealed, slot, asked, settled };
}

const keysOf = (sealed, ns) => ({
  epoch: 1, keys: Object.fromEntries(ns.map((n) => [gateOf(n), sealed[n].key])), locked: {}
});

test("a member's envelope downloads while /keys is still unanswered", async () => {
  const held = heldKeys();
  const l = lesson({ ns: [0], keys: held.route, auth: LOGGED_IN });
  await l.page.until("the envelope request", () => l.asked(srcOf(0)).length === 1);
  assert.equal(l.slot(0).dataset.gateState, "loading", "the slot opened without a key");
  assert.equal(l.asked("/_gate/keys").length, 1);
  held.release(keysOf(l.sealed, [0]));
  await l.settled();
  assert.equal(l.slot(0).dataset.gateState, "open", l.slot(0).textContent);
  assert.ok(l.slot(0).textContent.includes("Sealed part 0."));
  assert.equal(l.asked(srcOf(0)).length, 1, "the envelope was fetched twice");
  assert.equal(l.asked(srcOf(0))[0].credentials, "same-origin", "as the theme's preload asks");
});

test("three members blocks share one /keys request, their envelopes downloading meanwhile", async () => {
  const ns = [1, 2, 3];
  const held = heldKeys();
  const l = lesson({ ns, keys: held.route, auth: LOGGED_IN });
  await l.page.until("the three envelope requests", () => ns.every((n) => l.asked(srcOf(n)).length === 1));
  await settle();
  assert.equal(l.asked("/_gate/keys").length, 1);
  held.release(keysOf(l.sealed, ns));
  await l.settled();
  ns.forEach((n) => assert.ok(l.slot(n).textContent.includes("Sealed part " + n + "."), "block " + n));
  assert.equal(l.asked("/_gate/keys").length, 1, "more than one /keys request");
  const rules = JSON.parse(l.asked("/_gate/keys")[0].body).rules;
  assert.equal(rules.length, 3);
});

test("with every key cached, the blocks open without /keys and each envelope downloads once", async () => {
  const ns = [1, 2, 3];
  const exp = Date.now() + 60000;
  const l = lesson({
    ns, keys: { status: 500, json: {} }, auth: LOGGED_IN,
    cache: (sealed) => ({
      at: Date.now(),
      entries: Object.fromEntries(ns.map((n) => ["1:" + gateOf(n), { exp, key: sealed[n].key }]))
    })
  });
  await l.settled();
  ns.forEach((n) => assert.equal(l.slot(n).dataset.gateState, "open", "block " + n));
  assert.equal(l.asked("/_gate/keys").length, 0);
  ns.forEach((n) => assert.equal(l.asked(srcOf(n)).length, 1, "block " + n));
});

test("a visitor's members blocks download no envelope", async () => {
  const ns = [1, 2];
  const locked = Object.fromEntries(ns.map((n) => [gateOf(n), { reason: "login" }]));
  const l = lesson({ ns, keys: { json: { epoch: 1, keys: {}, locked } } });
  await l.settled();
  ns.forEach((n) => assert.equal(l.slot(n).dataset.gateState, "login", "block " + n));
  ns.forEach((n) => assert.equal(l.asked(srcOf(n)).length, 0, "block " + n + "'s envelope was fetched"));
});

test("a visitor uses the envelope the page preloads rather than leaving it unused", async () => {
  const locked = { [gateOf(0)]: { reason: "login" } };
  const l = lesson({ ns: [0], keys: { json: { epoch: 1, keys: {}, locked } }, head: preloadOf(0) });
  await l.settled();
  assert.equal(l.slot(0).dataset.gateState, "login");
  assert.equal(l.asked(srcOf(0)).length, 1);
  assert.ok(!l.slot(0).textContent.includes("Sealed part"), "a visitor read the body");
});

test("a cached lock downloads no envelope", async () => {
  const exp = Date.now() + 60000;
  const l = lesson({
    ns: [1], keys: { status: 500, json: {} }, auth: LOGGED_IN,
    cache: () => ({ at: Date.now(), entries: { ["1:" + gateOf(1)]: { exp, locked: { reason: "level" } } } })
  });
  await l.settled();
  assert.equal(l.slot(1).dataset.gateState, "level");
  assert.equal(l.asked(srcOf(1)).length, 0);
});

test("an envelope fetched early and gone (404) still says the page changed, with Reload", async () => {
  const held = heldKeys();
  const l = lesson({ ns: [0], keys: held.route, auth: LOGGED_IN, envelopes: { 0: { status: 404 } } });
  await l.page.until("the envelope request", () => l.asked(srcOf(0)).length === 1);
  await settle();
  held.release(keysOf(l.sealed, [0]));
  await l.settled();
  assert.equal(l.slot(0).dataset.gateState, "error");
  assert.ok(l.slot(0).textContent.includes("This page has changed since it was loaded."), l.slot(0).textContent);
  assert.ok(l.slot(0).textContent.includes("Reload"));
  assert.equal(l.page.window.errors ? l.page.window.errors.length : 0, 0, "an unhandled failure");
});

test("a key of another epoch is refused even with the envelope already downloaded", async () => {
  const l = lesson({
    ns: [0], auth: LOGGED_IN, head: preloadOf(0),
    keys: () => ({ json: { epoch: 2, keys: { [gateOf(0)]: "A".repeat(43) }, locked: {} } })
  });
  await l.settled();
  assert.equal(l.slot(0).dataset.gateState, "error");
  assert.ok(l.slot(0).textContent.includes("published with other keys"), l.slot(0).textContent);
  assert.ok(!l.slot(0).textContent.includes("Sealed part"));
});

test("opening marks gatehouse:unlocked on the page's timeline when there is one", async () => {
  const marks = [];
  const sealed = sealPage("<p>Marked.</p>", { gate: gateOf(0), pagePath: LESSON });
  const page = loadGate({
    url: ORIGIN + LESSON,
    body: slotHtml(0),
    routes: {
      "POST /_gate/keys": { json: { epoch: 1, keys: { [gateOf(0)]: sealed.key }, locked: {} } },
      ["GET " + srcOf(0)]: { bytes: sealed.bytes }
    },
    before(window) {
      window.performance = { mark: (name, options) => marks.push([name, options.detail]) };
    }
  });
  const slot = page.$(".gh-gate[data-gate]");
  await page.until("the slot to open", () => slot.dataset.gateState === "open");
  assert.deepEqual(JSON.parse(JSON.stringify(marks)),
    [["gatehouse:unlocked", { gate: gateOf(0), path: LESSON }]]);
});
