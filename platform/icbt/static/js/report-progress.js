// Progress of an analysis run: polls the run's status and updates the bar; reloads the page
// when the run has finished (done or failed). The page works without this script.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var step = box.querySelector(".run-step");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.setTimeout(poll, 5000); return; }
        if (data.status === "done" || data.status === "failed") { window.location.reload(); return; }
        var percent = Math.round(data.progress * 100);
        if (bar) { bar.value = percent; bar.textContent = percent + "%"; }
        if (step && data.step_label) { step.textContent = data.step_label; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
