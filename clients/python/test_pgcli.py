"""pgcli: its describe commands (pgspecial's own catalog queries) run by the real pgcli, and
every metadata query its tab completion runs (through pgcli's own PGExecute)."""

import os
import subprocess
import sys

import pgcli
from pgcli.pgexecute import PGExecute

from common import *

version("pgcli", pgcli.__version__)
ex = PGExecute(database=DB, user=USER, password=None, host=HOST, port=PORT, dsn=None)
for sql in (CREATE_TABLE, CREATE_VIEW, CREATE_MV):
    list(ex.run(sql))
list(ex.run("INSERT INTO readings (id, sensor, value) VALUES (1, 'a', 1.50), (2, 'b', NULL)"))

# What tab completion loads (pgcli's CompletionRefresher calls these).
same(sorted(ex.schemata()), ["information_schema", "pg_catalog", "public"], "schemata")
def public(rows):
    return sorted(r for r in rows if r[0] == "public")


same(public(ex.tables()), [("public", "readings")], "tables")
same(public(ex.views()), [("public", "per_sensor"), ("public", "recent")], "views")
same(("pg_catalog", "pg_class") in set(ex.tables()), True, "catalog tables listed too")
cols = sorted((t, c, ty) for (_, t, c, ty, *_rest) in public(ex.table_columns()))
same(cols[:3], [("readings", "at", "timestamp with time zone"), ("readings", "id", "integer"),
                ("readings", "meta", "jsonb")], "table columns")
same(sorted({t for (_, t, *_rest) in public(ex.view_columns())}), ["per_sensor", "recent"], "view columns")
upper = [f for f in ex.functions() if f.schema_name == "pg_catalog" and f.func_name == "upper"]
same([(f.arg_types, f.return_type) for f in upper], [(("text",), "text")], "built-in function upper(text)")
list(ex.datatypes())
same(list(ex.foreignkeys()), [], "foreign keys")
same(ex.databases(), ["eddy"], "databases")
same(ex.search_path(), ["pg_catalog", "public"], "search path")
tested("tab-completion metadata: schemata, tables, views, columns, functions (upper(text) from pg_proc), datatypes, foreign keys, databases, search path")

env = dict(os.environ, PGCLIRC="/dev/null", PAGER="cat", TERM="dumb", HOME=os.environ.get("TMPDIR", "/tmp"))
out = subprocess.run(
    [os.path.join(os.path.dirname(sys.executable), "pgcli"), "-h", HOST, "-p", str(PORT), "-U", USER,
     "-d", DB, "--less-chatty",
     "-c", "\\dt", "-c", "\\dv", "-c", "\\dm", "-c", "\\d readings",
     "-c", "SELECT sensor, n, total FROM per_sensor ORDER BY sensor"],
    capture_output=True, text=True, env=env, timeout=120,
)
if out.returncode != 0 or "error" in (out.stdout + out.stderr).lower():
    sys.exit(f"FAIL pgcli:\n{out.stdout}\n{out.stderr}")
for want in ("| readings ", "| recent ", "| per_sensor ", "| sensor ", "character varying(10)",
             "| a      | 1 | 1.50   |", "| b      | 1 | <null> |"):
    if want not in out.stdout:
        sys.exit(f"FAIL pgcli output lacks {want!r}:\n{out.stdout}")
tested("pgcli -c: \\dt, \\dv, \\dm, \\d readings and a query on a materialized view")
print("ok")
