/*
 * Keeps "expires in …" current on the wallet and voucher pages. Each
 * <time data-countdown="2026-12-10T18:00:00Z"> is rewritten from the device's clock at
 * load (a page may come from the offline cache, written hours ago) and every minute, in
 * the page's language, with the unit the server chose by the same rule (days from two
 * days on, hours from two hours on, minutes below). Past its time it says its
 * data-expired-text, and the voucher page dims its code.
 */
(function () {
  "use strict";

  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  function phrase(format, seconds) {
    if (seconds >= 2 * DAY) return format.format(Math.floor(seconds / DAY), "day");
    if (seconds >= 2 * HOUR) return format.format(Math.floor(seconds / HOUR), "hour");
    return format.format(Math.max(1, Math.floor(seconds / MINUTE)), "minute");
  }

  function update(format) {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      const seconds = Math.floor((Date.parse(element.dataset.countdown) - now) / 1000);
      if (Number.isNaN(seconds)) return;
      if (seconds <= 0) {
        element.textContent = element.dataset.expiredText || "";
        const screen = element.closest(".voucher-screen");
        if (screen) screen.classList.add("voucher-screen--ended");
        return;
      }
      element.textContent = phrase(format, seconds);
    });
  }

  function start() {
    const language = document.documentElement.lang || undefined;
    let format;
    try {
      format = new Intl.RelativeTimeFormat(language, { numeric: "always" });
    } catch (error) {
      format = new Intl.RelativeTimeFormat(undefined, { numeric: "always" });
    }
    const tick = function () { update(format); };
    tick();
    window.setInterval(tick, MINUTE * 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
