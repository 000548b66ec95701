// Smoke test of the built web console in Debian's headless Chromium: the page must load its wasm,
// run the engine, and show what the engine computed.
const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const DIST = path.resolve(__dirname, "..", "..", "web-console", "dist");
const MIME = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

/** Serves DIST on a free loopback port. */
async function serveConsole() {
  const server = http.createServer((req, res) => {
    const file = path.join(DIST, new URL(req.url, "http://x").pathname.replace(/\/$/, "/index.html"));
    if (!file.startsWith(DIST) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

test("the console runs the engine in wasm and shows its results", async (t) => {
  const server = await serveConsole();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const base = `http://127.0.0.1:${server.address().port}/`;

  // The self-check writes `rows` keys holding i*i and sums what it scans back.
  for (const rows of [1000, 237]) {
    await page.goto(rows === 1000 ? base : `${base}?rows=${rows}`);
    const result = page.locator("#self-check p.ok");
    await result.waitFor({ timeout: 60_000 });
    let expected = 0n;
    for (let i = 0n; i < BigInt(rows); i++) expected += i * i;
    assert.equal(await result.getAttribute("data-rows"), String(rows));
    assert.equal(await result.getAttribute("data-scanned"), String(rows));
    assert.equal(await result.getAttribute("data-in-order"), "true");
    assert.equal(await result.getAttribute("data-sum"), expected.toString());
    assert.match(await result.innerText(), /to redb storage/);
  }

  // The playground round-trips through the engine's storage.
  const output = page.locator("#kv-output");
  for (const [key, value] of [["pear", "green"], ["apple", "red"], ["fig", "purple"]]) {
    await page.fill("#kv-key", key);
    await page.fill("#kv-value", value);
    await page.click("#kv-put");
    assert.equal(await output.innerText(), `put "${key}"`);
  }
  await page.fill("#kv-key", "fig");
  await page.click("#kv-delete");
  await page.click("#kv-list");
  assert.equal(await output.innerText(), "keys: apple, pear");
  await page.fill("#kv-key", "apple");
  await page.click("#kv-get");
  assert.equal(await output.innerText(), '"apple" = "red"');

  assert.deepEqual(pageErrors, []);
});
