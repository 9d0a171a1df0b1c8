/* Staff console enhancements: the live queue and the idle-time warning.
   Everything works without this script; it never moves focus on its own except
   into the idle warning (a modal dialog that keeps focus, counts down, and closes with
   Esc = "continue"), and back to where it was after "continue". */
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function liveQueue() {
    var lists = document.getElementById("queue-lists");
    if (!lists || !window.EventSource) { return; }
    var news = document.getElementById("queue-news");
    var alertBox = document.getElementById("queue-alert");
    var source = new EventSource(lists.getAttribute("data-events"));
    source.addEventListener("queue", function (event) {
      var data = JSON.parse(event.data);
      var active = document.activeElement;
      var key = active && lists.contains(active) ? active.getAttribute("data-key") : null;
      lists.innerHTML = data.html;
      if (key) {
        var again = lists.querySelector('[data-key="' + CSS.escape(key) + '"]');
        (again || document.getElementById("queue-live-note") || lists).focus();
      }
      if (data.news) { news.textContent = ""; news.textContent = data.news; }
      if (data.alert) {
        var p = document.createElement("p");
        p.textContent = data.alert;
        alertBox.replaceChildren(p);
      }
    });
    source.addEventListener("expired", function () {
      source.close();
      window.location.assign("/staff/login?next=/staff");
    });
  }

  function idleWarning() {
    var box = document.getElementById("idle-warning");
    if (!box) { return; }
    var left = document.getElementById("idle-left");
    var announce = document.getElementById("idle-announce");
    var form = document.getElementById("idle-form");
    var warnMs = parseInt(box.getAttribute("data-warn"), 10) || 120000;
    // Screen readers hear the dialog when it opens and then only at these seconds left;
    // the visible text counts down every second.
    var MARKS = [60, 30, 10];
    var deadline = 0;
    var lastSeconds = null;
    var returnTo = null;
    var outside = [];

    // The server's expiry, converted to this computer's clock (which may be wrong).
    function setExpiry(expiresMs, serverNowMs) {
      deadline = Date.now() + (expiresMs - (serverNowMs || Date.now()));
    }
    setExpiry(parseInt(box.getAttribute("data-expires"), 10), parseInt(box.getAttribute("data-now"), 10));

    function describe(seconds) {
      if (seconds >= 60) {
        var rest = seconds % 60;
        return Math.floor(seconds / 60) + "分" + (rest ? rest + "秒" : "钟");
      }
      return seconds + "秒";
    }

    function focusables() {
      return Array.prototype.filter.call(
        box.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"),
        function (el) { return !el.disabled && el.offsetParent !== null; }
      );
    }

    // Everything but the dialog is inert while it is open: focus and the reading cursor stay inside.
    function setOutsideInert(on) {
      if (on) {
        outside = [];
        var node = box;
        while (node && node !== document.body) {
          Array.prototype.forEach.call(node.parentNode.children, function (sibling) {
            if (sibling !== node && !sibling.inert && sibling.tagName !== "SCRIPT") {
              sibling.inert = true;
              outside.push(sibling);
            }
          });
          node = node.parentNode;
        }
      } else {
        outside.forEach(function (el) { el.inert = false; });
        outside = [];
      }
    }

    function open(seconds) {
      left.textContent = describe(seconds);
      announce.textContent = "";
      lastSeconds = seconds;
      returnTo = document.activeElement;
      box.hidden = false;
      setOutsideInert(true);
      document.getElementById("idle-extend").focus();
    }

    function close() {
      box.hidden = true;
      setOutsideInert(false);
      announce.textContent = "";
      lastSeconds = null;
      if (returnTo && returnTo !== document.body && document.contains(returnTo)) {
        returnTo.focus();
      } else {
        document.getElementById("main").focus();
      }
    }

    function tick() {
      var remaining = deadline - Date.now();
      if (remaining <= 0) {
        window.location.assign("/staff/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      var seconds = Math.ceil(remaining / 1000);
      if (box.hidden) {
        if (remaining <= warnMs) { open(seconds); }
        return;
      }
      left.textContent = describe(seconds);
      MARKS.forEach(function (mark) {
        if (lastSeconds > mark && seconds <= mark) {
          announce.textContent = "还剩" + describe(seconds) + "将自动退出登录。要继续使用，请按“继续使用”。";
        }
      });
      lastSeconds = seconds;
    }
    window.setInterval(tick, 1000);

    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
        return;
      }
      if (event.key !== "Tab") { return; }
      var items = focusables();
      if (!items.length) { return; }
      var first = items[0];
      var last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      } else if (!box.contains(document.activeElement)) {
        event.preventDefault();
        first.focus();
      }
    });
    // A click elsewhere (or anything else) that takes focus out of the open dialog brings it back.
    document.addEventListener("focusin", function (event) {
      if (!box.hidden && !box.contains(event.target)) { document.getElementById("idle-extend").focus(); }
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch("/staff/session/extend", {
        method: "POST",
        headers: { "x-csrf-token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
        body: "csrf=" + encodeURIComponent(csrf),
        credentials: "same-origin"
      }).then(function (resp) {
        if (!resp.ok) { throw new Error("extend failed"); }
        return resp.json();
      }).then(function (data) {
        setExpiry(data.expires_at_ms, data.now_ms);
        close();
      }).catch(function () { form.submit(); });
    });
  }

  liveQueue();
  idleWarning();
}());
