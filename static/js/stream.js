// GET /stream: one chunked response read with fetch and a ReadableStream reader.
//
// response.body.getReader().read() resolves once per chunk the network hands
// over, so each line shows when its chunk arrives, with the time since Run.
"use strict";

(() => {
  const form = $("#stream-form");
  const run = $("#stream-run");
  const stop = $("#stream-stop");
  const status = $("#stream-status");
  const lines = $("#stream-lines");
  let controller = null;

  function addLine(text, ms) {
    const li = document.createElement("li");
    li.dataset.ms = Math.round(ms);
    const time = document.createElement("time");
    time.textContent = `+${Math.round(ms)} ms`;
    const code = document.createElement("code");
    code.textContent = text;
    li.append(time, " ", code);
    lines.append(li);
    lines.scrollTop = lines.scrollHeight;
  }

  async function start() {
    const params = new URLSearchParams({
      count: $("#stream-count").value,
      interval_ms: $("#stream-interval").value,
      timeout_ms: $("#stream-timeout").value,
    });
    lines.replaceChildren();
    controller = new AbortController();
    run.disabled = true;
    stop.disabled = false;
    const t0 = performance.now();
    let chunks = 0;
    let count = 0;
    try {
      const response = await fetch(`/stream?${params}`, { signal: controller.signal });
      status.textContent = `HTTP ${response.status}, reading…`;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks++;
        const ms = performance.now() - t0;
        pending += decoder.decode(value, { stream: true });
        const parts = pending.split("\n");
        pending = parts.pop(); // an unfinished line waits for the next chunk
        for (const line of parts) { addLine(line, ms); count++; }
      }
      if (pending) { addLine(pending, performance.now() - t0); count++; }
      status.textContent = `HTTP ${response.status}: ${count} lines in ${chunks} chunks, ${Math.round(performance.now() - t0)} ms`;
    } catch (err) {
      status.textContent = err.name === "AbortError" ? `stopped after ${count} lines` : `failed: ${err.message}`;
    } finally {
      controller = null;
      run.disabled = false;
      stop.disabled = true;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); if (!controller) start(); });
  stop.addEventListener("click", () => controller && controller.abort());
})();
