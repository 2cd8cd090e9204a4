// The console's town map: Leaflet over the configured tiles (or none), with the town's outline,
// areas and live layers from /console/map/layers, refreshed every 5 seconds.
(function () {
  "use strict";
  var box = document.getElementById("town-map");
  if (!box || !window.L) return;
  var d = box.dataset;
  var map = L.map(box, { keyboard: true, zoomSnap: 0.5, attributionControl: true });
  map.attributionControl.setPrefix(false);
  map.setView([34.915, 135.47], 13);
  var last = null;  // the newest layers drawn
  var tiles = !!d.tiles;  // false: no tiles configured, or none could be loaded (offline)
  if (tiles) {
    var layer = L.tileLayer(d.tiles, { maxZoom: Number(d.maxZoom) || 18, attribution: escapeHtml(d.tileAttribution) });
    var loaded = false, failed = 0;
    layer.on("tileload", function () { loaded = true; });
    layer.on("tileerror", function () {
      failed += 1;
      if (!loaded && failed >= 4) {  // the tile server is out of reach: draw the plain town
        map.removeLayer(layer);
        tiles = false;
        box.setAttribute("data-tiles-failed", "1");
        if (last) draw(last);
      }
    });
    layer.addTo(map);
  }
  var STYLE = {
    shelters: { radius: 11, color: "#1a1a1a", weight: 2, fillColor: "#c0392b", fillOpacity: 0.85 },
    sites: { radius: 7, color: "#1a1a1a", weight: 1.5, fillColor: "#f5b041", fillOpacity: 0.9 },
    beacons: { radius: 6, color: "#1a1a1a", weight: 1.5, fillColor: "#2e86c1", fillOpacity: 0.9 },
    solar: { radius: 8, color: "#1a1a1a", weight: 1.5, fillColor: "#f1c40f", fillOpacity: 0.95 },
    vehicles: { radius: 8, color: "#1a1a1a", weight: 2, fillColor: "#1e8449", fillOpacity: 0.95 },
    areas: { radius: 3, color: "#555555", weight: 1, fillColor: "#ffffff", fillOpacity: 1 }
  };
  var ORDER = ["areas", "sites", "shelters", "beacons", "solar", "vehicles"];
  var groups = {}, overlays = {};
  ORDER.forEach(function (key) {
    groups[key] = L.layerGroup().addTo(map);
    overlays[escapeHtml(d["label" + key.charAt(0).toUpperCase() + key.slice(1)] || key)] = groups[key];
  });
  map.createPane("town");  // the plain town's outline lies under the data (z-index 350 < 400)
  map.getPane("town").style.zIndex = 350;
  var outline = L.layerGroup().addTo(map);
  function zoomClass() {  // the names of the many 丁目 show only once zoomed in
    box.classList.toggle("zoomed-out", map.getZoom() < 15);
  }
  map.on("zoomend", zoomClass);
  zoomClass();
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  var fitted = false;

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function describe(key, p) {
    var lines = ["<strong>" + escapeHtml(p.name || p.id || "") + "</strong>"];
    Object.keys(p).forEach(function (k) {
      if (k === "name" || k === "id" || k === "type" || k === "location") return;
      var v = p[k];
      lines.push(escapeHtml(k) + ": " + escapeHtml(typeof v === "object" ? JSON.stringify(v) : v));
    });
    return lines.join("<br>");
  }

  function draw(data) {
    last = data;
    var counts = {};
    ORDER.forEach(function (key) {
      var group = groups[key];
      group.clearLayers();
      var fc = data.layers[key] || { features: [] };
      counts[key] = 0;
      fc.features.forEach(function (f) {
        if (!f.geometry || f.geometry.type !== "Point") return;
        var c = f.geometry.coordinates;
        var style = Object.assign({ className: "cityos-" + key }, STYLE[key]);
        var marker = L.circleMarker([c[1], c[0]], style);
        var p = Object.assign({ id: f.id }, f.properties || {});
        if (key === "areas") {
          marker.bindTooltip(escapeHtml(p.name || ""), { permanent: !tiles, direction: "right", className: /丁目$/.test(p.name || "") ? "area-label minor" : "area-label" });
        } else {
          marker.bindPopup(describe(key, p));
          marker.bindTooltip(escapeHtml(p.name || f.id));
        }
        group.addLayer(marker);
        counts[key] += 1;
      });
    });
    outline.clearLayers();
    if (data.outline && !tiles) {
      outline.addLayer(L.geoJSON(data.outline, { pane: "town", style: { color: "#555555", weight: 2, dashArray: "6 4", fillColor: "#ffffff", fillOpacity: 0.7 }, interactive: false }));
    }
    if (!fitted) {  // the first answer: frame the town, name the sources of what is drawn
      if (data.outline) map.fitBounds(L.geoJSON(data.outline).getBounds(), { padding: [10, 10] });
      (data.sources || []).forEach(function (s) {
        map.attributionControl.addAttribution(escapeHtml(s[d.lang] || s.ja));
      });
      fitted = true;
    }
    Object.keys(counts).forEach(function (key) { box.setAttribute("data-count-" + key, counts[key]); });
    box.setAttribute("data-loaded", new Date().toISOString());
  }

  function refresh() {
    fetch(d.layersUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(data); })
      .catch(function () { /* the next round tries again */ })
      .then(function () { window.setTimeout(refresh, 5000); });
  }
  refresh();
})();
