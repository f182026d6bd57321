// Messaging: autosave the message being written as a server-side draft, and insert
// snippets at the cursor. The page works without this file (Save draft / Insert buttons).
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave-url]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var url = form.getAttribute("data-autosave-url");
  var status = form.querySelector("[data-draft-status]");
  var body = form.querySelector("textarea[name=body]");
  var timer = null;
  var lastSaved = body ? body.value : "";
  var sending = false;

  function say(text) { if (status) { status.textContent = text; } }

  function save() {
    timer = null;
    if (!body || sending || body.value === lastSaved) { return; }
    var data = new FormData(form);
    data.delete("action");
    var value = body.value;
    var token = form.querySelector("input[name=csrf_token]");
    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: token ? { "X-CSRFToken": token.value } : {}
    }).then(function (response) {
      return response.json().then(function (json) {
        if (response.ok && json.saved) {
          lastSaved = value;
          say((form.getAttribute("data-saved-text") || "Draft saved") + " " + (json.at || ""));
        } else {
          say(json.error || "The draft could not be saved.");
        }
      });
    }).catch(function () { say(form.getAttribute("data-offline-text") || "Not saved: no connection."); });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 1500);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", function () { sending = true; if (timer) { clearTimeout(timer); } });
  window.addEventListener("pagehide", function () { if (timer) { save(); } });

  var insert = form.querySelector("[data-snippet-insert]");
  var select = form.querySelector("select[name=snippet_id]");
  if (insert && select && body) {
    insert.addEventListener("click", function (event) {
      var option = select.options[select.selectedIndex];
      var text = option ? option.getAttribute("data-body") : null;
      if (!text) { return; }
      event.preventDefault();
      var start = body.selectionStart, end = body.selectionEnd;
      var before = body.value.slice(0, start), after = body.value.slice(end);
      var glue = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
      body.value = before + glue + text + after;
      var caret = (before + glue + text).length;
      body.focus();
      body.setSelectionRange(caret, caret);
      select.selectedIndex = 0;
      schedule();
    });
  }
})();
