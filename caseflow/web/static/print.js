/* The print button of printable pages: [data-print] opens the browser's print dialog.
 * A static listener because the console's CSP (default-src 'self') refuses onclick="...". */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
}());
