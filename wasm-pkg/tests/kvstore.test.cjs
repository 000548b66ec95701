// The Node build of the wasm package, exercised through its public API.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const pkg = require(path.join(__dirname, "..", "pkg", "node", "omendb_wasm.js"));

test("reports the engine version from Cargo.toml", () => {
  assert.match(pkg.engineVersion(), /^\d+\.\d+\.\d+$/);
});

for (const backend of [undefined, "redb", "memory"]) {
  test(`${backend ?? "default"} backend agrees with a JS Map on puts, gets, deletes and scans`, () => {
    const store = new pkg.KvStore(backend);
    assert.equal(store.backend, backend ?? "redb");
    const model = new Map();
    for (let i = 0; i < 500; i++) {
      // Scrambled insertion order and overwrites: scans must come back sorted, latest value wins.
      const key = `k${String((i * 7919) % 300).padStart(4, "0")}`;
      store.put(key, String(i));
      model.set(key, String(i));
    }
    for (const key of ["k0003", "k0150", "absent"]) {
      store.delete(key);
      model.delete(key);
    }
    const sorted = [...model.keys()].sort();
    assert.deepEqual(store.keys(), sorted);
    assert.deepEqual(store.keys("k0100", "k0105"), sorted.filter((k) => k >= "k0100" && k < "k0105"));
    assert.deepEqual(store.keys("k0105", "k0100"), []);
    for (const key of ["k0000", "k0003", "k0299", "absent"]) {
      assert.equal(store.get(key), model.get(key));
    }
  });
}

test("an unknown backend is an error naming it, with a SQLSTATE", () => {
  assert.throws(() => new pkg.KvStore("oracle"), /unknown storage backend "oracle".*SQLSTATE F0000/);
});
