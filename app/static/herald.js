// Progressive enhancement only: every flow works without this file.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    // Avoid accidental double submits; the server also guards against them.
    var buttons = form.querySelectorAll("button[type=submit]");
    window.setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
  }, true);
  // A one-time secret (a new API key) is selected whole when focused, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-select-on-focus")) { event.target.select(); }
  });
  // A page whose form has errors: the focus goes to their summary, and its links to the fields.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (target) { event.preventDefault(); target.scrollIntoView({block: "center"}); target.focus(); }
    });
  }
  // A table's scroll region (macros/ui.html scroll_table) is a tab stop only while it scrolls.
  function scrollRegionTabStops() {
    document.querySelectorAll("[data-scroll-region]").forEach(function (region) {
      if (region.scrollWidth > region.clientWidth) { region.setAttribute("tabindex", "0"); }
      else if (region !== document.activeElement) { region.removeAttribute("tabindex"); }
    });
  }
  scrollRegionTabStops();
  window.addEventListener("resize", scrollRegionTabStops);
})();
