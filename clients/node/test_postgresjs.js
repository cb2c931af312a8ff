// postgres.js: tagged-template queries (always named prepared statements over the extended
// protocol), its array-type discovery query on connect, and the types it parses.
'use strict';
const postgres = require('postgres');
const c = require('./common');

async function main() {
  c.version('postgres.js', JSON.parse(require('node:fs').readFileSync(require('node:path').join(__dirname, 'node_modules/postgres/package.json'))).version);
  const sql = postgres({ ...c.conn, max: 1, onnotice: () => {} });
  await sql.unsafe(c.CREATE_TABLE);
  await sql.unsafe(c.CREATE_VIEW);
  await sql.unsafe(c.CREATE_MV);
  for (const r of c.ROWS) {
    await sql`INSERT INTO readings (id, sensor, value, at, meta, tags)
              VALUES (${r[0]}, ${r[1]}, ${r[2]}, ${r[3]}, ${r[4] === null ? null : sql.json(r[4])}, ${r[5]})`;
  }
  c.tested('INSERT with parameters of every column type and NULLs');

  const all = await sql`SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id`.values();
  c.sameRows(all.map((r) => [...r]), c.ROWS, 'table read back');
  c.tested('SELECT of every column type');

  const sensor = 'a';
  const view = await sql`SELECT * FROM recent WHERE sensor = ${sensor} ORDER BY id`.values();
  c.sameRows(view.map((r) => [...r]), [c.ROWS[1]], 'view with a parameter');
  const perSensor = async () => (await sql`SELECT sensor, n, total FROM per_sensor ORDER BY sensor`.values()).map((r) => [...r]);
  c.sameRows(await perSensor(), c.PER_SENSOR, 'materialized view');
  const l = c.LATE_ROW;
  await sql`INSERT INTO readings VALUES (${l[0]}, ${l[1]}, ${l[2]}, ${l[3]}, ${sql.json(l[4])}, ${l[5]})`;
  c.sameRows(await perSensor(), c.PER_SENSOR_LATE, 'after an insert');
  c.tested('view and materialized view; the same prepared statement after an INSERT');

  await sql.begin(async (tx) => {
    await tx`INSERT INTO readings (id, sensor) VALUES (5, 'c')`;
    const [{ n }] = await tx`SELECT count(*)::int AS n FROM readings`;
    c.assert.equal(n, 5);
  });
  c.tested('transaction with sql.begin');

  await c.assert.rejects(sql`INSERT INTO readings (id, sensor) VALUES (1, 'dup')`, (e) => e.code === '23505');
  c.tested('errors carry SQLSTATE (23505)');
  await sql.end();
  console.log('ok');
}

main().catch((e) => { console.error('FAIL', e); process.exit(1); });
