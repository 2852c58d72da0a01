// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function formatBytes(n) {
    if (n >= 1024 * 1024) return (n / (1024 * 1024)).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " B";
  }


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

  // New ticket: list the chosen files and refuse, before a long upload, what the server would refuse.
  function setupUpload(form) {
    var input = form.querySelector('input[type="file"]');
    var list = form.querySelector("#file-list");
    if (!input || !list) return;
    var maxFiles = Number(input.dataset.maxFiles || 0);
    var maxImage = Number(input.dataset.maxImageBytes || 0);
    var maxVideo = Number(input.dataset.maxVideoBytes || 0);

    function problems() {
      var found = [];
      if (maxFiles && input.files.length > maxFiles) {
        found.push("At most " + maxFiles + " files per ticket; " + input.files.length + " chosen.");
      }
      Array.prototype.forEach.call(input.files, function (file) {
        var limit = file.type.indexOf("video/") === 0 ? maxVideo : maxImage;
        if (limit && file.size > limit) found.push("'" + file.name + "' is larger than " + formatBytes(limit) + ".");
      });
      return found;
    }

    function render() {
      list.replaceChildren();
      Array.prototype.forEach.call(input.files, function (file) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.textContent = file.name;
        var size = document.createElement("span");
        size.className = "muted";
        size.textContent = formatBytes(file.size);
        li.append(name, size);
        list.append(li);
      });
      problems().forEach(function (text) {
        var li = document.createElement("li");
        li.className = "bad";
        li.textContent = text;
        list.append(li);
      });
    }

    input.addEventListener("change", render);
    form.addEventListener("submit", function (event) {
      if (problems().length) {
        event.preventDefault();
        render();
        return;
      }
      var button = form.querySelector('button[type="submit"]');
      if (button && button.dataset.busyLabel) {
        button.textContent = button.dataset.busyLabel;
        // disabled after the submit has been dispatched, so the form still sends
        setTimeout(function () { button.disabled = true; }, 0);
      }
    });
  }

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
    var ticketForm = document.getElementById("ticket-form");
    if (ticketForm) setupUpload(ticketForm);
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
