// Live pages (console and web chat): when updates were missed, load again what the page shows.
(function () {
  "use strict";

  // Live updates were missed: this process lost its link to the others ("resync"), this page fell
  // behind ("reload"), or the page's own stream dropped and came back. Load again what the page shows
  // (caseload rows, unread count, alert banner, panels, the conversation), never touching a box being typed in.
  function resync() {
    Array.prototype.forEach.call(document.querySelectorAll("[hx-trigger*='sse:']"), function (el) {
      var match = /sse:([\w-]+)/.exec(el.getAttribute("hx-trigger"));
      if (match) htmx.trigger(el, "sse:" + match[1]);
    });
    var list = document.getElementById("messages");
    if (!list || !list.hasAttribute("sse-swap")) return;
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("messages");
        if (fresh) {
          list.innerHTML = fresh.innerHTML;
          htmx.process(list);
        }
      });
  }

  var streamOpened = false;
  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.source;
    if (source) {
      source.addEventListener("resync", resync);
      source.addEventListener("reload", resync);
    }
    if (streamOpened) resync();  // reconnected: whatever happened meanwhile was not streamed
    streamOpened = true;
  });
})();
