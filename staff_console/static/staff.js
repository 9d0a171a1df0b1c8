/* Staff console enhancements: the live queue and the idle-time warning.
   Everything works without this script; it never moves focus on its own except
   into the idle warning, and back to where it was after "continue". */
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
    var expires = parseInt(box.getAttribute("data-expires"), 10);
    var left = document.getElementById("idle-left");
    var form = document.getElementById("idle-form");
    var button = document.getElementById("idle-extend");
    var returnTo = null;

    function describe(ms) {
      var seconds = Math.max(0, Math.round(ms / 1000));
      return seconds >= 60 ? Math.ceil(seconds / 60) + "分钟" : seconds + "秒";
    }

    window.setInterval(function () {
      var remaining = expires - Date.now();
      if (remaining <= 0) {
        window.location.assign("/staff/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (remaining <= 120000 && box.hidden) {
        left.textContent = describe(remaining);
        returnTo = document.activeElement;
        box.hidden = false;
        button.focus();
      }
    }, 1000);

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
        expires = data.expires_at_ms;
        box.hidden = true;
        if (returnTo && document.contains(returnTo)) { returnTo.focus(); }
      }).catch(function () { form.submit(); });
    });
  }

  liveQueue();
  idleWarning();
}());
