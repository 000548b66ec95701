// node-postgres against OmenDB: CRUD, named prepared statements reused, a transaction, a
// constraint error, an aborted block. Exits non-zero on any mismatch.
//
//     node scenario.js PORT PASSWORD
const assert = require('node:assert/strict');
const { Client } = require('pg');

(async () => {
  const client = new Client({
    host: '127.0.0.1', port: Number(process.argv[2]), user: 'omendb',
    password: process.argv[3], database: 'omendb',
  });
  await client.connect();
  const version = (await client.query('SELECT version()')).rows[0].version;
  assert.match(version, /^PostgreSQL 16\.0 \(OmenDB/);
  await client.query(
    'CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount NUMERIC(10,2), ok BOOLEAN)');
  for (let i = 0; i < 5; i++) {
    await client.query('INSERT INTO t VALUES ($1, $2, $3, $4)', [i, `n${i}`, i * 1.5, i % 2 === 0]);
  }
  const byId = { name: 'by-id', text: 'SELECT name, amount, ok FROM t WHERE id = $1' };
  for (let i = 0; i < 20; i++) {
    const { rows } = await client.query({ ...byId, values: [i % 5] });
    assert.deepEqual(rows, [{ name: `n${i % 5}`, amount: (i % 5 * 1.5).toFixed(2), ok: i % 5 % 2 === 0 }]);
  }
  await client.query('BEGIN');
  await client.query('UPDATE t SET amount = amount + 1 WHERE id = 1');
  await client.query('COMMIT');
  await assert.rejects(client.query('INSERT INTO t (id) VALUES (1)'), { code: '23505' });
  await client.query('BEGIN');
  await assert.rejects(client.query('SELECT 1/0'), { code: '22012' });
  await assert.rejects(client.query('SELECT 1'), { code: '25P02' });
  await client.query('ROLLBACK');
  const { rows } = await client.query('SELECT count(*)::int AS n, sum(amount) AS s FROM t');
  assert.deepEqual(rows, [{ n: 5, s: '16.00' }]);
  await client.end();
  console.log('done');
})().catch((e) => { console.error(e); process.exit(1); });
