// Run page of a large run: the metadata value field first offers the values of the run's first
// samples; when it is used, fetch every key and value of the run once and offer those.
(function () {
  "use strict";
  var input = document.getElementById("meta-value");
  if (!input || !input.dataset.run) return;
  var asked = false;
  function load() {
    if (asked) return;
    asked = true;
    fetch("/api/runs/" + encodeURIComponent(input.dataset.run) + "/metadata")
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var list = document.getElementById("meta-values");
        var select = document.getElementById("meta-key");
        var chosen = select ? select.value : "";
        if (list) list.replaceChildren();
        if (select) select.replaceChildren();
        Object.keys(data.fields).forEach(function (key) {
          if (select) {
            var opt = document.createElement("option");
            opt.textContent = key;
            opt.selected = key === chosen;
            select.appendChild(opt);
          }
          data.fields[key].forEach(function (value) {
            var option = document.createElement("option");
            option.value = value;
            option.textContent = key;
            if (list) list.appendChild(option);
          });
        });
        var note = document.getElementById("meta-partial");
        if (note) note.textContent = "(every value of the run's " + data.samples.toLocaleString() + " samples)";
      })
      .catch(function () { asked = false; });
  }
  input.addEventListener("focus", load);
  if (input.value) load();
})();
