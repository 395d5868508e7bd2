/* Counter UI behaviour. Served by the app (no CDN), no inline script, so a strict
   Content-Security-Policy (script-src 'self') keeps working. Everything here is an
   enhancement: every page works with the keyboard and without JavaScript. */
(function () {
  "use strict";

  // Move focus to the error summary so keyboard and screen-reader users land on it.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-autofocus]");
    if (summary) {
      summary.focus();
    }
  }

  // Live document-points total: each checkbox carries data-points and data-kind; the meter
  // shows the running total per kind against the policy minimums. The server recomputes
  // and decides; this only spares the clerk a refused submission.
  function setupPoints() {
    var meter = document.querySelector("[data-points-meter]");
    if (!meter) {
      return;
    }
    var boxes = document.querySelectorAll("input[data-points]");
    var outputs = meter.querySelectorAll("[data-kind-total]");

    function update() {
      var totals = {};
      boxes.forEach(function (box) {
        var kind = box.getAttribute("data-kind");
        totals[kind] = totals[kind] || 0;
        if (box.checked) {
          totals[kind] += parseInt(box.getAttribute("data-points"), 10) || 0;
        }
      });
      var allMet = true;
      outputs.forEach(function (output) {
        var kind = output.getAttribute("data-kind-total");
        var minimum = parseInt(output.getAttribute("data-minimum"), 10) || 0;
        var total = totals[kind] || 0;
        output.textContent = String(total);
        if (total < minimum) {
          allMet = false;
        }
      });
      meter.setAttribute("data-met", allMet ? "true" : "false");
      var met = meter.querySelector("[data-met-text]");
      var unmet = meter.querySelector("[data-unmet-text]");
      if (met && unmet) {
        met.hidden = !allMet;
        unmet.hidden = allMet;
      }
    }

    boxes.forEach(function (box) {
      box.addEventListener("change", update);
    });
    update();
  }

  // Webcam capture: getUserMedia shows the camera, a click grabs a frame into a canvas and
  // encodes it as JPEG. The JPEG is put into the form's own file input (DataTransfer), so the
  // photo travels in the same multipart POST as an uploaded file and passes the same
  // server-side checks and re-encoding.
  function setupCamera() {
    var root = document.querySelector("[data-camera]");
    if (!root) {
      return;
    }
    var fileInput = document.getElementById(root.getAttribute("data-file-input"));
    var video = root.querySelector("video");
    var preview = root.querySelector("[data-preview]");
    var empty = root.querySelector("[data-empty]");
    var startButton = root.querySelector("[data-camera-start]");
    var captureButton = root.querySelector("[data-camera-capture]");
    var stopButton = root.querySelector("[data-camera-stop]");
    var status = root.querySelector("[data-camera-status]");
    var stream = null;

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
        typeof DataTransfer === "undefined") {
      status.textContent = root.getAttribute("data-text-unsupported");
      startButton.disabled = true;
      return;
    }

    function show(element) {
      [video, preview, empty].forEach(function (el) {
        el.hidden = el !== element;
      });
    }

    function stop() {
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
        stream = null;
      }
      captureButton.disabled = true;
      stopButton.disabled = true;
      startButton.disabled = false;
    }

    startButton.addEventListener("click", function () {
      status.textContent = root.getAttribute("data-text-starting");
      navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 960 }, facingMode: "user" },
        audio: false
      }).then(function (media) {
        stream = media;
        video.srcObject = media;
        show(video);
        captureButton.disabled = false;
        stopButton.disabled = false;
        startButton.disabled = true;
        status.textContent = root.getAttribute("data-text-ready");
        captureButton.focus();
      }).catch(function () {
        status.textContent = root.getAttribute("data-text-denied");
      });
    });

    captureButton.addEventListener("click", function () {
      if (!stream || !video.videoWidth) {
        return;
      }
      // Crop the centre to the card photo's 3:4 portrait ratio.
      var vw = video.videoWidth;
      var vh = video.videoHeight;
      var targetRatio = 3 / 4;
      var sw = vw;
      var sh = vh;
      if (vw / vh > targetRatio) {
        sw = Math.round(vh * targetRatio);
      } else {
        sh = Math.round(vw / targetRatio);
      }
      var canvas = document.createElement("canvas");
      canvas.width = 600;
      canvas.height = 800;
      canvas.getContext("2d").drawImage(
        video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, canvas.width, canvas.height
      );
      canvas.toBlob(function (blob) {
        if (!blob) {
          status.textContent = root.getAttribute("data-text-failed");
          return;
        }
        var file = new File([blob], "camera.jpg", { type: "image/jpeg" });
        var transfer = new DataTransfer();
        transfer.items.add(file);
        fileInput.files = transfer.files;
        preview.src = URL.createObjectURL(blob);
        show(preview);
        stop();
        status.textContent = root.getAttribute("data-text-taken");
      }, "image/jpeg", 0.9);
    });

    stopButton.addEventListener("click", function () {
      stop();
      show(empty);
      status.textContent = "";
    });

    // An uploaded file replaces a camera shot in the preview too.
    fileInput.addEventListener("change", function () {
      var file = fileInput.files && fileInput.files[0];
      if (file && /^image\/(jpeg|png)$/.test(file.type)) {
        preview.src = URL.createObjectURL(file);
        show(preview);
      }
    });

    window.addEventListener("pagehide", stop);
  }

  // Buttons that destroy something ask once more (data-confirm holds the translated question).
  function setupConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    setupPoints();
    setupCamera();
    setupConfirm();
  });
})();
