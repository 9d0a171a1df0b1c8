// Small vanilla client for the chat gateway; the session id survives a reload.
(function () {
  "use strict";
  var log = document.getElementById("conversation");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-text");
  var status = document.getElementById("chat-status");
  var key = "hotline.session";
  var sessionId = localStorage.getItem(key);
  if (!sessionId) {
    sessionId = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    localStorage.setItem(key, sessionId);
  }

  function addMessage(who, text, buttons) {
    var item = document.createElement("div");
    item.className = "msg " + (who === "我" ? "me" : "bot");
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who + "：";
    var body = document.createElement("span");
    body.textContent = text;
    item.appendChild(label);
    item.appendChild(body);
    (buttons || []).forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "secondary";
      btn.textContent = b.title;
      btn.addEventListener("click", function () { send(b.payload, b.title); });
      item.appendChild(document.createTextNode(" "));
      item.appendChild(btn);
    });
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function send(text, shown) {
    addMessage("我", shown || text);
    status.textContent = "正在发送…";
    fetch("/api/chat/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: sessionId, text: text, channel: "web" })
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
    }).then(function (r) {
      status.textContent = "";
      if (!r.ok) {
        addMessage("系统", r.data.error ? r.data.error.message : "发送失败，请重试。");
        return;
      }
      r.data.replies.forEach(function (reply) { addMessage("助手", reply.text || "", reply.buttons); });
    }).catch(function () {
      status.textContent = "网络连接失败，请检查网络后重试。";
    }).finally(function () { input.focus(); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { status.textContent = "请输入内容后再发送。"; return; }
    input.value = "";
    send(text);
  });
})();
