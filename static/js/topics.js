// Topics: publish with POST /topics/{t}; subscribe over SSE or WebSocket.
//
// SSE, one topic:     id: 7 / data: hello            (the id is the cursor)
// SSE, several:       id: news:7,alerts:2 / data: {"event":"message","topic":"news","id":7,…}
// WebSocket (?format=json), any number of topics: one JSON object per frame.
// Gaps ("event":"gap") and drops ("event":"error") arrive in the same stream.
//
// EventSource resumes by itself after a drop (it sends Last-Event-ID). A
// WebSocket does not: this page reconnects it with ?since= and the cursor it
// kept per topic (a topic with nothing received yet starts live).
"use strict";

(() => {
  const subs = $("#subs");
  const note = $("#sub-note");
  const tbody = $("#messages tbody");
  const receipt = $("#pub-receipt");
  const MAX_SSE = 3; // a browser opens at most 6 HTTP/1.1 connections to one server
  let nextNumber = 1;
  const open = new Set();

  function row(sub, kind, topic, id, data) {
    const tr = document.createElement("tr");
    tr.className = kind;
    tr.dataset.sub = sub.number;
    tr.dataset.transport = sub.transport;
    for (const cell of [clock(), `#${sub.number}`, sub.transport.toUpperCase(), topic, id, data]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    tbody.prepend(tr);
    while (tbody.children.length > 300) tbody.lastElementChild.remove();
  }

  // One received JSON object (multi-topic SSE data, or any WebSocket frame).
  function received(sub, obj) {
    if (obj.event === "message") row(sub, "message", obj.topic, obj.id, obj.data);
    else if (obj.event === "gap") row(sub, "gap", obj.topic, "", `gap: ids ${obj.from} to ${obj.to ?? "(past the last id)"} are not in the history`);
    else if (obj.event === "error") row(sub, "error", obj.topic, "", `error: ${obj.error}${obj.last_id != null ? ` (last id ${obj.last_id})` : ""}`);
  }

  // The list item showing one subscription: what, state, cursor, Close.
  function card(sub) {
    const li = document.createElement("li");
    li.dataset.sub = sub.number;
    li.dataset.transport = sub.transport;
    const title = document.createElement("strong");
    title.textContent = `#${sub.number} ${sub.transport.toUpperCase()} ${sub.topics.join(",")}`;
    sub.stateEl = document.createElement("span");
    sub.stateEl.className = "state";
    sub.cursorEl = document.createElement("code");
    sub.cursorEl.className = "cursor";
    sub.cursorEl.textContent = "live (none yet)";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "small";
    close.textContent = "Close";
    close.setAttribute("aria-label", `close subscription ${sub.number}`);
    close.addEventListener("click", () => { sub.close(); li.remove(); open.delete(sub); refreshEmpty(); });
    li.append(title, sub.stateEl, sub.cursorEl, close);
    subs.querySelector(".empty")?.remove();
    subs.append(li);
    setState(sub.stateEl, "connecting");
  }

  function refreshEmpty() {
    if (!subs.children.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "none yet";
      subs.append(li);
    }
  }

  // The token field, when filled: ?token= on a subscription (the server's
  // log shows it as token=REDACTED), a Bearer header on a publish.
  const token = () => $("#token").value.trim();

  function query(params) {
    const q = new URLSearchParams(token() ? { ...params, token: token() } : params).toString();
    return q ? `?${q}` : "";
  }

  function subscribeSse(sub, since) {
    const multi = sub.topics.length > 1;
    const source = new EventSource(`/topics/${sub.topics.join(",")}/sse${query(since ? { since } : {})}`);
    const cursor = (e) => { if (e.lastEventId) sub.cursorEl.textContent = e.lastEventId; };
    source.onopen = () => setState(sub.stateEl, "open");
    source.onmessage = (e) => {
      cursor(e);
      if (multi) received(sub, JSON.parse(e.data));
      else row(sub, "message", sub.topics[0], e.lastEventId, e.data);
    };
    source.addEventListener("gap", (e) => received(sub, JSON.parse(e.data)));
    // "error" is both the server's event (a MessageEvent with data: we were
    // dropped) and the browser's connection notice (a plain Event).
    source.addEventListener("error", (e) => {
      if (e instanceof MessageEvent) return received(sub, JSON.parse(e.data));
      setState(sub.stateEl, source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    });
    sub.close = () => source.close();
  }

  function subscribeWs(sub, since) {
    const cursors = new Map(); // topic → last id received
    let ws = null;
    let retry = 500;
    let closing = false;
    let timer = 0;
    const cursorText = () =>
      sub.topics.length > 1
        ? [...cursors].map(([t, id]) => `${t}:${id}`).join(",")
        : String(cursors.get(sub.topics[0]) ?? "");

    function connect(sinceNow) {
      ws = new WebSocket(wsUrl(`/topics/${sub.topics.join(",")}/ws${query(sinceNow ? { format: "json", since: sinceNow } : { format: "json" })}`));
      ws.onopen = () => { retry = 500; setState(sub.stateEl, "open"); };
      ws.onmessage = (e) => {
        const obj = JSON.parse(e.data);
        if (obj.event === "message") {
          cursors.set(obj.topic, obj.id);
          sub.cursorEl.textContent = cursorText();
        }
        received(sub, obj);
      };
      ws.onclose = (e) => {
        if (closing) return;
        // Not asked for: show why, then resume from the cursor.
        row(sub, "error", sub.topics.join(","), "", `closed ${e.code}${e.reason ? ` "${e.reason}"` : ""}; reconnecting`);
        setState(sub.stateEl, "reconnecting");
        timer = setTimeout(() => connect(cursorText() || undefined), retry);
        retry = Math.min(retry * 2, 5000);
      };
    }
    connect(since);
    sub.close = () => { closing = true; clearTimeout(timer); ws.close(1000); };
  }

  $("#sub-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = [...document.querySelectorAll("input[name=topic]:checked")].map((c) => c.value);
    const other = $("#sub-other").value.split(",").map((s) => s.trim()).filter(Boolean);
    const topics = [...new Set([...picked, ...other])];
    const transport = document.querySelector("input[name=transport]:checked").value;
    const since = $("#sub-since").value.trim();
    if (!topics.length) { note.textContent = "Pick at least one topic."; return; }
    const sse = [...open].filter((s) => s.transport === "sse").length;
    if (transport === "sse" && sse >= MAX_SSE) {
      note.textContent = `At most ${MAX_SSE} SSE subscriptions here: each holds one of the 6 connections a browser opens to a server over HTTP/1.1 (WebSockets are not counted).`;
      return;
    }
    note.textContent = "";
    const sub = { number: nextNumber++, topics, transport };
    card(sub);
    (transport === "sse" ? subscribeSse : subscribeWs)(sub, since);
    open.add(sub);
  });

  $("#pub-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const topic = $("#pub-topic").value.trim();
    try {
      const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
      const response = await fetch(`/topics/${encodeURIComponent(topic)}`, { method: "POST", body: $("#pub-text").value, headers });
      receipt.textContent = `${response.status} ${(await response.text()).trim()}`;
    } catch (err) {
      receipt.textContent = `failed: ${err.message}`;
    }
  });

  $("#msg-clear").addEventListener("click", () => tbody.replaceChildren());
})();
