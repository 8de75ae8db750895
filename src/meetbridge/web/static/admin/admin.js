// Progressive enhancements for the admin console: copy buttons, select-all, confirmations.
"use strict";

document.querySelectorAll("[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.value ?? source.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      source.select?.();
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
});

document.querySelectorAll("[data-select-all]").forEach((box) => {
  box.addEventListener("change", () => {
    document
      .querySelectorAll(`input[name="channel"][data-list="${box.dataset.selectAll}"]`)
      .forEach((item) => { item.checked = box.checked; });
  });
});
