// The agent page's service worker (served at /sw.js; the server prepends SETTINGS:
// {version, page, assets, snapshot}).
//
// It keeps exactly three kinds of things, all public: the page, its static files (the
// vendored QR decoder and its wasm included), and the latest trust snapshot (keys and status
// lists). It never stores a verification request or answer: those carry names and birth dates.

/* global SETTINGS */
const CACHE = `citycard-agent-${SETTINGS.version}`;
const NETWORK_TIMEOUT_MS = 4000;
const ASSETS = new Set(SETTINGS.assets);

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // "reload" bypasses the HTTP cache: a new release must not be filled with old files.
      const fresh = (url) => new Request(url, { cache: "reload" });
      await cache.addAll([SETTINGS.page, ...SETTINGS.assets].map(fresh));
      try {
        await cache.add(fresh(SETTINGS.snapshot));
      } catch {
        // No trust data yet (empty store, or the server refused): the page fetches it later.
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const old = names.filter((name) => name.startsWith("citycard-agent-") && name !== CACHE);
      // The previous release's trust snapshot is still better than none: carry it over.
      const cache = await caches.open(CACHE);
      if (!(await cache.match(SETTINGS.snapshot))) {
        for (const name of old) {
          const previous = await (await caches.open(name)).match(SETTINGS.snapshot);
          if (previous) {
            await cache.put(SETTINGS.snapshot, previous);
            break;
          }
        }
      }
      await Promise.all(old.map((name) => caches.delete(name)));
      await self.clients.claim();
    })(),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

// Fresh when the network answers, the stored copy when it does not (or too slowly).
async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request.url, { cache: "no-store" }), NETWORK_TIMEOUT_MS);
    if (response.ok) {
      await cache.put(key, response.clone());
      return response;
    }
    const stored = await cache.match(key);
    return stored || response;
  } catch (error) {
    const stored = await cache.match(key);
    if (stored) return stored;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const stored = await cache.match(request);
  if (stored) return stored;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // verification requests go to the network, never cached
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === SETTINGS.page) {
    // One stored page for every language: the page switches language by itself.
    event.respondWith(networkFirst(request, SETTINGS.page));
  } else if (url.pathname === SETTINGS.snapshot) {
    event.respondWith(networkFirst(request, SETTINGS.snapshot));
  } else if (ASSETS.has(url.pathname)) {
    event.respondWith(cacheFirst(request));
  }
});
