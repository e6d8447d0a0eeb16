// Broadcasts: progressive enhancement of the wizard and the dashboard notices.
// Everything here also works without JavaScript through plain forms; this file only makes it
// faster: search-as-you-type, auto-saved audience with live counts, an HTML toolbar, a live
// preview, and dismissing notices without a page load.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function postForm(url, data) {
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Requested-With": "fetch" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) { throw new Error(body.error || "The server answered " + response.status); }
        return body;
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  // ---- Audience step: auto-save with live counts, search as you type --------------------
  function initAudience(form) {
    var counts = document.getElementById("audience-counts");
    var status = el("p", { "class": "help autosave-status", "role": "status", "aria-live": "polite" });
    counts.appendChild(status);

    var save = debounce(function () {
      status.textContent = "Saving…";
      postForm(form.action, new FormData(form)).then(function (body) {
        counts.innerHTML = body.counts_html;
        counts.appendChild(status);
        status.textContent = "Saved.";
        form.querySelectorAll("input[data-pending-add]").forEach(function (input) { input.remove(); });
      }).catch(function (error) { status.textContent = error.message; });
    }, 300);

    form.addEventListener("change", function (event) {
      if (event.target.matches("input[type=checkbox]")) { save(); }
    });

    var search = document.getElementById("customer_q");
    var results = document.getElementById("customer-results");
    var selected = document.getElementById("selected-customers");
    if (!search || !results) { return; }

    function addCustomer(customer) {
      var hidden = el("input", { type: "hidden", name: "add_customer_ids", value: customer.id, "data-pending-add": "1" });
      form.appendChild(hidden);
      var empty = document.getElementById("no-customers");
      if (empty) { empty.remove(); }
      var item = el("li");
      var who = el("span");
      who.appendChild(el("strong", {}, customer.name || "(no name)"));
      who.appendChild(document.createTextNode(" "));
      who.appendChild(el("span", { "class": "muted" }, customer.email + " · #" + customer.id));
      var label = el("label", { "class": "check small" });
      label.appendChild(el("input", { type: "checkbox", name: "remove_customer_ids", value: customer.id }));
      label.appendChild(document.createTextNode(" Remove"));
      item.appendChild(who);
      item.appendChild(label);
      selected.appendChild(item);
      var count = document.getElementById("selected-count");
      if (count) { count.textContent = String(Number(count.textContent) + 1); }
      save();
    }

    function render(customers, query) {
      results.innerHTML = "";
      if (!query) { return; }
      if (!customers.length) {
        results.appendChild(el("p", { "class": "empty" }, "No customer matches “" + query + "”."));
        return;
      }
      var list = el("ul", { "class": "pick-list" });
      customers.forEach(function (customer) {
        var item = el("li");
        var who = el("span");
        who.appendChild(el("strong", {}, customer.name || "(no name)"));
        who.appendChild(document.createTextNode(" "));
        who.appendChild(el("span", { "class": "muted" }, customer.email + " · #" + customer.id));
        var already = form.querySelector("input[name=remove_customer_ids][value='" + customer.id + "']");
        var button = el("button", { type: "button", "class": "button secondary small-button",
                                    "aria-label": "Add " + (customer.name || customer.email) }, already ? "Added" : "Add");
        button.disabled = Boolean(already);
        button.addEventListener("click", function () {
          button.disabled = true;
          button.textContent = "Added";
          addCustomer(customer);
        });
        item.appendChild(who);
        item.appendChild(button);
        list.appendChild(item);
      });
      results.appendChild(list);
    }

    var lastQuery = null;
    search.addEventListener("input", debounce(function () {
      var query = search.value.trim();
      if (query === lastQuery) { return; }
      lastQuery = query;
      if (!query) { render([], ""); return; }
      fetch(search.dataset.searchUrl + "?q=" + encodeURIComponent(query), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.json(); }).then(function (body) {
        if (query === lastQuery) { render(body.results || [], query); }
      });
    }, 250));
  }

  // ---- Content step: HTML toolbar and live preview ----------------------------------------
  function insertAround(textarea, before, after) {
    var start = textarea.selectionStart, end = textarea.selectionEnd, value = textarea.value;
    var chosen = value.slice(start, end);
    textarea.value = value.slice(0, start) + before + chosen + after + value.slice(end);
    textarea.focus();
    textarea.setSelectionRange(start + before.length, start + before.length + chosen.length);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function initEditor(toolbar) {
    var textarea = document.getElementById(toolbar.getAttribute("aria-controls"));
    toolbar.hidden = false;
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      if (button.dataset.wrap) {
        insertAround(textarea, "<" + button.dataset.wrap + ">", "</" + button.dataset.wrap + ">");
      } else if (button.dataset.list) {
        insertAround(textarea, "<" + button.dataset.list + ">\n  <li>", "</li>\n</" + button.dataset.list + ">");
      } else if (button.hasAttribute("data-link")) {
        var url = window.prompt("Link address (https://…)", "https://");
        if (url) { insertAround(textarea, '<a href="' + url.replace(/"/g, "&quot;") + '">', "</a>"); }
      }
    });
    var picker = toolbar.querySelector("[data-insert-placeholder]");
    picker.addEventListener("change", function () {
      if (picker.value) { insertAround(textarea, "{{ " + picker.value + " }}", ""); }
      picker.value = "";
    });
  }

  function initLivePreview(button) {
    var form = button.form;
    var target = document.getElementById("preview-body");
    var message = el("p", { "class": "error", "role": "status", "aria-live": "polite" });
    target.parentNode.insertBefore(message, target);
    var refresh = debounce(function () {
      var data = new FormData();
      ["csrf_token", "subject", "body_html"].forEach(function (name) { data.append(name, form.elements[name].value); });
      var type = form.querySelector("input[name=notice_type]:checked");
      if (type) { data.append("notice_type", type.value); }
      postForm(button.dataset.livePreview, data).then(function (body) {
        message.textContent = "";
        if (body.kind === "email") {
          target.querySelector("[data-preview=subject]").textContent = body.subject;
          target.querySelector("iframe[data-preview=html]").src = body.frame_url;
        } else {
          target.querySelector("[data-preview=notice]").innerHTML = body.html;
        }
      }).catch(function (error) { message.textContent = error.message; });
    }, 600);
    form.addEventListener("input", function (event) {
      if (["subject", "body_html"].indexOf(event.target.name) >= 0) { refresh(); }
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "notice_type") { refresh(); }
    });
  }

  // ---- Dashboard: dismiss notices without a page load -------------------------------------
  function initDismiss(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var notice = document.getElementById(form.dataset.dismiss);
      postForm(form.action, new FormData(form)).then(function () {
        var next = notice.nextElementSibling || document.querySelector("main h1");
        notice.remove();
        if (next) { next.setAttribute("tabindex", "-1"); next.focus(); }
      }).catch(function () { form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var audience = document.querySelector("form[data-autosave=audience]");
    if (audience) { initAudience(audience); }
    document.querySelectorAll(".editor-toolbar").forEach(initEditor);
    document.querySelectorAll("[data-live-preview]").forEach(initLivePreview);
    document.querySelectorAll("form.dismiss-form").forEach(initDismiss);
  });
})();
