// gate.js in a fake page (page.js): where a login sends the reader, what a URL's fragment may
// do to an opened body, what stored values may do to it, and the account page's log-out
// buttons (issue 15).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { ORIGIN, loadGate, sealPage } = require("./page");

const GATE = "0123456789abcdef";
const RULE = "level=gold;bundles=-;drip=0";
const LESSON = "/course/lesson-3/";
const SRC = "/_gated/" + GATE + "/0123456789abcdef.bin";
const ACCOUNT_PAGE = '<div class="gh-account-page" data-gh-account-page></div>';

const MEMBER = {
  email: "gold@demo.test",
  created_at: "2024-01-05T10:00:00Z",
  standing: { level: { id: "gold", name: "Gold", status: "active" }, bundles: [] },
  unlocks: []
};
const LOGGED_OUT = { status: 401, json: { error: "unauthenticated", message: "Log in first" } };

/** Where a navigation to `to` from the page really goes, as a browser resolves it. */
const landsOn = (page, to) => new URL(to, page.location.href);

/** The account page at `/account/` + `search`, with password logins; /me answers as a
 *  visitor until a password login succeeds. */
function accountPage(search, extraRoutes = {}) {
  let member = false;
  return loadGate({
    url: ORIGIN + "/account/" + search,
    body: ACCOUNT_PAGE,
    settings: { passwords: "true" },
    routes: Object.assign({
      "GET /_gate/me": () => (member ? { json: MEMBER } : LOGGED_OUT),
      "POST /_gate/login/password": () => {
        member = true;
        return { json: { status: "logged_in" } };
      },
      "POST /_gate/login": { json: { message: "If that address has an account, a link is on its way." } }
    }, extraRoutes)
  });
}

async function logInWithPassword(page) {
  const root = page.$("[data-gh-account-page]");
  await page.until("the login form", () => root.dataset.accountState === "login");
  page.$("button.gh-password-toggle").click();
  page.$("form.gh-login input[name=email]").value = "gold@demo.test";
  page.$("form.gh-login input[name=password]").value = "correct horse";
  page.$("form.gh-login button[type=submit]").click();
  // a login either goes on to ?next= or, when there is none to go to, shows the account here
  await page.until("the end of the login", () =>
    page.location.navigations.length > 0 || root.dataset.accountState === "member");
}

/* ---------- ?next= after a login (defect 7) ---------- */

// Browsers drop tabs and newlines from a URL and read "\" as "/": each of these is a way to
// write "//evil.example", another host. None may be where a login sends the reader.
const LEAVING = [
  ["a tab", "/%09/evil.example"],
  ["a newline", "/%0A/evil.example"],
  ["a carriage return and a newline", "/%0D%0A/evil.example"],
  ["a leading tab", "%09//evil.example"],
  ["a backslash", "/%5Cevil.example"],
  ["a dot segment before a second slash", "/.//evil.example"],
  ["a protocol-relative URL", "//evil.example"],
  ["another origin", "https%3A%2F%2Fevil.example%2F"],
  ["a javascript: URL", "javascript:alert(1)"]
];

for (const [what, next] of LEAVING) {
  test("a next with " + what + " cannot leave the site after a password login: ?next=" + next, async () => {
    const page = accountPage("?next=" + next);
    await logInWithPassword(page);
    for (const to of page.location.navigations) {
      assert.equal(landsOn(page, to).origin, ORIGIN, "the login sent the reader to " + JSON.stringify(to));
    }
  });
}

test("a next with a tab is not sent along with a magic-link request either", async () => {
  const page = accountPage("?next=/%09/evil.example");
  const root = page.$("[data-gh-account-page]");
  await page.until("the login form", () => root.dataset.accountState === "login");
  page.$("form.gh-login input[name=email]").value = "gold@demo.test";
  page.$("form.gh-login button[type=submit]").click();
  const asked = await page.until("the magic-link request", () =>
    page.requests.find((r) => r.method === "POST" && r.path === "/_gate/login"));
  assert.equal(JSON.parse(asked.body).next, "/account/");
});

test("a magic link asked for on a page reached as //host/ does not name that host", async () => {
  // a static server that folds slashes serves the lesson at //evil.example/lesson/ too
  const page = loadGate({
    url: ORIGIN + "//evil.example/lesson/",
    body: '<div class="gh-gate" data-gate="' + GATE + '" data-rule="' + RULE + '" data-src="' +
      SRC + '" data-path="' + LESSON + '" data-epoch="1" data-label="Gold"></div>',
    routes: {
      "POST /_gate/keys": { json: { epoch: 1, keys: {}, locked: { [GATE]: { reason: "login" } } } },
      "POST /_gate/login": { json: { message: "A link is on its way." } }
    }
  });
  const slot = page.$(".gh-gate[data-gate]");
  await page.until("the login form", () => slot.dataset.gateState === "login");
  page.$("form.gh-login input[name=email]").value = "gold@demo.test";
  page.$("form.gh-login button[type=submit]").click();
  const asked = await page.until("the magic-link request", () =>
    page.requests.find((r) => r.method === "POST" && r.path === "/_gate/login"));
  const next = JSON.parse(asked.body).next;
  assert.equal(landsOn(page, next).origin, ORIGIN, "next: " + next);
});

test("a next on this site is where a password login goes, query and fragment kept", async () => {
  const page = accountPage("?next=" + encodeURIComponent("/course/lesson-3/?step=2#notes"));
  await logInWithPassword(page);
  assert.deepEqual(page.location.navigations, ["/course/lesson-3/?step=2#notes"]);
});

test("without a next, a password login shows the account in place", async () => {
  const page = accountPage("");
  await logInWithPassword(page);
  assert.deepEqual(page.location.navigations, []);
  assert.equal(page.$("[data-gh-account-page]").dataset.accountState, "member");
});

test("an upcoming unlock whose path leaves the site is not linked", async () => {
  const unlocks = [
    { path: "/\t/evil.example/", unlocks_at: "2999-01-01T00:00:00Z" },
    { path: "/course/lesson-4/", unlocks_at: "2999-01-01T00:00:00Z" }
  ];
  const page = loadGate({
    url: ORIGIN + "/account/",
    body: ACCOUNT_PAGE,
    routes: { "GET /_gate/me": { json: Object.assign({}, MEMBER, { unlocks }) } }
  });
  const root = page.$("[data-gh-account-page]");
  await page.until("the account", () => root.dataset.accountState === "member");
  const links = root.querySelectorAll("a").map((a) => a.href);
  assert.deepEqual(links, [ORIGIN + "/course/lesson-4/"]);
});

/* ---------- a gated page and its fragment (defect 12) ---------- */

const BODY = '<p>How customers read a pricing page.</p><h2 id="part-2">Part 2</h2>' +
  '<h2 id="café">Café</h2><p>The members-only lesson.</p>';

/** Loads the lesson and waits until its slot has settled; returns {page, slot, unlocked}. */
async function openLesson(hash) {
  const sealed = sealPage(BODY, { gate: GATE, pagePath: LESSON });
  const page = loadGate({
    url: ORIGIN + LESSON + hash,
    body: '<div class="entry-teaser" data-gate-teaser>How customers read a pricing page.</div>' +
      '<div class="gh-gate" data-gate="' + GATE + '" data-rule="' + RULE + '" data-src="' + SRC +
      '" data-path="' + LESSON + '" data-epoch="1" data-label="Gold"><div class="gh-locked">' +
      '<p class="gh-locked-title">Members only: Gold</p></div></div>',
    routes: {
      "POST /_gate/keys": { json: { epoch: 1, keys: { [GATE]: sealed.key }, locked: {} } },
      ["GET " + SRC]: { bytes: sealed.bytes }
    }
  });
  const slot = page.$(".gh-gate[data-gate]");
  const unlocked = [];
  // (a copy: the detail is an object of the page's realm)
  page.document.addEventListener("gatehouse:unlocked", (ev) => unlocked.push(Object.assign({}, ev.detail)));
  await page.until("the slot to open or say why not", () =>
    ["open", "error", "login"].includes(slot.dataset.gateState));
  return { page, slot, unlocked };
}

async function assertOpened({ page, slot, unlocked }) {
  assert.equal(slot.dataset.gateState, "open", "the slot says: " + slot.textContent.trim());
  assert.ok(slot.textContent.includes("The members-only lesson."));
  assert.ok(!page.document.body.textContent.includes("could not be verified"));
  assert.equal(page.$("[data-gate-teaser]"), null, "the public teaser gave way to the body");
  assert.deepEqual(unlocked, [{ gate: GATE, path: LESSON }]);
  assert.equal(slot.getAttribute("aria-busy"), "false");
  assert.deepEqual(page.document.errors, []);
}

// "#%E0" and its kind are not percent-encoded UTF-8: decodeURIComponent throws on them
for (const hash of ["#%E0", "#%", "#%E0%A4", "#%FF", "#part-2%"]) {
  test("a malformed fragment does not break an opened page: " + hash, async () => {
    const opened = await openLesson(hash);
    await assertOpened(opened);
    assert.deepEqual(opened.page.document.scrolledTo, [], "nothing to scroll to");
  });
}

for (const [hash, id] of [["#part-2", "part-2"], ["#caf%C3%A9", "café"]]) {
  test("a fragment naming a heading of the body scrolls there once it opens: " + hash, async () => {
    const opened = await openLesson(hash);
    await assertOpened(opened);
    assert.deepEqual(opened.page.document.scrolledTo.map((el) => el.id), [id]);
  });
}

/* ---------- stored values ---------- */

// sessionStorage is the site's, but anything on the site can write it, and an older gate.js
// may have: a cache of another shape is no cache, never a reason for an error.
const STORED = [
  ["an entry that is null", () => ({ ["1:" + GATE]: null })],
  ["an entry whose key is not text", () => ({ ["1:" + GATE]: { exp: Date.now() + 60000, key: 5 } })],
  ["entries that are a string", () => "entries"]
];

for (const [what, entries] of STORED) {
  test("a stored key cache with " + what + " does not stop a page from opening", async () => {
    const sealed = sealPage(BODY, { gate: GATE, pagePath: LESSON });
    const page = loadGate({
      url: ORIGIN + LESSON,
      body: '<div class="gh-gate" data-gate="' + GATE + '" data-rule="' + RULE + '" data-src="' +
        SRC + '" data-path="' + LESSON + '" data-epoch="1" data-label="Gold"></div>',
      routes: {
        "POST /_gate/keys": { json: { epoch: 1, keys: { [GATE]: sealed.key }, locked: {} } },
        ["GET " + SRC]: { bytes: sealed.bytes }
      },
      before: (window) => {
        // a member who logged in a minute ago, in this tab
        window.localStorage.setItem("gatehouse:auth", JSON.stringify({ state: "in", at: Date.now() - 60000 }));
        window.sessionStorage.setItem("gatehouse:cache", JSON.stringify({ at: Date.now(), entries: entries() }));
      }
    });
    const slot = page.$(".gh-gate[data-gate]");
    await page.until("the slot to settle", () => ["open", "error"].includes(slot.dataset.gateState));
    assert.equal(slot.dataset.gateState, "open", "the slot says: " + slot.textContent.trim());
  });
}

/* ---------- log out, here or everywhere (defect 11) ---------- */

async function memberAccount(routes) {
  const page = loadGate({
    url: ORIGIN + "/account/",
    body: ACCOUNT_PAGE,
    routes: Object.assign({ "GET /_gate/me": { json: MEMBER } }, routes)
  });
  const root = page.$("[data-gh-account-page]");
  await page.until("the account", () => root.dataset.accountState === "member");
  return { page, root };
}

test("the account page has log out everywhere next to log out", async () => {
  const { root } = await memberAccount({});
  const buttons = root.querySelectorAll(".gh-account-actions button");
  assert.deepEqual(buttons.map((b) => [b.textContent, b.className]), [
    ["Log out", "gh-button gh-secondary gh-logout"],
    ["Log out everywhere", "gh-button gh-secondary gh-logout-everywhere"]
  ]);
});

test("log out everywhere posts /logout/everywhere with the cookie, then shows the login form", async () => {
  const { page, root } = await memberAccount({
    "POST /_gate/logout/everywhere": { json: { status: "logged_out", sessions: 3 } }
  });
  page.$("button.gh-logout-everywhere").click();
  assert.deepEqual(page.requests.filter((r) => r.method === "POST"), [], "posted before the member confirmed");
  page.$("button.gh-logout-everywhere-confirm").click();
  await page.until("the login form", () => root.dataset.accountState === "login");
  const posts = page.requests.filter((r) => r.method === "POST");
  assert.deepEqual(posts.map((r) => [r.url, r.credentials]), [
    [ORIGIN + "/_gate/logout/everywhere", "include"]
  ]);
  assert.ok([null, "{}"].includes(posts[0].body), "body: " + posts[0].body);
  assert.ok(root.textContent.includes("You are logged out on every device."), root.textContent);
  assert.ok(root.querySelector("form.gh-login"));
  const auth = JSON.parse(page.window.localStorage.getItem("gatehouse:auth"));
  assert.equal(auth.state, "out");
});

test("log out still posts /logout, for this browser only", async () => {
  const { page, root } = await memberAccount({ "POST /_gate/logout": { json: { status: "logged_out" } } });
  page.$("button.gh-logout").click();
  await page.until("the login form", () => root.dataset.accountState === "login");
  const posts = page.requests.filter((r) => r.method === "POST");
  assert.deepEqual(posts.map((r) => r.path), ["/_gate/logout"]);
  assert.ok(root.textContent.includes("You are logged out."), root.textContent);
});

test("log out everywhere that fails says why and keeps the member's page", async () => {
  const { page, root } = await memberAccount({
    "POST /_gate/logout/everywhere": { status: 503, json: { error: "unavailable", message: "try again soon" } }
  });
  page.$("button.gh-logout-everywhere").click();
  page.$("button.gh-logout-everywhere-confirm").click();
  const message = await page.until("the error", () => root.querySelector(".gh-message-error"));
  assert.equal(message.textContent, "Try again soon.");
  assert.equal(root.dataset.accountState, "member");
  assert.deepEqual(root.querySelectorAll(".gh-account-actions button").map((b) => b.disabled), [false, false]);
});

test("log out everywhere asks first, and cancelling posts nothing", async () => {
  const { page, root } = await memberAccount({});
  const confirm = root.querySelector(".gh-account-confirm");
  assert.equal(confirm.hidden, true);
  page.$("button.gh-logout-everywhere").click();
  assert.equal(confirm.hidden, false);
  assert.ok(confirm.textContent.includes("Log out on every device"), confirm.textContent);
  page.$("button.gh-logout-cancel").click();
  assert.equal(confirm.hidden, true);
  assert.deepEqual(page.requests.filter((r) => r.method === "POST"), []);
  assert.equal(root.dataset.accountState, "member");
});

/* ---------- plan, status and billing (issue 17) ---------- */

/** A member whose /me carries the words, the product and the billing link. */
function memberWith(level, extra = {}) {
  return Object.assign({}, MEMBER, { standing: { level, bundles: [] } }, extra);
}

const GOLD_PENDING = {
  id: "gold", name: "Gold", status: "pending-cancel", until: "2027-01-12T00:00:00Z",
  product: { id: "gold-monthly", name: "Gold, monthly", billing: "subscription" },
  words: {
    plan: "Gold, monthly subscription", billing: "monthly subscription",
    status: "Pending cancel: access until 12 Jan 2027"
  }
};

test("the account page shows the plan and status in the edge's words, and Manage billing", async () => {
  const page = loadGate({
    url: ORIGIN + "/account/",
    body: ACCOUNT_PAGE,
    routes: { "GET /_gate/me": { json: memberWith(GOLD_PENDING, { billing_url: "https://billing.example/p/session" }) } }
  });
  const root = page.$("[data-gh-account-page]");
  await page.until("the account", () => root.dataset.accountState === "member");
  assert.equal(root.querySelector(".gh-account-plan").textContent, "Monthly subscription · Gold, monthly");
  assert.equal(root.querySelector(".gh-account-level .gh-account-when").textContent,
    "Pending cancel: access until 12 Jan 2027");
  assert.equal(root.querySelector(".gh-status").textContent, "Pending cancel");
  const billing = root.querySelector("a.gh-account-billing");
  assert.equal(billing.textContent, "Manage billing");
  assert.equal(billing.href, "https://billing.example/p/session");
  assert.equal(root.querySelector(".gh-account-alert"), null);
});

test("without a billing link there is no Manage billing, and a script URL is no link", async () => {
  for (const billing_url of [undefined, "javascript:alert(1)"]) {
    const page = loadGate({
      url: ORIGIN + "/account/",
      body: ACCOUNT_PAGE,
      routes: { "GET /_gate/me": { json: memberWith(GOLD_PENDING, { billing_url }) } }
    });
    const root = page.$("[data-gh-account-page]");
    await page.until("the account", () => root.dataset.accountState === "member");
    assert.equal(root.querySelector("a.gh-account-billing"), null, String(billing_url));
  }
});

test("an overdue member is told first what to do, with the billing link", async () => {
  const overdue = {
    id: "gold", name: "Gold", status: "overdue",
    words: { plan: "Gold, subscription", billing: "subscription", status: "Overdue since 3 Jan 2027" }
  };
  const page = loadGate({
    url: ORIGIN + "/account/",
    body: ACCOUNT_PAGE,
    routes: { "GET /_gate/me": { json: memberWith(overdue, { billing_url: "/pricing/#billing" }) } }
  });
  const root = page.$("[data-gh-account-page]");
  await page.until("the account", () => root.dataset.accountState === "member");
  const alert = root.children[0];
  assert.equal(alert.className, "gh-account-alert");
  assert.ok(alert.textContent.includes("Gold is paused until it is paid."), alert.textContent);
  assert.ok(alert.textContent.includes("as soon as the payment goes through"), alert.textContent);
  assert.equal(alert.querySelector("a.gh-account-fix-billing").href, ORIGIN + "/pricing/#billing");
  assert.equal(root.querySelector(".gh-account-level .gh-account-when").textContent, "Overdue since 3 Jan 2027");
});

test("an operator's preview of the account page offers no log out", async () => {
  const page = loadGate({
    url: ORIGIN + "/account/",
    body: ACCOUNT_PAGE,
    routes: { "GET /_gate/me": { json: memberWith(GOLD_PENDING, { preview: true }) } }
  });
  const root = page.$("[data-gh-account-page]");
  await page.until("the account", () => root.dataset.accountState === "member");
  assert.equal(root.querySelector("button.gh-logout"), null);
  assert.equal(root.querySelector("button.gh-logout-everywhere"), null);
});
