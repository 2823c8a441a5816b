/*
 * The counter, a little quicker where the browser can help; it works without this file.
 *
 * - A code left in the field (refused, or only checked) is selected, so the next code
 *   typed or scanned replaces it; after a redemption the server sends the field empty.
 * - Where the browser has BarcodeDetector, a "Scan" button opens the camera, reads the
 *   voucher's QR code, fills the field and redeems, as Enter would. No library: where
 *   there is no detector the button stays hidden and typing is the way.
 */
(function () {
  "use strict";

  const SCAN_EVERY_MS = 250;

  // The field has autofocus, which the browser may apply after this script runs: focus
  // it here too, so the selection is made on the field the cashier types in.
  function selectLeftCode(field) {
    if (!field || !field.value || !field.autofocus) return;
    field.focus();
    field.select();
  }

  function scanner(form, field) {
    const button = form.querySelector("[data-counter-scan]");
    const dialog = form.querySelector("[data-counter-camera]");
    if (!button || !dialog || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    const video = dialog.querySelector("video");
    const status = dialog.querySelector("[data-counter-camera-status]");
    const stopButton = dialog.querySelector("[data-counter-camera-stop]");
    let stream = null;
    let timer = null;

    function stop() {
      if (timer !== null) window.clearInterval(timer);
      timer = null;
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      if (dialog.open) dialog.close();
    }

    function found(code) {
      stop();
      field.value = code;
      const redeem = form.querySelector("button[name=redeem]");
      if (form.requestSubmit) form.requestSubmit(redeem); else redeem.click();
    }

    async function start() {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      dialog.showModal();
      status.textContent = dialog.dataset.startingText || "";
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      } catch (refused) {
        status.textContent = dialog.dataset.noCameraText || String(refused);
        return;
      }
      video.srcObject = stream;
      await video.play();
      status.textContent = "";
      timer = window.setInterval(async function () {
        try {
          const codes = await detector.detect(video);
          if (codes.length && codes[0].rawValue) found(codes[0].rawValue.trim());
        } catch (ignored) {
          // A frame the detector could not read: the next one will do.
        }
      }, SCAN_EVERY_MS);
    }

    button.hidden = false;
    button.addEventListener("click", start);
    stopButton.addEventListener("click", function () { stop(); field.focus(); });
    dialog.addEventListener("close", function () { stop(); field.focus(); });
  }

  function init() {
    const form = document.getElementById("counter-form");
    if (!form) return;
    const field = form.querySelector("input.code-entry");
    selectLeftCode(field);
    scanner(form, field);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
