/* HarmMap shared helpers: escaping, number and date wording, JSON fetching. Plain ES2017, no build step. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var MONTHS_LONG = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function isNum(x) { return typeof x === "number" && isFinite(x); }

  /** A number in British style with `digits` decimals, or an en dash when missing. */
  function num(x, digits) {
    if (!isNum(x)) { return "–"; }
    return x.toLocaleString("en-GB", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }

  /** A small number with sensible precision: 1234 -> "1,234", 12.34 -> "12.3", 0.0123 -> "0.012". */
  function smart(x) {
    if (!isNum(x)) { return "–"; }
    var a = Math.abs(x);
    if (a >= 100 || x === Math.round(x)) { return num(x, 0); }
    if (a >= 1) { return num(x, 1); }
    return num(x, a >= 0.1 ? 2 : 3);
  }

  /** "p = 0.03", "p < 0.001". */
  function pText(p) {
    if (!isNum(p)) { return ""; }
    if (p < 0.001) { return "p < 0.001"; }
    return "p = " + (p < 0.01 ? p.toFixed(3) : p.toFixed(2));
  }

  /** "2025-03" -> "Mar 2025" (or "March 2025" when long). */
  function monthText(ym, long) {
    if (!ym) { return ""; }
    var y = ym.slice(0, 4), m = parseInt(ym.slice(5, 7), 10) - 1;
    return (long ? MONTHS_LONG[m] : MONTHS[m]) + " " + y;
  }

  /** An ISO time stamp as "23 Nov 2026, 07:51" in the viewer's time zone. */
  function timeText(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return String(iso); }
    return d.toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit",
      minute: "2-digit" });
  }

  /** "ab_cd" -> "Ab cd" for classes the server names by slug. */
  var HOTSPOT_WORDS = {
    hot_99: "Hot spot (99% confidence)", hot_95: "Hot spot (95% confidence)", hot_90: "Hot spot (90% confidence)",
    cold_99: "Cold spot (99% confidence)", cold_95: "Cold spot (95% confidence)", cold_90: "Cold spot (90% confidence)",
    not_significant: "Not a significant hot or cold spot", island: "No neighbouring ward: not tested",
    no_data: "No data: not tested"
  };
  var LISA_WORDS = {
    high_high: "High harm among high-harm neighbours", low_low: "Low harm among low-harm neighbours",
    high_low: "High harm among low-harm neighbours (outlier)", low_high: "Low harm among high-harm neighbours (outlier)",
    not_significant: "No significant local cluster", island: "No neighbouring ward: not tested",
    no_data: "No data: not tested"
  };
  function words(table, key) {
    if (!key) { return ""; }
    return table[key] || String(key).replace(/_/g, " ");
  }

  /** Build a query string from an object, leaving out empty values. */
  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== null && v !== undefined && v !== "") { q.set(k, String(v)); }
    });
    var s = q.toString();
    return s ? "?" + s : "";
  }

  /**
   * Fetch JSON from the app. Each `channel` keeps one request in flight: a newer call aborts the older
   * one, whose promise then never settles (so stale answers can never be drawn).
   */
  var inflight = {};
  function getJSON(url, channel) {
    if (channel && inflight[channel]) { inflight[channel].abort(); }
    var ctl = new AbortController();
    if (channel) { inflight[channel] = ctl; }
    return new Promise(function (resolve, reject) {
      // no extra headers: the page preloads some of these URLs, and a preload is only used by an identical fetch
      fetch(url, { signal: ctl.signal, credentials: "same-origin" })
        .then(function (r) {
          return r.json().catch(function () { return null; }).then(function (body) {
            if (!r.ok) {
              var detail = body && (body.detail || body.title);
              throw new Error(detail ? detail : "the server answered " + r.status);
            }
            return body;
          });
        })
        .then(function (body) {
          if (channel && inflight[channel] === ctl) { delete inflight[channel]; }
          resolve(body);
        })
        .catch(function (e) {
          if (e.name === "AbortError") { return; }  // superseded: stay pending
          if (channel && inflight[channel] === ctl) { delete inflight[channel]; }
          reject(e);
        });
    });
  }

  function debounce(fn, ms) {
    var t = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  HM.util = {
    esc: esc, isNum: isNum, num: num, smart: smart, pText: pText, monthText: monthText, timeText: timeText,
    hotspotText: function (k) { return words(HOTSPOT_WORDS, k); },
    lisaText: function (k) { return words(LISA_WORDS, k); },
    query: query, getJSON: getJSON, debounce: debounce
  };
}());
