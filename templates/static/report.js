// Report Viewer: Print prints the page, whose print stylesheet leaves only the report.
// Without JavaScript the same button opens the PDF to print from there.
(function () {
  "use strict";
  var button = document.getElementById("report-print");
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      window.print();
    });
  }
})();
