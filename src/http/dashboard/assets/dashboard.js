// The dashboard works without this file; it only adds conveniences.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: beside the token shown once, the curl line and the app
  // id. Without JavaScript each value is still there to select by hand.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.status || "copy-status");
    if (!field) continue;
    const text = () => ("value" in field ? field.value : field.textContent);
    button.hidden = false;
    if ("select" in field) field.addEventListener("focus", () => field.select());
    button.addEventListener("click", async () => {
      let copied = false;
      try {
        await navigator.clipboard.writeText(text());
        copied = true;
      } catch {
        if ("select" in field) {
          field.select();
          copied = document.execCommand("copy");
        }
      }
      if (status) {
        status.textContent = copied ? "Copied" : "Press Ctrl+C (⌘C on a Mac) to copy.";
      }
    });
  }

  // The custom expiry date counts only when "Custom date" is chosen, so it
  // is enabled only then. Without JavaScript it stays enabled, and the
  // server reads it only for "Custom date".
  const date = document.getElementById("expires-on");
  const custom = document.getElementById("expiry-custom");
  if (date && custom) {
    const choices = document.querySelectorAll("input[name='expiry']");
    const follow = () => {
      date.disabled = !custom.checked;
    };
    for (const choice of choices) choice.addEventListener("change", follow);
    follow();
  }
});
