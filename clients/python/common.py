"""Shared by the Python client tests: where the server is, the data every driver writes, and
what every driver must read back. Each test prints `version <client> <version>` and one
`tested <what>` line per check, which tests/clients.rs turns into docs/COMPATIBILITY.md."""

import datetime
import json
import os
import sys
from decimal import Decimal

HOST = os.environ.get("EDDY_HOST", "127.0.0.1")
PORT = int(os.environ.get("EDDY_PORT", "5488"))
USER = os.environ.get("EDDY_USER", "eddy")
DB = os.environ.get("EDDY_DB", "eddy")
DSN = f"host={HOST} port={PORT} user={USER} dbname={DB}"
URL = f"postgresql://{USER}@{HOST}:{PORT}/{DB}"

UTC = datetime.timezone.utc

CREATE_TABLE = (
    "CREATE TABLE readings (id int PRIMARY KEY, sensor varchar(10) NOT NULL, "
    "value numeric(10,2), at timestamptz, meta jsonb, tags int[])"
)
CREATE_VIEW = (
    "CREATE VIEW recent AS SELECT id, sensor, value, at, meta, tags FROM readings WHERE id >= 2"
)
CREATE_MV = (
    "CREATE MATERIALIZED VIEW per_sensor AS "
    "SELECT sensor, count(*) AS n, sum(value) AS total FROM readings GROUP BY sensor"
)

# (id, sensor, value, at, meta, tags): every type the drivers must map, and NULLs of each.
ROWS = [
    (1, "a", Decimal("1.50"), datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), {"k": 1}, [1, 2]),
    (2, "a", Decimal("2.25"), datetime.datetime(2026, 1, 2, 4, 0, 0, 250000, tzinfo=UTC), None, []),
    (3, "b", None, None, {"k": [True, None], "s": "x\"y"}, None),
]
LATE_ROW = (4, "b", Decimal("-0.75"), datetime.datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), [], [None, 7])

# per_sensor before and after LATE_ROW, ordered by sensor.
PER_SENSOR = [("a", 2, Decimal("3.75")), ("b", 1, None)]
PER_SENSOR_LATE = [("a", 2, Decimal("3.75")), ("b", 2, Decimal("-0.75"))]


def json_text(value):
    """A Python value as a JSON parameter for drivers that send json as text."""
    return None if value is None else json.dumps(value)


def version(client, v):
    print(f"version {client} {v}", flush=True)


def tested(what):
    print(f"tested {what}", flush=True)


def same(got, want, what):
    """Fails the test, saying what differed, unless got == want (types included)."""
    # str() too, so that a numeric's scale (1.50 vs 1.5) counts.
    if got != want or type(got) is not type(want) or (isinstance(want, Decimal) and str(got) != str(want)):
        sys.exit(f"FAIL {what}:\n  got  {got!r}\n  want {want!r}")


def same_rows(got, want, what):
    got = [tuple(r) for r in got]
    same(len(got), len(want), f"{what}: row count")
    for g, w in zip(got, want):
        same(len(g), len(w), f"{what}: width")
        for gv, wv in zip(g, w):
            same(gv, wv, f"{what}: row {g!r}")
