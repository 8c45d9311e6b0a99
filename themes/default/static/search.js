/* gatehouse default theme: site search.
 *
 * Plain JavaScript, no dependencies, no eval, no innerHTML: every piece of indexed text reaches
 * the page through textContent / text nodes.
 *
 * The public index (/search.json, an array of {path, title, text, tags}) is fetched once, the first
 * time the search box gets focus. Other scripts can add entries (e.g. decrypted members-only pages):
 *
 *   window.gatehouseSearch.addEntries([{ path, title, text, tags, gated }])
 *
 * Entries are merged by `path` (an added entry replaces an earlier one with the same path; the
 * public index never replaces an added entry). `tags` may be strings or {name} objects; `gated`
 * (optional, boolean) shows a "Members" marker in the results.
 *
 * A script that runs before this one can queue entries:
 *   (window.gatehouseSearch = window.gatehouseSearch || []).push(entries);
 * `push` keeps working after this script has loaded. Once ready, this script dispatches
 * `gatehouse:search-ready` on document (event.detail is the API object).
 */
(function () {
  "use strict";

  var MAX_RESULTS = 10;
  var DEBOUNCE_MS = 100;
  var EXCERPT_BEFORE = 60;
  var EXCERPT_AFTER = 140;

  var scriptSrc = document.currentScript && document.currentScript.src;
  var INDEX_URL = scriptSrc ? new URL("search.json", scriptSrc).href : "/search.json";

  /* ---------- text folding (case and accent insensitive) ---------- */

  var MARKS;
  var NOT_WORD;
  try {
    MARKS = new RegExp("\\p{M}", "gu");
    NOT_WORD = new RegExp("[^\\p{L}\\p{N}]", "u");
  } catch (e) {
    MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
    NOT_WORD = /[^A-Za-z0-9\u00c0-\uffff]/;
  }
  var NON_ASCII = /[^\x00-\x7f]/;

  function fold(s) {
    s = String(s == null ? "" : s);
    if (NON_ASCII.test(s) && s.normalize) {
      s = s.normalize("NFD").replace(MARKS, "");
    }
    return s.toLowerCase();
  }

  /* Folds `s` and keeps, for every folded position, the index in `s` it came from
     (map has one extra slot: map[folded.length] === s.length). */
  function foldWithMap(s) {
    var out = "";
    var map = [];
    var i = 0;
    while (i < s.length) {
      var cp = s.codePointAt(i);
      var ch = String.fromCodePoint(cp);
      var f = cp < 128 ? ch.toLowerCase() : fold(ch);
      for (var k = 0; k < f.length; k++) map.push(i);
      out += f;
      i += ch.length;
    }
    map.push(s.length);
    return { text: out, map: map };
  }

  function words(query) {
    var seen = Object.create(null);
    return fold(query)
      .split(/\s+/)
      .filter(function (w) {
        if (!w || seen[w]) return false;
        seen[w] = true;
        return true;
      });
  }

  /* ---------- the index ---------- */

  var entries = [];
  var byPath = new Map();
  var loadPromise = null;
  var loadState = "idle"; // idle | loading | loaded | failed
  var onChange = []; // callbacks run after the index changes

  function safeHref(path) {
    if (typeof path !== "string") return null;
    path = path.trim();
    if (/^\/(?!\/)/.test(path) || /^https?:\/\//i.test(path)) return path;
    return null;
  }

  function tagNames(tags) {
    if (!Array.isArray(tags)) return [];
    return tags
      .map(function (t) {
        if (typeof t === "string") return t;
        return t && typeof t.name === "string" ? t.name : "";
      })
      .filter(Boolean);
  }

  function prepare(raw, fromApi) {
    if (!raw || typeof raw !== "object") return null;
    var path = safeHref(raw.path);
    if (!path) return null;
    var title = String(raw.title || path);
    var text = String(raw.text || "").replace(/\s+/g, " ").trim();
    var tags = tagNames(raw.tags);
    return {
      path: path,
      title: title,
      text: text,
      tags: tags,
      gated: raw.gated === true,
      added: fromApi,
      ftitle: fold(title),
      ftext: fold(text),
      ftags: fold(tags.join(" ")),
      ascii: !NON_ASCII.test(text),
      textMap: null
    };
  }

  function merge(list, fromApi) {
    if (!Array.isArray(list)) list = list ? [list] : [];
    var count = 0;
    list.forEach(function (raw) {
      var e = prepare(raw, fromApi);
      if (!e) return;
      var at = byPath.get(e.path);
      if (at === undefined) {
        byPath.set(e.path, entries.length);
        entries.push(e);
      } else if (fromApi || !entries[at].added) {
        entries[at] = e;
      } else {
        return;
      }
      count++;
    });
    if (count) onChange.forEach(function (fn) { fn(); });
    return count;
  }

  function loadIndex() {
    if (loadPromise) return loadPromise;
    loadState = "loading";
    loadPromise = fetch(INDEX_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (data) {
        loadState = "loaded";
        if (!merge(Array.isArray(data) ? data : [], false)) {
          onChange.forEach(function (fn) { fn(); });
        }
      })
      .catch(function (err) {
        loadState = "failed";
        loadPromise = null; // try again on the next focus
        if (window.console) console.warn("gatehouse search: cannot load " + INDEX_URL, err);
        onChange.forEach(function (fn) { fn(); });
      });
    return loadPromise;
  }

  function countOf(haystack, needle, cap) {
    var n = 0;
    var i = haystack.indexOf(needle);
    while (i !== -1 && n < cap) {
      n++;
      i = haystack.indexOf(needle, i + needle.length);
    }
    return n;
  }

  function atWordStart(s, i) {
    return i === 0 || NOT_WORD.test(s.charAt(i - 1));
  }

  /* Every query word must occur (in title, tags or text); title hits weigh most. */
  function search(query) {
    var ws = words(query);
    if (!ws.length) return [];
    var phrase = ws.join(" ");
    var scored = [];
    for (var n = 0; n < entries.length; n++) {
      var e = entries[n];
      var score = 0;
      var ok = true;
      for (var k = 0; k < ws.length; k++) {
        var w = ws[k];
        var t = e.ftitle.indexOf(w);
        var g = e.ftags.indexOf(w);
        var x = e.ftext.indexOf(w);
        if (t < 0 && g < 0 && x < 0) {
          ok = false;
          break;
        }
        if (t >= 0) score += atWordStart(e.ftitle, t) ? 16 : 10;
        if (g >= 0) score += atWordStart(e.ftags, g) ? 6 : 3;
        if (x >= 0) score += 1 + Math.min(countOf(e.ftext, w, 8), 8) * 0.5 + (atWordStart(e.ftext, x) ? 1 : 0);
      }
      if (!ok) continue;
      if (ws.length > 1 && e.ftitle.indexOf(phrase) >= 0) score += 12;
      if (e.ftitle === phrase) score += 20;
      scored.push({ e: e, s: score });
    }
    scored.sort(function (a, b) {
      return b.s - a.s || a.e.title.length - b.e.title.length || (a.e.title < b.e.title ? -1 : 1);
    });
    return scored.slice(0, MAX_RESULTS).map(function (r) { return r.e; });
  }

  /* ---------- rendering helpers (DOM only) ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  /* Appends `str` to `parent`, wrapping every occurrence of a query word in <mark>. */
  function appendHighlighted(parent, str, ws) {
    var fm = foldWithMap(str);
    var ranges = [];
    ws.forEach(function (w) {
      var i = fm.text.indexOf(w);
      while (i !== -1) {
        ranges.push([fm.map[i], fm.map[i + w.length]]);
        i = fm.text.indexOf(w, i + w.length);
      }
    });
    ranges.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var pos = 0;
    ranges.forEach(function (r) {
      if (r[1] <= pos) return;
      var start = Math.max(r[0], pos);
      if (start > pos) parent.appendChild(document.createTextNode(str.slice(pos, start)));
      parent.appendChild(el("mark", null, str.slice(start, r[1])));
      pos = r[1];
    });
    if (pos < str.length) parent.appendChild(document.createTextNode(str.slice(pos)));
  }

  /* The part of an entry's text around its first hit. */
  function excerpt(e, ws) {
    var text = e.text;
    if (!text) return "";
    var folded = e.ftext;
    var map = null;
    if (!e.ascii) {
      if (!e.textMap) e.textMap = foldWithMap(text);
      folded = e.textMap.text;
      map = e.textMap.map;
    }
    var first = -1;
    ws.forEach(function (w) {
      var i = folded.indexOf(w);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    });
    var hit = first < 0 ? 0 : map ? map[first] : first;
    var start = Math.max(0, hit - EXCERPT_BEFORE);
    var end = Math.min(text.length, hit + EXCERPT_AFTER);
    if (start > 0) {
      var sp = text.indexOf(" ", start);
      if (sp >= 0 && sp < hit) start = sp + 1;
    }
    if (end < text.length) {
      var ep = text.lastIndexOf(" ", end);
      if (ep > hit + 20) end = ep;
    }
    return (start > 0 ? "… " : "") + text.slice(start, end) + (end < text.length ? " …" : "");
  }

  /* ---------- the search box ---------- */

  function initUI() {
    var form = document.getElementById("gh-search");
    var input = document.getElementById("gh-search-input");
    if (!form || !input) return;
    form.hidden = false;

    var panel = el("div", "search-results");
    panel.hidden = true;
    var list = el("ul", "search-list");
    list.id = "gh-search-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Search results");
    var message = el("p", "search-status");
    message.hidden = true;
    panel.appendChild(list);
    panel.appendChild(message);
    var live = el("p", "visually-hidden");
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    form.appendChild(panel);
    form.appendChild(live);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    var options = [];
    var active = -1;
    var timer = 0;
    var isOpen = false;

    function open() {
      if (isOpen) return;
      isOpen = true;
      panel.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      clearTimeout(timer);
      isOpen = false;
      panel.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      setActive(-1);
    }

    function setActive(i) {
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = i;
      if (i >= 0 && options[i]) {
        options[i].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function showMessage(text) {
      list.textContent = "";
      options = [];
      active = -1;
      message.textContent = text;
      message.hidden = false;
      list.hidden = true;
      open();
    }

    function render(results, ws, query) {
      list.textContent = "";
      options = [];
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (!results.length) {
        showMessage("No results for “" + query + "”");
        live.textContent = "No results";
        return;
      }
      message.hidden = true;
      list.hidden = false;
      results.forEach(function (e, i) {
        var li = el("li");
        li.setAttribute("role", "presentation");
        var a = el("a", "search-result");
        a.href = e.path;
        a.id = "gh-search-opt-" + i;
        a.tabIndex = -1;
        a.setAttribute("role", "option");
        a.setAttribute("aria-selected", "false");
        var title = el("span", "search-result-title");
        appendHighlighted(title, e.title, ws);
        if (e.gated) {
          title.appendChild(document.createTextNode(" "));
          title.appendChild(el("span", "badge badge-gated search-result-badge", "Members"));
        }
        a.appendChild(title);
        var ex = excerpt(e, ws);
        if (ex) {
          var p = el("span", "search-result-excerpt");
          appendHighlighted(p, ex, ws);
          a.appendChild(p);
        }
        li.appendChild(a);
        list.appendChild(li);
        options.push(a);
      });
      live.textContent = results.length + (results.length === 1 ? " result" : " results");
      open();
    }

    function run() {
      clearTimeout(timer);
      var query = input.value.trim();
      if (!query) {
        close();
        live.textContent = "";
        return;
      }
      if (!entries.length && loadState !== "loaded") {
        if (loadState === "failed") {
          showMessage("Search is not available right now.");
        } else {
          showMessage("Loading…");
          loadIndex();
        }
        return;
      }
      render(search(query), words(query), query);
    }

    function go(i, newTab) {
      var a = options[i];
      if (!a) return;
      if (newTab) {
        window.open(a.href, "_blank", "noopener");
      } else {
        window.location.href = a.href;
      }
    }

    onChange.push(function () {
      if (isOpen && document.activeElement === input) run();
    });

    input.addEventListener("focus", function () {
      loadIndex();
      if (input.value.trim()) run();
    });

    input.addEventListener("click", function () {
      if (!isOpen && input.value.trim()) run();
    });

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (ev) {
      switch (ev.key) {
        case "ArrowDown":
          ev.preventDefault();
          if (!isOpen) {
            run();
          } else if (options.length) {
            setActive(active + 1 >= options.length ? 0 : active + 1);
          }
          break;
        case "ArrowUp":
          ev.preventDefault();
          if (isOpen && options.length) {
            setActive(active <= 0 ? options.length - 1 : active - 1);
          }
          break;
        case "Enter":
          ev.preventDefault();
          if (ev.isComposing) return;
          if (timer) run(); // typed faster than the debounce: use the latest text
          if (options.length) go(active >= 0 ? active : 0, ev.metaKey || ev.ctrlKey);
          break;
        case "Escape":
          if (isOpen) {
            ev.preventDefault();
            close();
          } else if (input.value) {
            ev.preventDefault();
            input.value = "";
            live.textContent = "";
          }
          break;
        default:
          break;
      }
    });

    // keep focus in the input while clicking a result (Safari does not focus links)
    panel.addEventListener("mousedown", function (ev) {
      ev.preventDefault();
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      run();
      if (options.length) go(active >= 0 ? active : 0, false);
    });

    form.addEventListener("focusout", function (ev) {
      if (!ev.relatedTarget || !form.contains(ev.relatedTarget)) close();
    });

    // "/" focuses the search box when not typing somewhere else
    document.addEventListener("keydown", function (ev) {
      if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      ev.preventDefault();
      input.focus();
    });
  }

  /* ---------- public API ---------- */

  var queued = window.gatehouseSearch;
  var api = {
    /** Merges entries ({path, title, text, tags?, gated?}) into the index; returns how many were taken. */
    addEntries: function (list) {
      return merge(list, true);
    },
    /** Queue-compatible alias: push(entriesA, entriesB, …). */
    push: function () {
      var n = 0;
      for (var i = 0; i < arguments.length; i++) n += merge(arguments[i], true);
      return n;
    },
    /** Ranked entries for a query (at most 10), from what is loaded so far. */
    search: function (query) {
      return search(String(query || "")).map(function (e) {
        return { path: e.path, title: e.title, text: e.text, tags: e.tags.slice(), gated: e.gated };
      });
    },
    /** Fetches the public index (once); resolves when done. */
    load: function () {
      return loadIndex();
    },
    get size() {
      return entries.length;
    }
  };
  window.gatehouseSearch = api;

  if (Array.isArray(queued)) {
    queued.forEach(function (list) { merge(list, true); });
  } else if (queued && Array.isArray(queued.pending)) {
    queued.pending.forEach(function (list) { merge(list, true); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initUI);
  } else {
    initUI();
  }

  try {
    document.dispatchEvent(new CustomEvent("gatehouse:search-ready", { detail: api }));
  } catch (e) {
    /* very old browsers: no CustomEvent constructor */
  }
})();
