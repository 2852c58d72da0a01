// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Review queue keyboard: j/k move, o or Enter open, x tick for bulk accept, / search.
  function setupQueueKeys(table) {
    var index = -1;
    // looked up each time: the queue's "Show new tickets" swaps the table for a fresh one
    function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr")); }
    function focus(i) {
      var all = rows();
      if (!all.length) return;
      index = Math.max(0, Math.min(all.length - 1, i));
      all.forEach(function (row, n) { row.classList.toggle("kbd-focus", n === index); });
      all[index].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) return;
      var row = rows()[index];
      if (event.key === "j") { focus(index + 1); event.preventDefault(); }
      else if (event.key === "k") { focus(index - 1); event.preventDefault(); }
      else if ((event.key === "o" || event.key === "Enter") && row) {
        var link = row.querySelector(".ticket-cell a");
        if (link) { window.location.href = link.href; event.preventDefault(); }
      } else if (event.key === "x" && row) {
        var box = row.querySelector('input[type="checkbox"]');
        if (box) { box.checked = !box.checked; event.preventDefault(); }
      } else if (event.key === "/") {
        var search = document.querySelector('.filters input[name="q"]');
        if (search) { search.focus(); event.preventDefault(); }
      }
    });
  }

  // New ticket: intake.js (drop, paste, record, per-file uploads with progress).

  // Review: mark the fields that differ from the model's proposal.
  function setupReview(form) {
    function update(field) {
      var control = field.querySelector("select, input, textarea");
      if (!control) return;
      field.classList.toggle("changed", control.value !== field.dataset.proposed);
    }
    form.querySelectorAll(".field[data-proposed]").forEach(function (field) {
      update(field);
      field.addEventListener("input", function () { update(field); });
      field.addEventListener("change", function () { update(field); });
    });
  }

  // A poll after the session expired is redirected to the login page: go there, rather than
  // swapping the login page into a table row.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var loginUrl = document.body.dataset.loginUrl;
    var responseUrl = event.detail.xhr && event.detail.xhr.responseURL;
    if (loginUrl && responseUrl && new URL(responseUrl).pathname === loginUrl) {
      event.detail.shouldSwap = false;
      window.location.assign(loginUrl + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var reviewForm = document.getElementById("review-form");
    if (reviewForm) setupReview(reviewForm);
    var queue = document.querySelector("table.queue");
    if (queue) setupQueueKeys(queue);
    // Filters: leave empty fields out of the URL, so a shared link says only what is applied.
    var filters = document.querySelector("form.filters");
    if (filters) filters.addEventListener("submit", function () {
      filters.querySelectorAll("input, select").forEach(function (field) {
        if (!field.value) field.disabled = true;
      });
    });
  });
})();

// The header's user menu (a <details>): Escape or a click elsewhere closes it.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var menu = document.getElementById("user-menu");
    if (menu && menu.open && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", function (event) {
    var menu = document.getElementById("user-menu");
    if (event.key === "Escape" && menu && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
})();
