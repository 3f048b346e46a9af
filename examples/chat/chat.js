"use strict";
// Counted for the browser test: the page must run under its own CSP.
window.cspViolations = 0;
document.addEventListener("securitypolicyviolation", () => { window.cspViolations += 1; });
let ws = null;
const $ = (id) => document.getElementById(id);
const CLOSES = {
  1000: "closed normally",
  1001: "going away (a timeout: no pong, idle, or lifetime)",
  1006: "the connection failed without a close frame (a refused handshake looks like this in browsers)",
  1007: "invalid UTF-8",
  1008: "policy violation (too many invalid messages, or personal data refused)",
  1009: "message too big",
  1011: "server error",
  1013: "try again later",
  4401: "authentication failed: the token is missing, wrong or expired",
  4403: "forbidden: the page's origin is not allowed, the session was revoked (kicked), or too many forbidden messages",
  4429: "rate limited: too many messages over the quota in a row",
};
const ERRORS = {
  invalid_message: (e) => `schema validation refused it: ${e.keyword || ""} at ${e.path || "/"}`,
  unknown_type: () => "schema validation: this message type does not exist",
  forbidden: () => "RBAC: your role may not send this",
  rate_limited: (e) => `rate limit: wait ${e.retry_after_ms} ms before sending again`,
  too_large: () => "the message is too large",
  not_joined: () => "join the room first",
  pii_rejected: () => "the PII scrubber refused it",
};

function log(cls, html, explain) {
  const li = document.createElement("li");
  li.className = cls;
  li.innerHTML = html;
  if (explain) {
    const span = document.createElement("span");
    span.className = "explain";
    span.textContent = explain;
    li.appendChild(span);
  }
  $("log").appendChild(li);
  $("log").scrollTop = $("log").scrollHeight;
}
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
function status(text, cls) { $("status").textContent = text; $("status").className = cls; }
function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) { log("error", "not connected"); return; }
  ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
}

function connect() {
  if (ws) ws.close();
  const token = $("token").value.trim();
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + (window.CHAT_HOST || location.host) + "/ws";
  status("connecting", "");
  const socket = new WebSocket(url, ["chat.v1", "bearer." + token]);
  ws = socket;
  socket.onopen = () => {
    status(`connected (subprotocol ${socket.protocol})`, "open");
    send({type: "join", room: $("room").value});
  };
  socket.onmessage = (event) => {
    let m;
    try { m = JSON.parse(event.data); } catch { log("system", esc(event.data)); return; }
    switch (m.type) {
      case "chat": log("chat", `<b>${esc(m.from)}</b> in #${esc(m.room)}: ${esc(m.text)}`); break;
      case "typing": log("system", `${esc(m.from)} is typing`); break;
      case "joined": log("system", `joined #${esc(m.room)} as ${esc(m.user)}`); break;
      case "kicked": log("system", `kicked ${esc(m.user)} (${m.sessions} session(s) revoked)`); break;
      case "notice": log("notice", esc(m.text)); break;
      case "error": log("error", `error <code>${esc(m.code)}</code>: ${esc(m.message || "")}`, (ERRORS[m.code] || (() => ""))(m)); break;
      default: log("system", esc(event.data));
    }
  };
  socket.onclose = (event) => {
    if (ws === socket) ws = null;
    status(`closed: ${event.code} ${event.reason}`, "closed");
    log("error", `connection closed with <code>${event.code}</code> "${esc(event.reason)}"`, CLOSES[event.code] || "");
  };
}

$("connect").onclick = connect;
$("disconnect").onclick = () => ws && ws.close(1000, "bye");
$("send").onclick = () => { send({type: "chat", room: $("room").value, text: $("text").value}); $("text").value = ""; };
// At most one "typing" per 1.5 s: the server allows 2 per second, and one
// per keystroke would be refused with rate_limited while a person types.
let lastTyping = 0;
$("text").onkeydown = (e) => {
  if (e.key === "Enter") { $("send").click(); return; }
  const now = Date.now();
  if (now - lastTyping >= 1500) {
    lastTyping = now;
    send({type: "typing", room: $("room").value});
  }
};
$("sendRaw").onclick = () => send($("raw").value);
$("kick").onclick = () => send({type: "kick", user: $("kickUser").value});
$("flood").onclick = () => { for (let i = 0; i < 40; i++) send({type: "chat", room: $("room").value, text: `flood ${i}`}); };

// The guard panel: its metrics, summed per outcome, every 2 s.
const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
async function refreshGuard() {
  let stats;
  try { stats = await (await fetch("/stats")).json(); } catch { return; }
  if (!stats.enabled) { $("by-layer").textContent = "metrics are off"; return; }
  const counts = {passed: stats.passed, refused: sum(stats.refused), masked: stats.masked, closed: sum(stats.closed)};
  const max = Math.max(1, ...Object.values(counts));
  for (const [name, n] of Object.entries(counts)) {
    $(`n-${name}`).textContent = n;
    $(`bar-${name}`).style.width = `${(20 * n) / max}em`;
  }
  const layers = (o, what) => Object.entries(o || {}).map(([layer, n]) => `${what} ${layer}: ${n}`);
  $("by-layer").textContent = [
    ...layers(stats.refused, "refused by"), ...layers(stats.closed, "closed by"),
    `handshakes refused: ${(stats.handshakes || {}).rejected || 0}`, `open connections: ${stats.connections}`,
  ].join(" · ");
}
refreshGuard();
setInterval(refreshGuard, 2000);
