/* Questionnaire autosave: saves the draft a moment after each answer, so nothing is lost if
   the phone locks or the tab closes. The page works without this (the "Save" button). */
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire[data-autosave-url]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var status = form.querySelector(".autosave-status");
  var timer = null;
  function save() {
    var data = new FormData(form);
    data.delete("send");
    data.delete("save");
    fetch(form.getAttribute("data-autosave-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": (form.querySelector("input[name=csrf_token]") || {}).value || "" }
    }).then(function (response) {
      if (status) { status.textContent = response.ok ? (status.getAttribute("data-saved") || "Saved") : ""; }
    }).catch(function () { /* offline: the Save button still works */ });
  }
  form.addEventListener("change", function (event) {
    if (!event.target || event.target.type !== "radio") { return; }
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(save, 700);
  });
})();
