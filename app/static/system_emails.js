// System-email editor: live preview and click-to-insert placeholders.
// Progressive enhancement only: without this file the Preview button re-renders the page and
// placeholders are typed by hand.
(function () {
  "use strict";
  var form = document.getElementById("email-editor");
  if (!form || !window.fetch) { return; }
  var frame = document.getElementById("preview-frame");
  var subject = document.getElementById("preview-subject");
  var errors = document.getElementById("preview-errors");
  var target = form.querySelector("[data-placeholder-target=body]");
  var timer = null;
  var sequence = 0;

  form.querySelectorAll("[data-live-hide]").forEach(function (el) { el.hidden = true; });

  function showErrors(list) {
    errors.textContent = "";
    Object.keys(list || {}).forEach(function (name) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = list[name];
      errors.appendChild(p);
    });
  }

  function refresh() {
    var mine = ++sequence;
    var data = new FormData(form);
    data.delete("action");
    fetch(form.getAttribute("data-preview-url"), {method: "POST", body: data, credentials: "same-origin",
                                                  headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (result) {
        if (mine !== sequence) { return; }  // an older answer arriving late
        subject.textContent = result.subject;
        frame.src = result.frame_url;
        showErrors(result.errors);
        form.setAttribute("data-preview-state", "fresh");
      })
      .catch(function () { showErrors({preview: "The preview could not be refreshed."}); });
  }

  function schedule() {
    form.setAttribute("data-preview-state", "stale");
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }

  ["subject", "body", "style"].forEach(function (name) {
    var field = form.elements[name];
    if (field) {
      field.addEventListener("input", schedule);
      field.addEventListener("change", schedule);
    }
  });

  form.querySelectorAll("[data-placeholder-target]").forEach(function (field) {
    field.addEventListener("focus", function () { target = field; });
  });

  document.querySelectorAll("button.placeholder[data-insert]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-insert");
      var start = target.selectionStart || 0;
      var end = target.selectionEnd || start;
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      target.setSelectionRange(start + text.length, start + text.length);
      schedule();
    });
  });
})();
