// The console's only script of its own: no inline script anywhere (CSP script-src 'self').
"use strict";

// Admission: show the fields of the chosen arrival route only (all show without script).
function showRouteFields() {
  const chosen = document.querySelector("input[data-route-choice]:checked");
  document.querySelectorAll("fieldset[data-route]").forEach((fieldset) => {
    fieldset.hidden = !chosen || fieldset.dataset.route !== chosen.value;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("input[data-route-choice]")) {
    showRouteFields();
    document.querySelectorAll("input[data-route-choice]").forEach((radio) => {
      radio.addEventListener("change", showRouteFields);
    });
  }
  // A second tap while the first submit is on its way does nothing (the
  // Idempotency-Key makes it harmless anyway).
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[data-once]").forEach((button) => {
        setTimeout(() => { button.disabled = true; }, 0);
      });
    });
  });
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
