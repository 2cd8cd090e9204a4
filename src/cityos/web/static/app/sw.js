// Service worker of the resident app: pages always come from the network (they hold personal
// data and are never cached); without a connection the cached offline page answers.
// Exception: the evacuation guidance (town data, no personal data: the area is chosen on the
// device) is kept as last seen — page, plan, script, styles and Leaflet — so that it still
// answers offline in a disaster (docs/services/evacuation.md).
"use strict";
const CACHE = "cityos-app-1";
const OFFLINE = "/app/offline";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const response = await fetch(OFFLINE, { credentials: "same-origin" });
    const html = await response.clone().text();
    await cache.put(OFFLINE, response);
    const assets = [...html.matchAll(/(?:href|src)="(\/static\/[^"]+)"/g)].map((m) => m[1]);
    await cache.addAll(assets);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

const LAST_SEEN = [/^\/app\/evacuation(\/|$)/, /^\/services\/v1\/evacuation\/plan$/,
                   /^\/static\/vendor\/leaflet\//];

async function networkThenLastSeen(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    return (await cache.match(request)) || (await cache.match(request, { ignoreSearch: true })) ||
      (await caches.match(OFFLINE)) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const path = new URL(request.url);
  if (path.origin === self.location.origin && LAST_SEEN.some((r) => r.test(path.pathname))) {
    event.respondWith(networkThenLastSeen(request));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(async () =>
      (await caches.match(OFFLINE)) || Response.error()));
    return;
  }
  const url = new URL(request.url);
  if (url.origin === self.location.origin && url.pathname.startsWith("/static/")) {
    event.respondWith((async () => (await caches.match(request)) || fetch(request))());
  }
});
