// The perk form: show the image chosen before it is sent. Without script the form works
// the same; the page shows the image once saved. The preview is a blob: URL, which the
// form's pages allow in their Content-Security-Policy (surfaces/portal/perks.py).
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.hasAttribute("data-perk-image")) return;
  const preview = document.querySelector("[data-perk-image-preview]");
  if (!preview) return;
  const image = preview.querySelector("img");
  if (image.src) URL.revokeObjectURL(image.src);
  const file = input.files && input.files[0];
  if (file && file.type.startsWith("image/")) {
    image.src = URL.createObjectURL(file);
    preview.hidden = false;
  } else {
    image.removeAttribute("src");
    preview.hidden = true;
  }
});
