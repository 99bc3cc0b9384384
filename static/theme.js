// Paystatus: the colour theme, set before the first paint. The toggle's choice (kept in this
// browser) wins; otherwise the system's prefers-color-scheme. Bootstrap 5.3 reads data-bs-theme.
"use strict";
(function () {
  let chosen = null;
  try {
    chosen = window.localStorage.getItem("paystatus-theme");
  } catch (error) {
    // Storage refused (private mode): follow the system.
  }
  const dark = chosen ? chosen === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.bsTheme = dark ? "dark" : "light";
})();
