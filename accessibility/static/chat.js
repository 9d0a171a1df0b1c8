// Enhances the chat form (which works without JavaScript): sends with fetch, appends
// each new message once to the role="log" region (so screen readers announce it once),
// keeps focus in the message box, and listens for new messages in every state of the page
// (a staff member can take over at any moment): a live event stream, or polling where the
// stream cannot be held open.
(function () {
  "use strict";
  var log = document.getElementById("conversation");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-text");
  var help = document.getElementById("chat-help");
  var errorBox = document.getElementById("chat-error");
  var status = document.getElementById("chat-status");
  var answering = document.getElementById("answering");
  var humanButton = document.getElementById("human-button");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  if (!log || !form || !input || !window.fetch) { return; }

  var lastId = parseInt(log.getAttribute("data-last-id") || "0", 10) || 0;
  var seen = {};
  var busy = false;
  var pollTimer = null;
  log.querySelectorAll("[data-key]").forEach(function (el) { seen[el.getAttribute("data-key")] = true; });
  if (help && help.getAttribute("data-js-text")) { help.textContent = help.getAttribute("data-js-text"); }
  // The no-JS page marks the newest message for the #latest jump; with JS the box keeps focus.
  var latest = document.getElementById("latest");
  if (latest) { latest.removeAttribute("id"); latest.removeAttribute("tabindex"); }

  function showError(message) {
    errorBox.textContent = "";
    if (message) {
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = "错误：";
      errorBox.appendChild(hidden);
      errorBox.appendChild(document.createTextNode(message));
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function setAnswering(state, text) {
    if (!answering || !state) { return; }
    if (answering.getAttribute("data-state") !== state) {
      answering.setAttribute("data-state", state);
      answering.className = "answering answering-" + state;
      answering.textContent = text;
    }
    schedulePoll(state);
  }

  function dropOldQuickReplies() {
    log.querySelectorAll(".quick-replies").forEach(function (el) { el.parentNode.removeChild(el); });
  }

  function buildMessage(m) {
    // Built completely before it is inserted, so the live region sees one addition.
    var item = document.createElement("div");
    item.className = "msg msg-" + m.sender;
    item.setAttribute("data-key", m.key);
    var p = document.createElement("p");
    p.className = "msg-text";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.label + "：";
    p.appendChild(who);
    p.appendChild(document.createTextNode(m.text));
    item.appendChild(p);
    if (m.buttons && m.buttons.length) {
      var group = document.createElement("div");
      group.className = "quick-replies";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "可选的回答");
      m.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.className = "secondary quick";
        btn.textContent = b.title;
        btn.addEventListener("click", function () { send(b.payload, b.title); });
        group.appendChild(btn);
      });
      item.appendChild(group);
    }
    return item;
  }

  function append(messages) {
    var note = document.getElementById("empty-note");
    if (note && messages.length) { note.parentNode.removeChild(note); }
    var added = false;
    messages.forEach(function (m) {
      if (seen[m.key]) { return; }
      seen[m.key] = true;
      if (m.buttons && m.buttons.length) { dropOldQuickReplies(); }
      log.appendChild(buildMessage(m));
      added = true;
    });
    if (added) { form.scrollIntoView({ block: "end", behavior: "auto" }); }
  }

  function apply(data) {
    if (typeof data.last_id === "number" && data.last_id > lastId) { lastId = data.last_id; }
    append(data.messages || []);
    setAnswering(data.answering, data.answering_text);
  }

  var unsent = null;

  function newTurnId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function send(text, shown) {
    if (busy) { return; }
    busy = true;
    form.setAttribute("data-busy", "true");
    showError("");
    var waitTimer = setTimeout(function () { status.textContent = "正在等待回复……"; }, 1500);
    var mine = document.createElement("div");
    mine.className = "msg msg-me";
    var p = document.createElement("p");
    p.className = "msg-text";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = "我：";
    p.appendChild(who);
    p.appendChild(document.createTextNode(shown || text));
    mine.appendChild(p);
    var note = document.getElementById("empty-note");
    if (note) { note.parentNode.removeChild(note); }
    log.appendChild(mine);
    input.focus();
    // One id per turn: sent again after a lost connection, the turn is answered once, not twice.
    if (!unsent || unsent.text !== text) { unsent = { text: text, id: newTurnId() }; }
    var turnId = unsent.id;
    function post() {
      return fetch("/chat/send", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify({ text: text, after: lastId, turn_id: turnId })
      });
    }
    post().catch(function () {
      // One quiet retry: the message may have arrived and only the answer been lost.
      return new Promise(function (resolve) { setTimeout(resolve, 2000); }).then(post);
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; },
                             function () { return { ok: false, data: {} }; });
    }).then(function (r) {
      if (!r.ok) {
        mine.parentNode.removeChild(mine);
        if (!input.value) { input.value = shown ? "" : text; }
        showError(r.data.error && r.data.error.message ? r.data.error.message : "发送没有成功，请再试一次。");
        return;
      }
      unsent = null;
      mine.setAttribute("data-key", r.data.log_id + "-u");
      seen[r.data.log_id + "-u"] = true;
      // Old quick replies go once the turn succeeded (kept on failure so they can be pressed again).
      dropOldQuickReplies();
      apply(r.data);
    }).catch(function () {
      mine.parentNode.removeChild(mine);
      if (!input.value) { input.value = shown ? "" : text; }
      showError("网络连接失败，没有收到回复。请检查网络后再按“发送”：同一条消息不会重复登记。");
    }).then(function () {
      clearTimeout(waitTimer);
      status.textContent = "";
      busy = false;
      form.removeAttribute("data-busy");
      if (document.activeElement === document.body || !document.activeElement) { input.focus(); }
    });
  }

  function poll() {
    if (busy) { return; }
    fetch("/chat/updates?after=" + lastId, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) { if (data && !busy) { apply(data); } })
      .catch(function () { /* try again at the next tick */ });
  }

  var live = null;
  var liveFailures = 0;

  function listen() {
    if (!window.EventSource || live) { return; }
    live = new EventSource("/chat/events?after=" + lastId);
    live.addEventListener("chat", function (ev) {
      liveFailures = 0;
      try { var data = JSON.parse(ev.data); } catch (e) { return; }
      if (!busy) { apply(data); }
    });
    live.addEventListener("error", function () {
      // The browser reconnects by itself; after repeated failures (a proxy that cuts streams) poll instead.
      liveFailures += 1;
      if (live.readyState === EventSource.CLOSED || liveFailures > 3) {
        live.close();
        live = null;
        schedulePoll(currentState());
      }
    });
  }

  function currentState() { return answering ? answering.getAttribute("data-state") : "bot"; }

  function schedulePoll(state) {
    // With a live stream open nothing needs polling; without one, poll quickly while a person
    // is (or will be) answering and slowly otherwise, and not while the tab is hidden.
    var every = live ? 0 : (state === "waiting" || state === "staff" ? 4000 : 15000);
    if (pollTimer && pollTimer.every === every) { return; }
    if (pollTimer) { clearInterval(pollTimer.id); pollTimer = null; }
    if (every) {
      pollTimer = { every: every, id: setInterval(function () { if (!document.hidden) { poll(); } }, every) };
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !live) { poll(); }
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var submitter = ev.submitter;
    if (submitter && submitter === humanButton) { send("转人工"); return; }
    var text = input.value;
    if (!text.trim()) { showError("请先输入您要说的话，再按“发送”。"); input.focus(); return; }
    input.value = "";
    send(text.trim());
  });

  humanButton.addEventListener("click", function (ev) {
    ev.preventDefault();
    send("转人工");
  });

  input.addEventListener("keydown", function (ev) {
    // Enter sends; Shift+Enter is a new line; never while an input method is composing (拼音).
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      if (typeof form.requestSubmit === "function") { form.requestSubmit(document.getElementById("send-button")); }
      else { form.dispatchEvent(new Event("submit", { cancelable: true })); }
    }
  });

  // Quick replies rendered by the server: send them through fetch as well.
  log.querySelectorAll("form.quick-replies button").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      send(btn.value, btn.textContent);
    });
  });

  listen();
  schedulePoll(currentState());
})();
