// Shared by the Node.js client tests: the server's address and the data every driver writes
// and must read back. Each test prints `version <client> <version>` and `tested <what>` lines,
// which tests/clients.rs turns into docs/COMPATIBILITY.md.
'use strict';
const assert = require('node:assert/strict');

const conn = {
  host: process.env.EDDY_HOST || '127.0.0.1',
  port: Number(process.env.EDDY_PORT || 5488),
  user: process.env.EDDY_USER || 'eddy',
  database: process.env.EDDY_DB || 'eddy',
};

const CREATE_TABLE =
  'CREATE TABLE readings (id int PRIMARY KEY, sensor varchar(10) NOT NULL, ' +
  'value numeric(10,2), at timestamptz, meta jsonb, tags int[])';
const CREATE_VIEW =
  'CREATE VIEW recent AS SELECT id, sensor, value, at, meta, tags FROM readings WHERE id >= 2';
const CREATE_MV =
  'CREATE MATERIALIZED VIEW per_sensor AS ' +
  'SELECT sensor, count(*) AS n, sum(value) AS total FROM readings GROUP BY sensor';

// Both drivers hand numerics and bigints over as strings (JavaScript numbers would round).
const ROWS = [
  [1, 'a', '1.50', new Date('2026-01-02T03:04:05Z'), { k: 1 }, [1, 2]],
  [2, 'a', '2.25', new Date('2026-01-02T04:00:00.250Z'), null, []],
  [3, 'b', null, null, { k: [true, null], s: 'x"y' }, null],
];
const LATE_ROW = [4, 'b', '-0.75', new Date('2025-12-31T23:59:59Z'), [], [null, 7]];
const PER_SENSOR = [['a', '2', '3.75'], ['b', '1', null]];
const PER_SENSOR_LATE = [['a', '2', '3.75'], ['b', '2', '-0.75']];

function version(client, v) {
  console.log(`version ${client} ${v}`);
}

function tested(what) {
  console.log(`tested ${what}`);
}

function sameRows(got, want, what) {
  assert.deepStrictEqual(got, want, what);
}

module.exports = {
  assert, conn, CREATE_TABLE, CREATE_VIEW, CREATE_MV, ROWS, LATE_ROW, PER_SENSOR,
  PER_SENSOR_LATE, version, tested, sameRows,
};
