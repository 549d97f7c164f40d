// The demo page against the real server: every panel, driven as a person
// would, with each assertion waiting on what the DOM shows.
"use strict";

const assert = require("node:assert/strict");
const { test, before, after } = require("node:test");
const { freePort, tempDir, startServer, publish, launch, assertClean, screenshotPath } = require("../lib");

let server;
let browser;
let page;

before(async () => {
  server = await startServer({ port: await freePort(), dataDir: tempDir("data") });
  browser = await launch("page");
  page = browser.page;
  await page.goto(`${server.origin}/`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const text = (selector) => page.locator(selector).textContent();

test("the SSE counter counts, shows its state and last id", async () => {
  await page.waitForFunction(() => document.querySelector("#counter-state").dataset.state === "open");
  await page.waitForFunction(() => Number(document.querySelector("#counter-value").textContent) >= 1);
  const first = Number(await text("#counter-value"));
  await page.waitForFunction((n) => Number(document.querySelector("#counter-value").textContent) >= n + 2, first, { timeout: 5000 });
  assert.equal(await text("#counter-id"), await text("#counter-value"));
  // Disconnect, then connect again: it goes on from the last id (?since=).
  await page.click("#counter-toggle");
  assert.equal(await page.locator("#counter-state").getAttribute("data-state"), "closed");
  const stopped = Number(await text("#counter-value"));
  await page.click("#counter-toggle");
  await page.waitForFunction((n) => Number(document.querySelector("#counter-value").textContent) === n + 1, stopped, { timeout: 5000 });
  assert.equal(await text("#counter-opens"), "2");
});

test("the chunked stream shows each line when its chunk arrives", async () => {
  await page.fill("#stream-count", "4");
  await page.fill("#stream-interval", "250");
  await page.fill("#stream-timeout", "10000");
  await page.click("#stream-run");
  // Mid-stream: some lines are there, "bye" not yet.
  await page.waitForFunction(() => [...document.querySelectorAll("#stream-lines code")].some((c) => c.textContent === "hoge:1"));
  const partial = await page.locator("#stream-lines code").allTextContents();
  assert.ok(!partial.includes("bye"), `not over yet: ${partial}`);
  await page.waitForFunction(() => [...document.querySelectorAll("#stream-lines code")].some((c) => c.textContent === "bye"), null, { timeout: 5000 });
  const lines = await page.locator("#stream-lines code").allTextContents();
  assert.deepEqual(lines, ["start", "hoge:0", "hoge:1", "hoge:2", "hoge:3", "message is over", "bye"]);
  const ms = (await page.locator("#stream-lines li").evaluateAll((lis) => lis.map((li) => Number(li.dataset.ms))));
  // hoge:0 … hoge:3 arrive about 250 ms apart, not all at once.
  for (let i = 2; i <= 4; i++) assert.ok(ms[i] - ms[i - 1] >= 150, `line ${i} came ${ms[i] - ms[i - 1]} ms after the one before: ${ms}`);
  assert.match(await text("#stream-status"), /^HTTP 200: 7 lines in \d+ chunks/);
});

test("the WebSocket echo box echoes, closes with a code, and shows /ws heartbeats", async () => {
  await page.click("#ws-toggle");
  await page.waitForFunction(() => document.querySelector("#ws-state").dataset.state === "open");
  // Keyboard only: focus the field, type, Enter submits.
  await page.focus("#ws-text");
  await page.fill("#ws-text", "");
  await page.keyboard.type("echo from the keyboard");
  await page.keyboard.press("Enter");
  await page.locator("#ws-log li", { hasText: "← echo from the keyboard" }).waitFor();
  await page.click("#ws-toggle");
  await page.waitForFunction(() => document.querySelector("#ws-state").dataset.state === "closed");
  assert.match(await text("#ws-close"), /^1000/);

  await page.selectOption("#ws-endpoint", "/ws");
  await page.click("#ws-toggle");
  await page.waitForFunction(() => parseInt(document.querySelector("#ws-heartbeat").textContent, 10) >= 2, null, { timeout: 5000 });
  await page.fill("#ws-text", "over /ws");
  await page.click("#ws-send");
  await page.locator("#ws-log li", { hasText: "← over /ws" }).waitFor();
  await page.click("#ws-toggle");
  await page.waitForFunction(() => document.querySelector("#ws-state").dataset.state === "closed");
});

// Subscribes from the form: topics ticked, transport, optional since.
async function subscribe(topics, transport, since = "") {
  for (const box of await page.locator("input[name=topic]").all()) {
    const want = topics.includes(await box.getAttribute("value"));
    if ((await box.isChecked()) !== want) await box.click();
  }
  const known = ["news", "alerts", "chat"];
  await page.fill("#sub-other", topics.filter((t) => !known.includes(t)).join(","));
  await page.check(`input[name=transport][value=${transport}]`);
  await page.fill("#sub-since", since);
  const before = await page.locator("#subs li[data-sub]").count();
  await page.click("#sub-add");
  const li = page.locator("#subs li[data-sub]").nth(before);
  await li.locator(".state[data-state=open]").waitFor();
  return Number(await li.getAttribute("data-sub"));
}

const rows = (sub, topic, data) =>
  page.locator(`#messages tr.message[data-sub="${sub}"]`).filter({ has: page.locator(`td:nth-child(4)`, { hasText: new RegExp(`^${topic}$`) }) })
    .filter({ has: page.locator("td:nth-child(6)", { hasText: new RegExp(`^${data}$`) }) });

test("topics: published from the form and over HTTP, received by SSE and WebSocket subscriptions", async () => {
  const sseNews = await subscribe(["news"], "sse");
  const sseMulti = await subscribe(["news", "alerts"], "sse");
  const wsMulti = await subscribe(["news", "alerts"], "ws");
  const wsNews = await subscribe(["news"], "ws");

  // From the page's own form.
  await page.fill("#pub-topic", "news");
  await page.fill("#pub-text", "from the form");
  await page.click("#pub-send");
  await page.waitForFunction(() => /^200 \{"id":\d+,"topic":"news","receivers":4\}$/.test(document.querySelector("#pub-receipt").textContent));
  const receipt = JSON.parse((await text("#pub-receipt")).slice(4));
  for (const sub of [sseNews, sseMulti, wsMulti, wsNews]) {
    const row = rows(sub, "news", "from the form");
    await row.waitFor();
    assert.equal(await row.locator("td:nth-child(5)").textContent(), String(receipt.id));
  }
  assert.equal(await rows(sseNews, "news", "from the form").getAttribute("data-transport"), "sse");
  assert.equal(await rows(wsMulti, "news", "from the form").getAttribute("data-transport"), "ws");

  // From the test, over HTTP, to the second topic of the multi-topic ones.
  const alert = await publish(server.origin, "alerts", "from the test");
  assert.equal(alert.receivers, 2);
  await rows(sseMulti, "alerts", "from the test").waitFor();
  await rows(wsMulti, "alerts", "from the test").waitFor();
  assert.equal(await rows(sseNews, "alerts", "from the test").count(), 0);

  // The cursors: SSE's composite id, the WebSocket's own per-topic map.
  const cursor = (sub) => page.locator(`#subs li[data-sub="${sub}"] .cursor`).textContent();
  assert.equal(await cursor(sseNews), String(receipt.id));
  assert.equal(await cursor(sseMulti), `news:${receipt.id},alerts:${alert.id}`);
  assert.equal(await cursor(wsMulti), `news:${receipt.id},alerts:${alert.id}`);

  // A cursor past the last id: the gap is shown as a gap, on both transports.
  const gapSse = await subscribe(["chat"], "sse", "1000");
  await page.locator(`#messages tr.gap[data-sub="${gapSse}"]`, { hasText: "past the last id" }).waitFor();
  const gapWs = await subscribe(["chat"], "ws", "1000");
  await page.locator(`#messages tr.gap[data-sub="${gapWs}"]`, { hasText: "past the last id" }).waitFor();

  // A fourth SSE subscription is refused by the page, with the reason.
  await page.check("input[name=transport][value=sse]");
  await page.click("#sub-add");
  await page.locator("#sub-note", { hasText: "6 connections" }).waitFor();
});

test("the server panel draws connections and message rates from /metrics", async () => {
  // Three topic SSE subscriptions and the counter: 4 SSE connections.
  await page.waitForFunction(() => Number(document.querySelector("#m-sse .value").textContent) >= 4, null, { timeout: 5000 });
  await page.waitForFunction(() => Number(document.querySelector("#m-ws .value").textContent) >= 3, null, { timeout: 5000 });
  // A burst of publishes shows up as a rate, and in the chart's points.
  for (let i = 0; i < 20; i++) await publish(server.origin, "news", `burst ${i}`);
  await page.waitForFunction(() => Number(document.querySelector("#m-published .value").textContent) > 0, null, { timeout: 5000 });
  await page.waitForFunction(() => Number(document.querySelector("#m-delivered .value").textContent) > 0, null, { timeout: 5000 });
  const points = await page.locator("#m-published polyline").getAttribute("points");
  assert.ok(points.split(" ").length >= 2, points);
  assert.equal(await page.locator("#metrics-state").getAttribute("data-state"), "open");
});

test("labelled controls, phone width, favicon, screenshot, nothing from outside, no console error", async () => {
  await page.screenshot({ path: screenshotPath("page.png"), fullPage: true });
  // Every control has a name a screen reader can read.
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, button")]
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || (el.tagName === "BUTTON" && el.textContent.trim())))
      .map((el) => el.outerHTML));
  assert.deepEqual(unnamed, []);
  // The favicon is the page's own.
  const icon = await page.evaluate(() => document.querySelector("link[rel=icon]").href);
  assert.equal(icon, `${server.origin}/favicon.svg`);
  assert.ok(browser.seen.requests.includes(icon), "the browser asked for /favicon.svg");
  assert.ok(!browser.seen.requests.some((u) => u.endsWith("/favicon.ico")), "and not for /favicon.ico");
  const favicon = await fetch(icon, { signal: AbortSignal.timeout(2000) });
  assert.equal(favicon.headers.get("content-type"), "image/svg+xml");
  // At phone width nothing overflows sideways.
  await page.setViewportSize({ width: 375, height: 800 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `page is ${width} px wide at 375`);
  await page.screenshot({ path: screenshotPath("page-phone.png"), fullPage: true });
  assertClean(browser.seen, server.origin, { allowFailed: (f) => f.includes("/event") && f.includes("ERR_ABORTED") });
});
