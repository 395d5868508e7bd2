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
        // Name the short categories, with their points: "Residence in the city (1 / 2)".
        var short = [];
        outputs.forEach(function (output) {
          var kind = output.getAttribute("data-kind-total");
          var minimum = parseInt(output.getAttribute("data-minimum"), 10) || 0;
          if ((totals[kind] || 0) < minimum) {
            var holder = meter.querySelector('[data-kind="' + kind + '"]');
            var name = holder ? holder.getAttribute("data-kind-label") : kind;
            short.push(name + " (" + (totals[kind] || 0) + " / " + minimum + ")");
          }
        });
        var template = unmet.getAttribute("data-template");
        if (template && short.length) {
          unmet.textContent = template.replace("{kinds}", short.join(", "));
        }
      }
      // While points are short the enrol button waits, and says why next to it.
      var state = document.querySelector("[data-submit-state]");
      if (state) {
        document.querySelectorAll("[data-submit]").forEach(function (submit) {
          submit.disabled = !allMet;
        });
        state.hidden = allMet;
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

  // A form being sent says so and cannot be sent twice (a second click would enrol twice).
  function setupBusy() {
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-submit][data-busy-text]")) {
        return;
      }
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) {
          return;
        }
        if (form.getAttribute("data-busy") === "true") {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-busy", "true");
        // The button pressed says what is happening; the others wait. (Not disabled: a
        // disabled button's name and value would not be sent.)
        var pressed = event.submitter || form.querySelector("[data-submit]");
        form.querySelectorAll("[data-submit]").forEach(function (button) {
          button.setAttribute("aria-disabled", "true");
        });
        if (pressed && pressed.hasAttribute("data-busy-text")) {
          pressed.textContent = pressed.getAttribute("data-busy-text");
        }
      });
    });
  }

  // A chosen file replaces a photo kept from a refused submission.
  function setupKeptPhoto() {
    var kept = document.querySelector("input[name='kept_photo']");
    var file = document.querySelector("input[type='file'][name='photo']");
    if (!kept || !file) {
      return;
    }
    file.addEventListener("change", function () {
      if (file.files && file.files.length) {
        kept.value = "";
        var note = document.querySelector("[data-photo-kept]");
        if (note) {
          note.hidden = true;
        }
      }
    });
  }

  // "Print the card": the card's PDF opens in a hidden frame and the browser's print dialog
  // opens on it, without leaving the page. Without JavaScript the link opens the PDF itself.
  function setupPrint() {
    document.querySelectorAll("[data-print-card]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        printCard(link.getAttribute("href"), link);
      });
      if (link.hasAttribute("data-print-now")) {
        printCard(link.getAttribute("href"), link);
      }
    });
  }

  function printCard(url, link) {
    var old = document.getElementById("card-print-frame");
    if (old) {
      old.remove();
    }
    var frame = document.createElement("iframe");
    frame.id = "card-print-frame";
    frame.className = "print-frame";
    frame.setAttribute("aria-hidden", "true");
    frame.setAttribute("tabindex", "-1");
    frame.addEventListener("load", function () {
      try {
        frame.contentWindow.focus();
        frame.contentWindow.print();
        document.body.setAttribute("data-printed", link.getAttribute("data-card") || "");
        // The card is printed now: the next print from this page is a reprint (audited so).
        document.querySelectorAll('[data-print-card][data-card="' +
            link.getAttribute("data-card") + '"]').forEach(function (other) {
          var href = other.getAttribute("href");
          if (href.indexOf("reprint=1") === -1) {
            other.setAttribute("href", href + (href.indexOf("?") === -1 ? "?" : "&") + "reprint=1");
          }
        });
      } catch (error) {
        // A browser that cannot print a frame: open the PDF, whose viewer prints it.
        window.location.href = url;
      }
    });
    frame.src = url;
    document.body.appendChild(frame);
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
    setupBusy();
    setupKeptPhoto();
    setupPrint();
  });
})();
