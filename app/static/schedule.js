// Live planning preview: refreshes the server-rendered preview box while the admin edits the
// schedule. Without JavaScript the "Preview occurrences" button renders the same preview.
(function () {
  "use strict";
  var box = document.querySelector("[data-schedule-preview]");
  var form = box && box.closest("form");
  if (!form) { return; }
  var timer = null;
  function refresh() {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrf_token");
    fetch(box.getAttribute("data-schedule-preview") + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html) { return; }
        var title = box.querySelector("h3");
        box.innerHTML = "";
        if (title) { box.appendChild(title); }
        box.insertAdjacentHTML("beforeend", html);
      });
  }
  function later(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }
  form.addEventListener("input", function () { later(350); });
  form.addEventListener("change", function () { later(100); });
})();
