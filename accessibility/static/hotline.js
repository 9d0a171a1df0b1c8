// Shared page behaviour (every page works without it): instant large-text and
// high-contrast switches, the print button, focus on an error summary.
(function () {
  "use strict";
  var root = document.documentElement;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var classes = { large: "text-large", contrast: "theme-contrast" };

  document.querySelectorAll(".prefs-form button[data-pref]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      var pref = btn.getAttribute("data-pref");
      ev.preventDefault();
      var on = btn.getAttribute("aria-pressed") !== "true";
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      root.classList.toggle(classes[pref], on);
      var data = new FormData(btn.form);
      data.set("toggle", pref);
      fetch("/prefs", {
        method: "POST",
        body: data,
        headers: { Accept: "application/json", "X-CSRF-Token": csrfMeta ? csrfMeta.content : "" },
        credentials: "same-origin"
      }).catch(function () { /* the switch still works on this page; it is just not remembered */ });
    });
  });

  var printButton = document.getElementById("print-button");
  if (printButton) {
    printButton.hidden = false;
    printButton.addEventListener("click", function () { window.print(); });
  }

  var summary = document.querySelector(".error-summary");
  if (summary && document.activeElement !== summary) { summary.focus(); }
})();
