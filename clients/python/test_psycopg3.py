"""psycopg 3: server-side parameter binding (extended protocol), executemany (pipelined),
text and binary results, a server-side cursor, COPY both ways and prepared statements."""

import psycopg
from psycopg.types.json import Jsonb

from common import *

version("psycopg", psycopg.__version__)
conn = psycopg.connect(DSN, autocommit=True)

conn.execute(CREATE_TABLE)
conn.execute(CREATE_VIEW)
conn.execute(CREATE_MV)
with conn.cursor() as cur:
    cur.executemany(
        "INSERT INTO readings (id, sensor, value, at, meta, tags) VALUES (%s, %s, %s, %s, %s, %s)",
        [(i, s, v, at, Jsonb(m) if m is not None else None, t) for (i, s, v, at, m, t) in ROWS],
    )
tested("executemany INSERT (pipelined extended protocol) with typed parameters and NULLs")

for binary in (False, True):
    with conn.cursor(binary=binary) as cur:
        cur.execute("SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id")
        same_rows(cur.fetchall(), ROWS, f"table read back (binary={binary})")
        cur.execute("SELECT * FROM recent WHERE sensor = %s AND id > %s ORDER BY id", ("a", 0))
        same_rows(cur.fetchall(), [ROWS[1]], f"view with parameters (binary={binary})")
        cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
        same_rows(cur.fetchall(), PER_SENSOR, f"materialized view (binary={binary})")
tested("SELECT of every column type, text and binary result formats")
tested("view and materialized view read with parameters")

# The same statement many times: psycopg prepares it server-side after prepare_threshold uses.
for i in range(8):
    row = conn.execute("SELECT count(*) FROM readings WHERE id > %s", (i % 3,)).fetchone()
    same(row, (3 - i % 3,), "prepared statement")
tested("prepared statements (named, reused past prepare_threshold)")

with conn.cursor() as cur:
    i, s, v, at, m, t = LATE_ROW
    with cur.copy("COPY readings (id, sensor, value, at, meta, tags) FROM STDIN") as copy:
        copy.write_row((i, s, v, at, Jsonb(m), t))
    same(cur.rowcount, 1, "COPY FROM row count")
    cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
    same_rows(cur.fetchall(), PER_SENSOR_LATE, "materialized view after COPY")
    with cur.copy("COPY (SELECT id, sensor FROM readings ORDER BY id) TO STDOUT") as copy:
        got = [tuple(r) for r in copy.rows()]
    same(got, [("1", "a"), ("2", "a"), ("3", "b"), ("4", "b")], "COPY TO")
tested("COPY FROM STDIN and COPY TO STDOUT; the materialized view follows")

with conn.transaction():
    with conn.cursor(name="srv") as named:
        named.itersize = 3
        named.execute("SELECT id FROM readings WHERE id <> %s ORDER BY id", (2,))
        same([r[0] for r in named], [1, 3, 4], "server-side cursor")
tested("server-side cursor with a parameter")

try:
    conn.execute("INSERT INTO readings (id, sensor) VALUES (1, 'dup')")
    raise SystemExit("FAIL: no error for a duplicate key")
except psycopg.errors.UniqueViolation:
    pass
same(conn.execute("SELECT count(*) FROM readings").fetchone(), (4,), "after an error")
tested("errors carry SQLSTATE (UniqueViolation)")
print("ok")
