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

# Following a view with a named, durable subscription: a cursor FETCH loop that disconnects and
# comes back with SINCE the last epoch it processed gets every change exactly once.
conn.execute("CREATE TABLE ticks (id int PRIMARY KEY, v int)")
conn.execute("CREATE MATERIALIZED VIEW tick_sum AS SELECT count(*) AS n, sum(v) AS s FROM ticks")
conn.execute("CREATE SUBSCRIPTION ticks_sub FROM tick_sum")
origin = int(conn.execute("SHOW eddy_epoch").fetchone()[0])
at_origin = conn.execute("SELECT n, s FROM tick_sum").fetchall()


def epoch_now():
    return int(conn.execute("SHOW eddy_epoch").fetchone()[0])


def follow(since, until, state, seen):
    """Reads ticks_sub after epoch `since` on a new connection until epoch `until` is in, folding
    the diffs into `state`; returns the last epoch processed. FETCH ALL hands over whole epochs,
    so the last epoch of each batch is complete."""
    c = psycopg.connect(DSN, autocommit=True)
    c.execute(f"DECLARE c SUBSCRIPTION CURSOR FOR ticks_sub SINCE {since}")
    last = since
    while last < until:
        rows = c.execute("FETCH ALL c WITH (timeout = '2s')").fetchall()
        if not rows:
            c.close()
            sys.exit(f"FAIL: nothing fetched after epoch {last}, want up to {until}")
        for epoch, diff, n, total in rows:
            if epoch <= since:
                sys.exit(f"FAIL: epoch {epoch} came again after resuming SINCE {since}")
            seen.add(epoch)
            key = (n, total)
            state[key] = state.get(key, 0) + diff
            if state[key] == 0:
                del state[key]
            last = max(last, epoch)
    c.close()  # gone, as a client that crashed would be
    return last


state, seen = {row: 1 for row in at_origin}, set()
for i in range(1, 6):
    conn.execute("INSERT INTO ticks VALUES (%s, %s)", (i, i * 10))
resume_at = follow(origin, epoch_now(), state, seen)
for i in range(6, 11):
    conn.execute("INSERT INTO ticks VALUES (%s, %s)", (i, i * 10))
follow(resume_at, epoch_now(), state, seen)
view = conn.execute("SELECT n, s FROM tick_sum").fetchall()
same(state, {row: 1 for row in view}, "changes folded across a reconnect equal the view")
same(len(seen), 10, "one epoch per insert, each received once")
tested("named subscription: DECLARE ... SUBSCRIPTION CURSOR + FETCH loop, reconnect with SINCE: every change exactly once")

# LISTEN on the view: a notification carrying the epoch, delivered while the connection idles.
listener = psycopg.connect(DSN, autocommit=True)
listener.execute("LISTEN tick_sum")
conn.execute("INSERT INTO ticks VALUES (11, 110)")
changed_at = epoch_now()
heard = list(listener.notifies(timeout=10, stop_after=1))
same(len(heard), 1, "notifications heard")
same((heard[0].channel, heard[0].payload), ("tick_sum", str(changed_at)), "the view's notification")
listener.close()
tested("LISTEN on a materialized view: conn.notifies() gets the epoch that changed it")

# SUBSCRIBE to a query, through a cursor.
with conn.transaction():
    conn.execute("DECLARE q CURSOR FOR SUBSCRIBE (SELECT count(*) AS n FROM ticks WHERE v > 50)")
    rows = conn.execute("FETCH ALL q WITH (timeout = '2s')").fetchall()
    same(rows, [(epoch_now(), 1, 6)], "SUBSCRIBE (query) snapshot")
    conn.execute("CLOSE q")
tested("SUBSCRIBE (SELECT ...) through DECLARE CURSOR + FETCH")
print("ok")
