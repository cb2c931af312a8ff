"""psycopg2: simple and extended-style parameters (client-side interpolation), executemany,
a server-side (named) cursor, and the types it maps by OID."""

import psycopg2
import psycopg2.extras

from common import *

version("psycopg2", psycopg2.__version__.split()[0])
conn = psycopg2.connect(DSN)
conn.autocommit = True
cur = conn.cursor()

cur.execute(CREATE_TABLE)
cur.execute(CREATE_VIEW)
cur.execute(CREATE_MV)
rows = [(i, s, v, at, psycopg2.extras.Json(m) if m is not None else None, t) for (i, s, v, at, m, t) in ROWS]
cur.executemany(
    "INSERT INTO readings (id, sensor, value, at, meta, tags) VALUES (%s, %s, %s, %s, %s, %s)", rows
)
tested("executemany INSERT with numeric, timestamptz, jsonb, int[] and NULL parameters")

cur.execute("SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id")
same_rows(cur.fetchall(), ROWS, "table read back")
same([d.name for d in cur.description], ["id", "sensor", "value", "at", "meta", "tags"], "column names")
tested("SELECT of int, varchar, numeric, timestamptz, jsonb, int[] and NULLs mapped to Python types")

cur.execute("SELECT * FROM recent WHERE sensor = %s ORDER BY id", ("a",))
same_rows(cur.fetchall(), [ROWS[1]], "view with a parameter")
tested("view read with a parameter")

cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
same_rows(cur.fetchall(), PER_SENSOR, "materialized view")
i, s, v, at, m, t = LATE_ROW
cur.execute(
    "INSERT INTO readings VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
    (i, s, v, at, psycopg2.extras.Json(m), t),
)
same(cur.fetchone(), (4,), "RETURNING")
cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
same_rows(cur.fetchall(), PER_SENSOR_LATE, "materialized view after an insert")
tested("materialized view kept up to date after INSERT ... RETURNING")

# A named cursor is a server-side DECLARE ... FETCH inside a transaction.
conn.autocommit = False
named = conn.cursor("big")
named.itersize = 2
named.execute("SELECT id, sensor FROM readings ORDER BY id")
same([tuple(r) for r in named], [(1, "a"), (2, "a"), (3, "b"), (4, "b")], "server-side cursor")
named.close()
conn.commit()
tested("server-side cursor (DECLARE/FETCH in a transaction)")

# A transaction rolled back leaves nothing.
cur = conn.cursor()
cur.execute("INSERT INTO readings (id, sensor) VALUES (5, 'c')")
conn.rollback()
cur.execute("SELECT count(*) FROM readings")
same(cur.fetchone(), (4,), "rollback")
conn.commit()
tested("transaction rollback")

# An error names its SQLSTATE and leaves the connection usable.
try:
    cur.execute("SELECT * FROM missing")
    raise SystemExit("FAIL: no error for a missing table")
except psycopg2.errors.UndefinedTable:
    conn.rollback()
cur.execute("SELECT 1")
same(cur.fetchone(), (1,), "after an error")
tested("errors carry SQLSTATE (UndefinedTable) and the session goes on")
print("ok")
