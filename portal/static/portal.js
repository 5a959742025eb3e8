// Behaviour for portal pages. The Content-Security-Policy allows no inline script and no event
// handler attributes: pages mark elements with data-* attributes and this file wires them up.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }
  ready(function () {
    // <select data-autosubmit>: submit its form when the choice changes
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) { el.form.submit(); } });
    });
  });
})();
