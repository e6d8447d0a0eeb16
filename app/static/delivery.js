// Live progress of a broadcast run: polls the run's JSON and updates the page in place.
// Progressive enhancement only: without JavaScript the page shows the same figures and a Refresh link.
(function () {
  "use strict";
  var panel = document.querySelector("[data-progress-url]");
  if (!panel || !window.fetch) { return; }
  var url = panel.getAttribute("data-progress-url");
  var bar = panel.querySelector("progress");
  var initialStatus = null;
  document.querySelectorAll("[data-hide-with-js]").forEach(function (el) { el.hidden = true; });

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "–"; }
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + "h " + m + "m" : (m ? m + "m " + s + "s" : s + "s");
  }
  function setField(name, value) {
    var el = panel.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = value; }
  }
  function render(data) {
    if (initialStatus === null) { initialStatus = data.status; }
    if (data.status !== initialStatus) { window.location.reload(); return false; }
    setField("sent", data.sent);
    setField("processed", data.processed);
    setField("total", data.total);
    setField("percent", data.percent);
    setField("rate", data.rate);
    setField("eta", duration(data.eta_seconds));
    setField("status_reason", data.status_reason || "");
    bar.max = Math.max(1, data.total);
    bar.value = data.processed;
    bar.textContent = data.percent + "%";
    Object.keys(data.counts).forEach(function (name) {
      var el = document.querySelector('[data-count="' + name + '"]');
      if (el) { el.textContent = data.counts[name]; }
    });
    return !data.finished;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && render(data)) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  poll();
})();
