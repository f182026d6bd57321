// Therapist time: while a patient's page is visible, report every 30 seconds. The server
// caps what one report can count, so a sleeping laptop adds at most a minute.
(function () {
  "use strict";
  var el = document.querySelector("[data-time-beat-url]");
  if (!el || !window.fetch) { return; }
  var url = el.getAttribute("data-time-beat-url");
  var token = el.getAttribute("data-csrf");
  function beat(start) {
    if (document.visibilityState !== "visible") { return; }
    var data = new FormData();
    if (start) { data.append("start", "1"); }
    fetch(url, { method: "POST", body: data, credentials: "same-origin",
                 headers: { "X-CSRFToken": token } }).catch(function () {});
  }
  beat(true);  // opening the page starts the clock (the server counts nothing for it)
  setInterval(function () { beat(false); }, 30000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { beat(true); }
  });
})();
