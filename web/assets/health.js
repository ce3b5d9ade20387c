// linerate pages' own health, for people and for tests: every uncaught
// error and unhandled promise rejection (and every failed API call the
// dashboard reports) is kept in a list; its length is
// document.body.dataset.errors and its text is shown in #page-errors.
// Loaded first, before any other script, on both pages.
(function () {
  "use strict";
  var messages = [];

  function show() {
    if (!document.body) return;
    document.body.dataset.errors = String(messages.length);
    var box = document.getElementById("page-errors");
    if (box && messages.length) {
      box.textContent = messages.join("\n");
      box.hidden = false;
    }
  }

  function record(message) {
    messages.push(String(message));
    show();
  }

  window.addEventListener("error", function (event) {
    record(event.message + " (" + event.filename + ":" + event.lineno + ")");
  });
  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    record("unhandled rejection: " + (reason && reason.stack ? reason.stack : reason));
  });
  document.addEventListener("DOMContentLoaded", show);

  window.LinerateHealth = { record: record, messages: messages };
})();
