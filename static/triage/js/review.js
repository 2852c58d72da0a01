// Reviewing at keyboard speed: the queue's j/k/o/x// and the ticket page's a/e/n/p/u/?.
// Every key is ignored while typing in a field or with a modifier; every action also has a
// button or a link, so the pages work without this file (docs/review.md lists the keys).
(function () {
  "use strict";

  function typing(event) {
    var target = event.target;
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function modified(event) { return event.ctrlKey || event.metaKey || event.altKey; }

  // One polite live region per page, inside <main>, for what a key did.
  function announcer() {
    var region = document.getElementById("shortcut-announce");
    if (!region) {
      region = document.createElement("div");
      region.id = "shortcut-announce";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      (document.querySelector("main") || document.body).appendChild(region);
    }
    return function (text) { region.textContent = text; };
  }

  // ---- The queue: j/k move real focus, o/Enter open, x tick, / search; focus survives Back.
  function setupQueue() {
    var say = announcer();
    var storeKey = "queue-focus:" + window.location.pathname + window.location.search;
    var index = -1;
    function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr")); }
    function describe(row, n, total) {
      var ref = row.querySelector(".ref");
      var subject = row.querySelector(".subject");
      var status = row.querySelector(".badge");
      return (ref ? ref.textContent : "") + " " + (subject ? subject.textContent : "") +
        (status ? ", " + status.textContent.trim() : "") + ", " + (n + 1) + " of " + total;
    }
    function focus(i, quiet) {
      var all = rows();
      if (!all.length) return;
      index = Math.max(0, Math.min(all.length - 1, i));
      all.forEach(function (row, n) { row.classList.toggle("kbd-focus", n === index); });
      var row = all[index];
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
      try { window.sessionStorage.setItem(storeKey, row.dataset.ticket || ""); } catch (e) { /* private mode */ }
      if (!quiet) say(describe(row, index, all.length));
    }
    function restore() {
      var id;
      try { id = window.sessionStorage.getItem(storeKey); } catch (e) { id = null; }
      if (!id) return;
      var all = rows();
      for (var n = 0; n < all.length; n++) {
        if (all[n].dataset.ticket === id) { focus(n, true); return; }
      }
    }
    // the row a link is followed from is the row Back comes back to
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("table.queue tbody tr a");
      if (!link) return;
      var row = link.closest("tr");
      try { window.sessionStorage.setItem(storeKey, row.dataset.ticket || ""); } catch (e) { /* ignore */ }
    });
    document.addEventListener("keydown", function (event) {
      if (typing(event) || modified(event)) return;
      var row = rows()[index];
      if (event.key === "j") { focus(index + 1); event.preventDefault(); }
      else if (event.key === "k") { focus(index - 1); event.preventDefault(); }
      else if ((event.key === "o" || event.key === "Enter") && row && event.target === row) {
        var link = row.querySelector(".ticket-cell a");
        if (link) { event.preventDefault(); link.click(); }
      } else if (event.key === "o" && row) {
        var open = row.querySelector(".ticket-cell a");
        if (open) { event.preventDefault(); open.click(); }
      } else if (event.key === "x" && row) {
        var box = row.querySelector('input[type="checkbox"]');
        if (box) {
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
          say((box.checked ? "Selected " : "Unselected ") + (row.querySelector(".ref") || {}).textContent);
          event.preventDefault();
        }
      } else if (event.key === "/") {
        var search = document.querySelector('.filters input[name="q"]');
        if (search) { search.focus(); event.preventDefault(); }
      }
    });
    // a page restored from the back/forward cache keeps its DOM but not its focus
    window.addEventListener("pageshow", restore);
    restore();
  }

  // ---- Bulk: select all on the page, then "all N matching"; only the chosen action's value shows.
  function setupBulk(form) {
    var say = announcer();
    var all = document.getElementById("pick-all");
    var scope = document.getElementById("bulk-scope");
    var everything = document.getElementById("bulk-all");
    var count = document.getElementById("bulk-count");
    var change = document.getElementById("bulk-change");
    function boxes() { return Array.prototype.slice.call(document.querySelectorAll('table.queue input[name="ticket"]')); }
    function update() {
      var ticked = boxes().filter(function (b) { return b.checked; }).length;
      var total = boxes().length;
      if (scope.value === "all" && ticked < total) scope.value = "";
      if (all) { all.checked = total > 0 && ticked === total; all.indeterminate = ticked > 0 && ticked < total; }
      if (everything) {
        everything.hidden = !(ticked === total && total > 0);
        everything.textContent = scope.value === "all" ? "Clear selection" : "Select all " + everything.dataset.count + " matching";
      }
      count.textContent = scope.value === "all" ? "All " + everything.dataset.count + " matching tickets selected" : ticked ? ticked + " selected" : "";
    }
    if (all) all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      scope.value = "";
      update();
    });
    if (everything) everything.addEventListener("click", function () {
      if (scope.value === "all") { scope.value = ""; boxes().forEach(function (b) { b.checked = false; }); }
      else scope.value = "all";
      update();
      say(count.textContent || "Selection cleared");
    });
    document.addEventListener("change", function (event) { if (event.target.name === "ticket") update(); });
    function showValue() {
      form.querySelectorAll(".bulk-value").forEach(function (control) { control.hidden = control.dataset.for !== change.value; });
    }
    if (change) { change.addEventListener("change", showValue); showValue(); }
    update();
  }

  // ---- The ticket page.
  function setupTicket() {
    var say = announcer();
    var overlay = document.getElementById("shortcuts");
    var opener = document.getElementById("shortcuts-open");
    var closer = document.getElementById("shortcuts-close");
    var returnTo = null;

    function help(show) {
      if (!overlay) return;
      if (show) {
        returnTo = document.activeElement;
        overlay.hidden = false;
        if (closer) closer.focus();
      } else {
        overlay.hidden = true;
        if (returnTo && returnTo.focus) returnTo.focus();
      }
    }
    if (opener) opener.addEventListener("click", function () { help(true); });
    if (closer) closer.addEventListener("click", function () { help(false); });
    if (overlay) overlay.addEventListener("click", function (event) { if (event.target === overlay) help(false); });

    function go(id, missing) {
      var link = document.getElementById(id);
      if (link) { say("Opening " + link.textContent.trim()); window.location.assign(link.href); }
      else say(missing);
    }
    function firstField() {
      var form = document.getElementById("review-form");
      return form && form.querySelector(".field select, .field input:not([type=hidden]), .field textarea");
    }

    document.addEventListener("keydown", function (event) {
      // Ctrl/Cmd+Enter in the review form: Save & next (the one combination meant for a field)
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.closest &&
          event.target.closest("#review-form")) {
        var save = document.getElementById("save-next");
        if (save) { event.preventDefault(); save.click(); }
        return;
      }
      if (event.key === "Escape") {
        if (overlay && !overlay.hidden) { help(false); event.preventDefault(); }
        else if (typing(event)) { event.target.blur(); say("Shortcuts on"); }
        return;
      }
      if (typing(event) || modified(event)) return;
      if (overlay && !overlay.hidden && event.key !== "?") return;
      switch (event.key) {
        case "a": {
          var accept = document.getElementById("accept-next");
          if (accept) { say("Accepting as proposed"); accept.click(); } else say("Nothing to accept on this ticket");
          break;
        }
        case "e": {
          var field = firstField();
          if (field) { field.focus(); field.scrollIntoView({ block: "nearest" }); } else say("No review form on this ticket");
          break;
        }
        case "n": go("view-next", "This is the last ticket of this view"); break;
        case "p": go("view-previous", "This is the first ticket of this view"); break;
        case "u": {
          var back = document.getElementById("back-to-list");
          if (!back) return;
          var ref = document.referrer ? new URL(document.referrer) : null;
          var list = new URL(back.href);
          // back in history when we came from that very list: its scroll and focused row return
          if (ref && ref.origin === list.origin && ref.pathname === list.pathname && ref.search === list.search && window.history.length > 1) window.history.back();
          else window.location.assign(back.href);
          break;
        }
        case "?": help(overlay ? overlay.hidden : false); break;
        default: return;
      }
      event.preventDefault();
    });
  }

  // ---- Presence: the first change in the review form tells the others "editing".
  function setupPresence(form) {
    var flag = document.getElementById("presence-editing");
    if (!flag) return;
    function editing() {
      if (flag.value === "1") return;
      flag.value = "1";
      document.body.dispatchEvent(new CustomEvent("presence-editing"));
    }
    form.addEventListener("input", editing);
    form.addEventListener("change", editing);
  }

  // ---- A frame or a line of the recording's text: play the recording from that moment.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-seek]");
    if (!link) return;
    var video = link.closest("article") && link.closest("article").querySelector("video");
    if (!video) return;
    event.preventDefault();
    video.currentTime = parseFloat(link.dataset.seek) || 0;
    video.focus();
    var played = video.play();
    if (played && played.catch) played.catch(function () { /* autoplay refused: it is seeked */ });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var reviewForm = document.getElementById("review-form");
    if (reviewForm) setupPresence(reviewForm);
    if (document.querySelector("table.queue")) setupQueue();
    var bulk = document.getElementById("bulk");
    if (bulk && document.getElementById("bulk-scope")) setupBulk(bulk);
    if (document.getElementById("shortcuts")) setupTicket();
  });
})();
