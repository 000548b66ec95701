// The wasm side of `cargo bench --bench wasm_ratio`: the same statements as the native side, on
// the Node build of the package (redb in memory). Prints one JSON object: operation → ns per op.
//   node wasm-pkg/bench/workload.cjs --rows 200000 --points 200000
const path = require("node:path");
const { Database } = require(path.join(__dirname, "..", "pkg", "node", "omendb_wasm.js"));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const rows = arg("--rows", 200_000);
const points = arg("--points", 200_000);

// Row i's key: distinct for i < 2^32 (an odd multiplier is a bijection modulo 2^32).
const key = (i) => (i * 2654435761) % 4294967296;

(async () => {
  const db = await Database.open();
  db.execute("CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO kv VALUES ($1, $2)");
  let start = process.hrtime.bigint();
  db.query("BEGIN");
  for (let i = 0; i < rows; i++) insert.query([key(i), `value-${i}`]);
  db.query("COMMIT");
  const insertNs = Number(process.hrtime.bigint() - start) / rows;

  const select = db.prepare("SELECT v FROM kv WHERE id = $1");
  let found = 0;
  start = process.hrtime.bigint();
  for (let j = 0; j < points; j++) found += select.query([key((j * 7919) % rows)]).rows.length;
  const pointNs = Number(process.hrtime.bigint() - start) / points;
  if (found !== points) throw new Error(`found ${found} of ${points} keys`);
  console.log(JSON.stringify({ "bulk insert (prepared, one transaction)": insertNs, "point select (prepared)": pointNs }));
})();
