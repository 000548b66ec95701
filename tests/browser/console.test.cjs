// The built web console in Debian's headless Chromium: local mode (the engine in the page, saved
// to IndexedDB), remote mode against an omendb-server started here, the sample datasets and the
// ALEX visualiser. Screenshots land in tests/browser/artifacts/ (and the README shows them).
const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { spawn } = require("node:child_process");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..", "..");
const DIST = path.join(ROOT, "web-console", "dist");
const ARTIFACTS = path.join(__dirname, "artifacts");
const MIME = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };
const TIMEOUT = 60_000;

/** Serves DIST as plain static files on a free loopback port. */
async function serveStatic() {
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

/** Starts omendb-server (SCRAM, in memory, serving the console) on free loopback ports. */
async function startServer(t) {
  const binary = process.env.OMENDB_SERVER_BIN;
  if (!binary) throw new Error("set OMENDB_SERVER_BIN to the omendb-server binary (scripts/dev.sh does)");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "omendb-console-"));
  const child = spawn(
    binary,
    ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--storage", "memory", "--data-dir", dataDir,
      "--console-dir", DIST, "--log-level", "warn"],
    { env: { ...process.env, OMENDB_ADMIN_USER: "admin", OMENDB_ADMIN_PASSWORD: "console-test-pw" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => {
    child.kill("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const lines = readline.createInterface({ input: child.stdout });
  const addresses = {};
  for await (const line of lines) {
    const m = /^(pgwire|http) listening on (.+)$/.exec(line);
    if (m) addresses[m[1]] = m[2];
    if (addresses.pgwire && addresses.http) break;
  }
  return `http://${addresses.http}`;
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

async function openPage(t, browser, url) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(() => assert.deepEqual(errors, [], "the page threw"));
  await page.goto(url);
  await page.locator("#status", { hasText: "ready" }).waitFor();
  return page;
}

/** Types `sql` into the editor and runs it with Ctrl+Enter; waits for the run to finish. */
async function run(page, sql) {
  const before = await page.locator("#history li").count();
  await page.fill("#sql", sql);
  await page.focus("#sql");
  await page.keyboard.press("Control+Enter");
  await page.locator("#run", { hasText: "Run" }).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll("#history li").length >= n, Math.min(before + 1, 30));
}

/** The rows of the `i`-th result grid, as text. */
async function grid(page, i = 0) {
  return page.locator(".result").nth(i).locator("table.grid tbody tr").evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)),
  );
}

function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

test("local mode: queries, errors, persistence across reloads, history", async (t) => {
  const server = await serveStatic();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const base = `http://127.0.0.1:${server.address().port}/`;
  const page = await openPage(t, browser, base);
  assert.match(await page.locator("#backend-label").innerText(), /local/);

  // Several statements: one grid (or tag) per statement, with counts and times.
  await run(page, `CREATE TABLE fruit (id BIGINT PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(6,2));
INSERT INTO fruit VALUES (1, 'apple', 0.5), (2, 'pear', 0.75), (3, 'fig', NULL);
SELECT id, name, price FROM fruit ORDER BY id;`);
  const results = page.locator(".result");
  assert.equal(await results.count(), 3);
  assert.equal(await results.nth(0).locator(".tag").innerText(), "CREATE TABLE");
  assert.equal(await results.nth(1).locator(".tag").innerText(), "INSERT 0 3");
  assert.equal(await results.nth(2).locator(".count").innerText(), "3 rows");
  assert.match(await results.nth(2).locator(".elapsed").innerText(), /^\d+\.\d\d ms$/);
  assert.deepEqual(await grid(page, 2), [["1", "apple", "0.50"], ["2", "pear", "0.75"], ["3", "fig", "NULL"]]);
  assert.deepEqual(await page.locator("#schema summary").allInnerTexts(), ["fruit"]);
  // Export: CSV (NULL as an empty field) and JSON (objects by column).
  const exported = async (button) => {
    const [download] = await Promise.all([page.waitForEvent("download"), results.nth(2).locator(button).click()]);
    return fs.readFileSync(await download.path(), "utf8");
  };
  assert.equal(await exported(".export-csv"), "id,name,price\r\n1,apple,0.50\r\n2,pear,0.75\r\n3,fig,\r\n");
  assert.deepEqual(JSON.parse(await exported(".export-json"))[2], { id: 3, name: "fig", price: null });

  // A syntax error: its SQLSTATE, and the position marked in the editor.
  await run(page, "SELECT name FRM fruit");
  assert.equal(await page.locator("#sqlstate").innerText(), "42601");
  assert.equal(await page.locator("mark.error-at").innerText(), "fruit");
  // Running a selection runs only that: the error position counts from the selection.
  await page.fill("#sql", "SELECT 1;\nSELECT nope FROM fruit;");
  await page.evaluate(() => {
    const area = document.querySelector("#sql");
    area.setSelectionRange(10, 33);
  });
  await page.focus("#sql");
  await page.keyboard.press("Control+Enter");
  await page.locator("#sqlstate", { hasText: "42703" }).waitFor();
  assert.equal(await page.locator(".result").count(), 0);
  assert.equal(await page.locator("mark.error-at").innerText(), "nope");

  // EXPLAIN as a tree.
  await run(page, "EXPLAIN SELECT name FROM fruit WHERE id = 2");
  assert.match(await page.locator(".plan-tree").innerText(), /ALEX Point Lookup on fruit/);

  // Large results are paged.
  await run(page, "SELECT g, g * g FROM generate_series(1, 250) g");
  assert.equal((await grid(page)).length, 100);
  assert.equal(await page.locator(".pager .page").innerText(), "page 1 of 3");
  await page.click(".pager .next");
  assert.deepEqual((await grid(page))[0], ["101", "10201"]);

  // An open transaction's rows are not saved: only committed data survives a reload.
  await run(page, "BEGIN; INSERT INTO fruit VALUES (99, 'uncommitted', 1)");
  // Reload: the table (committed data) and the history are still there.
  await page.locator("#status", { hasText: "saved in this browser" }).waitFor();
  await screenshot(page, "console-local.png");
  await page.reload();
  await page.locator("#status", { hasText: "ready" }).waitFor();
  await run(page, "SELECT name FROM fruit ORDER BY id DESC");
  assert.deepEqual(await grid(page), [["fig"], ["pear"], ["apple"]]);

  // Once loaded, the console works offline (its service worker keeps its files).
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await page.context().setOffline(true);
  await page.reload();
  await page.locator("#status", { hasText: "ready" }).waitFor();
  await run(page, "SELECT count(*) FROM fruit");
  assert.deepEqual(await grid(page), [["3"]]);
  await page.context().setOffline(false);
  const history = await page.locator("#history li").allInnerTexts();
  assert.ok(history.some((h) => h.startsWith("CREATE TABLE fruit")), history.join("\n"));
  // Ctrl+Up recalls the newest entry.
  await page.fill("#sql", "");
  await page.focus("#sql");
  await page.keyboard.press("Control+ArrowUp");
  assert.equal(await page.inputValue("#sql"), "SELECT count(*) FROM fruit");
});

test("sample data and the ALEX visualiser, which follows inserts", async (t) => {
  const server = await serveStatic();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const page = await openPage(t, browser, `http://127.0.0.1:${server.address().port}/`);
  await page.click("#sample-uniform_keys");
  await page.locator("#sample-progress").waitFor();
  await page.locator("#status", { hasText: "loaded 100000 rows into uniform_keys" }).waitFor();
  await page.selectOption("#viz-table", "uniform_keys");
  await page.locator("#viz-keys", { hasText: "100000" }).waitFor();
  const dataNodes = Number(await page.locator("#viz-data-nodes").innerText());
  assert.ok(dataNodes > 1, `data nodes: ${dataNodes}`);
  assert.ok((await page.locator("#viz svg.alex g.data").count()) >= 1);
  // Inserting keys changes the index: more keys, and (here, with dense inserts) more nodes
  // or expansions.
  const expansions = Number(await page.locator("#viz-expansions").innerText());
  await run(page, "INSERT INTO uniform_keys (id) SELECT g * 7 + 5000000000 FROM generate_series(1, 50000) g");
  await page.locator("#viz-keys", { hasText: "150000" }).waitFor();
  const after = Number(await page.locator("#viz-data-nodes").innerText());
  const expansionsAfter = Number(await page.locator("#viz-expansions").innerText());
  assert.ok(after > dataNodes || expansionsAfter > expansions, `${dataNodes} -> ${after}, ${expansions} -> ${expansionsAfter}`);
  // The visualiser's own buttons change the table too.
  await page.click("#viz-delete");
  await page.locator("#viz-keys", { hasText: "149000" }).waitFor();
  // A node's detail: its model over its keys.
  await page.locator("#viz g.data").first().click();
  assert.match(await page.locator("#viz-detail .caption").innerText(), /^data node \d+ at level \d+: keys/);
  assert.ok((await page.locator("#viz-detail circle.key").count()) > 0);
  await screenshot(page, "console-visualiser.png");
});

test("remote mode: log in to a server started here and query it", async (t) => {
  const serverUrl = await startServer(t);
  const browser = await launch();
  t.after(() => browser.close());
  // The server serves the console itself at `/`.
  const page = await openPage(t, browser, `${serverUrl}/`);
  await page.click("#mode-remote");
  assert.equal(await page.inputValue("#remote-url"), serverUrl);
  await page.fill("#remote-user", "admin");
  await page.fill("#remote-password", "wrong");
  await page.click("#remote-login");
  await page.locator("#login-error", { hasText: "28P01" }).waitFor();
  await page.fill("#remote-password", "console-test-pw");
  await page.click("#remote-login");
  await page.locator("#backend-label", { hasText: `${serverUrl} as admin` }).waitFor();

  await run(page, "CREATE TABLE served (id INT PRIMARY KEY, who TEXT); INSERT INTO served VALUES (1, current_user); SELECT * FROM served");
  assert.deepEqual(await grid(page, 2), [["1", "admin"]]);
  await page.locator("#schema summary", { hasText: "served" }).waitFor();
  await run(page, "SELECT 1 +");
  assert.equal(await page.locator("#sqlstate").innerText(), "42601");
  await page.locator("#viz-keys", { hasText: "1" }).waitFor();
  await screenshot(page, "console-remote.png");

  // Back to local: the server's table is not there.
  await page.click("#mode-local");
  await page.locator("#backend-label", { hasText: "local" }).waitFor();
  await run(page, "SELECT count(*) FROM served");
  assert.equal(await page.locator("#sqlstate").innerText(), "42P01");
});
