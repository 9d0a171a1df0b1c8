// Browser phone: microphone -> 8 kHz mu-law over the Twilio Media Streams protocol; replies played back.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let ws = null, ctx = null, mic = null, node = null, playAt = 0, sources = [];
  const sid = "MZweb" + Math.random().toString(16).slice(2);
  const say = (t) => { $("status").textContent = t; };
  const logLine = (t) => { const p = document.createElement("p"); p.textContent = t; $("log").appendChild(p); };

  function ulawEncode(s) {
    const BIAS = 0x84; let sign = (s >> 8) & 0x80; if (sign) s = -s; if (s > 32635) s = 32635; s += BIAS;
    let exp = 7; for (let m = 0x4000; (s & m) === 0 && exp > 0; m >>= 1) exp--;
    return ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0f)) & 0xff;
  }
  function ulawDecode(u) {
    u = ~u & 0xff; const sign = u & 0x80, exp = (u >> 4) & 7, man = u & 0x0f;
    const s = (((man << 3) + 0x84) << exp) - 0x84; return (sign ? -s : s) / 32768;
  }
  function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }

  function play(b64) {
    const bin = atob(b64), f = new Float32Array(bin.length);
    for (let i = 0; i < bin.length; i++) f[i] = ulawDecode(bin.charCodeAt(i));
    const buf = ctx.createBuffer(1, f.length, 8000); buf.copyToChannel(f, 0);
    const src = ctx.createBufferSource(); src.buffer = buf; src.connect(ctx.destination);
    playAt = Math.max(playAt, ctx.currentTime + 0.05); src.start(playAt); playAt += buf.duration;
    sources.push(src); src.onended = () => { sources = sources.filter((x) => x !== src); };
  }
  function markLater(name) {
    const ms = Math.max(0, (playAt - ctx.currentTime) * 1000);
    setTimeout(() => send({ event: "mark", streamSid: sid, mark: { name } }), ms);
  }

  async function start() {
    const admission = await fetch("/phone/token", { cache: "no-store" });
    if (!admission.ok) { say(admission.status === 429 ? "拨打太频繁了，请稍后再试。" : "暂时无法接通，请稍后再试。"); return; }
    const ticket = await admission.json();
    ctx = new AudioContext();
    mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/voice/stream");
    ws.onopen = () => {
      send({ event: "connected", protocol: "Call" });
      send({ event: "start", streamSid: sid, start: { streamSid: sid, callSid: ticket.call_sid, customParameters: { hotline_events: "1", stream_token: ticket.stream_token },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 } } });
      say("已接通"); $("hang").disabled = false; $("call").disabled = true; $("hang").focus();
    };
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.event === "media") play(m.media.payload);
      else if (m.event === "mark") markLater(m.mark.name);
      else if (m.event === "clear") { sources.forEach((s) => { try { s.stop(); } catch (_) {} }); sources = []; playAt = 0; }
      else if (m.event === "hotline") {
        const h = m.hotline;
        if (h.type === "say") logLine("热线：" + h.text);
        else if (h.type === "turn") logLine("您说：" + h.heard);
      }
    };
    ws.onclose = () => stop("通话已结束");
    const srcNode = ctx.createMediaStreamSource(mic);
    node = ctx.createScriptProcessor(4096, 1, 1);
    const ratio = ctx.sampleRate / 8000; let carry = 0, ts = 0;
    node.onaudioprocess = (ev) => {
      const inp = ev.inputBuffer.getChannelData(0), out = [];
      for (let pos = carry; pos < inp.length; pos += ratio) out.push(ulawEncode(Math.round(Math.max(-1, Math.min(1, inp[Math.floor(pos)])) * 32767)));
      carry = (carry + out.length * ratio) - inp.length; if (carry < 0) carry = 0;
      for (let i = 0; i < out.length; i += 160) {
        const chunk = out.slice(i, i + 160); let s = ""; for (const b of chunk) s += String.fromCharCode(b);
        send({ event: "media", streamSid: sid, media: { track: "inbound", timestamp: String(ts), payload: btoa(s) } }); ts += 20;
      }
    };
    srcNode.connect(node); node.connect(ctx.destination);
  }
  function stop(msg) {
    if (ws && ws.readyState === 1) { send({ event: "stop", streamSid: sid, stop: {} }); ws.close(); }
    if (node) node.disconnect(); if (mic) mic.getTracks().forEach((t) => t.stop());
    ws = null; node = null; mic = null; say(msg || "已挂断");
    $("hang").disabled = true; $("call").disabled = false;
  }
  $("call").addEventListener("click", () => start().catch((e) => say("无法打开麦克风：" + e.message)));
  $("hang").addEventListener("click", () => stop());
  document.querySelectorAll("[data-k]").forEach((b) => b.addEventListener("click", () => send({ event: "dtmf", streamSid: sid, dtmf: { digit: b.dataset.k } })));
  document.addEventListener("keydown", (e) => {
    if (/^[0-9*#]$/.test(e.key) && ws) { send({ event: "dtmf", streamSid: sid, dtmf: { digit: e.key } }); e.preventDefault(); }
  });
})();
