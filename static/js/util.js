// Small helpers shared by the panels (classic scripts: these are globals).
"use strict";

const $ = (selector) => document.querySelector(selector);

// "12:34:56.789", the local wall-clock time with milliseconds.
function clock(date = new Date()) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// A state badge: connecting, open, reconnecting, closed (colour from style.css).
function setState(el, state, text = state) {
  el.dataset.state = state;
  el.textContent = text;
}

// Appends a line to a log list, keeping the newest `keep` and the view at the bottom.
function logLine(list, text, keep = 200) {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = clock();
  li.append(time, " ", text);
  list.append(li);
  while (list.children.length > keep) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
  return li;
}

// ws://host:port/path for a path on this page's own server (or its proxy).
function wsUrl(path) {
  return location.origin.replace(/^http/, "ws") + path;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".origin")) el.textContent = location.origin;
});
