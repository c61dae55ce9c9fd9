// Live run page: every 2 seconds fetch this page again and swap in each element marked
// data-live (the progress box, the match count, the samples table), so that all of them come
// from one server render and agree; reload once the run has ended.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) return;
  function tick() {
    fetch(window.location.href, { cache: "no-store", headers: { "accept": "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        if (!fresh.getElementById("live")) { window.location.reload(); return; }
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next) el.replaceWith(document.importNode(next, true));
        });
        window.setTimeout(tick, 2000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 2000);
})();
