// What the browser tests share: a free port, the real server, nginx, and a
// headless Chromium (Debian's, driven by playwright-core) that records every
// console message and every request so a test can assert there were none
// it did not expect.
"use strict";

const assert = require("node:assert/strict");
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..");
const BINARY = path.join(ROOT, "target/release/tinypush");
const ARTIFACTS = path.join(ROOT, "target/e2e");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const NGINX = fs.existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
const CADDY = fs.existsSync("/usr/bin/caddy") ? "/usr/bin/caddy" : "caddy";

// A port nobody holds now: bind port 0 and read what the kernel chose.
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tinypush-e2e-${prefix}-`));
}

// Polls `check` (an async function returning truthy when ready) every 25 ms,
// for at most `ms`: for processes, which have no DOM to wait on.
async function until(what, check, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Every request the tests make gives up after this long (a stuck upstream
// behind a proxy would otherwise hold a fetch for the proxy's read timeout).
const FETCH_MS = 2000;
// The longest a process may take to exit once asked; then it is killed.
const EXIT_MS = 10000;

async function healthy(origin) {
  const response = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(FETCH_MS) });
  return response.status === 200;
}

// Runs `command` (stderr kept), waits until `origin`/healthz answers 200,
// and returns { log, stop }. stop() sends `stopSignal`, waits at most
// EXIT_MS for the exit (then SIGKILL, and the test fails), and resolves
// to the exit { code, signal }.
async function runUntilHealthy(what, command, args, { origin, stopSignal, env }) {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], env });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  await until(`${what} on ${origin}`, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${log}`);
    return healthy(origin);
  });
  return {
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill(stopSignal);
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, EXIT_MS, null); });
      const ended = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (ended === null) {
        child.kill("SIGKILL");
        assert.fail(`${what} did not exit within ${EXIT_MS} ms of ${stopSignal}: ${log}`);
      }
      return ended;
    },
  };
}

// target/release/tinypush serve on 127.0.0.1:port with the repository's
// static/ and a data folder of the test's own; resolves once /healthz is 200.
async function startServer({ port, dataDir, extraArgs = [] }) {
  const origin = `http://127.0.0.1:${port}`;
  const args = ["serve", "--addr", `127.0.0.1:${port}`, "--static-dir", path.join(ROOT, "static"), "--data-dir", dataDir, ...extraArgs];
  const run = await runUntilHealthy("the server", BINARY, args, { origin, stopSignal: "SIGTERM" });
  return {
    origin,
    port,
    log: run.log,
    // SIGTERM: a graceful stop (streams ended cleanly); resolves on exit 0.
    async stop() {
      const { code, signal } = await run.stop();
      assert.equal(code, 0, `server exit ${code} ${signal}: ${run.log()}`);
    },
  };
}

// POST /topics/{topic} from the test itself → the receipt {id, topic, receivers}.
async function publish(origin, topic, body) {
  const response = await fetch(`${origin}/topics/${topic}`, { method: "POST", body, signal: AbortSignal.timeout(FETCH_MS) });
  assert.equal(response.status, 200);
  return response.json();
}

// The README's own nginx `location` block and `map`, copied verbatim out of
// README.md, with only the proxy_pass address pointed at the test's server.
function readmeNginxBlock() {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes("location / {"));
  assert.ok(block, "README.md has an nginx block with `location / {`");
  const location = block.slice(block.indexOf("location / {"), block.indexOf("\n}\n") + 2);
  const map = block.split("\n").find((l) => l.startsWith("map $http_upgrade"));
  assert.ok(map, "the README's block has the `map $http_upgrade` line");
  return { location, map };
}

async function startNginx({ upstreamPort }) {
  const port = await freePort();
  const dir = tempDir("nginx");
  const { location, map } = readmeNginxBlock();
  const proxied = location.replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, `proxy_pass http://127.0.0.1:${upstreamPort};`);
  assert.notEqual(proxied, location, "proxy_pass line found in the README's block");
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) fs.mkdirSync(path.join(dir, sub));
  const config = `
${process.getuid && process.getuid() === 0 ? "user root;" : ""}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${map}
  server {
    listen 127.0.0.1:${port};
${proxied.replace(/^/gm, "    ")}
  }
}
`;
  fs.writeFileSync(path.join(dir, "nginx.conf"), config);
  const origin = `http://127.0.0.1:${port}`;
  const args = ["-p", dir, "-c", path.join(dir, "nginx.conf")];
  const run = await runUntilHealthy("nginx", NGINX, args, { origin, stopSignal: "SIGQUIT" });
  return { origin, config, stop: run.stop };
}

// The README's Caddyfile, copied out of README.md, with only the site address
// (plain http on a free port) and the upstream changed; in the global options
// the admin API off, so nothing else listens, and a 2 s grace period: Caddy
// 2.6 otherwise waits about 100 s at SIGTERM for the proxied streams.
async function startCaddy({ upstreamPort }) {
  const port = await freePort();
  const dir = tempDir("caddy");
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const block = [...readme.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("reverse_proxy"));
  assert.ok(block, "README.md has a Caddyfile block with reverse_proxy");
  const site = block.replace(/^example\.com \{/, `http://127.0.0.1:${port} {`).replace("reverse_proxy 127.0.0.1:8080", `reverse_proxy 127.0.0.1:${upstreamPort}`);
  assert.notEqual(site, block);
  const config = `{\n\tadmin off\n\tgrace_period 2s\n}\n${site}`;
  fs.writeFileSync(path.join(dir, "Caddyfile"), config);
  const origin = `http://127.0.0.1:${port}`;
  const args = ["run", "--adapter", "caddyfile", "--config", path.join(dir, "Caddyfile")];
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
  const run = await runUntilHealthy("caddy", CADDY, args, { origin, stopSignal: "SIGTERM", env });
  return { origin, config, stop: run.stop };
}

// A fresh Chromium profile; every console message and every request is kept
// on the returned object for the tests' final assertions.
async function launch(name) {
  const profile = tempDir(`chromium-${name}`);
  const context = await chromium.launchPersistentContext(profile, {
    headless: true,
    executablePath: CHROMIUM,
    chromiumSandbox: false,
    viewport: { width: 1280, height: 900 },
    args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const seen = { console: [], pageErrors: [], requests: [], failed: [], bad: [] };
  context.on("request", (r) => seen.requests.push(r.url()));
  context.on("requestfailed", (r) => seen.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  context.on("response", (r) => { if (r.status() >= 400) seen.bad.push(`${r.status()} ${r.url()}`); });
  const watch = (page) => {
    page.on("console", (m) => seen.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  };
  context.on("page", watch);
  for (const page of context.pages()) watch(page);
  const page = context.pages()[0] || (await context.newPage());
  return {
    context,
    page,
    seen,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Only requests to `origin` (http and ws), no answer of 400 or more, no
// failed request (unless allowed), and no
// console message of type error or warning, favicon included.
function assertClean(seen, origin, { allowConsole = () => false, allowFailed = () => false, allowBad = () => false } = {}) {
  const wsOrigin = origin.replace(/^http/, "ws");
  const outside = seen.requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith(`${wsOrigin}/`));
  assert.deepEqual(outside, [], "requests to anything but the server");
  assert.deepEqual(seen.bad.filter((b) => !allowBad(b)), [], "responses of 400 or more");
  assert.deepEqual(seen.failed.filter((f) => !allowFailed(f)), [], "requests that failed");
  assert.deepEqual(seen.pageErrors, [], "uncaught page errors");
  const noisy = seen.console.filter((m) => /^(error|warning)/.test(m) && !allowConsole(m));
  assert.deepEqual(noisy, [], "console errors or warnings");
}

function screenshotPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

module.exports = { freePort, tempDir, startServer, startNginx, startCaddy, publish, launch, assertClean, screenshotPath, until, readmeNginxBlock };
