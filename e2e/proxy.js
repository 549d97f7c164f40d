// The page through a real reverse proxy configured as the README says (its
// block copied out of README.md, only the upstream address changed): SSE,
// the chunked stream and WebSocket must pass through unbuffered. Used by
// tests/nginx.test.js and tests/caddy.test.js.
"use strict";

const assert = require("node:assert/strict");
const { test, before, after } = require("node:test");
const { freePort, tempDir, startServer, publish, launch, assertClean, screenshotPath } = require("./lib");

// `startProxy({ upstreamPort })` resolves to { origin, config, stop() };
// `configChecks` are regular expressions the config must match.
function proxyTests(name, startProxy, configChecks) {
  let server;
  let proxy;
  let browser;
  let page;

  before(async () => {
    server = await startServer({ port: await freePort(), dataDir: tempDir("data") });
    proxy = await startProxy({ upstreamPort: server.port });
    browser = await launch(name);
    page = browser.page;
    await page.goto(`${proxy.origin}/`);
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await server?.stop();
  });

  test(`${name}: the config is the README's block`, () => {
    for (const check of configChecks) assert.match(proxy.config, check);
  });

  test(`${name}: SSE through the proxy: the counter counts`, async () => {
    await page.locator("#counter-state[data-state=open]").waitFor();
    await page.waitForFunction(() => Number(document.querySelector("#counter-value").textContent) >= 1);
    const first = Number(await page.locator("#counter-value").textContent());
    await page.waitForFunction((n) => Number(document.querySelector("#counter-value").textContent) >= n + 2, first, { timeout: 5000 });
  });

  test(`${name}: the chunked stream through the proxy arrives line by line`, async () => {
    await page.fill("#stream-count", "3");
    await page.fill("#stream-interval", "250");
    await page.click("#stream-run");
    await page.locator("#stream-lines code", { hasText: /^bye$/ }).waitFor({ timeout: 5000 });
    const lines = await page.locator("#stream-lines code").allTextContents();
    assert.deepEqual(lines, ["start", "hoge:0", "hoge:1", "hoge:2", "message is over", "bye"]);
    const ms = await page.locator("#stream-lines li").evaluateAll((lis) => lis.map((li) => Number(li.dataset.ms)));
    for (let i = 2; i <= 3; i++) assert.ok(ms[i] - ms[i - 1] >= 150, `buffered? line ${i} came ${ms[i] - ms[i - 1]} ms after the one before: ${ms}`);
  });

  test(`${name}: WebSocket through the proxy: echo, the origin check passing (Host kept with its port)`, async () => {
    await page.click("#ws-toggle");
    await page.locator("#ws-state[data-state=open]").waitFor();
    await page.fill("#ws-text", "through the proxy");
    await page.press("#ws-text", "Enter");
    await page.locator("#ws-log li", { hasText: "← through the proxy" }).waitFor();
    await page.click("#ws-toggle");
    await page.locator("#ws-state[data-state=closed]").waitFor();
  });

  test(`${name}: topics through the proxy: SSE and WebSocket subscriptions both get a message`, async () => {
    await page.check("input[name=transport][value=sse]");
    await page.click("#sub-add");
    await page.check("input[name=transport][value=ws]");
    await page.click("#sub-add");
    await page.locator("#subs li[data-sub] .state[data-state=open]").nth(1).waitFor();
    const receipt = await publish(proxy.origin, "news", "via the proxy");
    assert.equal(receipt.receivers, 2);
    for (const sub of [1, 2]) await page.locator(`#messages tr.message[data-sub="${sub}"]`, { hasText: "via the proxy" }).waitFor();
    await page.locator("#m-sse .value", { hasText: /^[1-9]/ }).waitFor();
    await page.screenshot({ path: screenshotPath(`page-${name}.png`), fullPage: true });
    assertClean(browser.seen, proxy.origin);
  });
}

module.exports = { proxyTests };
