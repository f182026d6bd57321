/* Worksheet drafts save themselves: a few seconds after typing stops, when a field loses
   focus, and when the page is hidden. The form works without this file (Save draft button).
   The CSRF token travels in the form data (csrf_token) and in the X-CSRFToken header. */
(function () {
  "use strict";
  var DELAY_MS = 3000;

  function setup(form) {
    var url = form.getAttribute("data-autosave-url");
    var status = form.querySelector("[data-autosave-status]");
    var tokenField = form.querySelector("input[name=csrf_token]");
    var timer = null;
    var lastSent = null;
    var inFlight = false;
    var handedIn = false;
    var submitting = false;  /* the form is being sent: no more drafts, the post carries it all */
    var controller = null;

    function snapshot() {
      var data = new FormData(form);
      data.delete("action");
      var parts = [];
      data.forEach(function (value, key) { if (key !== "submission_key") parts.push(key + "=" + value); });
      return { data: data, key: parts.join("&") };
    }

    function show(text) { if (status && text) status.textContent = text; }

    function save() {
      timer = null;
      if (handedIn || inFlight || submitting) return;
      var snap = snapshot();
      if (snap.key === lastSent) return;
      inFlight = true;
      show(form.getAttribute("data-autosave-saving"));
      controller = window.AbortController ? new AbortController() : null;
      fetch(url, {
        method: "POST",
        signal: controller ? controller.signal : undefined,
        body: snap.data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": tokenField ? tokenField.value : "", "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            lastSent = snap.key;
            show(body.message);
          } else {
            if (response.status === 409) handedIn = true;
            show(body.error || form.getAttribute("data-autosave-failed"));
          }
        });
      }).catch(function () {
        if (!submitting) show(form.getAttribute("data-autosave-failed"));
      }).then(function () {
        inFlight = false;
      });
    }

    function later() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(save, DELAY_MS);
    }

    lastSent = snapshot().key;  // what the page was rendered with is already saved
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("focusout", function () { if (timer) { clearTimeout(timer); } save(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") save();
    });
    form.addEventListener("submit", function (event) {
      if (timer) clearTimeout(timer);
      /* A draft save still on its way could reach the server after the hand-in (and be
         refused with 409): the post sends everything, so stop it. */
      submitting = true;
      if (controller) controller.abort();
      var button = event.submitter;
      if (button && button.hasAttribute("data-once")) {
        if (form.getAttribute("data-submitting")) { event.preventDefault(); return; }
        form.setAttribute("data-submitting", "1");
        /* Keep the button's name/value in the request, then stop a second click. */
        setTimeout(function () { button.disabled = true; }, 0);
      }
    });
  }

  document.querySelectorAll("form[data-autosave-url]").forEach(setup);
})();
