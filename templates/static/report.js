// Report Viewer: Print prints the page, whose print stylesheet leaves only the report.
// Without JavaScript the same button opens the PDF to print from there.
// The Email button opens the Emailer panel beside the report and puts the cursor in To.
(function () {
  "use strict";
  var panel = document.getElementById("report-email");
  document.querySelectorAll("a.button.email").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!panel) { return; }
      event.preventDefault();
      panel.open = true;
      var to = document.getElementById("email-to");
      if (to) { to.focus(); }
    });
  });
  var button = document.getElementById("report-print");
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      window.print();
    });
  }
})();
