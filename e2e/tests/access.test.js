// The demo page against a server that needs tokens (--auth-file, --anonymous
// none): the token field subscribes with ?token= over SSE and WebSocket and
// publishes with a Bearer header; without it, a publish is a 401 the page
// shows. The server's log holds token=REDACTED, never the secret.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { test, before, after } = require("node:test");
const { freePort, tempDir, startServer, launch, assertClean, screenshotPath, until } = require("../lib");

const SECRET = "page-s3cret";
let server;
let browser;
let page;

before(async () => {
  const dir = tempDir("access");
  const authFile = path.join(dir, "auth.toml");
  fs.writeFileSync(authFile, `[[token]]\nsecret = "${SECRET}"\npublish = ["news"]\nsubscribe = ["news", "alerts"]\n`);
  const extraArgs = ["--auth-file", authFile, "--anonymous", "none"];
  server = await startServer({ port: await freePort(), dataDir: path.join(dir, "data"), extraArgs });
  browser = await launch("access");
  page = browser.page;
  await page.goto(`${server.origin}/`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function subscribe(transport) {
  await page.check(`input[name=transport][value=${transport}]`);
  const before = await page.locator("#subs li[data-sub]").count();
  await page.click("#sub-add");
  const li = page.locator("#subs li[data-sub]").nth(before);
  await li.locator(".state[data-state=open]").waitFor();
  return Number(await li.getAttribute("data-sub"));
}

test("with the token field filled, the page subscribes and publishes; without it, a 401", async () => {
  await page.fill("#token", SECRET);
  const sse = await subscribe("sse");
  const ws = await subscribe("ws");

  await page.fill("#pub-topic", "news");
  await page.fill("#pub-text", "with a token");
  await page.click("#pub-send");
  await page.waitForFunction(() => /^200 \{"id":\d+,"topic":"news","receivers":2\}$/.test(document.querySelector("#pub-receipt").textContent));
  for (const sub of [sse, ws]) {
    await page.locator(`#messages tr.message[data-sub="${sub}"]`, { hasText: "with a token" }).waitFor();
  }

  await page.fill("#token", "");
  await page.fill("#pub-text", "without one");
  await page.click("#pub-send");
  await page.waitForFunction(() => document.querySelector("#pub-receipt").textContent.startsWith("401 "));
  await page.screenshot({ path: screenshotPath("access.png"), fullPage: true });

  // A stream's access-log line is written when it ends: close both.
  for (const sub of [sse, ws]) await page.click(`#subs li[data-sub="${sub}"] button`);
  await until("both streams' access-log lines", () =>
    /"GET \/topics\/news\/sse\?token=REDACTED" 200/.test(server.log()) &&
    /"GET \/topics\/news\/ws\?format=json&token=REDACTED" 101/.test(server.log()));
  assert.ok(!server.log().includes(SECRET), "the secret is not in the server's log");
  const unauthorized = (b) => b === `401 ${server.origin}/topics/news`;
  assertClean(browser.seen, server.origin, {
    allowBad: unauthorized,
    // The SSE subscription this test closed.
    allowFailed: (f) => f.startsWith(`${server.origin}/topics/news/sse?`) && f.endsWith("net::ERR_ABORTED"),
    allowConsole: (m) => m.includes("401"),
  });
});
