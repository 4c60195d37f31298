/* HarmMap ward map: loads ward shapes from the app (simplified for the zoom level), colours them by
 * residents per km2 in quantile classes, names them on hover. No external requests. */
(function () {
  "use strict";
  // ColorBrewer YlGnBu, 7 classes: sequential and colour-blind safe.
  var COLOURS = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"];
  var CITY_FILL = "#d9d9d9";

  function quantileBreaks(values, k) {
    var v = values.slice().sort(function (a, b) { return a - b; });
    var breaks = [];
    for (var i = 1; i < k; i++) { breaks.push(v[Math.min(v.length - 1, Math.floor(i * v.length / k))]); }
    return breaks;
  }
  function classOf(value, breaks) {
    var c = 0;
    while (c < breaks.length && value >= breaks[c]) { c++; }
    return c;
  }
  function fmt(n) { return Math.round(n).toLocaleString("en-GB"); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function wardMap(map, options) {
    var layer = null, breaks = null, loadedTolerance = null, controller = null;
    var legend = L.control({ position: "bottomright" });
    var status = L.control({ position: "topright" });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Boundaries &amp; population: ONS, OS, GLA (OGL v3.0)");

    status.onAdd = function () {
      this._div = L.DomUtil.create("div", "hm-status");
      this._div.id = "hm-status";
      this._div.setAttribute("role", "status");
      return this._div;
    };
    status.addTo(map);
    function say(text) { status._div.textContent = text; }

    function style(feature) {
      var p = feature.properties;
      if (p.city_of_london) {
        return { fillColor: CITY_FILL, fillOpacity: 0.6, color: "#555", weight: 1, dashArray: "4 3" };
      }
      var fill = p.density_per_km2 === null ? "#ffffff" : COLOURS[classOf(p.density_per_km2, breaks)];
      return { fillColor: fill, fillOpacity: 0.8, color: "#333", weight: 0.6 };
    }
    function tooltip(p) {
      var lines = ["<strong>" + esc(p.ward_name) + "</strong>", esc(p.borough_name) + " &middot; " + esc(p.ward_code)];
      if (p.city_of_london) { lines.push("City of London: policed by the City of London Police, not the MPS"); }
      lines.push(p.density_per_km2 === null ? "No residents (Census 2021, best-fit LSOAs)"
        : fmt(p.density_per_km2) + " residents per km&sup2; (" + fmt(p.population) + " residents)");
      return lines.join("<br>");
    }
    function drawLegend() {
      legend.onAdd = function () {
        var div = L.DomUtil.create("div", "hm-legend");
        div.id = "hm-legend";
        var rows = ["<h2>Residents per km&sup2;</h2>"];
        var edges = [0].concat(breaks);
        for (var i = 0; i < COLOURS.length; i++) {
          var label = i < breaks.length ? fmt(edges[i]) + " &ndash; " + fmt(edges[i + 1]) : fmt(edges[i]) + " and more";
          rows.push('<div><i style="background:' + COLOURS[i] + '"></i>' + label + "</div>");
        }
        rows.push('<div><i class="city"></i>City of London (not MPS)</div>');
        rows.push("<div>Classes: quantiles (sevenths) of MPS wards</div>");
        div.innerHTML = rows.join("");
        return div;
      };
      legend.addTo(map);
    }

    function load() {
      var tolerance = options.tolerances[String(Math.round(map.getZoom()))];
      if (tolerance === loadedTolerance) { return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      say("Loading wards…");
      fetch(options.url + "&tolerance=" + tolerance, { signal: controller.signal, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("the server answered " + r.status); }
          return r.json();
        })
        .then(function (fc) {
          if (breaks === null) {
            var values = fc.features.filter(function (f) {
              return !f.properties.city_of_london && f.properties.density_per_km2 !== null;
            }).map(function (f) { return f.properties.density_per_km2; });
            breaks = quantileBreaks(values, COLOURS.length);
            drawLegend();
          }
          var next = L.geoJSON(fc, {
            style: style,
            onEachFeature: function (f, l) {
              l.bindTooltip(tooltip(f.properties), { sticky: true, className: "hm-tip" });
              l.on("mouseover", function () { l.setStyle({ weight: 2.5, color: "#000" }); });
              l.on("mouseout", function () { next.resetStyle(l); });
            }
          }).addTo(map);
          if (layer) { map.removeLayer(layer); }
          layer = next;
          loadedTolerance = tolerance;
          say(fc.features.length + " wards (" + fc.label + ")");
          map.getContainer().setAttribute("data-wards-loaded", String(fc.features.length));
        })
        .catch(function (e) {
          if (e.name !== "AbortError") { say("Could not load wards: " + e.message); }
        });
    }
    map.on("zoomend", load);
    load();
  }

  window.HarmMap = { wardMap: wardMap, quantileBreaks: quantileBreaks, classOf: classOf };
}());
