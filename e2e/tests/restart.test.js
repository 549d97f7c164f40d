// Stopping and starting the server (same port, same data folder) while the
// page is open: the SSE subscription reconnects by itself and resumes with
// Last-Event-ID, so a message published while it was away still arrives,
// once; the WebSocket one resumes with ?since=; the counter goes on.
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { freePort, tempDir, startServer, publish, launch, assertClean } = require("../lib");

test("after a server restart the topic panel resumes without losing a message", async (t) => {
  const port = await freePort();
  const dataDir = tempDir("data");
  let server = await startServer({ port, dataDir });
  const browser = await launch("restart");
  const { page } = browser;
  try {
    await page.goto(`${server.origin}/`);
    await page.uncheck("input[name=topic][value=news]");
    await page.fill("#sub-other", "resume");
    await page.check("input[name=transport][value=sse]");
    await page.click("#sub-add");
    await page.check("input[name=transport][value=ws]");
    await page.click("#sub-add");
    const sse = page.locator('#subs li[data-sub="1"]');
    const ws = page.locator('#subs li[data-sub="2"]');
    await sse.locator(".state[data-state=open]").waitFor();
    await ws.locator(".state[data-state=open]").waitFor();

    const rows = (sub, data) => page.locator(`#messages tr.message[data-sub="${sub}"]`, { hasText: data });
    const first = await publish(server.origin, "resume", "before the restart");
    assert.equal(first.receivers, 2);
    await rows(1, "before the restart").waitFor();
    await rows(2, "before the restart").waitFor();
    await page.waitForFunction(() => Number(document.querySelector("#counter-value").textContent) >= 2);

    await server.stop();
    await sse.locator(".state[data-state=reconnecting]").waitFor();
    await ws.locator(".state[data-state=reconnecting]").waitFor();
    await page.locator("#counter-state[data-state=reconnecting]").waitFor();
    const counted = Number(await page.locator("#counter-value").textContent());

    server = await startServer({ port, dataDir });
    const second = await publish(server.origin, "resume", "while the page was away");
    assert.equal(second.id, first.id + 1, "ids go on after the restart (history on disk)");
    // Still reconnecting once the publish was acknowledged: the EventSource
    // was not connected when the message was published.
    assert.equal(await sse.locator(".state").getAttribute("data-state"), "reconnecting");

    await rows(1, "while the page was away").waitFor({ timeout: 10000 });
    await rows(2, "while the page was away").waitFor({ timeout: 10000 });
    await sse.locator(".state[data-state=open]").waitFor();
    assert.equal(await sse.locator(".cursor").textContent(), String(second.id));
    for (const sub of [1, 2]) {
      assert.equal(await rows(sub, "before the restart").count(), 1, `sub ${sub}: no duplicate`);
      assert.equal(await rows(sub, "while the page was away").count(), 1, `sub ${sub}: once`);
    }
    // The counter resumed from its Last-Event-ID instead of starting at 1.
    const next = await page.waitForFunction((n) => {
      const text = document.querySelector("#counter-value").textContent;
      return text !== String(n) && text;
    }, counted, { timeout: 10000 });
    assert.equal(Number(await next.jsonValue()), counted + 1, "the first count after the restart");
    assert.equal(await page.locator("#counter-opens").textContent(), "2");

    // While the server was down, the browser's failed reconnects (and the
    // /metrics poll) are reported on the console; those, and only those, pass.
    const down = /ERR_CONNECTION_REFUSED|WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/topics\/resume\/ws\?format=json&since=\d+' failed/;
    if (browser.seen.console.length) t.diagnostic(`console while the server was down: ${JSON.stringify(browser.seen.console)}`);
    assertClean(browser.seen, server.origin, { allowConsole: (m) => down.test(m), allowFailed: (f) => /ERR_CONNECTION_REFUSED/.test(f) });
  } finally {
    await browser.close();
    await server.stop();
  }
});
