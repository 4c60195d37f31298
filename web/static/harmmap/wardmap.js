/* HarmMap ward layer: loads ward shapes from the app (simplified for the zoom level, refetched when the zoom
 * crosses a step), colours them from the values the page hands it, outlines and numbers the worst wards,
 * and draws hot/cold spots as hatching on a pane of their own. No external requests. */
(function () {
  "use strict";
  var HM = window.HarmMap = window.HarmMap || {};
  var U = HM.util;

  var CITY_FILL = "#d9d9d9";
  var NO_DATA_FILL = "#ffffff";
  var HOVER = "#0096ff";
  var SELECTED = "#0b3d91";
  var WORST = "#111111";
  // Hatching for Getis-Ord Gi* classes: hot leans one way in near-black red, cold the other way in blue;
  // the denser the lines, the more confident. Direction and outline dash tell them apart without colour.
  var HOTSPOTS = {
    hot_99: { ink: "#3f0010", gap: 4, angle: 45, label: "Hot spot, 99%" },
    hot_95: { ink: "#3f0010", gap: 6, angle: 45, label: "Hot spot, 95%" },
    hot_90: { ink: "#3f0010", gap: 9, angle: 45, label: "Hot spot, 90%" },
    cold_99: { ink: "#0a4da2", gap: 4, angle: -45, label: "Cold spot, 99%" },
    cold_95: { ink: "#0a4da2", gap: 6, angle: -45, label: "Cold spot, 95%" },
    cold_90: { ink: "#0a4da2", gap: 9, angle: -45, label: "Cold spot, 90%" }
  };
  var LABEL_GAP_PX = 24;     // rank numbers closer than this (screen pixels) would cover each other

  /** An SVG <pattern> of parallel lines, usable as fill="url(#id)" by Leaflet paths and legend swatches. */
  function patternMarkup(id, h) {
    return '<pattern id="' + id + '" patternUnits="userSpaceOnUse" width="' + h.gap + '" height="' + h.gap +
      '" patternTransform="rotate(' + h.angle + ')"><line x1="0" y1="0" x2="0" y2="' + h.gap +
      '" stroke="' + h.ink + '" stroke-width="1.6"/></pattern>';
  }
  function patternDefs(prefix) {
    return "<defs>" + Object.keys(HOTSPOTS).map(function (k) {
      return patternMarkup(prefix + k, HOTSPOTS[k]);
    }).join("") + "</defs>";
  }

  /** A point well inside the ward (for its rank number): the grid point of its largest polygon farthest from
   * any edge, so concave wards do not get a label outside themselves. Planar in degrees, scaled by cos(lat). */
  function labelPoint(geometry) {
    var polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    var best = null, bestArea = -1;
    polys.forEach(function (poly) {
      var ring = poly[0], a = 0;
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
      }
      if (Math.abs(a) > bestArea) { bestArea = Math.abs(a); best = poly; }
    });
    var ring = best[0], k = Math.cos(51.5 * Math.PI / 180);
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    ring.forEach(function (p) {
      minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
    });
    function inside(x, y) {
      var c = false;
      best.forEach(function (r) {
        for (var i = 0, j = r.length - 1; i < r.length; j = i++) {
          if ((r[i][1] > y) !== (r[j][1] > y) &&
              x < (r[j][0] - r[i][0]) * (y - r[i][1]) / (r[j][1] - r[i][1]) + r[i][0]) { c = !c; }
        }
      });
      return c;
    }
    function edgeDistance(x, y) {
      var d = Infinity;
      best.forEach(function (r) {
        for (var i = 0, j = r.length - 1; i < r.length; j = i++) {
          var ax = r[j][0] * k, ay = r[j][1], bx = r[i][0] * k, by = r[i][1], px = x * k, py = y;
          var dx = bx - ax, dy = by - ay, t = dx || dy ? ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy) : 0;
          t = Math.max(0, Math.min(1, t));
          var ex = ax + t * dx - px, ey = ay + t * dy - py;
          d = Math.min(d, ex * ex + ey * ey);
        }
      });
      return d;
    }
    var bx = (minX + maxX) / 2, by = (minY + maxY) / 2, bd = -1, n = 12;
    for (var ix = 0; ix <= n; ix++) {
      for (var iy = 0; iy <= n; iy++) {
        var x = minX + (maxX - minX) * ix / n, y = minY + (maxY - minY) * iy / n;
        if (!inside(x, y)) { continue; }
        var d = edgeDistance(x, y);
        if (d > bd) { bd = d; bx = x; by = y; }
      }
    }
    return L.latLng(by, bx);
  }

  function wardLayer(map, options) {
    var self = {};
    var geo = null;          // the L.GeoJSON of wards
    var hot = null;          // the hatching layer
    var labels = L.layerGroup().addTo(map);
    var byCode = {};         // ward_code -> Leaflet layer
    var loadedTolerance = null, controller = null;
    var view = { values: {}, classes: [], borough: "", worst: [], selected: "", hotspots: false };
    var worstRank = {};      // ward_code -> rank shown on the map
    var hovered = "";
    var labelCache = {};     // ward_code -> LatLng
    var shown = false;       // the shapes are on the map (see self.show)

    map.createPane("hm-hotspots").style.zIndex = 450;
    map.getPane("hm-hotspots").style.pointerEvents = "none";
    map.createPane("hm-labels").style.zIndex = 620;
    var hotRenderer = L.svg({ pane: "hm-hotspots" });

    var container = map.getContainer();
    var readyResolve;
    self.ready = new Promise(function (resolve) { readyResolve = resolve; });

    function style(feature) {
      var p = feature.properties, code = p.ward_code, d = view.values[code];
      var s;
      if (p.city_of_london) {
        s = { fillColor: CITY_FILL, fillOpacity: 0.6, color: "#555", weight: 1, dashArray: "4 3" };
      } else if (!d || d.k === null || d.k === undefined || !view.classes[d.k]) {
        s = { fillColor: NO_DATA_FILL, fillOpacity: 0.9, color: "#777", weight: 0.6, dashArray: null };
      } else {
        s = { fillColor: view.classes[d.k].color, fillOpacity: 0.85, color: "#5a5a5a", weight: 0.5, dashArray: null };
      }
      if (view.borough && p.borough_code !== view.borough) {
        s.fillOpacity *= 0.3;
        s.color = "#aaa";
      }
      if (worstRank[code] !== undefined) { s.color = WORST; s.weight = 2.2; s.dashArray = null; }
      if (code === hovered) { s.color = HOVER; s.weight = 3.5; s.dashArray = null; }
      if (code === view.selected) { s.color = SELECTED; s.weight = 4.5; s.dashArray = null; }
      return s;
    }

    function tooltip(layer) {
      var p = layer.feature.properties, d = view.values[p.ward_code];
      var lines = ["<strong>" + U.esc(p.ward_name) + "</strong>", U.esc(p.borough_name) + " &middot; " + U.esc(p.ward_code)];
      if (p.city_of_london) {
        lines.push("City of London: policed by the City of London Police, not the MPS");
      } else if (view.describe && d) {  // a layer that words its own figures (need x response)
        lines = lines.concat(view.describe(p.ward_code, d));
      } else if (d && d.suppressed) {  // a count from 1 to 4 (harmmap/disclosure.py)
        lines.push(U.esc(view.label) + ": <strong>" + U.esc(d.suppressed) + "</strong>");
      } else if (!d || !U.isNum(d.v)) {
        lines.push(U.esc(view.label) + ": no data");
      } else {
        lines.push(U.esc(view.label) + ": <strong>" + U.smart(d.v) + "</strong> " + U.esc(view.unit || ""));
        if (view.classes[d.k]) { lines.push(U.esc(view.classes[d.k].label)); }
        if (U.isNum(d.rank)) { lines.push("Rank #" + d.rank + (view.borough ? " in borough" : " in London")); }
      }
      if (worstRank[p.ward_code] !== undefined) { lines.push("On the worst-wards list (#" + worstRank[p.ward_code] + ")"); }
      if (view.hotspots && d && HOTSPOTS[d.hotspot]) { lines.push(U.esc(U.hotspotText(d.hotspot))); }
      lines.push('<span class="hm-tip-hint">Click for details</span>');
      return lines.join("<br>");
    }

    function restyle() {
      if (!geo) { return; }
      geo.setStyle(style);
      toFront();
    }
    function toFront() {
      // Outlined wards drawn last, so their neighbours' edges do not cover their outline.
      Object.keys(worstRank).forEach(function (c) { if (byCode[c]) { byCode[c].bringToFront(); } });
      if (hovered && byCode[hovered]) { byCode[hovered].bringToFront(); }
      if (view.selected && byCode[view.selected]) { byCode[view.selected].bringToFront(); }
    }

    function drawHotspots() {
      if (hot) { map.removeLayer(hot); hot = null; }
      if (!view.hotspots || !geo) { return; }
      var fc = { type: "FeatureCollection", features: [] };
      geo.eachLayer(function (l) {
        var d = view.values[l.feature.properties.ward_code];
        if (d && HOTSPOTS[d.hotspot]) { fc.features.push(l.feature); }
      });
      hot = L.geoJSON(fc, {
        renderer: hotRenderer, interactive: false, pane: "hm-hotspots",
        style: function (f) {
          var k = view.values[f.properties.ward_code].hotspot, h = HOTSPOTS[k];
          return { fillColor: "url(#hm-hatch-" + k + ")", fillOpacity: 1, color: h.ink, weight: 1.4,
            dashArray: k.indexOf("cold") === 0 ? "5 3" : null, opacity: 0.9 };
        }
      }).addTo(map);
      var svg = hotRenderer._container;
      if (svg && !svg.querySelector("#hm-hatch-hot_99")) {
        svg.insertAdjacentHTML("afterbegin", patternDefs("hm-hatch-"));
      }
      container.setAttribute("data-hotspots-drawn", String(fc.features.length));
    }

    function drawLabels() {
      labels.clearLayers();
      if (!geo) { return; }
      var placed = [];
      view.worst.forEach(function (row, i) {
        var l = byCode[row.ward_code];
        if (!l) { return; }
        var at = labelCache[row.ward_code] || (labelCache[row.ward_code] = labelPoint(l.feature.geometry));
        // Numbers go on in rank order; one that would sit on top of a better-ranked ward's number is left off
        // at this zoom (the ward keeps its outline, and its tooltip and table row say its rank).
        var px = map.latLngToLayerPoint(at);
        if (placed.some(function (q) { return Math.abs(q.x - px.x) < LABEL_GAP_PX && Math.abs(q.y - px.y) < LABEL_GAP_PX - 2; })) { return; }
        placed.push(px);
        var text = String(row.rank === null || row.rank === undefined ? i + 1 : row.rank);
        var m = L.marker(at, {
          pane: "hm-labels", keyboard: false, riseOnHover: true,
          icon: L.divIcon({ className: "hm-rank", html: "<span>" + U.esc(text) + "</span>",
            iconSize: [text.length > 2 ? 28 : 22, 22] }),
          title: "#" + text + " " + l.feature.properties.ward_name
        });
        m.on("click", function () { options.onSelect(row.ward_code); });
        m.on("mouseover", function () { self.highlight(row.ward_code); options.onHover(row.ward_code); });
        m.on("mouseout", function () { self.highlight(""); options.onHover(""); });
        labels.addLayer(m);
      });
    }

    function say(text) { options.say(text); }

    function load() {
      var tolerance = options.tolerances[String(Math.round(map.getZoom()))];
      if (tolerance === loadedTolerance) { drawLabels(); return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      say("Loading ward shapes…");
      fetch(options.url + "&tolerance=" + tolerance, { signal: controller.signal, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("the server answered " + r.status); }
          // options.gate: building 704 paths holds the main thread for a while; the page lets its first
          // requests for figures go out before that (they are answered while the paths are built)
          return Promise.all([r.json(), options.gate]);
        })
        .then(function (got) {
          var fc = got[0];
          // One tooltip and one set of handlers on the group, not 704 of each: a ward's events reach its group.
          var next = L.geoJSON(fc, { style: style })
            .bindTooltip(tooltip, { sticky: true, className: "hm-tip", direction: "auto" })
            .on("click", function (e) { options.onSelect(e.layer.feature.properties.ward_code); })
            .on("mouseover", function (e) {
              var code = e.layer.feature.properties.ward_code;
              self.highlight(code); options.onHover(code);
            })
            .on("mouseout", function () { self.highlight(""); options.onHover(""); });
          var codes = {};
          next.eachLayer(function (l) { codes[l.feature.properties.ward_code] = l; });
          if (geo) { map.removeLayer(geo); }
          // The first shapes wait for self.show(): the page fits the view and colours them first, so the
          // 704 paths are projected and drawn once, not once at folium's opening view and again.
          geo = shown ? next.addTo(map) : next;
          byCode = codes;
          labelCache = {};
          loadedTolerance = tolerance;
          self.meta = { label: fc.label, boundary_note: fc.boundary_note, approximate: fc.approximate };
          restyle();
          drawHotspots();
          drawLabels();
          say("");
          container.setAttribute("data-wards-loaded", String(fc.features.length));
          container.setAttribute("data-tolerance", String(tolerance));
          readyResolve(self);
        })
        .catch(function (e) {
          if (e.name !== "AbortError") { say("Could not load ward shapes: " + e.message, true); }
        });
    }

    /** Everything the map shows, at once: values + classes, the borough in focus, worst rows, selection. */
    self.setView = function (next) {
      var hotspotsChanged = next.hotspots !== view.hotspots || next.values !== view.values;
      view = next;
      worstRank = {};
      view.worst.forEach(function (r, i) { worstRank[r.ward_code] = r.rank === null || r.rank === undefined ? i + 1 : r.rank; });
      restyle();
      if (hotspotsChanged) { drawHotspots(); }
      drawLabels();
      if (!view.hotspots) { container.removeAttribute("data-hotspots-drawn"); }
    };

    /** Outline one ward as hovered (from the table or the map); "" clears. */
    self.highlight = function (code) {
      if (code === hovered) { return; }
      var old = hovered;
      hovered = code || "";
      [old, hovered].forEach(function (c) {
        if (c && byCode[c]) { byCode[c].setStyle(style(byCode[c].feature)); }
      });
      if (hovered && byCode[hovered]) { byCode[hovered].bringToFront(); }
      if (view.selected && byCode[view.selected] && hovered !== view.selected) { byCode[view.selected].bringToFront(); }
    };

    /** Put the ward shapes on the map (once the first view is fitted and coloured); later loads go straight on. */
    self.show = function () {
      shown = true;
      if (geo && !map.hasLayer(geo)) {
        geo.addTo(map);  // drawn with their styles already set
        toFront();
      }
    };

    self.has = function (code) { return !!byCode[code]; };
    self.properties = function (code) { return byCode[code] ? byCode[code].feature.properties : null; };
    self.wards = function () {
      return Object.keys(byCode).map(function (c) { return byCode[c].feature.properties; });
    };

    /** Leaflet fit padding: `space` all round, plus what covers the map's sides ({left, right} pixels). */
    function padding(cover, space) {
      cover = cover || { left: 0, right: 0 };
      return { paddingTopLeft: [cover.left + space, space], paddingBottomRight: [cover.right + space, space] };
    }
    // Leaflet drops a new view asked for while a zoom animation runs (e.g. the page's first fit), so wait.
    function whenIdle(fn) {
      if (map._animatingZoom) { map.once("zoomend", function () { setTimeout(fn, 0); }); } else { fn(); }
    }
    function fit(bounds, o, animate) {
      whenIdle(function () {
        if (animate === false) { o.animate = false; map.fitBounds(bounds, o); } else { o.duration = 0.6; map.flyToBounds(bounds, o); }
      });
    }
    self.flyToWard = function (code, cover, animate) {
      var l = byCode[code];
      if (!l) { return; }
      var o = padding(cover, 70);  // room round the ward for its neighbours
      o.maxZoom = 13.5;  // a small ward still shows its neighbours
      fit(l.getBounds(), o, animate);
    };
    self.fitBorough = function (borough, cover, animate) {
      var b = L.latLngBounds([]);
      Object.keys(byCode).forEach(function (c) {
        var l = byCode[c];
        if (!borough || l.feature.properties.borough_code === borough) { b.extend(l.getBounds()); }
      });
      if (b.isValid()) { fit(b, padding(cover, borough ? 24 : 6), animate); }
    };

    map.on("zoomend", load);
    // data-moving marks a pan, zoom or flight in progress (tests and screenshots wait for it to clear)
    map.on("movestart zoomstart", function () { container.setAttribute("data-moving", "1"); });
    map.on("moveend", function () { container.removeAttribute("data-moving"); });
    load();
    return self;
  }

  HM.wardLayer = wardLayer;
  HM.HOTSPOTS = HOTSPOTS;
  HM.patternDefs = patternDefs;
  HM.labelPoint = labelPoint;
}());
