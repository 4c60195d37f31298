/* HarmMap ward panel: one ward's figures for the chosen period, why it ranks where it does, its police
 * response against need, and its monthly trend as an inline SVG chart drawn here (no chart library); and a
 * second tab, "Why did confidence move?", that tasking.js fills (diagnostic.js). Renders HTML strings from
 * the ward JSON. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};
  var U = HM.util;
  var esc = U.esc;

  var PREVIOUS = { month: "previous month", quarter: "previous quarter", fy: "previous financial year",
    r12: "previous 12 months" };

  function pick(obj, names) {
    for (var i = 0; i < names.length; i++) {
      var path = names[i].split("."), v = obj;
      for (var j = 0; j < path.length && v !== null && v !== undefined; j++) { v = v[path[j]]; }
      if (v !== null && v !== undefined && v !== "") { return v; }
    }
    return null;
  }

  /** "up 12% (p = 0.03)" when the test found a change, otherwise "no significant change" (or "not tested"). */
  function changeText(kind, change, p, trend) {
    if (trend === "up" || trend === "down") {
      var size;
      if (kind === "survey") {
        size = U.isNum(change) ? Math.abs(change).toFixed(1) + " points" : "";
      } else if (U.isNum(change)) {
        size = Math.round(Math.abs(change) * 100).toLocaleString("en-GB") + "%";
      } else {
        size = trend === "up" ? "from none" : "";
      }
      return [trend, size].filter(Boolean).join(" ") + (U.isNum(p) ? " (" + U.pText(p) + ")" : "");
    }
    if (trend === "no_change") { return "no significant change"; }
    return "not tested";
  }

  // --- charts --------------------------------------------------------------------------------------------

  function niceMax(x) {
    if (!(x > 0)) { return 1; }
    var mag = Math.pow(10, Math.floor(Math.log10(x))), f = x / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  function pathOf(values, x, y) {
    var d = "", pen = false;
    values.forEach(function (v, i) {
      if (!U.isNum(v)) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      pen = true;
    });
    return d;
  }

  /** A labelled line chart of one monthly series; the chosen period's months are shaded. */
  function trendChart(months, values, opts) {
    var W = opts.width || 380, H = opts.height || 150, L = 34, R = 10, T = 10, B = 24;
    var n = months.length, ok = values.filter(U.isNum);
    if (!n || !ok.length) { return '<p class="hm-muted">No monthly figures for this ward.</p>'; }
    var top = niceMax(Math.max.apply(null, ok));
    var x = function (i) { return L + (n === 1 ? 0 : i * (W - L - R) / (n - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    var parts = [];
    // the chosen period
    if (opts.band) {
      var a = months.indexOf(opts.band[0]), b = months.indexOf(opts.band[1]);
      if (a >= 0 && b >= 0) {
        var half = n > 1 ? (W - L - R) / (n - 1) / 2 : 4;
        parts.push('<rect class="band" x="' + (x(a) - half).toFixed(1) + '" y="' + T + '" width="' +
          (x(b) - x(a) + 2 * half).toFixed(1) + '" height="' + (H - T - B) + '"/>');
      }
    }
    // y grid
    for (var g = 0; g <= 4; g++) {
      var gv = top * g / 4, gy = y(gv).toFixed(1);
      parts.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + gy + '" y2="' + gy + '"/>');
      parts.push('<text class="tick" x="' + (L - 4) + '" y="' + gy + '" dy="0.32em" text-anchor="end">' +
        U.smart(gv) + "</text>");
    }
    // x ticks: each January and the first month
    months.forEach(function (m, i) {
      if (i !== 0 && m.slice(5, 7) !== "01") { return; }
      if (i !== 0 && i < 4) { return; }  // keep the first label clear of the next
      var label = i === 0 || m.slice(5, 7) === "01" ? U.monthText(m) : "";
      parts.push('<line class="axis" x1="' + x(i).toFixed(1) + '" x2="' + x(i).toFixed(1) + '" y1="' + (H - B) +
        '" y2="' + (H - B + 4) + '"/>');
      parts.push('<text class="tick" x="' + x(i).toFixed(1) + '" y="' + (H - B + 15) + '" text-anchor="' +
        (i === 0 ? "start" : "middle") + '">' + esc(label) + "</text>");
    });
    parts.push('<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>');
    parts.push('<path class="line" d="' + pathOf(values, x, y) + '"/>');
    // the last figure, marked
    for (var i = n - 1; i >= 0; i--) {
      if (U.isNum(values[i])) {
        parts.push('<circle class="dot" cx="' + x(i).toFixed(1) + '" cy="' + y(values[i]).toFixed(1) + '" r="3"/>');
        break;
      }
    }
    var firstV = null, lastV = null, firstM = "", lastM = "", maxV = -Infinity, maxM = "";
    values.forEach(function (v, j) {
      if (!U.isNum(v)) { return; }
      if (firstV === null) { firstV = v; firstM = months[j]; }
      lastV = v; lastM = months[j];
      if (v > maxV) { maxV = v; maxM = months[j]; }
    });
    var summary = opts.label + " by month, " + U.monthText(months[0], true) + " to " + U.monthText(months[n - 1], true) +
      ": " + U.smart(firstV) + " in " + U.monthText(firstM, true) + ", " + U.smart(lastV) + " in " +
      U.monthText(lastM, true) + "; highest " + U.smart(maxV) + " in " + U.monthText(maxM, true) + ".";
    return '<svg class="hm-chart" viewBox="0 0 ' + W + " " + H + '" width="100%" role="img" aria-label="' +
      esc(summary) + '"><title>' + esc(summary) + "</title>" + parts.join("") + "</svg>";
  }

  /** A word-free sparkline for an indicator row (its numbers are in the row and the trend chart). */
  function sparkline(values) {
    var ok = (values || []).filter(U.isNum);
    if (ok.length < 2) { return ""; }
    var W = 84, H = 20, n = values.length, top = Math.max.apply(null, ok) || 1;
    var x = function (i) { return 1 + i * (W - 2) / (n - 1); };
    var y = function (v) { return H - 2 - (H - 4) * v / top; };
    return '<svg class="hm-spark" viewBox="0 0 ' + W + " " + H + '" width="' + W + '" height="' + H +
      '" aria-hidden="true"><path d="' + pathOf(values, x, y) + '"/></svg>';
  }

  // --- the panel -----------------------------------------------------------------------------------------

  function indicatorFigures(ind) {
    var lines = [];
    if (ind.suppressed) {  // a count from 1 to 4 for this reader's role (harmmap/disclosure.py)
      lines.push('<strong class="hm-suppressed">' + esc(ind.suppressed) + "</strong> · rate withheld");
    } else if (ind.kind === "survey") {
      var eb = U.isNum(ind.eb_pct) ? ind.eb_pct : null;
      if (eb !== null) {
        lines.push("<strong>" + U.num(eb, 0) + "%</strong> agree (95% interval " + U.num(ind.eb_lo, 0) + "–" +
          U.num(ind.eb_hi, 0) + "%)");
        lines.push(U.num(ind.respondents, 0) + " respondents; raw " + U.num(ind.pct, 0) + "% (" + U.num(ind.pct_lo, 0) +
          "–" + U.num(ind.pct_hi, 0) + "%)");
      } else {
        lines.push("No survey responses this period");
      }
    } else if (ind.kind === "value") {
      lines.push("<strong>£" + U.num(ind.value, 0) + "</strong> · £" + U.num(ind.rate_per_1000, 0) + " per 1,000 residents");
    } else {
      lines.push("<strong>" + U.num(ind.value, U.isNum(ind.value) && ind.value % 1 ? 1 : 0) + "</strong> · " +
        U.smart(ind.rate_per_1000) + " per 1,000 residents");
    }
    return lines;
  }

  function render(el, d, ctx) {
    var name = pick(d, ["ward_name", "name"]) || ctx.code;
    var borough = pick(d, ["borough_name", "borough.name", "borough"]);
    var code = pick(d, ["ward_code", "code"]) || ctx.code;
    var population = pick(d, ["population"]);
    var score = pick(d, ["score"]);
    var rankL = pick(d, ["rank_london", "ranks.london", "rank.london"]);
    var rankB = pick(d, ["rank_borough", "ranks.borough", "rank.borough"]);
    var decL = pick(d, ["decile_london", "deciles.london", "decile.london"]);
    var hotspot = pick(d, ["hotspot", "hotspot.class"]);
    var lisa = pick(d, ["lisa", "lisa_cluster", "lisa.cluster"]);
    var period = ctx.period || {};
    var h = [];

    h.push('<div class="hm-panel-head"><div><h2 id="hm-panel-title" tabindex="-1">' + esc(name) + "</h2>");
    h.push('<p class="hm-panel-sub">' + esc(typeof borough === "string" ? borough : "") + " · " + esc(code) +
      (U.isNum(population) ? " · " + U.num(population, 0) + " residents" : "") + "</p></div>");
    h.push('<button type="button" class="hm-close" id="hm-panel-close" aria-label="Close ward panel (Escape)">×</button></div>');
    h.push('<p class="hm-panel-period">' + esc(period.title || period.period || "") + "</p>");
    var why = ctx.tab === "why";
    h.push('<div class="hm-tabs" role="tablist" aria-label="' + esc(name) + '">' +
      '<button type="button" role="tab" id="hm-tab-figures" aria-controls="hm-tabpanel-figures" aria-selected="' + !why +
      '" tabindex="' + (why ? "-1" : "0") + '">Figures</button>' +
      '<button type="button" role="tab" id="hm-tab-why" aria-controls="hm-tabpanel-why" aria-selected="' + why +
      '" tabindex="' + (why ? "0" : "-1") + '">Why did confidence move?</button></div>');
    h.push('<div role="tabpanel" id="hm-tabpanel-why" aria-labelledby="hm-tab-why"' + (why ? "" : " hidden") +
      '><div id="hm-why-body"><p class="hm-muted">Loading…</p></div></div>');
    h.push('<div role="tabpanel" id="hm-tabpanel-figures" aria-labelledby="hm-tab-figures"' + (why ? " hidden" : "") + ">");

    if (d.city_of_london || !U.isNum(score)) {
      h.push('<p class="hm-note">' + esc(d.note || (d.city_of_london
        ? "The City of London is policed by the City of London Police, not the MPS: it has no harm index score."
        : "No harm index score for this ward in this period.")) + "</p>");
    } else {
      var of = U.isNum(ctx.wardsRanked) ? " of " + U.num(ctx.wardsRanked, 0) : "";
      h.push('<div class="hm-score"><span class="hm-score-n" id="hm-panel-score">' + U.num(score, 1) +
        '</span><span class="hm-score-l">Harm index<br>(0–100)</span><ul>');
      if (U.isNum(rankL)) {
        h.push("<li><strong>#" + rankL + "</strong>" + of + " in London" + (U.isNum(decL) ? " (decile " + decL + ")" : "") + "</li>");
      }
      if (U.isNum(rankB)) { h.push("<li><strong>#" + rankB + "</strong> in " + esc(typeof borough === "string" ? borough : "its borough") + "</li>"); }
      h.push("</ul></div>");
    }
    if (hotspot || lisa) {
      h.push('<p class="hm-spatial">');
      if (hotspot) { h.push("<strong>Hot spot test:</strong> " + esc(U.hotspotText(hotspot)) + ". "); }
      if (lisa) { h.push("<strong>Local cluster:</strong> " + esc(U.lisaText(lisa)) + "."); }
      h.push("</p>");
    }

    h.push(responseSection(d.response, d.london_response));

    // Why it ranks #N: each indicator's points; they add up to the score.
    var contributions = (d.contributions || []).filter(function (c) { return U.isNum(c.points); })
      .sort(function (a, b) { return b.points - a.points; });
    if (contributions.length && U.isNum(score)) {
      var maxP = Math.max.apply(null, contributions.map(function (c) { return c.points; })) || 1;
      h.push('<section aria-labelledby="hm-why-h"><h3 id="hm-why-h">Why it ranks ' + (U.isNum(rankL) ? "#" + rankL : "here") +
        '</h3><p class="hm-muted">Points each indicator adds to the score of ' + U.num(score, 1) + ".</p>");
      h.push('<table class="hm-bars"><caption class="hm-sr">Contribution of each indicator to the harm index, in points</caption>' +
        '<thead class="hm-sr"><tr><th scope="col">Indicator</th><th scope="col">Share</th><th scope="col">Points</th></tr></thead><tbody>');
      contributions.forEach(function (c) {
        var w = Math.max(0, c.points) / maxP * 100;
        h.push('<tr><th scope="row">' + esc(c.label || c.indicator) + '</th><td class="bar"><span style="width:' +
          w.toFixed(1) + '%"></span></td><td class="pts">' + U.num(c.points, 1) + "</td></tr>");
      });
      h.push("</tbody></table>");
      var withheld = (d.contributions || []).filter(function (c) { return c.suppressed; });
      if (withheld.length) {
        h.push('<p class="hm-muted">Points withheld (' + esc(withheld[0].suppressed) + "): " +
          esc(withheld.map(function (c) { return c.label || c.indicator; }).join(", ")) + ".</p>");
      }
      h.push("</section>");
    }

    // Trend over the months
    var trend = d.trend || {};
    var months = trend.months || [];
    var series = ctx.layer && ctx.layer !== "harm_index" && trend.series && trend.series[ctx.layer]
      ? trend.series[ctx.layer] : trend.score;
    var seriesLabel = series === trend.score ? "Harm index" : ctx.layerLabel;
    if (months.length) {
      h.push('<section aria-labelledby="hm-trend-h"><h3 id="hm-trend-h">' + esc(seriesLabel) + " by month</h3>");
      h.push(trendChart(months, series || [], { label: seriesLabel, band: [period.first_month, period.last_month] }));
      h.push('<p class="hm-muted hm-chart-key"><span class="hm-key-band"></span> ' + esc(period.title || "chosen period") + "</p>");
      var gaps = series !== trend.score && trend.suppressed && trend.suppressed[ctx.layer];
      if (gaps && gaps.length) {
        h.push('<p class="hm-muted">' + gaps.length + " month" + (gaps.length > 1 ? "s" : "") + " with " +
          esc(trend.suppressed_text || "fewer than 5") + " left blank.</p>");
      }
      h.push("</section>");
    }

    // Every indicator
    var inds = d.indicators || [];
    var layerOf = ctx.layerMeta || function () { return null; };
    if (inds.length) {
      h.push('<section aria-labelledby="hm-ind-h"><h3 id="hm-ind-h">Indicators</h3><ul class="hm-inds">');
      var family = null;
      inds.forEach(function (ind) {
        var lm = layerOf(ind.indicator) || {};
        if (lm.family && lm.family !== family) {  // the strategy's families, each under its own heading
          family = lm.family;
          h.push('<li class="hm-ind-family">' + esc(lm.family_label || family) + "</li>");
        }
        var change = ind.suppressed || ind.prev_suppressed
          ? "from " + (ind.prev_suppressed || U.num(ind.prev_value, 0)) + (ind.prev_trend ? " (" + ind.prev_trend.replace("_", " ") + ")" : "")
          : changeText(ind.kind, ind.prev_change, ind.prev_p, ind.prev_trend);
        var cls = ind.prev_trend === "up" ? "up" : ind.prev_trend === "down" ? "down" : "flat";
        h.push('<li class="hm-ind" data-indicator="' + esc(ind.indicator) + '"><div class="hm-ind-head"><span class="hm-ind-name">' +
          esc(ind.label || ind.indicator) + "</span>" + (ind.synthetic ? ' <span class="hm-tag-synthetic">synthetic</span>' : "") +
          sparkline(trend.series && trend.series[ind.indicator]) + "</div>");
        if (ind.available === false) {
          h.push('<div class="hm-ind-fig hm-muted">No figures for this period</div></li>');
          return;
        }
        indicatorFigures(ind).forEach(function (line) { h.push('<div class="hm-ind-fig">' + line + "</div>"); });
        if (lm.caveat) { h.push('<div class="hm-ind-fig hm-caveat">' + esc(lm.caveat) + "</div>"); }
        if (lm.also_note) { h.push('<div class="hm-ind-fig hm-caveat">' + esc(lm.also_note) + "</div>"); }
        h.push('<div class="hm-ind-fig">' + (U.isNum(ind.rank_london) ? "#" + ind.rank_london +
          (U.isNum(ind.n_london) ? " of " + ind.n_london : "") + " in London · " : "") +
          '<span class="hm-change ' + cls + '">vs ' + esc(PREVIOUS[period.kind] || "previous period") + ": " + esc(change) + "</span></div>");
        if ((period.kind === "month" || period.kind === "quarter") && ind.yoy_trend) {
          h.push('<div class="hm-ind-fig hm-muted">vs a year before: ' + esc(ind.suppressed || ind.yoy_suppressed ? ind.yoy_trend.replace("_", " ")
            : changeText(ind.kind, ind.yoy_change, ind.yoy_p, ind.yoy_trend)) + "</div>");
        }
        h.push("</li>");
      });
      h.push("</ul></section>");
    }

    var links = d.links || {};
    if (links.briefing || links.api) {
      h.push('<p class="hm-links">');
      if (links.briefing) {
        h.push('<a class="button" href="' + esc(links.briefing) + '" id="hm-link-briefing" target="_blank" rel="noopener" ' +
          'title="A4 briefing page for this ward and period (PDF, prints in black and white)">Print briefing (PDF)</a>');
      }
      if (links.api) { h.push('<a href="' + esc(links.api) + '" id="hm-link-api">API record</a>'); }
      h.push("</p>");
    }
    h.push("</div>");  // the figures tab
    el.innerHTML = h.join("");
    tabs(el, ctx);
  }

  /** The ward's police activity against need (harm.response): activity per 100 trafficking offences with its
   * interval beside London's, and its need x response class, in words. */
  function responseSection(r, london) {
    if (!r) { return ""; }
    var h = ['<section aria-labelledby="hm-nr-h" class="hm-nr"><h3 id="hm-nr-h">Police response against need</h3>'];
    if (r.suppressed) {
      h.push('<p class="hm-ind-fig"><strong class="hm-suppressed">Rate withheld</strong>: it would give back a count of ' +
        esc(r.suppressed) + " (police actions or trafficking offences). Against London: " + esc(r.vs_london_text) + ".</p>");
    } else if (U.isNum(r.per_100)) {
      h.push('<p class="hm-ind-fig"><strong id="hm-panel-response">' + U.num(r.per_100, 1) + "</strong> police actions per 100 " +
        "trafficking offences (95% interval " + U.num(r.per_100_lo, 1) + "–" + (U.isNum(r.per_100_hi) ? U.num(r.per_100_hi, 1) : "no upper limit") +
        "): " + esc(r.vs_london_text) + (london && U.isNum(london.per_100) ? " (London " + U.num(london.per_100, 1) + ")" : "") + ".</p>");
      h.push('<p class="hm-muted">' + U.num(r.activity, 0) + " actions against " + U.num(r.trafficking, 0) + " trafficking offences.</p>");
    } else {
      h.push('<p class="hm-ind-fig">No trafficking offences recorded: no rate.</p>');
    }
    if (r.quadrant_label) {
      h.push('<p class="hm-ind-fig hm-q-line"><i style="background:' + esc(r.quadrant_color || "#fff") + '"></i>' +
        esc(r.quadrant_label) + "</p>");
    }
    h.push('<p class="hm-muted">A diagnostic, not part of the harm score.</p></section>');
    return h.join("");
  }

  /** The panel's two tabs (WAI-ARIA tabs, automatic activation): arrows move between them. */
  function tabs(el, ctx) {
    var list = el.querySelector("[role=tablist]");
    if (!list) { return; }
    var all = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
    function select(tab, focus) {
      all.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.setAttribute("tabindex", on ? "0" : "-1");
        el.querySelector("#" + t.getAttribute("aria-controls")).hidden = !on;
      });
      if (focus) { tab.focus(); }
      if (ctx.onTab) { ctx.onTab(tab.id === "hm-tab-why" ? "why" : "figures"); }
    }
    list.addEventListener("click", function (e) {
      var t = e.target.closest("[role=tab]");
      if (t) { select(t, false); }
    });
    list.addEventListener("keydown", function (e) {
      var i = all.indexOf(e.target);
      if (i < 0) { return; }
      var next = e.key === "ArrowRight" ? all[(i + 1) % all.length] : e.key === "ArrowLeft" ? all[(i - 1 + all.length) % all.length]
        : e.key === "Home" ? all[0] : e.key === "End" ? all[all.length - 1] : null;
      if (next) { e.preventDefault(); select(next, true); }
    });
  }

  HM.panel = { render: render, changeText: changeText, trendChart: trendChart, sparkline: sparkline,
    responseSection: responseSection };
}());
