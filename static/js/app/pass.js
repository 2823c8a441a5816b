/*
 * The member pass's countdown. The server says in data attributes of each fresh code
 * (<div data-pass data-seconds-left data-valid-seconds>) how long until htmx fetches the
 * next one and how long the code stays valid; this counts the first down each second
 * (the number and the bar), and starts again when htmx swaps in a new code. When a
 * fetch fails (no connection) the page says so, and once the code shown has expired it
 * is hidden rather than shown to a partner who could not accept it.
 */
(function () {
  "use strict";

  let timer = null;

  function offlineNote(shown) {
    const note = document.querySelector("[data-pass-offline]");
    if (note) note.hidden = !shown;
  }

  function run(pass) {
    if (timer) window.clearInterval(timer);
    const started = Date.now();
    const refresh = parseInt(pass.dataset.secondsLeft, 10) || 0;
    const valid = parseInt(pass.dataset.validSeconds, 10) || refresh;
    const seconds = pass.querySelector("[data-pass-seconds]");
    const bar = pass.querySelector("progress");
    const qr = pass.querySelector(".qr");
    const tick = function () {
      const elapsed = Math.floor((Date.now() - started) / 1000);
      const left = Math.max(0, refresh - elapsed);
      if (seconds) {
        seconds.textContent = String(left);
        seconds.setAttribute("datetime", "PT" + left + "S");
      }
      if (bar) bar.value = left;
      if (elapsed >= valid && qr) {
        qr.hidden = true;
        offlineNote(true);
      }
    };
    tick();
    timer = window.setInterval(tick, 1000);
  }

  function current() {
    const pass = document.querySelector("[data-pass]");
    if (pass) run(pass);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "pass-qr") {
      offlineNote(false);
      current();
    }
  });
  document.addEventListener("htmx:sendError", function () { offlineNote(true); });
  window.addEventListener("offline", function () { offlineNote(true); });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", current);
  else current();
})();
