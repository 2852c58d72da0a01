// Saved views: hide the queue columns the active view leaves out (data-columns on #saved-views;
// an empty list shows every column). Only the columns a view can choose are ever hidden.
(function () {
  function apply() {
    var aside = document.getElementById("saved-views");
    var table = document.querySelector("table.queue");
    if (!aside || !table) return;
    var shown = JSON.parse(aside.dataset.columns || "[]");
    var known = JSON.parse(aside.dataset.knownColumns || "[]");
    if (!shown.length) return;
    var hide = [];
    table.querySelectorAll("thead th").forEach(function (th, i) {
      var name = th.textContent.trim();
      if (known.indexOf(name) >= 0 && shown.indexOf(name) < 0) hide.push(i);
    });
    table.querySelectorAll("tr").forEach(function (tr) {
      hide.forEach(function (i) {
        if (tr.children[i]) tr.children[i].hidden = true;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("htmx:afterSettle", apply);
})();
