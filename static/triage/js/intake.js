// New ticket: drop, paste, pick or record files; each is checked here against the server's own
// limits (read from the page, never copied into this file), then uploaded on its own with a
// progress bar. The form then posts the upload tokens instead of the bytes. Without this script the
// form is a plain multipart POST and still works.
(function () {
  "use strict";

  function formatBytes(n) {
    if (n >= 1024 * 1024) return (n / (1024 * 1024)).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " B";
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // "2026-11-29-0930": local time, as the person pasting or recording sees it.
  function stamp(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "-" +
      pad(date.getHours()) + pad(date.getMinutes());
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setupIntake(form, config) {
    var input = form.querySelector('input[type="file"][name="attachments"]');
    var zone = form.querySelector("#dropzone");
    var list = form.querySelector("#file-list");
    var submit = form.querySelector('button[type="submit"]');
    var formError = form.querySelector("#intake-error");
    var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
    var accepted = config.imageTypes.concat(config.videoTypes);
    var items = [];
    var nextId = 1;
    var submitWhenDone = false;
    var sent = false;

    zone.classList.add("is-enhanced");
    zone.setAttribute("tabindex", "0");
    zone.querySelector(".dropzone-prompt").hidden = false;

    function live() { return items.filter(function (item) { return item.state !== "refused"; }); }

    // The same rules as services.media.upload_check, from the same settings. The browser knows the
    // declared type only; the server judges the bytes again.
    function problem(file) {
      var type = (file.type || "").split(";")[0].trim().toLowerCase();
      if (!file.size) return "'" + file.name + "' is empty.";
      if (type && accepted.indexOf(type) < 0) {
        return "'" + file.name + "' is not a screenshot or recording this form takes (" + type + ").";
      }
      var isVideo = type ? type.indexOf("video/") === 0 : true;  // no type: the larger limit, the server decides
      var limit = isVideo ? config.maxVideoBytes : config.maxImageBytes;
      if (file.size > limit) return "'" + file.name + "' is larger than " + formatBytes(limit) + ".";
      if (live().length >= config.maxFiles) return "At most " + config.maxFiles + " files per ticket.";
      return "";
    }

    function showError(text) {
      formError.textContent = text;
      formError.hidden = !text;
    }

    function render(item) {
      var li = item.li;
      li.className = "file-item file-" + item.state;
      li.replaceChildren();
      var thumb;
      if (item.file && item.state !== "refused" && item.file.type.indexOf("image/") === 0) {
        thumb = el("img", "file-thumb");
        thumb.alt = "";
        thumb.src = item.url || (item.url = URL.createObjectURL(item.file));
      } else if (item.file && item.state !== "refused" && item.file.type.indexOf("video/") === 0) {
        thumb = el("video", "file-thumb");
        thumb.muted = true;
        thumb.preload = "metadata";
        thumb.src = item.url || (item.url = URL.createObjectURL(item.file));
      } else {
        thumb = el("span", "file-thumb");
      }
      var main = el("div", "file-main");
      var name = el("span", "file-name", item.name);
      name.title = item.name;
      var status = { uploading: "uploading…", uploaded: "uploaded", failed: "not uploaded", refused: "not sent" }[item.state];
      var meta = el("span", "muted file-size", formatBytes(item.size) + " · " + status);
      main.append(name, meta);
      if (item.state === "uploading" || item.state === "uploaded") {
        var bar = el("progress", "file-progress");
        bar.max = 100;
        bar.value = item.progress;
        bar.setAttribute("aria-label", "Upload of " + item.name);
        item.bar = bar;
        main.append(bar);
      }
      if (item.error) main.append(el("span", "file-problem", item.error));
      if (item.token) {
        var hidden = el("input");
        hidden.type = "hidden";
        hidden.name = "staged";
        hidden.value = item.token;
        li.append(hidden);
      }
      var actions = el("div", "file-actions");
      if (item.state === "failed" && item.retry) {
        var retry = el("button", "btn btn-sm", "Retry");
        retry.type = "button";
        retry.addEventListener("click", function () { upload(item); });
        actions.append(retry);
      }
      var remove = el("button", "btn btn-sm btn-ghost", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + item.name);
      remove.addEventListener("click", function () { removeItem(item); });
      actions.append(remove);
      li.append(thumb, main, actions);
    }

    function removeItem(item) {
      if (item.xhr) item.xhr.abort();
      if (item.url) URL.revokeObjectURL(item.url);
      items.splice(items.indexOf(item), 1);
      item.li.remove();
      if (!items.some(function (i) { return i.state === "refused" || i.state === "failed"; })) showError("");
      settle();
    }

    function upload(item) {
      var xhr = new XMLHttpRequest();
      var body = new FormData();
      body.append("file", item.file, item.name);
      item.xhr = xhr;
      item.state = "uploading";
      item.progress = 0;
      item.error = "";
      render(item);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && item.bar) item.bar.value = Math.floor((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", function () {
        item.xhr = null;
        var reply = {};
        try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = {}; }
        if (xhr.status === 201 && reply.token) {
          item.state = "uploaded";
          item.progress = 100;
          item.token = reply.token;
        } else if (xhr.status === 400) {
          item.state = "failed";
          item.retry = false;  // the server refused the bytes: sending them again changes nothing
          item.error = reply.error || "The server refused this file.";
        } else {
          item.state = "failed";
          item.retry = true;
          item.error = "Upload failed (HTTP " + xhr.status + ").";
        }
        render(item);
        settle();
      });
      xhr.addEventListener("error", function () {
        item.xhr = null;
        item.state = "failed";
        item.retry = true;
        item.error = "The upload was interrupted; retry it.";
        render(item);
        settle();
      });
      xhr.open("POST", config.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.send(body);
    }

    function addFiles(files) {
      Array.prototype.forEach.call(files, function (file) {
        var item = { id: nextId++, file: file, name: file.name, size: file.size, progress: 0, li: el("li") };
        item.li.dataset.file = item.name;
        var why = problem(file);
        items.push(item);
        list.append(item.li);
        if (why) {
          item.state = "refused";
          item.error = why;
          render(item);
        } else {
          upload(item);
        }
      });
    }

    // Called whenever an upload ends: a submit that was waiting goes on once every file is up.
    function settle() {
      if (!submitWhenDone) return;
      if (items.some(function (i) { return i.state === "uploading"; })) return;
      submitWhenDone = false;
      submit.disabled = false;
      submit.textContent = submit.dataset.label;
      if (items.some(function (i) { return i.state === "failed" || i.state === "refused"; })) {
        showError("Some files were not uploaded: retry or remove them, then create the ticket.");
        return;
      }
      send();
    }

    function send() {
      if (sent) return;  // a second click while the page is leaving would make a second ticket
      sent = true;
      input.value = "";  // the bytes went ahead; the form carries the tokens
      submit.textContent = submit.dataset.busyLabel || submit.textContent;
      form.submit();
      setTimeout(function () { submit.disabled = true; }, 0);
    }

    submit.dataset.label = submit.textContent;

    input.addEventListener("change", function () {
      addFiles(input.files);
      input.value = "";  // the list is ours now; the same file may be added again after a removal
    });

    zone.addEventListener("click", function (event) {
      if (event.target.closest("button, input, a, li")) {
        if (event.target.closest('[data-intake="browse"]')) input.click();
        return;
      }
      input.click();
    });
    zone.addEventListener("keydown", function (event) {
      if (event.target === zone && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        input.click();
      }
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
    });

    // Ctrl/Cmd+V anywhere on the page: pasted images become files; pasted text is left alone.
    document.addEventListener("paste", function (event) {
      var data = event.clipboardData;
      if (!data || !data.files || !data.files.length) return;
      var now = stamp(new Date());
      var taken = {};
      items.forEach(function (i) { taken[i.name] = true; });
      var files = Array.prototype.map.call(data.files, function (file) {
        var ext = (file.type.split("/")[1] || "png").replace("jpeg", "jpg").split(";")[0];
        var name = "pasted-" + now + "." + ext;
        for (var n = 2; taken[name]; n++) name = "pasted-" + now + "-" + n + "." + ext;
        taken[name] = true;
        return new File([file], name, { type: file.type });
      });
      event.preventDefault();
      addFiles(files);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sent) return;
      if (!form.reportValidity()) return;
      if (items.some(function (i) { return i.state === "refused" || i.state === "failed"; })) {
        showError("Remove the files marked in red before creating the ticket.");
        return;
      }
      showError("");
      if (items.some(function (i) { return i.state === "uploading"; })) {
        submitWhenDone = true;
        submit.disabled = true;
        submit.textContent = "Waiting for the uploads…";
        return;
      }
      send();
    });

    // Files uploaded before the form came back with an error are listed by the server; keep them.
    list.querySelectorAll("li[data-staged]").forEach(function (li) {
      var item = {
        id: nextId++, file: null, name: li.querySelector(".file-name").textContent, size: 0,
        state: "uploaded", progress: 100, li: li, token: li.querySelector('input[name="staged"]').value,
      };
      items.push(item);
      var remove = el("button", "btn btn-sm btn-ghost", "Remove");
      remove.type = "button";
      remove.addEventListener("click", function () { removeItem(item); });
      li.append(remove);
    });

    return { addFiles: addFiles };
  }

  // Screen recording: getDisplayMedia + MediaRecorder (WebM), capped at config.recordMaxS with a
  // countdown, shown in a preview before it joins the files. `source` returns a MediaStream promise.
  function setupRecorder(box, config, addFiles, source) {
    var start = box.querySelector('[data-intake="record"]');
    var stop = box.querySelector('[data-intake="stop"]');
    var countdown = box.querySelector("#record-countdown");
    var preview = box.querySelector("#record-preview");
    var video = preview.querySelector("video");
    var error = box.querySelector("#record-error");
    var recorder = null;
    var timer = null;
    var blob = null;
    var url = null;

    function mimeType() {
      var choices = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];
      for (var i = 0; i < choices.length; i++) if (MediaRecorder.isTypeSupported(choices[i])) return choices[i];
      return "";
    }

    function discard() {
      if (url) URL.revokeObjectURL(url);
      url = null;
      blob = null;
      video.removeAttribute("src");
      preview.hidden = true;
    }

    function finish(chunks, stream) {
      clearInterval(timer);
      stream.getTracks().forEach(function (track) { track.stop(); });
      countdown.textContent = "";
      stop.hidden = true;
      start.hidden = false;
      if (!chunks.length) {  // stopped before the first frame arrived
        error.textContent = "The recording is empty: record again.";
        error.hidden = false;
        return;
      }
      blob = new Blob(chunks, { type: "video/webm" });
      url = URL.createObjectURL(blob);
      video.src = url;
      preview.hidden = false;
      recorder = null;
    }

    function begin() {
      discard();
      error.hidden = true;
      source().then(function (stream) {
        var chunks = [];
        var left = config.recordMaxS;
        var type = mimeType();
        recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
        recorder.addEventListener("dataavailable", function (event) { if (event.data.size) chunks.push(event.data); });
        recorder.addEventListener("stop", function () { finish(chunks, stream); });
        // "Stop sharing" in the browser's own bar ends the track: end the recording with it
        stream.getVideoTracks().forEach(function (track) {
          track.addEventListener("ended", function () { if (recorder && recorder.state !== "inactive") recorder.stop(); });
        });
        recorder.start(1000);
        start.hidden = true;
        stop.hidden = false;
        countdown.textContent = left + " s left";
        timer = setInterval(function () {
          left -= 1;
          countdown.textContent = left + " s left";
          if (left <= 0 && recorder && recorder.state !== "inactive") recorder.stop();
        }, 1000);
      }).catch(function (exc) {
        error.textContent = exc && exc.name === "NotAllowedError"
          ? "Screen recording was not allowed."
          : "The screen could not be recorded (" + (exc && exc.message ? exc.message : exc) + ").";
        error.hidden = false;
      });
    }

    start.addEventListener("click", begin);
    stop.addEventListener("click", function () { if (recorder && recorder.state !== "inactive") recorder.stop(); });
    box.querySelector('[data-intake="discard"]').addEventListener("click", discard);
    box.querySelector('[data-intake="rerecord"]').addEventListener("click", begin);
    box.querySelector('[data-intake="keep"]').addEventListener("click", function () {
      if (!blob) return;
      addFiles([new File([blob], "screen-recording-" + stamp(new Date()) + ".webm", { type: "video/webm" })]);
      discard();
    });
    box.hidden = false;
  }

  function displayMedia() {
    return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("ticket-form");
    var configNode = document.getElementById("intake-config");
    if (!form || !configNode || !window.FormData || !window.XMLHttpRequest) return;
    var config = JSON.parse(configNode.textContent);
    var intake = setupIntake(form, config);
    var box = form.querySelector("#recorder");
    var canRecord = navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia && window.MediaRecorder;
    if (box && canRecord) setupRecorder(box, config, intake.addFiles, displayMedia);
  });
})();
