// GET /event: Server-Sent Events through the browser's EventSource.
//
// The server sends "id: 42\ndata: 42\n\n" once a second. EventSource keeps the
// last id; when the connection drops it waits (3 s in Chrome) and reconnects
// by itself with the header "Last-Event-ID: 42", and the server goes on at 43.
"use strict";

(() => {
  const value = $("#counter-value");
  const state = $("#counter-state");
  const lastId = $("#counter-id");
  const opens = $("#counter-opens");
  const toggle = $("#counter-toggle");
  let source = null;
  let opened = 0;
  let last = "";

  function connect() {
    // A new EventSource does not send Last-Event-ID: ask with ?since= instead.
    source = new EventSource(last ? `/event?since=${encodeURIComponent(last)}` : "/event");
    setState(state, "connecting");
    source.onopen = () => {
      opens.textContent = ++opened;
      setState(state, "open");
    };
    source.onmessage = (e) => {
      value.textContent = e.data;
      last = e.lastEventId;
      lastId.textContent = last;
    };
    source.onerror = () => {
      // CONNECTING: the browser will retry on its own; CLOSED: it gave up.
      if (source.readyState === EventSource.CONNECTING) setState(state, "reconnecting");
      else setState(state, "closed");
    };
    toggle.textContent = "Disconnect";
  }

  function disconnect() {
    source.close();
    source = null;
    setState(state, "closed");
    toggle.textContent = "Connect";
  }

  toggle.addEventListener("click", () => (source ? disconnect() : connect()));
  connect();
})();
