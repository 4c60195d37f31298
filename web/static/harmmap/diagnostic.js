/* HarmMap diagnostic view: "Why did confidence move?" for a ward, a borough or London, from
 * /map/diagnostic.json (harmmap/published.py Snapshot.diagnostic). For each window (the period before, and the
 * strategy's baseline year): the summary sentence, then a table of each PAS measure's change (points, 95%
 * interval, significant or not at the survey's sample size) and each response and need indicator's change
 * (from–to, %, significant or not), with London's change beside it. Never a cause: the note says so. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};
  var U = HM.util;
  var esc = U.esc;

  var MINUS = "−";
  function signed(x, digits) {
    if (!U.isNum(x)) { return "–"; }
    var t = U.num(Math.abs(x), digits);
    return (x > 0 ? "+" : x < 0 ? MINUS : "") + t;
  }
  function pct(x) { return U.isNum(x) ? signed(x * 100, 0) + "%" : "–"; }

  function count(row, side) {
    if (row[side + "_suppressed"]) { return esc(row[side + "_suppressed"]); }
    var v = row[side];
    if (!U.isNum(v)) { return "–"; }
    return row.kind === "value" ? "£" + U.num(v, 0) : U.num(v, v % 1 ? 1 : 0);
  }

  /** The cells of one row: measure, from → to, change with its interval, significant or not. */
  function rowCells(r, deff) {
    var from, change, sig;
    if (r.kind === "survey") {
      from = (U.isNum(r.before) ? U.num(r.before, 1) + "%" : "–") + " → " + (U.isNum(r.after) ? U.num(r.after, 1) + "%" : "–");
      change = U.isNum(r.change) ? signed(r.change, 1) + " pts" : "–";
      if (U.isNum(r.lo) && U.isNum(r.hi)) { change += '<span class="hm-ci">(' + signed(r.lo, 1) + " to " + signed(r.hi, 1) + ")</span>"; }
      var n = U.isNum(r.respondents_after) ? r.respondents_after : null;
      sig = !r.tested ? "Not tested" : r.significant ? "<strong>Yes</strong>" : "No";
      if (n !== null) {
        sig += '<span class="hm-ci">' + U.num(n, 0) + " asked" + (deff > 1 ? "; counts as " + U.num(n / deff, 0) : "") + "</span>";
      }
    } else {
      from = count(r, "before") + " → " + count(r, "after");
      if (r.suppressed) {
        change = '<span class="hm-suppressed">withheld</span>';
      } else if (r.kind === "value") {
        change = pct(r.change);
      } else if (U.isNum(r.change)) {
        change = pct(r.change);
        if (U.isNum(r.lo) && U.isNum(r.hi)) { change += '<span class="hm-ci">(' + pct(r.lo) + " to " + pct(r.hi) + ")</span>"; }
      } else {
        change = r.before === 0 && r.after === 0 ? "none either year" : U.isNum(r.after) && r.after > 0 ? "from none" : "–";
      }
      sig = r.kind === "value" ? "Not tested (pounds)" : !r.tested ? "Not tested" : r.significant ? "<strong>Yes</strong>" : "No";
    }
    var name = esc(r.label);
    if (r.also === "confidence") { name += '<span class="hm-ci">also a need indicator</span>'; }
    if (r.london) {
      var ld = r.kind === "survey" ? (U.isNum(r.london.change) ? signed(r.london.change, 1) + " pts" : "–") : pct(r.london.change);
      change += '<span class="hm-ci">London ' + ld + (r.london.tested ? (r.london.significant ? ", significant" : ", not significant") : "") + "</span>";
    }
    return '<th scope="row">' + name + "</th><td>" + from + "</td><td>" + change + "</td><td>" + sig + "</td>";
  }

  function table(d, id) {
    var groups = [["Confidence (PAS, the strategy's targets)", d.pas || []],
      ["Police response (diagnostic)", d.response || []], ["Need (harm)", d.need || []]];
    var h = ['<table class="hm-diag-table" id="' + id + '"><caption class="hm-sr">Change in each measure, ' + esc(d.period) +
      " against " + esc(d.against_period) + "</caption><thead><tr><th scope=\"col\">Measure</th><th scope=\"col\">" +
      esc(d.against_period) + " → " + esc(d.period) + '</th><th scope="col">Change (95% interval)</th><th scope="col">Significant?</th></tr></thead>'];
    groups.forEach(function (g) {
      if (!g[1].length) { return; }
      h.push('<tbody><tr class="hm-diag-group"><th scope="colgroup" colspan="4">' + esc(g[0]) + "</th></tr>");
      g[1].forEach(function (r) { h.push('<tr data-indicator="' + esc(r.indicator) + '">' + rowCells(r, d.design_effect || 1) + "</tr>"); });
      h.push("</tbody>");
    });
    h.push("</table>");
    return h.join("");
  }

  /** One window: its heading, the summary sentence, the table (or why there is none). `d` is the body, or
   * {error: "..."} when the window cannot be answered (e.g. a month against the baseline year). */
  function windowSection(d, against, idPrefix) {
    var heading = against === "baseline" ? "Against the baseline year" : "Against the period before";
    var h = ['<section class="hm-diag" data-against="' + against + '" aria-labelledby="' + idPrefix + '-' + against + '-h">'];
    if (d.error) {
      h.push("<h3 id=\"" + idPrefix + "-" + against + '-h">' + esc(heading) + "</h3>");
      h.push('<p class="hm-muted">' + esc(d.error) + "</p></section>");
      return h.join("");
    }
    h.push("<h3 id=\"" + idPrefix + "-" + against + '-h">' + esc(heading) + (d.against_period ? ": " + esc(d.against_period) : "") + "</h3>");
    h.push('<p class="hm-diag-summary">' + esc(d.summary) + "</p>");
    if ((d.pas || []).length + (d.response || []).length + (d.need || []).length) {
      h.push(table(d, idPrefix + "-" + against + "-table"));
    }
    h.push("</section>");
    return h.join("");
  }

  /** The view for both windows; `bodies` = {previous: body|{error}, baseline: body|{error}}. */
  function render(el, bodies, opts) {
    opts = opts || {};
    var first = bodies.previous && !bodies.previous.error ? bodies.previous : bodies.baseline || {};
    var h = [];
    h.push('<p class="hm-muted">What moved in the same months: each PAS measure (the strategy\'s targets) beside police ' +
      "activity and need. Significance for PAS is at the survey's real sample size" +
      (U.isNum(first.design_effect) && first.design_effect > 1 ? " (respondents ÷ design effect " + U.num(first.design_effect, 1) + ")" : "") +
      "; counts use an exact test. " + esc(first.note || "The figures do not say why.") + "</p>");
    ["previous", "baseline"].forEach(function (k) { if (bodies[k]) { h.push(windowSection(bodies[k], k, opts.idPrefix || "hm-diag")); } });
    var hidden = [];
    ["previous", "baseline"].forEach(function (k) { ((bodies[k] || {}).hidden || []).forEach(function (x) { if (hidden.indexOf(x) < 0) { hidden.push(x); } }); });
    if (hidden.length) {
      h.push('<p class="hm-muted">Counts of 1 to 4 read "' + esc((first.disclosure || {}).suppressed_text || "fewer than 5") +
        '"; their change and interval are withheld (docs/security.md).</p>');
    }
    if (first.synthetic) {
      h.push('<p class="hm-muted"><span class="hm-tag-synthetic">synthetic</span> PAS results and police activity here are synthetic demonstration data.</p>');
    }
    el.innerHTML = h.join("");
  }

  HM.diagnostic = { render: render };
}());
