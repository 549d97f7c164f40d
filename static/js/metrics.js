// GET /metrics once a second (Prometheus text), drawn as small SVG line charts.
//
//   tinypush_connections{kind="sse"} 3
//   tinypush_messages_published_total 42
//
// Gauges are drawn as they are; counters as their rate: the difference
// between two samples over the seconds between them. Polling pauses while
// the tab is hidden, so an idle page in the background costs nothing.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WINDOW = 60; // samples kept: the last minute
  const series = [
    { id: "http", label: "http connections", metric: 'tinypush_connections{kind="http"}' },
    { id: "chunked", label: "chunked connections", metric: 'tinypush_connections{kind="chunked"}' },
    { id: "sse", label: "SSE connections", metric: 'tinypush_connections{kind="sse"}' },
    { id: "ws", label: "WebSocket connections", metric: 'tinypush_connections{kind="ws"}' },
    { id: "published", label: "published / s", metric: "tinypush_messages_published_total", rate: true },
    { id: "delivered", label: "delivered / s", metric: "tinypush_messages_delivered_total", rate: true },
  ];
  const state = $("#metrics-state");
  const charts = $("#charts");
  let previous = null; // { t, values } of the last sample, for rates
  let timer = 0;
  let busy = false; // a sample in flight

  for (const s of series) {
    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.id = `m-${s.id}`;
    const caption = document.createElement("figcaption");
    s.valueEl = document.createElement("span");
    s.valueEl.className = "value";
    s.valueEl.textContent = "–";
    caption.append(s.label, s.valueEl);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${WINDOW - 1} 100`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${s.label}, last minute`);
    const base = document.createElementNS(SVG, "line");
    base.setAttribute("x1", 0); base.setAttribute("x2", WINDOW - 1);
    base.setAttribute("y1", 99); base.setAttribute("y2", 99);
    s.line = document.createElementNS(SVG, "polyline");
    svg.append(base, s.line);
    figure.append(caption, svg);
    charts.append(figure);
    s.points = [];
  }

  function parse(text) {
    const values = new Map();
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const space = line.lastIndexOf(" ");
      values.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return values;
  }

  function draw(s) {
    const max = Math.max(1, ...s.points);
    const offset = WINDOW - s.points.length; // newest at the right edge
    s.line.setAttribute("points", s.points.map((v, i) => `${i + offset},${(99 - (v / max) * 95).toFixed(1)}`).join(" "));
    s.line.dataset.max = max;
  }

  async function sample() {
    busy = true;
    try {
      const response = await fetch("/metrics", { cache: "no-store" });
      const values = parse(await response.text());
      const t = performance.now();
      for (const s of series) {
        let v = values.get(s.metric) ?? 0;
        if (s.rate) {
          if (!previous) continue;
          v = Math.max(0, (v - (previous.values.get(s.metric) ?? 0)) / ((t - previous.t) / 1000));
        }
        s.points.push(v);
        if (s.points.length > WINDOW) s.points.shift();
        s.valueEl.textContent = s.rate ? v.toFixed(1) : String(v);
        draw(s);
      }
      previous = { t, values };
      setState(state, "open", "live");
    } catch {
      previous = null;
      setState(state, "reconnecting", "server unreachable");
    }
    busy = false;
    if (!document.hidden) timer = setTimeout(sample, 1000);
  }

  document.addEventListener("visibilitychange", () => {
    clearTimeout(timer);
    if (!document.hidden && !busy) { previous = null; sample(); }
  });
  sample();
})();
