"""pg8000: a pure-Python driver that binds every parameter with the type it infers, and reads
text results by OID."""

import pg8000.dbapi
import pg8000.native

from common import *

version("pg8000", pg8000.__version__)
conn = pg8000.native.Connection(USER, host=HOST, port=PORT, database=DB)
conn.run(CREATE_TABLE)
conn.run(CREATE_VIEW)
conn.run(CREATE_MV)
for (i, s, v, at, m, t) in ROWS:
    conn.run(
        "INSERT INTO readings (id, sensor, value, at, meta, tags) "
        "VALUES (:i, :s, :v, :at, CAST(:m AS jsonb), :t)",
        i=i, s=s, v=v, at=at, m=json_text(m), t=t,
    )
tested("INSERT with named parameters of every column type and NULLs")

rows = conn.run("SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id")
same_rows(rows, ROWS, "table read back")
same([c["name"] for c in conn.columns], ["id", "sensor", "value", "at", "meta", "tags"], "columns")
tested("SELECT of every column type")

same_rows(conn.run("SELECT * FROM recent WHERE sensor = :s ORDER BY id", s="a"), [ROWS[1]], "view")
same_rows(conn.run("SELECT sensor, n, total FROM per_sensor ORDER BY sensor"), PER_SENSOR, "mv")
tested("view and materialized view with parameters")

ps = conn.prepare("SELECT count(*) FROM readings WHERE sensor = :s")
same(ps.run(s="a"), [[2]], "prepared")
same(ps.run(s="b"), [[1]], "prepared again")
ps.close()
tested("prepared statement run twice")

db = pg8000.dbapi.connect(USER, host=HOST, port=PORT, database=DB)
cur = db.cursor()
i, s, v, at, m, t = LATE_ROW
cur.execute("INSERT INTO readings VALUES (%s, %s, %s, %s, CAST(%s AS jsonb), %s)", (i, s, v, at, json_text(m), t))
db.commit()
cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
same_rows(cur.fetchall(), PER_SENSOR_LATE, "mv after a DB-API insert")
tested("DB-API transaction commit; materialized view follows")

try:
    conn.run("SELECT nope FROM readings")
    raise SystemExit("FAIL: no error for a missing column")
except pg8000.native.DatabaseError as e:
    same(e.args[0]["C"], "42703", "SQLSTATE")
same(conn.run("SELECT 1"), [[1]], "after an error")
tested("errors carry SQLSTATE (42703)")
print("ok")
