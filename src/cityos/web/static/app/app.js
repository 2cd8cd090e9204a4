// The resident app's own script (no framework): a service's deep link falls back to its
// web page when no app answered, a consent answered in place keeps the focus, and the service
// worker is registered for the offline page.
"use strict";
(() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-fallback]");
    if (!link) return;
    const fallback = link.getAttribute("data-fallback");
    // an installed app takes the phone to the foreground app: this page is hidden then
    const timer = setTimeout(() => {
      if (document.visibilityState === "visible") window.location.assign(fallback);
    }, 1500);
    const stop = () => clearTimeout(timer);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") stop();
    }, { once: true });
    window.addEventListener("pagehide", stop, { once: true });
  });
  // a consent card answered in place (htmx) keeps the keyboard and screen-reader focus on
  // its own control instead of dropping it to the page body
  let answered = "";
  document.addEventListener("htmx:beforeRequest", (event) => {
    const card = event.target.closest && event.target.closest("li.consent");
    answered = card ? card.id : "";
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!answered) return;
    const card = document.getElementById(answered);
    const control = card && card.querySelector("button");
    if (control) control.focus();
    answered = "";
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => {});
  }
})();
