// Behaviour for portal pages. The Content-Security-Policy allows no inline script and no event
// handler attributes: pages mark elements with data-* attributes and this file wires them up.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  // <canvas data-signature-for="INPUT_ID">: a signature pad (pointer events: finger, pen or mouse).
  // On submit the drawing is put into the hidden <input type=file id=INPUT_ID> as a PNG, so the
  // signature is uploaded with the form like any other file.
  function signaturePad(canvas) {
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var strokes = 0;
    var state = document.querySelector('[data-pad-state="' + canvas.id + '"]');
    function clear() {
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
      canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.fillStyle = "#fff";  // an opaque background: the ink check compares strokes to it
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 2.5;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      strokes = 0;
      canvas.dataset.signed = "";
      if (state) { state.textContent = "未签字"; }
    }
    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return {x: event.clientX - rect.left, y: event.clientY - rect.top};
    }
    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      drawing = true;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
      var p = point(event);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      event.preventDefault();
      var p = point(event);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    });
    function end() {
      if (!drawing) { return; }
      drawing = false;
      strokes += 1;
      canvas.dataset.signed = "1";
      if (state) { state.textContent = "已签字（" + strokes + "笔）"; }
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    clear();
    canvas.clearPad = clear;
  }

  function padToInput(canvas) {
    return new Promise(function (resolve) {
      var input = document.getElementById(canvas.dataset.signatureFor);
      if (!input || canvas.dataset.signed !== "1" || !window.DataTransfer) { resolve(); return; }
      canvas.toBlob(function (blob) {
        var transfer = new DataTransfer();
        transfer.items.add(new File([blob], input.name + ".png", {type: "image/png"}));
        input.files = transfer.files;
        resolve();
      }, "image/png");
    });
  }

  ready(function () {
    // <select data-autosubmit>: submit its form when the choice changes
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) { el.form.submit(); } });
    });

    document.querySelectorAll("canvas[data-signature-for]").forEach(signaturePad);
    document.querySelectorAll("[data-clear-pad]").forEach(function (button) {
      button.addEventListener("click", function () {
        var canvas = document.getElementById(button.dataset.clearPad);
        if (canvas && canvas.clearPad) { canvas.clearPad(); }
      });
    });
    document.querySelectorAll("form[data-home-visit]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.ready === "1") { return; }
        event.preventDefault();
        var pads = Array.prototype.slice.call(form.querySelectorAll("canvas[data-signature-for]"));
        Promise.all(pads.map(padToInput)).then(function () {
          form.dataset.ready = "1";
          form.submit();
        });
      });
    });

    // <input type=file data-preview=ID>: small previews of the chosen photos (data: URLs, allowed by the CSP)
    document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      input.addEventListener("change", function () {
        var box = document.getElementById(input.dataset.preview);
        if (!box) { return; }
        box.textContent = "";
        Array.prototype.forEach.call(input.files, function (file) {
          var reader = new FileReader();
          reader.onload = function () {
            var img = document.createElement("img");
            img.src = reader.result;
            img.alt = file.name;
            box.appendChild(img);
          };
          reader.readAsDataURL(file);
        });
      });
    });
  });
})();
