// Live planning preview for the schedule fields: refreshes the server-rendered preview as the
// admin edits the rule. Without JavaScript the "Preview occurrences" button does the same.
(function () {
  "use strict";
  var box = document.querySelector("fieldset[data-schedule-preview]");
  if (!box) { return; }
  var target = box.querySelector(".schedule-preview");
  var timer = null;
  function refresh() {
    var params = new URLSearchParams();
    box.querySelectorAll("input, select, textarea").forEach(function (el) {
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { return; }
      if (el.name && el.name !== "csrf_token") { params.append(el.name, el.value); }
    });
    fetch(box.getAttribute("data-schedule-preview") + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { if (html) { target.innerHTML = html; } });
  }
  box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  box.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 100); });
})();
