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
  // Following a view: LISTEN on its channel, and a cursor FETCH loop over SUBSCRIBE.
  await client.query('CREATE TABLE ticks (id int PRIMARY KEY, v int)');
  await client.query('CREATE MATERIALIZED VIEW tick_sum AS SELECT count(*) AS n, sum(v) AS s FROM ticks');
  const listener = new pg.Client(c.conn);
  await listener.connect();
  const heard = new Promise((resolve) => listener.once('notification', resolve));
  await listener.query('LISTEN tick_sum');
  const follower = new pg.Client(c.conn);
  await follower.connect();
  await follower.query('DECLARE f CURSOR FOR SUBSCRIBE TO tick_sum WITH (PROGRESS)');
  await client.query('INSERT INTO ticks VALUES ($1, $2)', [1, 10]);
  const first = Number((await client.query('SHOW eddy_epoch')).rows[0].eddy_epoch);
  const note = await heard;
  c.assert.deepStrictEqual([note.channel, note.payload], ['tick_sum', String(first)]);
  c.tested('LISTEN on a materialized view: a notification event with the epoch that changed it');
  for (let i = 2; i <= 6; i++) {
    await client.query('INSERT INTO ticks VALUES ($1, $2)', [i, i * 10]);
  }
  const last = Number((await client.query('SHOW eddy_epoch')).rows[0].eddy_epoch);
  const state = new Map();
  let through = 0;
  while (through < last) {
    const r = await follower.query("FETCH ALL f WITH (timeout = '2s')");
    c.assert.ok(r.rows.length > 0, `nothing fetched after epoch ${through}`);
    for (const row of r.rows) {
      if (row.progressed) {
        through = Number(row.epoch);
        continue;
      }
      const key = `${row.n}|${row.s}`;
      const n = (state.get(key) || 0) + Number(row.diff);
      if (n === 0) state.delete(key);
      else state.set(key, n);
    }
  }
  const ticks = await client.query('SELECT n, s FROM tick_sum');
  c.assert.deepStrictEqual([...state.entries()], ticks.rows.map((r) => [`${r.n}|${r.s}`, 1]));
  c.tested('DECLARE CURSOR FOR SUBSCRIBE + FETCH loop: the diffs sum to the view');
  await follower.end();
  await listener.end();
  await client.end();
  console.log('ok');
}

main().catch((e) => { console.error('FAIL', e); process.exit(1); });
