// The evacuation page: remember the chosen area on this device, draw the map (Leaflet, no
// tiles: dots and a straight line), and say when the page is the last one seen offline.
"use strict";
(() => {
  const KEY = "cityos.evacuation";
  const form = document.getElementById("evac-form");
  const params = new URLSearchParams(location.search);
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { saved = {}; }
  if (!params.get("area") && saved.area) {
    params.set("area", saved.area);
    if (!params.get("hazard") && saved.hazard) params.set("hazard", saved.hazard);
    location.replace(location.pathname + "?" + params.toString());
    return;
  }
  if (params.get("area")) {
    localStorage.setItem(KEY, JSON.stringify({ area: params.get("area"),
                                               hazard: params.get("hazard") || "" }));
  }
  if (form) {
    form.addEventListener("submit", () => {
      const data = new FormData(form);
      localStorage.setItem(KEY, JSON.stringify({ area: data.get("area") || "",
                                                 hazard: data.get("hazard") || "" }));
    });
  }
  const offline = document.getElementById("evac-offline");
  const showOffline = () => { if (offline) offline.hidden = navigator.onLine; };
  window.addEventListener("online", showOffline);
  window.addEventListener("offline", showOffline);
  showOffline();

  const box = document.getElementById("evac-map");
  if (!box || !box.dataset.map || typeof L === "undefined") return;
  const data = JSON.parse(box.dataset.map);
  const ll = (p) => [p[1], p[0]];
  const map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
  for (const other of data.others) {
    L.circleMarker(ll(other), { radius: 6, color: "#4a4a4a", weight: 2, fillOpacity: 0.4 })
      .bindTooltip(other[2]).addTo(map);
  }
  L.polyline([ll(data.area), ll(data.shelter)], { color: "#005a9c", weight: 5, className: "evac-line" }).addTo(map);
  L.circleMarker(ll(data.area), { radius: 10, color: "#1a1a1a", weight: 3, fillColor: "#ffbf47",
                                  fillOpacity: 1 }).bindTooltip(data.area[2], { permanent: true })
    .addTo(map);
  L.circleMarker(ll(data.shelter), { radius: 12, color: "#1b6b2f", weight: 3, fillColor: "#1b6b2f",
                                     fillOpacity: 1 }).bindTooltip(data.shelter[2], { permanent: true })
    .addTo(map);
  map.fitBounds(L.latLngBounds([ll(data.area), ll(data.shelter)]).pad(0.4));
})();
