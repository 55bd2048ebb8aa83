// The dashboard works without this file; it only adds conveniences.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // The copy button beside a token shown once. Without JavaScript the token
  // is still in a read-only field, to select and copy by hand.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById("copy-status");
    if (!field) continue;
    button.hidden = false;
    field.addEventListener("focus", () => field.select());
    button.addEventListener("click", async () => {
      let copied = false;
      try {
        await navigator.clipboard.writeText(field.value);
        copied = true;
      } catch {
        field.select();
        copied = document.execCommand("copy");
      }
      if (status) {
        status.textContent = copied ? "Copied" : "Press Ctrl+C (⌘C on a Mac) to copy.";
      }
    });
  }

  // Picking a custom expiry date selects the "Custom date" choice.
  const date = document.getElementById("expires-on");
  const custom = document.getElementById("expiry-custom");
  if (date && custom) {
    date.addEventListener("input", () => {
      custom.checked = true;
    });
  }
});
