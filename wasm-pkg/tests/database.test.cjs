// The Node build of the wasm package, exercised through its public API: queries and their value
// types, several statements, prepared statements, errors, transactions, the index inspectors,
// and export/import. (IndexedDB persistence is a browser feature: tests/browser covers it.)
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const { Database, engineVersion } = require(path.join(__dirname, "..", "pkg", "node", "omendb_wasm.js"));

function sqlError(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

test("reports the engine version from Cargo.toml", () => {
  assert.match(engineVersion(), /^\d+\.\d+\.\d+$/);
});

for (const backend of [undefined, "redb", "memory"]) {
  test(`${backend ?? "default"} backend: create, insert, select with parameters`, async () => {
    const db = await Database.open(backend ? { backend } : undefined);
    assert.equal(db.backend, backend ?? "redb");
    db.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)");
    const inserted = db.query("INSERT INTO users VALUES ($1, $2, $3), ($4, $5, NULL)", [1, "ada", 90, 2n, "grace"]);
    assert.equal(inserted.command, "INSERT 0 2");
    assert.equal(inserted.rowCount, 2);
    const result = db.query("SELECT id, name, score FROM users WHERE id >= $1 ORDER BY id", [1]);
    assert.deepEqual(result.columns, [
      { name: "id", type: "bigint" },
      { name: "name", type: "text" },
      { name: "score", type: "integer" },
    ]);
    assert.deepEqual(result.rows, [
      [1n, "ada", 90],
      [2n, "grace", null],
    ]);
    assert.equal(result.command, "SELECT 2");
    db.free();
  });
}

test("values arrive as the documented JavaScript types", async () => {
  const db = await Database.open();
  const { rows, columns } = db.query(`SELECT 1::smallint, 2::int, 9007199254740993::bigint, 1.5::real,
      2.25::float8, 12345678901234567890.123::numeric, 'x'::text, true, NULL::int,
      '\\x00ff'::bytea, DATE '2024-02-29', TIMESTAMP '2024-02-29 12:34:56.789',
      TIMESTAMPTZ '2024-02-29 12:34:56+00', TIME '01:02:03', INTERVAL '1 day 2 hours',
      '123e4567-e89b-12d3-a456-426614174000'::uuid, '{"a": [1, 2]}'::jsonb, ARRAY[1, 2, NULL]`);
  const row = rows[0];
  assert.deepEqual(row.slice(0, 9), [1, 2, 9007199254740993n, 1.5, 2.25, "12345678901234567890.123", "x", true, null]);
  assert.ok(row[9] instanceof Uint8Array);
  assert.deepEqual([...row[9]], [0, 255]);
  assert.ok(row[10] instanceof Date);
  assert.equal(row[10].toISOString(), "2024-02-29T00:00:00.000Z");
  assert.equal(row[11].toISOString(), "2024-02-29T12:34:56.789Z");
  assert.equal(row[12].toISOString(), "2024-02-29T12:34:56.000Z");
  assert.deepEqual(row.slice(13), [
    "01:02:03",
    "1 day 02:00:00",
    "123e4567-e89b-12d3-a456-426614174000",
    '{"a": [1, 2]}',
    [1, 2, null],
  ]);
  assert.deepEqual(columns.map((c) => c.type).slice(0, 6), ["smallint", "integer", "bigint", "real", "double precision", "numeric"]);
});

test("parameters: numbers, bigints, strings, dates, bytes, null and JSON", async () => {
  const db = await Database.open();
  db.execute("CREATE TABLE p (id INT PRIMARY KEY, n NUMERIC, at TIMESTAMPTZ, b BYTEA, j JSONB, f FLOAT8)");
  db.query("INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6)", [
    1,
    "0.1",
    new Date("2020-01-02T03:04:05Z"),
    new Uint8Array([1, 2, 3]),
    { k: [1, "two"] },
    0.5,
  ]);
  db.query("INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6)", [2, null, undefined, null, null, 3]);
  const { rows } = db.query("SELECT id, n, at, b, j, f FROM p ORDER BY id");
  assert.equal(rows[0][1], "0.1");
  assert.equal(rows[0][2].toISOString(), "2020-01-02T03:04:05.000Z");
  assert.deepEqual([...rows[0][3]], [1, 2, 3]);
  assert.equal(rows[0][4], '{"k": [1, "two"]}');
  assert.equal(rows[0][5], 0.5);
  assert.deepEqual(rows[1], [2, null, null, null, null, 3]);
  const e = sqlError(() => db.query("SELECT $1::int", [2n ** 70n]));
  assert.equal(e.sqlstate, "22003");
  assert.equal(sqlError(() => db.query("SELECT $1::int + $2::int", [1])).sqlstate, "08P01");
});

test("execute runs several statements and returns a result for each", async () => {
  const db = await Database.open();
  const results = db.execute("CREATE TABLE t (k INT PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT count(*) FROM t");
  assert.deepEqual(results.map((r) => r.command), ["CREATE TABLE", "INSERT 0 2", "SELECT 1"]);
  assert.deepEqual(results[2].rows, [[2n]]);
  // A failure carries the results of the statements before it; those committed.
  const e = sqlError(() => db.execute("INSERT INTO t VALUES (3); INSERT INTO t VALUES (1); INSERT INTO t VALUES (4)"));
  assert.equal(e.sqlstate, "23505");
  assert.equal(e.name, "OmenDbError");
  assert.match(e.detail, /\(k\)=\(1\)/);
  assert.deepEqual(e.results.map((r) => r.command), ["INSERT 0 1"]);
  assert.deepEqual(db.query("SELECT k FROM t ORDER BY k").rows, [[1], [2], [3]]);
  // query takes one statement.
  assert.equal(sqlError(() => db.query("SELECT 1; SELECT 2")).sqlstate, "42601");
});

test("errors carry SQLSTATE, message and position", async () => {
  const db = await Database.open();
  const syntax = sqlError(() => db.query("SELECT * FRM nowhere"));
  assert.ok(syntax instanceof Error);
  assert.equal(syntax.sqlstate, "42601");
  assert.match(syntax.message, /nowhere/);
  assert.equal(syntax.position, 14);
  const missing = sqlError(() => db.query("SELECT x FROM nowhere"));
  assert.equal(missing.sqlstate, "42P01");
  assert.equal(missing.message, 'relation "nowhere" does not exist');
  assert.equal(missing.position, 15);
  assert.equal(sqlError(() => db.query("SELECT 1 / 0")).sqlstate, "22012");
  assert.equal(sqlError(() => db.indexStats("nowhere")).sqlstate, "42P01");
  await assert.rejects(Database.open({ backend: "nosuch" }), (e) => typeof e.sqlstate === "string");
});

test("transactions: commit, rollback, the aborted state", async () => {
  const db = await Database.open();
  db.execute("CREATE TABLE a (id INT PRIMARY KEY, v INT)");
  db.query("BEGIN");
  assert.equal(db.inTransaction, true);
  db.query("INSERT INTO a VALUES (1, 1)");
  db.query("ROLLBACK");
  assert.equal(db.inTransaction, false);
  assert.deepEqual(db.query("SELECT count(*) FROM a").rows, [[0n]]);
  db.execute("BEGIN; INSERT INTO a VALUES (2, 2)");
  assert.equal(sqlError(() => db.query("SELECT 1 / 0")).sqlstate, "22012");
  assert.equal(sqlError(() => db.query("SELECT 1")).sqlstate, "25P02");
  db.query("ROLLBACK");
  db.execute("BEGIN; INSERT INTO a VALUES (3, 3); COMMIT");
  assert.deepEqual(db.query("SELECT id FROM a").rows, [[3]]);
});

test("prepared statements report their types and run many times", async () => {
  const db = await Database.open();
  db.execute("CREATE TABLE kv (k BIGINT PRIMARY KEY, v TEXT)");
  const insert = db.prepare("INSERT INTO kv VALUES ($1, $2)");
  assert.deepEqual(insert.parameterTypes, ["bigint", "text"]);
  assert.deepEqual(insert.columns, []);
  for (let i = 0; i < 100; i++) insert.query([i, `v${i}`]);
  const get = db.prepare("SELECT v FROM kv WHERE k = $1");
  assert.deepEqual(get.parameterTypes, ["bigint"]);
  assert.deepEqual(get.columns, [{ name: "v", type: "text" }]);
  assert.deepEqual(get.query([42]).rows, [["v42"]]);
  assert.deepEqual(get.query([1000]).rows, []);
  assert.equal(sqlError(() => get.query([])).sqlstate, "08P01");
  assert.equal(sqlError(() => db.prepare("SELEC 1")).sqlstate, "42601");
});

test("the index inspectors describe the learned index as it grows", async () => {
  const db = await Database.open();
  db.execute("CREATE TABLE s (id BIGINT PRIMARY KEY)");
  const before = db.indexStats("s");
  assert.equal(before.keys, 0);
  db.query("INSERT INTO s SELECT g FROM generate_series(1, 20000) g");
  const stats = db.indexStats("s");
  assert.equal(stats.keys, 20000);
  assert.equal(stats.inserts, 20000);
  assert.ok(stats.data_nodes >= 1);
  const nodes = db.indexInspect("s");
  assert.equal(nodes.length, stats.inner_nodes + stats.data_nodes);
  assert.equal(nodes[0].parent, null);
  const data = nodes.filter((n) => n.kind === "data");
  assert.equal(data.reduce((sum, n) => sum + n.fill, 0), 20000);
  for (const n of data) {
    assert.equal(n.occupancy.reduce((a, b) => a + b, 0), n.fill);
    assert.ok(n.points.length > 0 && n.points.every(([, slot]) => slot < n.capacity));
  }
  assert.equal(Math.min(...data.map((n) => n.min_key)), 1);
  assert.equal(Math.max(...data.map((n) => n.max_key)), 20000);
  const schema = db.schema();
  assert.deepEqual(schema.tables.map((t) => t.name), ["s"]);
  assert.deepEqual(schema.tables[0].primary_key, ["id"]);
});

test("export and import carry committed data only, and refuse other bytes", async () => {
  const db = await Database.open();
  db.execute(`CREATE TABLE e (id INT PRIMARY KEY, name TEXT);
    CREATE INDEX e_name ON e (name);
    INSERT INTO e SELECT g, 'n' || g FROM generate_series(1, 500) g`);
  db.execute("BEGIN; INSERT INTO e VALUES (1000, 'uncommitted')");
  const bytes = db.exportBytes();
  assert.ok(bytes instanceof Uint8Array && bytes.length > 0);
  for (const backend of ["redb", "memory"]) {
    const copy = await Database.importBytes(bytes, { backend });
    assert.deepEqual(copy.query("SELECT count(*), max(id) FROM e").rows, [[500n, 500]]);
    assert.deepEqual(copy.query("SELECT id FROM e WHERE name = 'n42'").rows, [[42]]);
    copy.query("INSERT INTO e VALUES (501, 'more')");
  }
  db.query("ROLLBACK");
  await assert.rejects(Database.importBytes(new Uint8Array([1, 2, 3])), (e) => e.sqlstate === "22P03");
  await assert.rejects(Database.open({ persist: "x" }), /IndexedDB is not available/);
});

test("now() and gen_random_uuid() use the host's clock and randomness", async () => {
  const db = await Database.open();
  const [[now, a, b]] = db.query("SELECT now(), gen_random_uuid(), gen_random_uuid()").rows;
  assert.ok(Math.abs(now.getTime() - Date.now()) < 60_000);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, b);
});
