/* gatehouse serve: the development helper injected into every page it serves (never part of
 * `gatehouse build` output).
 *  - Live reload: listens to /_gatehouse/events and reloads when this page (or the whole
 *    site) was rebuilt; after a restart of `serve`, reloads once the server is back.
 *  - Build errors: shown over the page until the next good build.
 *  - "View as": preview the site as a visitor, or as any level or bundle on day N.
 */
(function () {
  "use strict";

  var overlay = null;
  var lostConnection = false;
  /* The mark of serve's last announcement before it sent this page: the stream opens with
     what was rebuilt since (the script connects late, at the first idle moment). Looked up
     by its src as well: a page's element named "currentScript" would hide the property. */
  var script = document.currentScript instanceof HTMLScriptElement
    ? document.currentScript
    : document.querySelector('script[src="/_gatehouse/dev.js"]');
  /* Only serve's own copy, once: a page saved by a browser ("save page, complete") keeps a
     copy of this script under another address, with a mark from a run long gone. */
  if (!script || script.getAttribute("src") !== "/_gatehouse/dev.js" || window.gatehouseDev) return;
  window.gatehouseDev = true;
  var servedAt = script.getAttribute("data-build");
  var started = false;

  /* ---------- live reload ---------- */

  var source = null;

  /* A page kept in the back/forward cache would keep its connection open; browsers allow six
     per host, so a few navigations would stall every request. Close on pagehide, reopen on
     pageshow, reloading then, since the site may have changed meanwhile. */
  window.addEventListener("pagehide", function () {
    if (source) source.close();
    source = null;
    lostConnection = true;
  });
  window.addEventListener("pageshow", function (event) {
    // Not before start(): a page left before its first idle moment connects from there.
    if (event.persisted && started) connect();
  });

  function connect() {
    if (!window.EventSource || source) return;
    var since = servedAt ? "?since=" + encodeURIComponent(servedAt) : "";
    source = new EventSource("/_gatehouse/events" + since);
    /* data-gh-live says whether reload announcements reach this page: what a test (or a
       puzzled author in the inspector) looks at before saving. */
    source.addEventListener("open", function () {
      if (lostConnection) location.reload();
      document.documentElement.setAttribute("data-gh-live", "open");
    });
    source.addEventListener("error", function () {
      lostConnection = true;
      document.documentElement.setAttribute("data-gh-live", "lost");
    });
    source.addEventListener("gatehouse", function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (event.kind === "error") {
        showError(event.message);
      } else if (event.kind === "reload") {
        var paths = event.paths || [];
        if (paths.length === 0 || paths.indexOf(location.pathname) >= 0 || overlay) {
          location.reload();
        }
      }
    });
  }

  function showError(message) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.setAttribute("role", "alert");
      overlay.id = "gh-dev-error";
      overlay.style.cssText =
        "position:fixed;inset:0;z-index:2147483647;background:rgba(20,20,24,.94);color:#fff;" +
        "padding:2rem;overflow:auto;font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace";
      var title = document.createElement("p");
      title.style.cssText = "font-weight:bold;color:#ff8a8a;margin:0 0 1rem";
      title.textContent = "The site does not build. Still serving the last good build.";
      var text = document.createElement("pre");
      text.style.cssText = "white-space:pre-wrap;margin:0 0 1rem";
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "Hide until the next change";
      close.addEventListener("click", function () {
        overlay.remove();
        overlay = null;
      });
      overlay.appendChild(title);
      overlay.appendChild(text);
      overlay.appendChild(close);
      document.body.appendChild(overlay);
    }
    overlay.querySelector("pre").textContent = message;
  }

  /* ---------- view as ---------- */

  function toolbar(options) {
    var bar = document.createElement("form");
    bar.id = "gh-dev-view-as";
    bar.style.cssText =
      "position:fixed;left:.75rem;bottom:.75rem;z-index:2147483646;display:flex;gap:.4rem;" +
      "align-items:center;flex-wrap:wrap;max-width:calc(100vw - 1.5rem);padding:.4rem .6rem;" +
      "border-radius:.5rem;background:#1f2330;color:#fff;font:13px/1.3 system-ui,sans-serif;" +
      "box-shadow:0 2px 10px rgba(0,0,0,.3)";
    var label = document.createElement("label");
    label.textContent = "View as";
    var select = document.createElement("select");
    select.name = "as";
    select.style.marginLeft = ".4em";
    function add(value, text) {
      var option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      select.appendChild(option);
    }
    add("", "my session");
    add("visitor", "a visitor");
    options.levels.forEach(function (l) {
      add("level:" + l.id, "level: " + l.name);
    });
    options.bundles.forEach(function (b) {
      add("bundle:" + b.id, "bundle: " + b.name);
    });
    var dayLabel = document.createElement("label");
    dayLabel.textContent = "day";
    var day = document.createElement("input");
    day.type = "number";
    day.name = "day";
    day.min = "0";
    day.max = "3650";
    day.value = "0";
    day.style.cssText = "width:4.5em;margin-left:.4em";
    var current = options.view_as || "";
    var at = current.indexOf("@");
    select.value = at >= 0 ? current.slice(0, at) : current;
    if (at >= 0) day.value = current.slice(at + 1);
    function sync() {
      var holder = select.value.indexOf(":") > 0;
      day.disabled = !holder;
      dayLabel.style.opacity = holder ? "1" : ".5";
    }
    sync();
    select.addEventListener("change", function () {
      sync();
      apply();
    });
    day.addEventListener("change", apply);
    bar.addEventListener("submit", function (e) {
      e.preventDefault();
      apply();
    });
    function apply() {
      var value = select.value;
      if (value.indexOf(":") > 0) value += "@" + (parseInt(day.value, 10) || 0);
      fetch("/_gatehouse/view-as", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ as: value }),
      }).then(function (response) {
        if (!response.ok) return;
        // gate.js caches keys for the session: a new preview must not see the old ones.
        try {
          sessionStorage.clear();
        } catch (e) {}
        location.reload();
      });
    }
    label.appendChild(select);
    dayLabel.appendChild(day);
    bar.appendChild(label);
    bar.appendChild(dayLabel);
    if (current) {
      var badge = document.createElement("strong");
      badge.textContent = "previewing";
      badge.style.cssText = "color:#ffd166";
      bar.appendChild(badge);
    }
    document.body.appendChild(bar);
    // Keep the end of the page (footer, pager) reachable above the bar.
    document.body.style.paddingBottom = bar.offsetHeight + 24 + "px";
  }

  function start() {
    started = true;
    connect();
    fetch("/_gatehouse/options", { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (options) {
        if (options) toolbar(options);
      })
      .catch(function () {});
  }

  /* At the first idle moment, not at DOMContentLoaded: the stream's opening request and the
     toolbar's layout ran just after it, and gate.js's gated text waited behind them
     (BENCHMARKS.md, "Time to text"). A rebuild that ends before the stream opens is not
     missed: the stream opens with it (servedAt, above). The timeout is a timer: a hidden tab
     may run it later. */
  function later() {
    if (window.requestIdleCallback) window.requestIdleCallback(start, { timeout: 300 });
    else setTimeout(start, 100);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", later);
  } else {
    later();
  }
})();
