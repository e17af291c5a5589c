// Small enhancements; every page works without them.
// - Tabs marked data-tabs switch panels in place and keep the URL (so Back and bookmarks hold).
// - Rows with action icons show them on touch as they do on hover.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-tabs]").forEach(function (box) {
    var tabs = box.querySelectorAll(".tabs [data-tab]");
    tabs.forEach(function (tab) {
      var panel = box.querySelector('[data-panel="' + tab.dataset.tab + '"]');
      if (!panel) { return; }
      tab.addEventListener("click", function (event) {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
        event.preventDefault();
        tabs.forEach(function (other) {
          var selected = other === tab;
          other.classList.toggle("active", selected);
          other.setAttribute("aria-selected", selected ? "true" : "false");
          var otherPanel = box.querySelector('[data-panel="' + other.dataset.tab + '"]');
          if (otherPanel) { otherPanel.hidden = !selected; }
        });
        history.replaceState(null, "", tab.href);
        box.querySelectorAll("a[data-keep-tab]").forEach(function (link) {
          var url = new URL(link.href, location.href);
          url.searchParams.set("tab", tab.dataset.tab);
          link.href = url.toString();
        });
      });
    });
  });

  document.querySelectorAll(".activity-list tbody tr").forEach(function (row) {
    row.addEventListener("touchstart", function () {
      document.querySelectorAll(".activity-list tr.hover").forEach(function (r) { r.classList.remove("hover"); });
      row.classList.add("hover");
    }, { passive: true });
  });
});
