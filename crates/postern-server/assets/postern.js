// Progressive enhancement only: every page works without this file.
document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var lines = [];
    target.querySelectorAll("dt").forEach(function (dt) {
      var dd = dt.nextElementSibling;
      lines.push(dt.textContent + ": " + (dd ? dd.textContent : ""));
    });
    navigator.clipboard.writeText(lines.join("\n")).then(function () {
      button.textContent = "Copied";
    });
  });
});

// The push waiting page follows its request by server-sent events and moves on by itself (without
// JavaScript it reloads every few seconds instead).
document.querySelectorAll("[data-push-events]").forEach(function (status) {
  if (!window.EventSource) { return; }
  var source = new EventSource(status.getAttribute("data-push-events"));
  source.addEventListener("status", function (e) { status.textContent = e.data; });
  source.addEventListener("done", function () { source.close(); window.location.reload(); });
});
