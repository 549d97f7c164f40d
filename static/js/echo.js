// WebSocket echo on /echo, and /ws which adds a "heartbeat" text message a second.
//
// One socket, full duplex: send() writes a frame, onmessage gets each frame
// back. On close the browser reports the code and reason the server (or we)
// sent: 1000 normal, 1001 server going away, 1008 policy, 1009 too big.
"use strict";

(() => {
  const endpoint = $("#ws-endpoint");
  const toggle = $("#ws-toggle");
  const state = $("#ws-state");
  const form = $("#ws-form");
  const text = $("#ws-text");
  const send = $("#ws-send");
  const heartbeat = $("#ws-heartbeat");
  const closeInfo = $("#ws-close");
  const log = $("#ws-log");
  let ws = null;
  let beats = 0;

  function connect() {
    const path = endpoint.value;
    ws = new WebSocket(wsUrl(path));
    setState(state, "connecting");
    toggle.textContent = "Disconnect";
    endpoint.disabled = true;
    logLine(log, `connecting to ${path}`);
    ws.onopen = () => {
      setState(state, "open");
      send.disabled = false;
      logLine(log, "open");
    };
    ws.onmessage = (e) => {
      if (path === "/ws" && e.data === "heartbeat") {
        // Counted, not logged: one a second would bury the echoes.
        heartbeat.textContent = `${++beats} (last ${clock()})`;
        return;
      }
      logLine(log, `← ${e.data}`).className = "in";
    };
    ws.onclose = (e) => {
      const info = `${e.code}${e.reason ? ` "${e.reason}"` : ""}${e.wasClean ? "" : " (not clean)"}`;
      closeInfo.textContent = info;
      logLine(log, `closed ${info}`);
      setState(state, "closed");
      toggle.textContent = "Connect";
      send.disabled = true;
      endpoint.disabled = false;
      ws = null;
    };
  }

  toggle.addEventListener("click", () => {
    if (ws) ws.close(1000, "bye from the page");
    else connect();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(text.value);
    logLine(log, `→ ${text.value}`).className = "out";
  });
})();
