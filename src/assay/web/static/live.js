// Live run page: poll the run's progress JSON and update the counters; reload when it ends.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) return;
  var url = "/api/runs/" + encodeURIComponent(box.dataset.run) + "/progress";
  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function tick() {
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        set("live-done", String(p.done));
        set("live-errors", String(p.errors));
        set("live-unparsed", String(p.unparsed));
        set("live-mean", p.mean === null ? "–" : p.mean.toFixed(3));
        var bar = document.getElementById("live-bar");
        if (bar) { if (p.expected) bar.max = p.expected; bar.value = p.done; }
        var list = document.getElementById("live-recent");
        if (list) {
          list.replaceChildren();
          p.recent.forEach(function (s) {
            var li = document.createElement("li");
            li.textContent = s.sample_id + " · " + s.status + (s.prediction ? " · " + s.prediction : "");
            list.appendChild(li);
          });
        }
        if (p.status !== "running") { window.location.reload(); return; }
        window.setTimeout(tick, 2000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  tick();
})();
