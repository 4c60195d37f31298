/* HarmMap need x response chart: each ward's need (harm index score, across) against its police response
 * (activity per 100 recorded trafficking offences, up, with its 95% interval as a line), London's rate as a
 * reference line and the quadrants named. Drawn here as inline SVG from the need x response layer's
 * values.json (no chart library). The classes are the read model's (harmmap/published.py QUADRANTS): a ward
 * is named only when its interval lies clear of London's rate, so a point's side of the line is not enough.
 *
 * Keyboard: the points are one tab stop; arrow keys move from ward to ward in order of need (Home/End to the
 * ends), Enter or Space opens the ward. The lists under the chart name the wards of each named quadrant. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};
  var U = HM.util;
  var esc = U.esc;

  var W = 640, H = 380, ML = 52, MR = 14, MT = 14, MB = 40, STRIP = 26;
  var TICKS = [0, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
  var SHORT = {
    tasking_candidate: "Candidate for tasking",
    possible_over_attention: "Possible over-attention",
    need_and_response_high: "High need and high response",
    low_need_low_response: "Low need and low response",
    no_signal: "No clear difference"
  };

  /** "12.3 (95% 9.1–16.0)" for a rate with its interval; "–" when missing. */
  function rateText(v, lo, hi) {
    if (!U.isNum(v)) { return "–"; }
    var t = U.num(v, 1);
    if (U.isNum(lo)) { t += " (95% " + U.num(lo, 1) + "–" + (U.isNum(hi) ? U.num(hi, 1) : "no upper limit") + ")"; }
    return t;
  }

  /** What one ward says in the chart's caption, its point's label and the map's tooltip. */
  function wardText(d, names, classes) {
    var c = classes[d.k] || {};
    var parts = [(names.ward_name || d.code) + (names.borough_name ? ", " + names.borough_name : "")];
    parts.push("need " + (U.isNum(d.need) ? U.num(d.need, 1) + " (harm index)" : "not scored"));
    if (d.suppressed) {
      parts.push("response withheld: it would give back a count of " + d.suppressed);
    } else if (U.isNum(d.v)) {
      parts.push(rateText(d.v, d.lo, d.hi) + " actions per 100 trafficking offences");
    } else {
      parts.push("no trafficking offences recorded: no rate");
    }
    if (c.label) { parts.push(c.label); }
    return parts.join("; ");
  }

  function render(el, body, opts) {
    opts = opts || {};
    var classes = body.classes || [];
    var names = opts.names || function () { return {}; };
    var london = body.london || {};
    var area = body.area || null;
    var inScope = function (code) { return !opts.borough || (names(code).borough_code === opts.borough); };
    var pts = [], withheld = [];
    Object.keys(body.wards || {}).forEach(function (code) {
      var d = body.wards[code];
      if (d.k === null || d.k === undefined || !inScope(code)) { return; }
      var p = { code: code, need: d.need, v: d.v, lo: d.lo, hi: d.hi, k: d.k, q: d.q, suppressed: d.suppressed };
      if (!U.isNum(d.need)) { return; }
      if (U.isNum(d.v)) { pts.push(p); } else { withheld.push(p); }
    });
    var all = pts.concat(withheld).sort(function (a, b) { return b.need - a.need || (a.code < b.code ? -1 : 1); });

    // y: activity per 100 on a log(1 + y) scale, so wards with a handful of offences do not flatten the rest
    var top = 20;
    pts.forEach(function (p) { top = Math.max(top, p.v, U.isNum(p.hi) ? Math.min(p.hi, 5000) : 0); });
    if (U.isNum(london.per_100)) { top = Math.max(top, london.per_100 * 1.5); }
    var yMax = TICKS.filter(function (t) { return t >= top; })[0] || top;
    var f = function (v) { return Math.log(1 + Math.max(0, v)); };
    var plotB = H - MB - STRIP;  // the plot's bottom; the strip of withheld rates lies under it
    var x = function (s) { return ML + (W - ML - MR) * s / 100; };
    var y = function (v) { return MT + (plotB - MT) * (1 - f(Math.min(v, yMax)) / f(yMax)); };
    var h = [];
    var title = "Need x response, " + (opts.areaName || "London") + ", " + (body.title || body.period);
    h.push('<svg class="hm-quadrant" id="hm-quadrant-svg" viewBox="0 0 ' + W + " " + H + '" width="100%" tabindex="-1" role="group" aria-labelledby="hm-chart-title" aria-describedby="hm-chart-desc">');
    // the quadrants named, in their corners
    var hf = body.high_need_from, lt = body.low_need_to;
    if (U.isNum(hf)) {
      h.push('<rect class="hm-q-high" x="' + x(hf).toFixed(1) + '" y="' + MT + '" width="' + (x(100) - x(hf)).toFixed(1) + '" height="' + (plotB - MT) + '"/>');
      h.push('<line class="hm-q-cut" x1="' + x(hf).toFixed(1) + '" x2="' + x(hf).toFixed(1) + '" y1="' + MT + '" y2="' + plotB + '"/>');
    }
    if (U.isNum(lt)) {
      h.push('<rect class="hm-q-low" x="' + x(0) + '" y="' + MT + '" width="' + (x(lt) - x(0)).toFixed(1) + '" height="' + (plotB - MT) + '"/>');
      h.push('<line class="hm-q-cut" x1="' + x(lt).toFixed(1) + '" x2="' + x(lt).toFixed(1) + '" y1="' + MT + '" y2="' + plotB + '"/>');
    }
    h.push('<text class="hm-q-name" x="' + (W - MR - 4) + '" y="' + (MT + 12) + '" text-anchor="end">High need, high response</text>');
    h.push('<text class="hm-q-name strong" x="' + (W - MR - 4) + '" y="' + (plotB - 6) + '" text-anchor="end">High need, response below London: candidate for tasking</text>');
    h.push('<text class="hm-q-name strong" x="' + (ML + 4) + '" y="' + (MT + 12) + '">Low need, response above London: possible over-attention</text>');
    h.push('<text class="hm-q-name" x="' + (ML + 4) + '" y="' + (plotB - 6) + '">Low need, low response</text>');
    // axes and ticks
    TICKS.filter(function (t) { return t <= yMax; }).forEach(function (t) {
      var ty = y(t).toFixed(1);
      h.push('<line class="grid" x1="' + ML + '" x2="' + (W - MR) + '" y1="' + ty + '" y2="' + ty + '"/>');
      h.push('<text class="tick" x="' + (ML - 4) + '" y="' + ty + '" dy="0.32em" text-anchor="end">' + U.num(t, 0) + "</text>");
    });
    [0, 20, 40, 60, 80, 100].forEach(function (s) {
      h.push('<text class="tick" x="' + x(s).toFixed(1) + '" y="' + (H - MB + 14) + '" text-anchor="middle">' + s + "</text>");
    });
    h.push('<line class="axis" x1="' + ML + '" x2="' + (W - MR) + '" y1="' + plotB + '" y2="' + plotB + '"/>');
    h.push('<line class="axis" x1="' + ML + '" x2="' + ML + '" y1="' + MT + '" y2="' + plotB + '"/>');
    h.push('<text class="hm-q-axis" x="' + ((ML + W - MR) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">Need: harm index score (0–100) →</text>');
    h.push('<text class="hm-q-axis" transform="translate(13 ' + ((MT + plotB) / 2) + ') rotate(-90)" text-anchor="middle">Police actions per 100 trafficking offences →</text>');
    // the strip of wards whose rate is withheld or missing
    if (withheld.length) {
      h.push('<text class="tick" x="' + (ML - 4) + '" y="' + (plotB + STRIP / 2 + 3) + '" text-anchor="end">no rate</text>');
    }
    // reference lines: London, and the borough in focus
    if (U.isNum(london.per_100)) {
      var ly = y(london.per_100).toFixed(1);
      h.push('<line class="hm-q-london" x1="' + ML + '" x2="' + (W - MR) + '" y1="' + ly + '" y2="' + ly + '"/>');
      h.push('<text class="hm-q-ref" x="' + (W - MR - 4) + '" y="' + ly + '" dy="-4" text-anchor="end">London ' + U.num(london.per_100, 1) + " per 100</text>");
    }
    if (area && U.isNum(area.per_100) && opts.areaName) {
      var ay = y(area.per_100).toFixed(1);
      h.push('<line class="hm-q-area" x1="' + ML + '" x2="' + (W - MR) + '" y1="' + ay + '" y2="' + ay + '"/>');
      h.push('<text class="hm-q-ref" x="' + (ML + 4) + '" y="' + ay + '" dy="12">' + esc(opts.areaName) + " " + U.num(area.per_100, 1) + "</text>");
    }
    // intervals first, then the points on top (the named quadrants last, so they are not hidden)
    var drawOrder = pts.slice().sort(function (a, b) { return (a.q === "no_signal") === (b.q === "no_signal") ? 0 : a.q === "no_signal" ? -1 : 1; });
    drawOrder.forEach(function (p) {
      if (!U.isNum(p.lo)) { return; }
      var px = x(p.need).toFixed(1), y1 = y(p.lo).toFixed(1), y2 = U.isNum(p.hi) ? y(p.hi).toFixed(1) : MT;
      h.push('<line class="hm-q-ci' + (p.q === "no_signal" ? " quiet" : "") + '" x1="' + px + '" x2="' + px + '" y1="' + y1 + '" y2="' + y2 + '"/>');
    });
    h.push('<g class="hm-q-pts">');
    var order = {};
    all.forEach(function (p, i) { order[p.code] = i; });
    function point(p, cx, cy, shape) {
      var c = classes[p.k] || {}, n = names(p.code);
      var label = wardText({ code: p.code, need: p.need, v: p.v, lo: p.lo, hi: p.hi, k: p.k, suppressed: p.suppressed }, n, classes);
      var attrs = ' class="hm-q-pt" data-ward="' + esc(p.code) + '" data-i="' + order[p.code] + '" role="button" tabindex="' +
        (order[p.code] === 0 ? "0" : "-1") + '" aria-label="' + esc(label) + '" fill="' + esc(c.color || "#fff") + '"';
      if (shape === "diamond") {
        return '<path' + attrs + ' d="M' + cx + " " + (cy - 5) + "l5 5l-5 5l-5 -5z" + '"><title>' + esc(label) + "</title></path>";
      }
      return '<circle' + attrs + ' cx="' + cx + '" cy="' + cy + '" r="' + (p.q === "no_signal" ? 3.5 : 5) + '"><title>' + esc(label) + "</title></circle>";
    }
    drawOrder.forEach(function (p) { h.push(point(p, x(p.need).toFixed(1), y(p.v).toFixed(1), "circle")); });
    withheld.forEach(function (p) { h.push(point(p, x(p.need).toFixed(1), (plotB + STRIP / 2).toFixed(1), "diamond")); });
    h.push("</g></svg>");

    var out = [body.marking ? '<p class="hm-chart-marking" role="note" aria-label="Protective marking">' + esc(body.marking) + "</p>" : "",
      '<div class="hm-chart-head"><h2 id="hm-chart-title" tabindex="-1">' + esc(title) + "</h2>" +
      '<button type="button" class="hm-close" id="hm-chart-close" aria-label="Close the chart (Escape)">×</button></div>'];
    out.push('<p class="hm-legend-family">' + esc(body.family_label || "Police response (diagnostic)") + "</p>");
    out.push('<p class="hm-muted" id="hm-chart-desc">Each ward: need across (its harm index score), police actions per 100 ' +
      "recorded trafficking offences up, with the 95% interval as a line. The dashed line is London's rate" +
      (U.isNum(london.per_100) ? " (" + esc(rateText(london.per_100, london.per_100_lo, london.per_100_hi)) + ")" : "") +
      ". A ward is named only when its interval lies clear of London's rate; high need is London deciles 1–3 of the index (shaded), low need 8–10." +
      " Use the arrow keys to move between wards and Enter to open one.</p>");
    out.push(h.join(""));
    out.push('<p class="hm-q-focus" id="hm-chart-focus" aria-live="polite"></p>');
    // the key, with the number of wards in each class
    out.push('<ul class="hm-q-key">' + classes.map(function (c) {
      return '<li><i style="background:' + esc(c.color) + '"></i>' + esc(c.label) + " <span class=\"hm-muted\">(" + U.num(c.count, 0) + ")</span></li>";
    }).join("") + "</ul>");
    if (withheld.length) {
      var why = withheld.filter(function (p) { return p.suppressed; }).length;
      out.push('<p class="hm-muted">◆ under the axis: ' + withheld.length + " ward" + (withheld.length > 1 ? "s" : "") + " without a rate to draw" +
        (why ? " (" + why + " withheld: the rate would give back a count of " + esc((body.disclosure || {}).suppressed_text || "fewer than 5") +
          " police actions or offences)" : "") + ".</p>");
    }
    // the named wards, as lists of buttons
    ["tasking_candidate", "possible_over_attention", "need_and_response_high", "low_need_low_response"].forEach(function (slug) {
      var ws = all.filter(function (p) { return p.q === slug; });
      if (!ws.length) { return; }
      out.push('<h3 class="hm-q-list-h">' + esc(SHORT[slug]) + " (" + ws.length + ")</h3><ul class=\"hm-q-list\">" + ws.map(function (p) {
        var n = names(p.code);
        return '<li><button type="button" class="hm-q-ward" data-ward="' + esc(p.code) + '">' + esc(n.ward_name || p.code) + "</button>" +
          (opts.borough ? "" : ' <span class="hm-muted">' + esc(n.borough_name || "") + "</span>") + "</li>";
      }).join("") + "</ul>");
    });
    if (body.response_note) { out.push('<p class="hm-legend-note hm-response-note">' + esc(body.response_note) + "</p>"); }
    out.push('<p class="hm-legend-note">' + esc(body.caveat || "") + " Counted: " +
      esc((body.counted || []).map(function (c) { return c.label; }).join(", ")) + ".</p>");
    if (body.layer_synthetic) { out.push('<p class="hm-legend-note"><span class="hm-tag-synthetic">synthetic</span> Police activity here is synthetic demonstration data.</p>'); }
    // a fresh element each time, so handlers are never added twice
    var root = document.createElement("div");
    root.className = "hm-chart-body";
    root.innerHTML = out.join("");
    el.replaceChildren(root);

    // keyboard: one tab stop, arrows through the wards in order of need
    var svg = root.querySelector("#hm-quadrant-svg"), focusLine = root.querySelector("#hm-chart-focus");
    var nodes = Array.prototype.slice.call(svg.querySelectorAll(".hm-q-pt")).sort(function (a, b) {
      return +a.getAttribute("data-i") - +b.getAttribute("data-i");
    });
    function moveTo(i) {
      if (!nodes.length) { return; }
      i = Math.max(0, Math.min(nodes.length - 1, i));
      nodes.forEach(function (n, j) { n.setAttribute("tabindex", j === i ? "0" : "-1"); });
      nodes[i].focus();
    }
    svg.addEventListener("keydown", function (e) {
      var t = e.target.closest ? e.target.closest(".hm-q-pt") : null;
      if (!t) { return; }
      var i = nodes.indexOf(t);
      if (e.key === "ArrowRight" || e.key === "ArrowDown") { e.preventDefault(); moveTo(i + 1); }
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { e.preventDefault(); moveTo(i - 1); }
      else if (e.key === "Home") { e.preventDefault(); moveTo(0); }
      else if (e.key === "End") { e.preventDefault(); moveTo(nodes.length - 1); }
      else if (e.key === "Enter" || e.key === " ") { e.preventDefault(); opts.onSelect(t.getAttribute("data-ward")); }
    });
    svg.addEventListener("focusin", function (e) {
      var t = e.target.closest ? e.target.closest(".hm-q-pt") : null;
      if (t) { focusLine.textContent = t.getAttribute("aria-label"); t.classList.add("focus"); }
    });
    svg.addEventListener("focusout", function (e) {
      var t = e.target.closest ? e.target.closest(".hm-q-pt") : null;
      if (t) { t.classList.remove("focus"); }
    });
    root.addEventListener("click", function (e) {
      var t = e.target.closest ? e.target.closest("[data-ward]") : null;
      if (t) { opts.onSelect(t.getAttribute("data-ward")); }
    });
    root.querySelector("#hm-chart-close").addEventListener("click", function () { opts.onClose(); });
    el.setAttribute("data-points", String(nodes.length));
    return { points: nodes.length };
  }

  HM.quadrant = { render: render, wardText: wardText, rateText: rateText };
}());
