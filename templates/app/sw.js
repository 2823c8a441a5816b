/*
 * Perkline's service worker, served at /app/sw.js by surfaces/app/pwa.py (its scope is the
 * app). Hand-written: what it does is small, and tests/surfaces/app/test_offline.py drives it.
 *
 * - The shell (stylesheet, scripts, icons, the offline page) is kept when the worker
 *   installs, under a name that changes with its content, and answered from there.
 * - The wallet, each voucher page and its QR code, and the images those pages show, are
 *   kept as the member opens them: asked of the server first, answered from what was kept
 *   when there is no answer (no connection, or none within a few seconds at a counter).
 *   The page then asks whether it came from here, and says so.
 * - Any other page the server cannot be reached for is the offline page. Nothing else is
 *   kept: not the pass (its code rotates), no form sent, no other page.
 * - Signing out (or any signed-out page) forgets what was kept: a member's vouchers do not
 *   stay on a shared phone.
 */
"use strict";

const VERSION = "{{ version }}";
const SHELL_CACHE = "perkline-shell-" + VERSION;
const KEPT_CACHE = "perkline-kept";
const SHELL = {{ shell_json|safe }};
const OFFLINE_URL = {{ offline_url_json|safe }};
const WALLET_URL = {{ wallet_url_json|safe }};
const LOGOUT_URL = {{ logout_url_json|safe }};
const KEPT_LIMIT = 60;
const NETWORK_WAIT_MS = 4000;

// The wallet (any page of it), a voucher's page and its QR image.
const KEPT_PATH = new RegExp("^" + WALLET_URL + "(\\d+/(qr\\.(svg|png))?)?$");
const SHELL_PATHS = new Set(SHELL.map((url) => new URL(url, self.location.origin).pathname));
// Pages (by client id) answered from what was kept, until each asks.
const answeredFromKept = new Set();

function isKept(request, url) {
  if (KEPT_PATH.test(url.pathname)) {
    return true;
  }
  if (request.destination !== "image" || !request.referrer) {
    return false;
  }
  const page = new URL(request.referrer);
  return page.origin === self.location.origin && KEPT_PATH.test(page.pathname);
}

function keepable(response) {
  return response.ok && response.type === "basic" && !response.redirected;
}

async function keep(request, response) {
  const cache = await caches.open(KEPT_CACHE);
  await cache.put(request, response);
  const keys = await cache.keys();
  await Promise.all(keys.slice(0, Math.max(0, keys.length - KEPT_LIMIT)).map((key) => cache.delete(key)));
}

function forget() {
  answeredFromKept.clear();
  return caches.delete(KEPT_CACHE);
}

function offlinePage() {
  return caches.match(OFFLINE_URL).then((page) => page || Response.error());
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(() => resolve(null), ms));
}

async function networkFirst(event) {
  const request = event.request;
  const network = fetch(request).then(async (response) => {
    if (keepable(response)) {
      await keep(request, response.clone());
    }
    return response;
  });
  event.waitUntil(network.catch(() => null));
  const kept = await caches.match(request, { cacheName: KEPT_CACHE, ignoreVary: true });
  if (!kept) {
    return request.mode === "navigate" ? network.catch(offlinePage) : network;
  }
  const answer = await Promise.race([network.catch(() => null), pause(NETWORK_WAIT_MS)]);
  if (answer) {
    return answer;
  }
  if (event.resultingClientId) {
    answeredFromKept.add(event.resultingClientId);
  }
  return kept;
}

async function keepNow(urls) {
  // Pages opened before this worker controlled them, with their QR codes and images.
  await Promise.all(
    urls
      .map((url) => new URL(url, self.location.origin))
      .filter((url) => url.origin === self.location.origin)
      .map(async (url) => {
        const response = await fetch(url, { credentials: "same-origin" });
        if (keepable(response)) {
          await keep(url.href, response);
        }
      }),
  ).catch(() => null);
}

async function refreshKept() {
  // Kept pages name the shell's files: fetched again for the new shell, or dropped when the
  // server says they are gone or the member is signed out. Kept as they are when offline.
  const cache = await caches.open(KEPT_CACHE);
  await Promise.all(
    (await cache.keys()).map(async (request) => {
      const response = await fetch(request.url, { credentials: "same-origin" }).catch(() => null);
      if (response && keepable(response)) {
        await cache.put(request, response);
      } else if (response && response.status < 500) {
        await cache.delete(request);
      }
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith("perkline-shell-") && name !== SHELL_CACHE)
          .map((name) => caches.delete(name)),
      );
      await refreshKept();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.method !== "GET") {
    if (url.pathname === LOGOUT_URL) {
      event.respondWith(forget().then(() => fetch(request)).catch(offlinePage));
    } else if (request.mode === "navigate") {
      event.respondWith(fetch(request).catch(offlinePage));
    }
    return;
  }
  if (SHELL_PATHS.has(url.pathname)) {
    event.respondWith(caches.match(request, { cacheName: SHELL_CACHE }).then((kept) => kept || fetch(request)));
  } else if (isKept(request, url)) {
    event.respondWith(networkFirst(event));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  }
});

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "forget") {
    event.waitUntil(forget());
  } else if (message.type === "keep" && Array.isArray(message.urls)) {
    event.waitUntil(keepNow(message.urls));
  } else if (message.type === "asked" && event.source) {
    event.source.postMessage({ type: "answered", fromKept: answeredFromKept.delete(event.source.id) });
  }
});
