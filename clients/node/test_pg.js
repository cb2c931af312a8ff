// node-postgres (pg): parameters over the extended protocol, named prepared statements, the
// types it parses by OID, and errors with their SQLSTATE.
'use strict';
const pg = require('pg');
const c = require('./common');

async function main() {
  c.version('node-postgres', require('pg/package.json').version);
  const client = new pg.Client(c.conn);
  await client.connect();
  await client.query(c.CREATE_TABLE);
  await client.query(c.CREATE_VIEW);
  await client.query(c.CREATE_MV);
  for (const r of c.ROWS) {
    // pg sends objects as JSON text and arrays in PostgreSQL's array literal form.
    await client.query(
      'INSERT INTO readings (id, sensor, value, at, meta, tags) VALUES ($1, $2, $3, $4, $5, $6)',
      [r[0], r[1], r[2], r[3], r[4] === null ? null : JSON.stringify(r[4]), r[5]],
    );
  }
  c.tested('INSERT with parameters of every column type and NULLs');

  const all = await client.query({
    text: 'SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id',
    rowMode: 'array',
  });
  c.sameRows(all.rows, c.ROWS, 'table read back');
  c.assert.deepStrictEqual(all.fields.map((f) => f.dataTypeID), [23, 1043, 1700, 1184, 3802, 1007]);
  c.tested('SELECT of every column type; RowDescription type OIDs');

  const view = await client.query({
    text: 'SELECT * FROM recent WHERE sensor = $1 ORDER BY id', values: ['a'], rowMode: 'array',
  });
  c.sameRows(view.rows, [c.ROWS[1]], 'view with a parameter');
  const q = { name: 'per-sensor', text: 'SELECT sensor, n, total FROM per_sensor WHERE n >= $1 ORDER BY sensor', rowMode: 'array' };
  c.sameRows((await client.query({ ...q, values: [1] })).rows, c.PER_SENSOR, 'materialized view');
  const late = c.LATE_ROW;
  await client.query('INSERT INTO readings VALUES ($1, $2, $3, $4, $5, $6)',
    [late[0], late[1], late[2], late[3], JSON.stringify(late[4]), late[5]]);
  c.sameRows((await client.query({ ...q, values: [1] })).rows, c.PER_SENSOR_LATE, 'after an insert');
  c.tested('named prepared statement on a materialized view, run again after an INSERT');

  await client.query('BEGIN');
  await client.query("INSERT INTO readings (id, sensor) VALUES (9, 'z')");
  await client.query('ROLLBACK');
  const n = await client.query('SELECT count(*)::int AS n FROM readings');
  c.assert.equal(n.rows[0].n, 4);
  c.tested('transaction rollback');

  await c.assert.rejects(client.query('SELECT * FROM nope'), (e) => e.code === '42P01');
  c.assert.equal((await client.query('SELECT 1::int AS one')).rows[0].one, 1);
  c.tested('errors carry SQLSTATE (42P01) and the session goes on');
  await client.end();
  console.log('ok');
}

main().catch((e) => { console.error('FAIL', e); process.exit(1); });
