// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // The queue's and the ticket page's keys: review.js.

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
    // Filters: leave empty fields out of the URL, so a shared link says only what is applied.
    var filters = document.querySelector("form.filters");
    if (filters) filters.addEventListener("submit", function () {
      filters.querySelectorAll("input, select").forEach(function (field) {
        if (!field.value) field.disabled = true;
      });
    });
  });
})();

// The header's menus (each a <details class="menu">: settings, the user's): Escape or a click
// elsewhere closes an open one; opening one closes the other.
(function () {
  "use strict";
  function menus() {
    return Array.prototype.slice.call(document.querySelectorAll("details.menu"));
  }
  document.addEventListener("click", function (event) {
    menus().forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus().forEach(function (menu) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
})();
