// Keyworker console: keyboard shortcuts for the inbox (listed on the page under "Keyboard shortcuts").
// Never fires while someone is typing in a box, or with Ctrl, Alt or Cmd held.
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#caseload-rows th a"));
  }

  function step(by) {
    var links = rows();
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    var next = at === -1 ? (by > 0 ? 0 : links.length - 1) : Math.min(Math.max(at + by, 0), links.length - 1);
    links[next].focus({focusVisible: true});
    links[next].closest("tr").scrollIntoView({block: "nearest"});
  }

  function focusOn(selector) {
    var el = document.querySelector(selector);
    if (!el) return false;
    var panel = el.closest("details");
    if (panel) panel.open = true;
    // Moved there by a key press: show where focus is, whatever the browser guesses.
    el.focus({focusVisible: true});
    return true;
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (!help) return;
    help.open = !help.open;
    help.querySelector("summary").focus();
    if (help.open) help.scrollIntoView({block: "nearest"});
  }

  var keys = {
    "j": function () { step(1); return true; },
    "k": function () { step(-1); return true; },
    "/": function () { return focusOn("#q"); },
    "r": function () { return focusOn("#body"); },
    "c": function () { return focusOn("#canned button"); },
    "n": function () { return focusOn("#note-body"); },
    "i": function () { window.location.assign("/young-people"); return true; },
    "?": function () { toggleHelp(); return true; }
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    var action = keys[event.key];
    if (action && action()) event.preventDefault();
  });

  // A canned reply lands in the reply box: put the caret after it, ready to edit or send.
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = document.getElementById("body");
    if (box && event.target && event.target.id === "reply" && document.activeElement === box) {
      box.setSelectionRange(box.value.length, box.value.length);
    }
  });
})();
