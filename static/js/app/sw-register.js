/*
 * Installs the app's service worker (templates/app/sw.js) and says on the page when it has
 * no connection. Loaded by templates/app/_sw_register.html, whose <script> tag says in
 * data- attributes where the worker is and what to say, in the member's language:
 *
 *   data-worker, data-scope   the worker's URL and the part of the site it serves
 *   data-wallet               the wallet's URL: it and the voucher pages under it are kept
 *   data-signed-out           present on pages seen signed out: the worker forgets the kept pages
 *   data-offline-page         present on the worker's offline page, which says it all itself
 *   data-text-saved           said on a kept page shown without a connection
 *   data-text-offline         said on any other page when the connection drops
 *   data-text-needs-network   said on a page marked data-needs-network (the pass), which
 *                             hides what it cannot vouch for itself; unless the page has
 *                             a note of its own for that, marked data-offline-note
 *   data-text-back-online     the button that loads afresh a saved copy once back online
 *
 * A page is without a connection when the browser says so, or when the worker answered it
 * from what it kept (the server did not answer in time).
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script) return;
  const data = script.dataset;
  let fromKept = false;
  let banner = null;

  function isKeptPage() {
    return data.wallet && window.location.pathname.startsWith(data.wallet);
  }

  function message() {
    if (document.querySelector("[data-needs-network]")) return data.textNeedsNetwork;
    return isKeptPage() ? data.textSaved : data.textOffline;
  }

  function showState() {
    const offline = !navigator.onLine;
    const saysItself = "offlinePage" in data || document.querySelector("[data-needs-network] [data-offline-note]");
    const stale = (fromKept || offline) && !saysItself;
    if (!banner) {
      if (!stale) return;
      banner = document.createElement("p");
      banner.className = "offline-banner";
      banner.setAttribute("role", "status");
      const main = document.querySelector("main");
      if (main) main.prepend(banner);
      else document.body.prepend(banner);
    }
    banner.hidden = !stale;
    banner.replaceChildren();
    if (stale && !offline) {
      // Answered from what was kept, and the connection is back: the member says when to
      // load the page afresh (a reload by itself could cut short a tap elsewhere).
      const reload = document.createElement("button");
      reload.type = "button";
      reload.className = "link";
      reload.textContent = data.textBackOnline;
      reload.addEventListener("click", function () { window.location.reload(); });
      banner.append(reload);
    } else if (stale) {
      banner.textContent = message();
    }
  }

  window.addEventListener("offline", showState);
  window.addEventListener("online", showState);

  function start() {
    showState();
    if (!("serviceWorker" in navigator) || !data.worker) return;
    const workers = navigator.serviceWorker;
    workers.addEventListener("message", function (event) {
      if (event.data && event.data.type === "answered" && event.data.fromKept) {
        fromKept = true;
        showState();
      }
    });
    const controlled = Boolean(workers.controller);
    if (controlled) workers.controller.postMessage({ type: "asked" });
    workers.register(data.worker, { scope: data.scope }).catch(function () {});
    workers.ready.then(function (registration) {
      if (!registration.active) return;
      if ("signedOut" in data) {
        registration.active.postMessage({ type: "forget" });
      } else if (!controlled && isKeptPage()) {
        const urls = [window.location.href];
        document.querySelectorAll("main img[src]").forEach(function (image) {
          urls.push(image.src);
        });
        registration.active.postMessage({ type: "keep", urls: urls });
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
