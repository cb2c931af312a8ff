"""dbt-postgres for real: `dbt seed` (CREATE TABLE and INSERT inside a transaction), `dbt run`
(a view, renamed into place inside a transaction, and a materialized view through dbt's
`materialized_view` materialization), `dbt test` on both, then the view's content checked."""

import os
import tempfile

import psycopg2
from dbt.cli.main import dbtRunner

from common import *

version("dbt-postgres", __import__("dbt.adapters.postgres.__version__", fromlist=["version"]).version)
project = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dbt")
work = tempfile.mkdtemp(prefix="eddy-dbt-")
os.environ.update(DBT_TARGET_PATH=os.path.join(work, "target"), DBT_LOG_PATH=os.path.join(work, "logs"),
                  DBT_SEND_ANONYMOUS_USAGE_STATS="false", EDDY_PORT=str(PORT), EDDY_HOST=HOST)
common_args = ["--project-dir", project, "--profiles-dir", project, "--no-partial-parse"]
runner = dbtRunner()
for command in (["seed"], ["run"], ["test"]):
    res = runner.invoke(command + common_args)
    if not res.success:
        raise SystemExit(f"FAIL dbt {command[0]}: {res.exception or res.result}")
    tested(f"dbt {command[0]}")

conn = psycopg2.connect(DSN)
cur = conn.cursor()
cur.execute("SELECT relname, relkind FROM pg_class WHERE relname IN ('readings', 'recent', 'per_sensor') ORDER BY 1")
same(cur.fetchall(), [("per_sensor", "m"), ("readings", "r"), ("recent", "v")], "relations dbt made")
cur.execute("SELECT sensor, n, total FROM per_sensor ORDER BY sensor")
same_rows(cur.fetchall(), [("a", 2, 3.75), ("b", 1, 4.0), ("c", 1, None)], "materialized view built by dbt")
cur.execute("INSERT INTO readings VALUES (5, 'c', 0.5)")
conn.commit()
cur.execute("SELECT sensor, n, total FROM per_sensor WHERE sensor = 'c'")
same_rows(cur.fetchall(), [("c", 2, 0.5)], "materialized view kept up to date after dbt")
tested("the materialized view dbt created stays up to date")
cur.execute("SELECT obj_description('per_sensor'::regclass, 'pg_class'), "
            "obj_description('recent'::regclass, 'pg_class'), col_description('recent'::regclass, 1)")
same(cur.fetchone(), ("Readings per sensor, kept up to date by Eddy", "Readings from id 2 on",
                      "The reading's id, with 'quotes'"), "descriptions dbt persisted")
tested("persist_docs: dbt's COMMENT ON (dollar-quoted) for a view, a materialized view and a column")
print("ok")
