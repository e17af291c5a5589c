"use strict";
// Live filtering for grids: typing in the Filter Row or the search box reloads the grid in
// place after a short pause. Without this file the same forms work by pressing Enter.
(function () {
  var timer = null;
  var latest = 0;

  function formUrl(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (value !== "") params.append(name, value);
    });
    var query = params.toString();
    return form.getAttribute("action") + (query ? "?" + query : "");
  }

  function reload(section, url, input) {
    var ticket = ++latest;
    fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (ticket !== latest) return;
        input.classList.toggle("grid-invalid", !response.ok);
        if (!response.ok) {
          input.title = "Not a valid filter: " + response.status;
          return;
        }
        return response.text().then(function (html) {
          if (ticket !== latest) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
          if (!fresh) return;
          var caret = input.selectionStart;
          section.replaceWith(fresh);
          history.replaceState(null, "", url);
          var again = fresh.querySelector('[name="' + input.name + '"]:not([type="hidden"])');
          if (again) {
            again.focus();
            try { again.setSelectionRange(caret, caret); } catch (e) { /* not a text input */ }
          }
        });
      })
      .catch(function () { /* offline: pressing Enter still submits the form */ });
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".grid-filter-row input, .grid-search input[name=q]")) return;
    var section = input.closest("section.grid");
    if (!section || !input.form) return;
    clearTimeout(timer);
    timer = setTimeout(function () { reload(section, formUrl(input.form), input); }, 400);
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.matches || !field.matches(".grid-size select, .grid-filter-row select")) return;
    if (field.form) field.form.submit();
  });
})();
