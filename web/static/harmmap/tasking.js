/* HarmMap tasking page: filters, URL state, the worst-wards table, search, the synthetic-data banner, the
 * ward panel and the area panel ("Why did confidence move?"), and the need x response chart, kept in step
 * with the map (wardmap.js). The whole view lives in the URL query:
 *   period, layer, borough, rule, n, threshold, ward, hotspots, response, why, chart
 * so a link reopens the same view and the back button steps back through changes. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};
  var U = HM.util;
  var esc = U.esc;

  var KINDS = [["month", "Months"], ["quarter", "Quarters"], ["fy", "Financial years"], ["r12", "Rolling 12 months"]];
  var DEFAULT_VIEW = { layer: "harm_index", borough: "", rule: "top_n", ward: "", hotspots: false, response: false,
    why: false, chart: false };
  var NEED_RESPONSE = "need_response";
  var FAMILY_ORDER = ["need", "response", "confidence"];
  function flag(q, name) { return q.get(name) === "1" || q.get(name) === "true"; }

  /** The view a query string names, corrected against what is published (`meta`, /map/meta.json) and the
   * worst rule's limits (`rules`: harmmap.scoring.WorstRule.limits(), handed over by the page). Pure, so
   * that the page's first view (web/map_pages.py initial_view) can be tested against the same cases
   * (tests/url_state_cases.json). The ward is upper-cased here and checked against the map by the caller. */
  function viewFromQuery(search, meta, rules) {
    var q = new URLSearchParams(search);
    var notes = [];
    var s = {
      period: q.get("period") || meta.default_period,
      layer: q.get("layer") || DEFAULT_VIEW.layer,
      borough: q.get("borough") || "",
      rule: q.get("rule") || DEFAULT_VIEW.rule,
      n: numberOr(q.get("n"), WHOLE, rules.default_n, rules.n),
      threshold: numberOr(q.get("threshold"), DECIMAL, rules.default_threshold, rules.threshold),
      ward: (q.get("ward") || "").toUpperCase(),
      hotspots: flag(q, "hotspots"),
      response: flag(q, "response"),   // the worst list shows each ward's police response
      why: flag(q, "why"),             // the panel on "Why did confidence move?" (the ward's, else the area's)
      chart: flag(q, "chart")          // the need x response chart, for London or the borough
    };
    var periodOf = function (label) { return meta.periods.filter(function (p) { return p.period === label; })[0] || null; };
    var layerOf = function (id) { return meta.layers.filter(function (l) { return l.id === id; })[0] || null; };
    if (!periodOf(s.period)) { notes.push("period " + s.period); s.period = meta.default_period; }
    if (!layerOf(s.layer)) { notes.push("layer " + s.layer); s.layer = DEFAULT_VIEW.layer; }
    s.layer = availableLayer(meta, s.period, s.layer, notes);
    if (s.borough) {
      // a code, or a borough's name typed into a link by hand ("Lambeth")
      var hit = meta.boroughs.filter(function (b) {
        return b.code === s.borough.toUpperCase() || b.name.toLowerCase() === s.borough.toLowerCase();
      })[0];
      if (hit) { s.borough = hit.code; } else { notes.push("borough " + s.borough); s.borough = ""; }
    }
    if (rules.modes.indexOf(s.rule) < 0) { notes.push("rule " + s.rule); s.rule = DEFAULT_VIEW.rule; }
    return { state: s, notes: notes };
  }

  function inRange(x, range) { return x >= range[0] && x <= range[1]; }

  /** What a URL's n and threshold must look like to be read at all (the same patterns as map_pages.py). */
  var WHOLE = /^\s*[+-]?\d+\s*$/, DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
  /** `text` as a number if it is written as one and lies in `range`, else `fallback`. */
  function numberOr(text, pattern, fallback, range) {
    if (!text || !pattern.test(text)) { return fallback; }
    var x = parseFloat(text);
    return inRange(x, range) ? x : fallback;
  }

  /** The layers `period` has figures for (meta.json). */
  function layersFor(meta, period) {
    var p = meta.periods.filter(function (x) { return x.period === period; })[0];
    return (p && p.layers) || meta.layers.map(function (l) { return l.id; });
  }

  /** `layer` if the period has figures for it, else the harm index (or the first layer it has). */
  function availableLayer(meta, period, layer, notes) {
    var have = layersFor(meta, period);
    if (have.indexOf(layer) >= 0) { return layer; }
    var instead = have.indexOf(DEFAULT_VIEW.layer) >= 0 ? DEFAULT_VIEW.layer : have[0] || DEFAULT_VIEW.layer;
    var l = meta.layers.filter(function (x) { return x.id === layer; })[0];
    var p = meta.periods.filter(function (x) { return x.period === period; })[0];
    notes.push((l ? l.label : layer) + " for " + ((p || {}).title || period) + " (no figures)");
    return instead;
  }
  HM.viewFromQuery = viewFromQuery;

  function $(id) { return document.getElementById(id); }

  function periodOption(p) {
    var f = p.first_month, l = p.last_month;
    if (p.kind === "month") { return U.monthText(l, true); }
    if (p.kind === "quarter") {
      return "Q" + p.period.slice(-1) + " " + l.slice(0, 4) + " (" + U.monthText(f).slice(0, 3) + "–" + U.monthText(l) + ")";
    }
    if (p.kind === "fy") { return p.period + " (Apr–Mar)"; }
    return "12 months to " + U.monthText(l);
  }

  /** The data the page came with (web/templates/map.html #hm-boot), or {}. */
  function readBoot() {
    var el = document.getElementById("hm-boot");
    try { return (el && JSON.parse(el.textContent)) || {}; } catch (e) { return {}; }
  }

  function tasking(map, options) {
    var RULES = options.rules;   // the worst rule's one set of limits (harmmap.scoring.WorstRule.limits)
    var meta = null;
    var state = null;
    var cache = { values: {}, worst: {}, ward: {}, diag: {} };
    var current = { values: null, worst: null, ward: null, diagnostic: [] };
    var lastTrigger = null;
    var stickyNote = "";   // a message that must outlive the next "loaded" (e.g. a bad link parameter)
    var mapEl = map.getContainer();
    var host = $("map-container");
    var panel = $("hm-panel"), panelBody = $("hm-panel-body");
    var chartEl = $("hm-chart");
    var drawnResponse = null;   // whether the drawn table shows the police response
    var panelArea = null;       // the area ("london" or a borough code) the area panel shows

    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Boundaries &amp; population: ONS, OS, GLA (OGL v3.0)");
    mapEl.setAttribute("aria-label", "Map of London wards. Use the worst-wards table or ward search to open a ward with the keyboard.");
    mapEl.setAttribute("role", "region");

    // --- status, legends ----------------------------------------------------------------------------------
    var status = L.control({ position: "topleft" });
    status.onAdd = function () {
      var div = L.DomUtil.create("div", "hm-status");
      div.id = "hm-status";
      div.setAttribute("role", "status");
      div.setAttribute("aria-live", "polite");
      return div;
    };
    status.addTo(map);
    // The status box shows what is loading or what went wrong; when idle, a standing note (e.g. what a
    // link asked for that does not exist) stays until the view next changes.
    var standing = "";
    function say(text, isError) {
      var div = $("hm-status"), shown = text || standing;
      div.textContent = shown;
      div.classList.toggle("error", !!isError || (!text && !!standing));
      div.hidden = !shown;
    }

    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "hm-legend");
      div.id = "hm-legend";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);

    var hotLegend = L.control({ position: "bottomright" });
    hotLegend.onAdd = function () {
      var div = L.DomUtil.create("div", "hm-legend hm-hot-legend");
      div.id = "hm-hot-legend";
      var swatch = function (k) {
        var h = HM.HOTSPOTS[k];
        return '<td><svg class="hm-swatch" width="18" height="13" role="img" aria-label="' + esc(h.label) + '"><rect x="0.5" y="0.5" width="17" height="12" fill="url(#hm-lg-' +
          k + ')" stroke="' + h.ink + '"' + (k.indexOf("cold") === 0 ? ' stroke-dasharray="4 2"' : "") + "/></svg></td>";
      };
      var rows = ['<svg width="0" height="0" aria-hidden="true" style="position:absolute">' + HM.patternDefs("hm-lg-") + "</svg>",
        '<h2>Hot and cold spots</h2><p class="hm-legend-sub">Getis-Ord Gi* of the harm index, FDR-corrected</p>',
        '<table class="hm-hot-table"><thead><tr><th scope="col">Confidence</th><th scope="col">Hot</th><th scope="col">Cold</th></tr></thead><tbody>'];
      ["99", "95", "90"].forEach(function (c) {
        rows.push('<tr><th scope="row">' + c + "%</th>" + swatch("hot_" + c) + swatch("cold_" + c) + "</tr>");
      });
      rows.push("</tbody></table>");
      div.innerHTML = rows.join("");
      return div;
    };

    // The page carries meta.json and the first view's figures (#hm-boot, web/map_pages.py first_view) and its
    // <head> preloads the ward shapes. Without them (nothing published yet), meta.json is fetched, and the figures
    // for the view the URL names are asked for as soon as it says what is published, before the shapes are built.
    var boot = readBoot();
    var metaLoaded = boot.meta ? Promise.resolve(boot.meta) : U.getJSON(options.meta_url);
    var figuresAsked = metaLoaded.then(function (m) { meta = m; fetchFigures(readURL(true).state); })
      .catch(function () { /* said below */ });

    var wm = HM.wardLayer(map, {
      url: options.wards_url, tolerances: options.tolerances, say: say, gate: figuresAsked,
      onSelect: function (code) { lastTrigger = null; selectWard(code, true); },
      onHover: function (code) { markRow(code); }
    });

    // --- state <-> URL --------------------------------------------------------------------------------------
    function periodMeta(label) {
      return meta.periods.filter(function (p) { return p.period === label; })[0] || null;
    }
    function layerMeta(id) {
      return meta.layers.filter(function (l) { return l.id === id; })[0] || null;
    }
    function boroughName(code) {
      var b = meta.boroughs.filter(function (x) { return x.code === code; })[0];
      return b ? b.name : "";
    }

    /** The view the URL names, checked against what is published (and, unless `early`, the loaded wards). */
    function readURL(early) {
      var r = viewFromQuery(window.location.search, meta, RULES);
      if (r.state.ward && !early && !wm.has(r.state.ward)) { r.notes.push("ward " + r.state.ward); r.state.ward = ""; }
      return r;
    }

    function toQuery(s) {
      var q = new URLSearchParams();
      q.set("period", s.period);
      if (s.layer !== DEFAULT_VIEW.layer) { q.set("layer", s.layer); }
      if (s.borough) { q.set("borough", s.borough); }
      if (s.rule !== DEFAULT_VIEW.rule) { q.set("rule", s.rule); }
      if (s.rule === "top_n" && s.n !== RULES.default_n) { q.set("n", String(s.n)); }
      if (s.rule === "threshold") { q.set("threshold", String(s.threshold)); }
      if (s.ward) { q.set("ward", s.ward); }
      if (s.hotspots) { q.set("hotspots", "1"); }
      if (s.response) { q.set("response", "1"); }
      if (s.why) { q.set("why", "1"); }
      if (s.chart) { q.set("chart", "1"); }
      return q.toString();
    }

    function worstParams(s) {
      return { period: s.period, borough: s.borough, rule: s.rule, n: s.rule === "top_n" ? s.n : "",
        threshold: s.rule === "threshold" ? s.threshold : "" };
    }

    // --- controls ---------------------------------------------------------------------------------------------
    /** The latest month any indicator has figures for ("2026-03"), from meta.data_updated. */
    function dataTo(updated) {
      if (!updated) { return ""; }
      if (typeof updated === "string") { return updated.slice(0, 7); }
      var last = "";
      Object.keys(updated.indicators || {}).forEach(function (k) {
        var m = updated.indicators[k].last || "";
        if (m > last) { last = m; }
      });
      return last;
    }
    function buildControls() {
      var sel = $("f-period"), h = [];
      KINDS.forEach(function (kind) {
        var ps = meta.periods.filter(function (p) { return p.kind === kind[0]; }).slice()
          .sort(function (a, b) { return a.last_month < b.last_month ? 1 : a.last_month > b.last_month ? -1 : 0; });
        if (!ps.length) { return; }
        h.push('<optgroup label="' + esc(kind[1]) + '">');
        ps.forEach(function (p) { h.push('<option value="' + esc(p.period) + '">' + esc(periodOption(p)) + "</option>"); });
        h.push("</optgroup>");
      });
      sel.innerHTML = h.join("");
      // the layers under the strategy's three families (meta.families), in meta's order within each
      var families = (meta.families || []).length ? meta.families.map(function (f) { return f.id; }) : FAMILY_ORDER;
      var grouped = families.map(function (fam) {
        var ls = meta.layers.filter(function (l) { return (l.family || "need") === fam; });
        ls.sort(function (a, b) { return (b.id === NEED_RESPONSE) - (a.id === NEED_RESPONSE); });  // the view before its parts
        if (!ls.length) { return ""; }
        var label = ls[0].family_label || fam;
        return '<optgroup label="' + esc(label) + '" data-family="' + esc(fam) + '">' + ls.map(function (l) {
          var note = l.synthetic && l.id !== "harm_index" ? " (synthetic)" : "";  // the banner says what the index holds
          var also = l.also ? " (also an outcome)" : "";
          return '<option value="' + esc(l.id) + '">' + esc(l.label) + also + note + "</option>";
        }).join("") + "</optgroup>";
      });
      $("f-layer").innerHTML = grouped.join("");
      $("f-borough").innerHTML = '<option value="">All London</option>' + meta.boroughs.slice()
        .sort(function (a, b) { return a.name.localeCompare(b.name); })
        .map(function (b) { return '<option value="' + esc(b.code) + '">' + esc(b.name) + "</option>"; }).join("");
      var upd = [], lastMonth = dataTo(meta.data_updated);
      if (lastMonth) { upd.push("Data to " + U.monthText(lastMonth, true)); }
      if (meta.published_at) { upd.push("index published " + U.timeText(meta.published_at)); }
      $("hm-updated").textContent = upd.join(" · ");
      $("hm-foot-updated").textContent = upd.length ? upd.join(", ") + "." : "";

      function onChange(id, fn) { $(id).addEventListener("change", fn); }
      onChange("f-period", function (e) {
        var notes = [], layer = availableLayer(meta, e.target.value, state.layer, notes);
        if (notes.length) { stickyNote = "Showing the " + (layerMeta(layer) || {}).label + ": no figures for " + notes[0].replace(/ \(no figures\)$/, ""); }
        go({ period: e.target.value, layer: layer });
      });
      onChange("f-layer", function (e) { go({ layer: e.target.value }); });
      onChange("f-borough", function (e) { go({ borough: e.target.value }, { fit: "borough" }); });
      onChange("f-rule", function (e) { go({ rule: e.target.value }); });
      onChange("f-n", function (e) {
        var n = parseInt(e.target.value, 10);
        if (inRange(n, RULES.n)) { go({ n: n }); } else { e.target.value = state.n; }
      });
      onChange("f-threshold", function (e) {
        var t = parseFloat(e.target.value);
        if (inRange(t, RULES.threshold)) { go({ threshold: t }); } else { e.target.value = state.threshold; }
      });
      onChange("f-hotspots", function (e) { go({ hotspots: e.target.checked }); });
      onChange("f-response", function (e) { go({ response: e.target.checked }); });
      $("f-chart").addEventListener("click", function () { go({ chart: true }); });
      $("f-why").addEventListener("click", function () { lastTrigger = null; go({ ward: "", why: true }, { focus: true }); });
      $("hm-filters").addEventListener("submit", function (e) { e.preventDefault(); });
    }

    function syncControls() {
      var have = layersFor(meta, state.period);
      Array.prototype.forEach.call($("f-layer").options, function (o) {
        o.disabled = have.indexOf(o.value) < 0;
        o.title = o.disabled ? "No figures for this period" : "";
      });
      $("f-period").value = state.period;
      $("f-layer").value = state.layer;
      $("f-borough").value = state.borough;
      $("f-rule").value = state.rule;
      $("f-n").value = String(state.n);
      $("f-threshold").value = String(state.threshold);
      $("f-hotspots").checked = state.hotspots;
      $("f-response").checked = state.response;
      var place = state.borough ? boroughName(state.borough) : "London";
      $("f-why-where").textContent = " (" + place + ")";
      $("f-chart-where").textContent = " (" + place + ")";
      var noNR = layersFor(meta, state.period).indexOf(NEED_RESPONSE) < 0;
      $("f-chart").disabled = noNR;
      $("f-chart").title = noNR ? "No need x response figures for this period" : "Need against police response, ward by ward, for " + place;
      $("f-n-wrap").hidden = state.rule !== "top_n";
      $("f-threshold-wrap").hidden = state.rule !== "threshold";
    }

    // --- rendering ------------------------------------------------------------------------------------------
    function ruleText(s) {
      var where = s.borough ? " in " + boroughName(s.borough) : " in London";
      if (s.rule === "top_decile") { return "Worst 10% of wards" + where; }
      if (s.rule === "threshold") { return "Wards scoring " + s.threshold + " or more" + where; }
      return "Worst " + s.n + " wards" + where;
    }

    function drawBanner() {
      var p = periodMeta(state.period), names = [], seen = {};
      function add(id, label) { if (!seen[id]) { seen[id] = true; names.push(label); } }
      meta.layers.forEach(function (l) {
        if (l.id !== "harm_index" && l.synthetic && p && p.weights && p.weights[l.id] > 0) { add(l.id, l.label); }
      });
      var layer = layerMeta(state.layer);
      if (layer && layer.synthetic && layer.id !== "harm_index") { add(layer.id, layer.label); }
      // the worst-wards table is the harm index: its synthetic parts are shown whatever the layer
      ((current.worst && current.worst.synthetic_indicators) || []).forEach(function (id) {
        var l = layerMeta(id);
        add(id, l ? l.label : id);
      });
      if (state.ward && current.ward && current.ward.indicators) {
        current.ward.indicators.forEach(function (i) { if (i.synthetic) { add(i.indicator, i.label || i.indicator); } });
      }
      // the diagnostic on screen (ward tab or area panel) and the need x response chart
      if (state.why) {
        current.diagnostic.forEach(function (id) { var l = layerMeta(id); if (l && l.synthetic) { add(id, l.label); } });
      }
      var nr = layerMeta(NEED_RESPONSE);
      if (state.chart && nr && nr.synthetic) { add(NEED_RESPONSE, nr.label); }
      var banner = $("hm-synthetic");
      if (names.length || (p && p.synthetic)) {
        $("hm-synthetic-list").textContent = names.length ? names.join(", ") : "some indicators in this period";
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
    }

    /** "12.3 (95% 9.1–16.0)": a rate per 100 with its interval. */
    function rateText(v, lo, hi) { return HM.quadrant.rateText(v, lo, hi); }

    /** The need x response layer's tooltip lines for one ward (wardmap.js view.describe): its class, its
     * police actions per 100 trafficking offences with the interval, London's rate, and its need. */
    function describeNeedResponse(v) {
      return function (code, d) {
        var c = (v.classes || [])[d.k] || {}, lines = [];
        if (c.label) { lines.push("<strong>" + esc(c.label) + "</strong>"); }
        if (d.suppressed) {
          lines.push("Police actions per 100 trafficking offences: withheld (it would give back a count of " + esc(d.suppressed) + ")");
        } else if (U.isNum(d.v)) {
          lines.push("Police actions per 100 trafficking offences: <strong>" + esc(rateText(d.v, d.lo, d.hi)) + "</strong>");
        } else {
          lines.push(d.k === null || d.k === undefined ? "Need x response: no data" : "No trafficking offences recorded: no rate");
        }
        if (v.london && U.isNum(v.london.per_100)) { lines.push("London: " + U.num(v.london.per_100, 1) + " per 100"); }
        if (U.isNum(d.need)) {
          lines.push("Need: harm index " + U.num(d.need, 1) + (U.isNum(d.decile) ? " (London decile " + d.decile + ")" : ""));
        }
        return lines;
      };
    }

    function drawLegend(v) {
      var layer = layerMeta(state.layer) || {}, p = periodMeta(state.period) || {};
      var nr = state.layer === NEED_RESPONSE;
      var h = ["<h2>" + esc(v.label || layer.label) + "</h2>",
        '<p class="hm-legend-family" id="hm-legend-family">' + esc(v.family_label || layer.family_label || "") + "</p>",
        '<p class="hm-legend-sub">' + esc(v.unit || layer.unit || "") + (v.unit || layer.unit ? " · " : "") + esc(v.title || p.title || state.period) + "</p>"];
      $("hm-legend").classList.toggle("hm-legend-wide", nr);
      var isIndex = state.layer === "harm_index";
      (v.classes || []).forEach(function (c) {
        // the index's bands are ranks: give the scores each holds too
        var extra = isIndex && U.isNum(c.min) && U.isNum(c.max) ? U.num(c.min, 0) + "–" + U.num(c.max, 0) : "";
        h.push('<div class="hm-legend-row"' + (U.isNum(c.count) ? ' title="' + c.count + ' wards"' : "") +
          '><i style="background:' + esc(c.color) + '"></i><span class="hm-legend-label">' + esc(c.label) +
          "</span>" + (extra ? '<span class="hm-legend-extra" title="Scores in this band">' + esc(extra) + "</span>" : "") + "</div>");
      });
      if (isIndex) {
        h.push('<p class="hm-legend-note">Bands are deciles of ' + esc(state.borough ? boroughName(state.borough) + "'s" : "London's") +
          " ranked wards; the numbers are the scores in each band.</p>");
      }
      if (nr) {
        var ref = [];
        if (v.london && U.isNum(v.london.per_100)) { ref.push("London " + rateText(v.london.per_100, v.london.per_100_lo, v.london.per_100_hi)); }
        if (v.area && U.isNum(v.area.per_100) && state.borough) { ref.push(boroughName(state.borough) + " " + rateText(v.area.per_100, v.area.per_100_lo, v.area.per_100_hi)); }
        if (ref.length) { h.push('<p class="hm-legend-note" id="hm-legend-london">Per 100: ' + esc(ref.join("; ")) + ".</p>"); }
        h.push('<p class="hm-legend-note">Named only when a ward\'s 95% interval lies clear of London\'s rate. ' + esc(v.need_levels || "") +
          (state.borough ? " Classes are London's." : "") + "</p>");
      }
      var caveat = v.caveat || layer.caveat;
      if (caveat) { h.push('<p class="hm-legend-note hm-caveat" id="hm-legend-caveat">' + esc(caveat) + "</p>"); }
      if (layer.also_note) { h.push('<p class="hm-legend-note hm-caveat">' + esc(layer.also_note) + "</p>"); }
      h.push('<div class="hm-legend-row"><i class="nodata"></i>No data / not scored</div>');
      h.push('<div class="hm-legend-row"><i class="city"></i>City of London (not MPS)</div>');
      h.push('<div class="hm-legend-row"><i class="worst"></i><span>Outlined and numbered: ' + esc(ruleText(state).replace(/^W/, "w")) + "</span></div>");
      if (state.borough) { h.push('<div class="hm-legend-row"><i class="faded"></i>Outside ' + esc(boroughName(state.borough)) + "</div>"); }
      if (state.layer === "harm_index" && p.dropped && p.dropped.length) {
        var labels = p.dropped.map(function (id) { var l = layerMeta(id); return l ? l.label : id; });
        h.push('<p class="hm-legend-note">No data this period for ' + esc(labels.join(", ")) +
          ": the index shares out their weight among the other indicators.</p>");
      }
      // the outlined wards are the index's: say when police activity was weighted into it
      var note = (current.worst && current.worst.response_note) || p.response_note;
      if (note) { h.push('<p class="hm-legend-note hm-response-note" id="hm-legend-response-note">' + esc(note) + "</p>"); }
      $("hm-legend").innerHTML = h.join("");
    }

    /** "Drug trafficking offences" -> "drug trafficking offences"; "PAS: ..." stays as it is. */
    function midSentence(label) {
      return /^[A-Z][a-z]/.test(label) ? label.charAt(0).toLowerCase() + label.slice(1) : label;
    }

    /** "Response 18.8 (95% 8.1–38.6) per 100 · no clear difference from London's rate" for a worst row. */
    function responseLine(r) {
      var x = r.response;
      if (!x) { return "Response: no figures this period"; }
      var t = x.suppressed ? "Response withheld (" + x.suppressed + ")"
        : U.isNum(x.per_100) ? "Response " + rateText(x.per_100, x.per_100_lo, x.per_100_hi) + " per 100" : "Response: no trafficking offences";
      return t + " · " + x.vs_london_text;
    }

    function drawTable(w) {
      var rows = w.rows || [];
      var body = $("worst-rows");
      drawnResponse = state.response;
      $("worst-title").textContent = ruleText(state);
      $("worst-rank-h").textContent = state.borough ? "Rank in borough" : "Rank";
      $("worst-note").textContent = w.note || "";
      var rn = $("worst-response-note");
      rn.textContent = w.response_note || "";
      rn.hidden = !w.response_note;
      var lr = w.london_response;
      $("worst-response-key").textContent = state.response
        ? "Ordered by need alone. Beside each ward: police actions per 100 trafficking offences (95% interval)" +
          (lr && U.isNum(lr.per_100) ? "; London " + U.num(lr.per_100, 1) : "") + "."
        : "";
      $("worst-response-key").hidden = !state.response;
      var h = rows.map(function (r) {
        var top = (r.top_indicators || [])[0];
        var sub = [state.borough ? "London #" + r.rank_london : r.borough_name];
        if (top && U.isNum(top.points)) { sub.push("mainly " + midSentence(top.label || top.indicator) + " (" + U.num(top.points, 1) + " pts)"); }
        var resp = "";
        if (state.response) {
          var q = r.response && r.response.quadrant;
          resp = '<span class="hm-resp">' + esc(responseLine(r)) + "</span>" +
            (q === "tasking_candidate" || q === "possible_over_attention"
              ? '<span class="hm-q-tag ' + esc(q) + '">' + esc(q === "tasking_candidate" ? "candidate for tasking" : "possible over-attention") + "</span>" : "");
        }
        var hs = HM.HOTSPOTS[r.hotspot] ? '<span class="hm-hs ' + (r.hotspot.indexOf("hot") === 0 ? "hot" : "cold") +
          '" title="' + esc(U.hotspotText(r.hotspot)) + '">' + esc(HM.HOTSPOTS[r.hotspot].label.replace(", ", " ")) + "</span>" : "";
        return '<tr tabindex="0" data-ward="' + esc(r.ward_code) + '" aria-label="' + esc("#" + r.rank + " " + r.ward_name + ", " +
          r.borough_name + ", score " + U.num(r.score, 1) + (state.response ? "; " + responseLine(r) : "")) + '"><td class="rank">' + esc(r.rank) + '</td><td class="ward"><span class="name">' +
          esc(r.ward_name) + "</span>" + hs + '<span class="sub">' + esc(sub.join(" · ")) + "</span>" + resp + '</td><td class="score">' +
          U.num(r.score, 1) + "</td></tr>";
      });
      body.innerHTML = h.length ? h.join("") : '<tr class="empty"><td colspan="3">No ward meets this rule.</td></tr>';
      var csv = options.worst_csv_url + U.query(worstParams(state));
      $("worst-csv").setAttribute("href", csv);
      var brief = $("brief-borough");
      brief.hidden = !state.borough;
      if (state.borough) {
        brief.setAttribute("href", options.brief_borough_url.replace("__CODE__", encodeURIComponent(state.borough)) +
          U.query({ period: state.period }));
        brief.textContent = "Print " + boroughName(state.borough) + " briefing";
      }
      markSelectedRow();
    }

    function markRow(code) {
      Array.prototype.forEach.call(document.querySelectorAll("#worst-rows tr.hover"), function (tr) { tr.classList.remove("hover"); });
      if (code) {
        var tr = document.querySelector('#worst-rows tr[data-ward="' + code + '"]');
        if (tr) { tr.classList.add("hover"); }
      }
    }
    function markSelectedRow() {
      Array.prototype.forEach.call(document.querySelectorAll("#worst-rows tr"), function (tr) {
        if (tr.getAttribute("data-ward") === state.ward) { tr.setAttribute("aria-current", "true"); } else { tr.removeAttribute("aria-current"); }
      });
    }

    /** How much of the map's left and right the ward panel and the legend cover (pixels): fits keep wards
     * clear of them. A panel that covers most of the map (small screens) leaves nothing to pad for. */
    function covered() {
      var pad = { left: 0, right: 0 }, m = host.getBoundingClientRect();
      if (!panel.hidden) {
        var p = panel.getBoundingClientRect();
        var overlap = Math.max(0, Math.min(m.right, p.right) - Math.max(m.left, p.left));
        if (overlap < m.width * 0.7) {
          if (p.left - m.left < m.right - p.right) { pad.left = overlap; } else { pad.right = overlap; }
        }
      }
      var lg = $("hm-legend"), w = lg ? lg.offsetWidth + 10 : 0;
      if (w && m.width - pad.left - pad.right - w >= 320) { pad.right += w; }
      return pad;
    }

    function openPanel() {
      panel.hidden = false;
      document.body.classList.add("panel-open");
      document.body.classList.toggle("panel-wide", !!state.why);  // room for the diagnostic's table
    }
    function closePanelView() {
      current.diagnostic = [];
      panel.hidden = true;
      document.body.classList.remove("panel-open", "panel-wide");
      current.ward = null;
      panelArea = null;
      host.removeAttribute("data-panel-ward");
      host.removeAttribute("data-panel-area");
      host.removeAttribute("data-diagnostic");
    }

    // --- why did confidence move? (diagnostic.js) ------------------------------------------------------------
    /** Both windows of the diagnostic for `area` (london, a borough or a ward code) in the view's period, drawn
     * into `target` once both have answered; a window that cannot be answered says why in its place. */
    function loadDiagnostic(area, target, idPrefix) {
      var period = state.period;
      var asks = ["previous", "baseline"].map(function (against) {
        var url = options.diagnostic_url + U.query({ area: area, period: period, against: against });
        return fetchCached("diag", url, url).then(function (b) { return b; }, function (e) { return { error: e.message }; });
      });
      host.removeAttribute("data-diagnostic");
      Promise.all(asks).then(function (r) {
        if (state.period !== period || !document.body.contains(target)) { return; }
        HM.diagnostic.render(target, { previous: r[0], baseline: r[1] }, { idPrefix: idPrefix });
        current.diagnostic = [];
        r.forEach(function (b) {
          ["pas", "response", "need"].forEach(function (k) { (b[k] || []).forEach(function (x) { current.diagnostic.push(x.indicator); }); });
        });
        host.setAttribute("data-diagnostic", area + "|" + period);
        drawBanner();
      });
    }

    /** The area panel: why confidence moved in the borough in focus, or in London. */
    function showArea(focus) {
      var area = state.borough || "london", name = state.borough ? boroughName(state.borough) : "London";
      var p = periodMeta(state.period) || {};
      if (panelArea === area + "|" + state.period && !panel.hidden) {
        if (focus) { $("hm-panel-title").focus({ preventScroll: true }); }
        return;
      }
      current.ward = null;
      host.removeAttribute("data-panel-ward");
      panelArea = area + "|" + state.period;
      panelBody.innerHTML = '<div class="hm-panel-head"><div><h2 id="hm-panel-title" tabindex="-1">Why did confidence move in ' +
        esc(name) + "?</h2>" + '<p class="hm-panel-sub">' + (state.borough ? "The borough" : "All London") +
        ": its confidence, police response and need</p></div>" +
        '<button type="button" class="hm-close" id="hm-panel-close" aria-label="Close (Escape)">×</button></div>' +
        '<p class="hm-panel-period">' + esc(p.title || state.period) + "</p>" +
        '<div id="hm-why-body" class="hm-area-why"><p class="hm-muted">Loading…</p></div>';
      $("hm-panel-close").addEventListener("click", function () { closeArea(); });
      openPanel();
      host.setAttribute("data-panel-area", area + "|" + state.period);
      if (focus) { $("hm-panel-title").focus({ preventScroll: true }); }
      loadDiagnostic(area, $("hm-why-body"), "hm-area-diag");
    }
    function closeArea() {
      if (!state.why || state.ward) { return; }
      go({ why: false });
      closePanelView();
      $("f-why").focus();
    }

    // --- the need x response chart (quadrant.js) ---------------------------------------------------------------
    function openChart() {
      var s = state, vp = { period: s.period, layer: NEED_RESPONSE, borough: s.borough };
      var key = U.query(vp), name = s.borough ? boroughName(s.borough) : "London";
      if (chartEl.open && host.getAttribute("data-chart") === s.period + "|" + s.borough) { return; }
      if (!chartEl.open) {
        chartEl.innerHTML = '<p class="hm-muted">Loading the chart…</p>';
        chartEl.showModal();
      }
      host.removeAttribute("data-chart");
      fetchCached("values", options.values_url + key, key).then(function (v) {
        if (!state.chart || state.period !== s.period || state.borough !== s.borough) { return; }
        HM.quadrant.render(chartEl, v, {
          borough: s.borough, areaName: s.borough ? name : "", names: function (code) { return wm.properties(code) || {}; },
          onSelect: function (code) { lastTrigger = $("f-chart"); selectWard(code, true, { chart: false }); },
          onClose: function () { closeChart(); }
        });
        host.setAttribute("data-chart", s.period + "|" + s.borough);
        $("hm-chart-title").focus({ preventScroll: true });
      }).catch(function (e) {
        if (!state.chart) { return; }
        chartEl.innerHTML = '<div class="hm-chart-head"><h2 id="hm-chart-title" tabindex="-1">Need x response, ' + esc(name) +
          '</h2><button type="button" class="hm-close" id="hm-chart-close" aria-label="Close the chart (Escape)">×</button></div>' +
          '<p class="hm-note">' + esc(e.message) + "</p>";
        $("hm-chart-close").addEventListener("click", function () { closeChart(); });
        $("hm-chart-title").focus();
      });
    }
    function closeChart() {
      if (!state.chart) { if (chartEl.open) { chartEl.close(); } return; }
      go({ chart: false });
      $("f-chart").focus();
    }
    chartEl.addEventListener("cancel", function (e) { e.preventDefault(); closeChart(); });

    function showWard(focus) {
      var code = state.ward, period = state.period, key = period + "|" + code;
      var p = periodMeta(period);
      var ctx = { code: code, period: p, layer: state.layer, tab: state.why ? "why" : "figures",
        layerLabel: (layerMeta(state.layer) || {}).label, layerMeta: layerMeta,
        onTab: function (tab) {
          // a tab is part of the view (why=1), but switching it redraws nothing else
          var why = tab === "why";
          if (why !== state.why) {
            state = Object.assign({}, state, { why: why });
            document.body.classList.toggle("panel-wide", why);
            history.pushState(null, "", window.location.pathname + "?" + toQuery(state));
            host.setAttribute("data-view", toQuery(state));
          }
          if (why && !host.getAttribute("data-diagnostic")) { loadDiagnostic(code, $("hm-why-body"), "hm-ward-diag"); }
        } };
      function draw(d) {
        current.ward = d;
        panelArea = null;
        host.removeAttribute("data-panel-area");
        host.removeAttribute("data-diagnostic");
        ctx.wardsRanked = U.isNum(d.n_london) ? d.n_london : p && p.wards_ranked;
        HM.panel.render(panelBody, d, ctx);
        $("hm-panel-close").addEventListener("click", function () { closeWard(); });
        openPanel();
        if (focus) { var t = $("hm-panel-title"); if (t) { t.focus({ preventScroll: true }); } }
        host.setAttribute("data-panel-ward", code + "|" + period + "|" + state.layer);
        if (ctx.tab === "why") { loadDiagnostic(code, $("hm-why-body"), "hm-ward-diag"); }
        drawBanner();
      }
      if (cache.ward[key]) { draw(cache.ward[key]); return; }
      if (panel.hidden || panelArea) {
        panelBody.innerHTML = '<div class="hm-panel-head"><div><h2 id="hm-panel-title" tabindex="-1">' +
          esc((wm.properties(code) || {}).ward_name || code) + '</h2><p class="hm-panel-sub">Loading…</p></div>' +
          '<button type="button" class="hm-close" id="hm-panel-close" aria-label="Close ward panel (Escape)">×</button></div>';
        $("hm-panel-close").addEventListener("click", function () { closeWard(); });
        openPanel();
      }
      U.getJSON(options.ward_url.replace("__CODE__", encodeURIComponent(code)) + U.query({ period: period }), "ward")
        .then(function (d) {
          cache.ward[key] = d;
          if (state.ward === code && state.period === period) { draw(d); }
        })
        .catch(function (e) {
          if (state.ward !== code) { return; }
          var sub = panelBody.querySelector(".hm-panel-sub");
          if (sub) { sub.textContent = "Could not load this ward: " + e.message; } else { say("Could not load this ward: " + e.message, true); }
        });
    }

    /** One request per distinct query, kept (as its promise) so Back is instant and a figure asked for twice
     * (the early fetch at start, then the first draw) is fetched once. Failures are not kept. */
    function fetchCached(kind, url, key, ready) {
      if (cache[kind][key]) { return cache[kind][key]; }
      if (Object.keys(cache[kind]).length > 40) { cache[kind] = {}; }
      var p = ready ? Promise.resolve(ready) : U.getJSON(url);
      cache[kind][key] = p;
      p.catch(function () { if (cache[kind][key] === p) { delete cache[kind][key]; } });
      return p;
    }
    function fetchFigures(s) {
      var vp = { period: s.period, layer: s.layer, borough: s.borough }, wp = worstParams(s);
      return [fetchCached("values", options.values_url + U.query(vp), U.query(vp), fromBoot("values", s)),
        fetchCached("worst", options.worst_url + U.query(wp), U.query(wp), fromBoot("worst", s))];
    }
    /** The page's own copy of values.json or worst.json, if it is the one view `s` needs (used once). */
    function fromBoot(kind, s) {
      var b = boot[kind];
      if (!b) { return null; }
      var same = b.period === s.period && (b.borough ? b.borough.code : "") === s.borough &&
        (kind === "values" ? b.layer === s.layer
          : b.rule === s.rule && (s.rule !== "top_n" || b.n === s.n) && (s.rule !== "threshold" || b.threshold === s.threshold));
      if (same) { delete boot[kind]; }
      return same ? b : null;
    }

    /** Draw the view `state` names. how.fit: "borough" | "ward" (where to move the map); how.animate: false to
     * jump; how.focus: move focus to the panel. */
    function render(how) {
      how = how || {};
      syncControls();
      drawBanner();
      var s = state, q = toQuery(s);
      say("Loading " + (periodMeta(s.period) || {}).title + "…");
      Promise.all(fetchFigures(s)).then(function (r) {
        if (toQuery(state) !== q) { return; }  // the view moved on while these loaded
        var v = r[0], w = r[1], sameTable = w === current.worst && drawnResponse === s.response;
        current.values = v; current.worst = w;
        wm.setView({ values: v.wards || {}, classes: v.classes || [], borough: s.borough, worst: w.rows || [],
          selected: s.ward, hotspots: s.hotspots, label: v.label || (layerMeta(s.layer) || {}).label, unit: v.unit || "",
          describe: s.layer === NEED_RESPONSE ? describeNeedResponse(v) : null });
        wm.show();
        if (s.hotspots) { hotLegend.addTo(map); } else { hotLegend.remove(); }
        drawLegend(v);
        if (sameTable) { markSelectedRow(); } else { drawTable(w); }  // redrawing would drop the focused row
        drawBanner();
        standing = stickyNote;
        stickyNote = "";
        say("");
        host.setAttribute("data-view", q);
      }).catch(function (e) { wm.show(); standing = "Could not load the map figures: " + e.message; say(""); });

      // the chart first: closing a modal dialog gives focus back to what opened it, before the panel takes it
      if (s.chart) { openChart(); } else if (chartEl.open) { chartEl.close(); host.removeAttribute("data-chart"); }
      if (s.ward) { showWard(!!how.focus); } else if (s.why) { showArea(!!how.focus); } else if (!panel.hidden) { closePanelView(); }
      markSelectedRow();

      map.invalidateSize({ pan: false });  // the banner above may just have appeared: fit to the real size
      var animate = how.animate !== false;
      if (how.fit === "ward" && s.ward) {
        wm.flyToWard(s.ward, covered(), animate);
      } else if (how.fit === "borough") {
        wm.fitBorough(s.borough, covered(), animate);  // "" fits London
      }
      document.title = (s.ward && wm.properties(s.ward) ? wm.properties(s.ward).ward_name + " · " : "") +
        (s.borough ? boroughName(s.borough) + " · " : "") + "HarmMap tasking map";
    }

    /** Change the view: merge `changes`, add a history entry (unless how.replace), draw. */
    function go(changes, how) {
      how = how || {};
      var next = Object.assign({}, state, changes);
      var q = toQuery(next);
      if (q === toQuery(state)) { return; }
      state = next;
      var url = window.location.pathname + "?" + q;
      if (how.replace) { history.replaceState(null, "", url); } else { history.pushState(null, "", url); }
      render(how);
    }

    function selectWard(code, focus, also) {
      if (!wm.has(code)) { return; }
      if (state.ward === code && !also) {
        wm.flyToWard(code, covered(), true);
        if (focus) { var t = $("hm-panel-title"); if (t) { t.focus({ preventScroll: true }); } }
        return;
      }
      go(Object.assign({ ward: code }, also || {}), { fit: "ward", focus: focus });
    }
    function closeWard() {
      if (!state.ward) { return; }
      var back = lastTrigger;
      go({ ward: "", why: false });
      closePanelView();
      if (back && !document.body.contains(back) && back.getAttribute("data-ward")) {
        back = document.querySelector('#worst-rows tr[data-ward="' + back.getAttribute("data-ward") + '"]');
      }
      if (back && document.body.contains(back)) { back.focus(); }
      lastTrigger = null;
    }

    // --- the table ------------------------------------------------------------------------------------------
    var rowsEl = $("worst-rows");
    function rowOf(e) { return e.target.closest ? e.target.closest("tr[data-ward]") : null; }
    rowsEl.addEventListener("click", function (e) {
      var tr = rowOf(e);
      if (tr) { lastTrigger = tr; selectWard(tr.getAttribute("data-ward"), false); }
    });
    rowsEl.addEventListener("keydown", function (e) {
      var tr = rowOf(e);
      if (!tr) { return; }
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        lastTrigger = tr;
        selectWard(tr.getAttribute("data-ward"), true);
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        var sib = e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
        if (sib && sib.hasAttribute("data-ward")) { sib.focus(); }
      }
    });
    rowsEl.addEventListener("mouseover", function (e) { var tr = rowOf(e); wm.highlight(tr ? tr.getAttribute("data-ward") : ""); });
    rowsEl.addEventListener("mouseleave", function () { wm.highlight(""); });
    rowsEl.addEventListener("focusin", function (e) { var tr = rowOf(e); if (tr) { wm.highlight(tr.getAttribute("data-ward")); } });
    rowsEl.addEventListener("focusout", function () { wm.highlight(""); });

    $("worst-toggle").addEventListener("click", function () {
      var shown = document.body.classList.toggle("worst-hidden") === false;
      this.setAttribute("aria-expanded", String(shown));
      this.textContent = shown ? "Hide list" : "Show worst wards";
      map.invalidateSize();
    });

    // --- search (ARIA 1.2 combobox with a listbox popup) --------------------------------------------------------
    var input = $("f-search"), list = $("f-search-list"), results = [], active = -1, pendingEnter = false;
    var wanted = "";  // the text a lookup is for; cleared once a ward is chosen, so late answers are dropped
    function closeList() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function drawList() {
      if (!results.length) {
        list.innerHTML = '<li class="none" role="option" aria-disabled="true">No ward matches</li>';
      } else {
        list.innerHTML = results.map(function (r, i) {
          return '<li role="option" id="f-search-opt-' + i + '" data-ward="' + esc(r.ward_code) + '" aria-selected="' + (i === active) +
            '"><span class="name">' + esc(r.ward_name) + '</span> <span class="where">' + esc(r.borough_name) + " · " + esc(r.ward_code) + "</span></li>";
        }).join("");
      }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      if (active >= 0) { input.setAttribute("aria-activedescendant", "f-search-opt-" + active); } else { input.removeAttribute("aria-activedescendant"); }
    }
    function choose(i) {
      var r = results[i];
      if (!r) { return; }
      wanted = "";
      input.value = r.ward_name;
      closeList();
      lastTrigger = input;
      selectWard(r.ward_code, true);
    }
    var lookup = U.debounce(function () {
      var text = input.value.trim();
      if (!wanted || text !== wanted) { return; }
      if (text.length < 2) { results = []; closeList(); return; }
      U.getJSON(options.search_url + U.query({ q: text }), "search").then(function (d) {
        if (wanted !== text || input.value.trim() !== text) { return; }
        results = (d.results || []).filter(function (r) { return wm.has(r.ward_code); });
        active = -1;
        drawList();
        if (pendingEnter) { pendingEnter = false; choose(0); }
      }).catch(function (e) { say("Search failed: " + e.message, true); });
    }, 150);
    input.addEventListener("input", function () {
      pendingEnter = false;
      wanted = input.value.trim();
      if (wanted.length < 2) { results = []; closeList(); }
      lookup();
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!results.length) { return; }
        active = e.key === "ArrowDown" ? Math.min(results.length - 1, active + 1) : Math.max(0, active - 1);
        drawList();
      } else if (e.key === "Enter") {
        e.preventDefault();
        var text = input.value.trim();
        // Enter picks the highlighted match, or the first; typed a full code? take it straight away.
        if (active >= 0 || (!list.hidden && results.length)) { choose(Math.max(active, 0)); }
        else if (/^E05\d{6}$/i.test(text) && wm.has(text.toUpperCase())) {
          wanted = "";
          closeList();
          lastTrigger = input;
          selectWard(text.toUpperCase(), true);
        } else if (text.length >= 2) { pendingEnter = true; wanted = text; lookup(); }
      } else if (e.key === "Escape") {
        if (!list.hidden) { e.preventDefault(); e.stopPropagation(); closeList(); }
      }
    });
    input.addEventListener("blur", function () { setTimeout(closeList, 150); });
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus in the input
    list.addEventListener("click", function (e) {
      var li = e.target.closest("li[data-ward]");
      if (li) { choose(Array.prototype.indexOf.call(list.children, li)); }
    });

    // --- keyboard, history ------------------------------------------------------------------------------------------
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || panel.hidden || e.defaultPrevented || chartEl.open) { return; }
      e.preventDefault();
      if (state.ward) { closeWard(); } else { closeArea(); }
    });
    window.addEventListener("popstate", function () {
      var r = readURL(), before = state;
      state = r.state;
      if (r.notes.length) { stickyNote = "Not found in this link, so left out: " + r.notes.join(", "); }
      var fit = state.ward && state.ward !== before.ward ? "ward" : state.borough !== before.borough ? "borough" : null;
      render({ fit: fit });
    });

    // Leaflet learns its size only from window resizes; the banner, the list toggle and the panel change it too.
    if (window.ResizeObserver) {
      new ResizeObserver(function () { map.invalidateSize({ pan: false }); }).observe(mapEl);
    }

    // --- start ----------------------------------------------------------------------------------------------
    say("Loading…");
    Promise.all([metaLoaded, wm.ready]).then(function (r) {
      meta = r[0];
      buildControls();
      var parsed = readURL();
      state = parsed.state;
      history.replaceState(null, "", window.location.pathname + "?" + toQuery(state));
      if (parsed.notes.length) { stickyNote = "Not found in this link, so left out: " + parsed.notes.join(", "); }
      // the first fit, once the page around the map has its final shape (folium's came before the banner)
      render({ fit: state.ward ? "ward" : "borough", animate: false });
    }).catch(function (e) { say("Could not load the map settings: " + e.message, true); });
  }

  HM.tasking = tasking;
}());
