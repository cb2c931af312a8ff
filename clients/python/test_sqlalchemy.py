"""SQLAlchemy 2 over psycopg2: Core statements and the inspector's reflection (tables, views,
materialized views, columns with types, primary keys)."""

import sqlalchemy as sa
from sqlalchemy import inspect

from common import *

version("SQLAlchemy", sa.__version__)
engine = sa.create_engine(f"postgresql+psycopg2://{USER}@{HOST}:{PORT}/{DB}")
with engine.begin() as c:
    c.exec_driver_sql(CREATE_TABLE)
    c.exec_driver_sql(CREATE_VIEW)
    c.exec_driver_sql(CREATE_MV)

insp = inspect(engine)
same(insp.get_table_names(), ["readings"], "get_table_names")
same(insp.get_view_names(), ["recent"], "get_view_names")
same(insp.get_materialized_view_names(), ["per_sensor"], "get_materialized_view_names")
cols = insp.get_columns("readings")
same([c["name"] for c in cols], ["id", "sensor", "value", "at", "meta", "tags"], "column names")
same([str(c["type"]) for c in cols],
     ["INTEGER", "VARCHAR(10)", "NUMERIC(10, 2)", "TIMESTAMP", "JSONB", "ARRAY"], "column types")
same(str(cols[5]["type"].item_type), "INTEGER", "array element type")
same(cols[3]["type"].timezone, True, "timestamptz")
same([c["nullable"] for c in cols], [False, False, True, True, True, True], "nullability")
same(insp.get_pk_constraint("readings")["constrained_columns"], ["id"], "primary key")
same(insp.get_pk_constraint("readings")["name"], "readings_pkey", "primary key name")
same([c["name"] for c in insp.get_columns("per_sensor")], ["sensor", "n", "total"], "mv columns")
same(insp.get_indexes("readings"), [], "indexes besides the primary key")
same(insp.get_foreign_keys("readings"), [], "foreign keys")
same(insp.has_table("readings"), True, "has_table")
same(insp.has_table("nope"), False, "has_table of a missing table")
same(insp.get_schema_names(), ["information_schema", "public"], "schemas")
tested("inspector: table, view and materialized view names, columns and types, primary key")

# Apache Superset reads a database's metadata through this inspector (its PostgresEngineSpec
# adds foreign tables to the table list): the connection test, the default schema, then for a
# table its columns, keys, indexes, constraints and comment, and a view's definition.
with engine.connect() as c:
    same(c.execute(sa.text("SELECT 1")).scalar(), 1, "Superset's connection test")
    same(c.execute(sa.text("SELECT current_schema()")).scalar(), "public", "default schema")
    same(c.execute(sa.text("SHOW search_path")).scalar(), '"$user", public', "search_path")
same(insp.get_foreign_table_names("public"), [], "get_foreign_table_names")
same(insp.get_unique_constraints("readings"), [], "get_unique_constraints")
same(insp.get_check_constraints("readings"), [], "get_check_constraints")
same(insp.get_table_comment("readings"), {"text": None}, "get_table_comment")
same(insp.get_sequence_names(), [], "get_sequence_names")
same(insp.get_enums(), [], "get_enums")
definition = insp.get_view_definition("recent")
if "readings" not in definition:
    sys.exit(f"FAIL get_view_definition: {definition!r}")
same(insp.get_columns("per_sensor")[1]["type"].__class__.__name__, "BIGINT", "mv column type")
tested("Apache Superset's metadata calls: connection test, default schema, foreign tables, "
       "constraints, comments, sequences, enums, view definition")

md = sa.MetaData()
readings = sa.Table("readings", md, autoload_with=engine)
per_sensor = sa.Table("per_sensor", md, autoload_with=engine)
with engine.begin() as c:
    c.execute(readings.insert(), [dict(zip(["id", "sensor", "value", "at", "meta", "tags"], r)) for r in ROWS])
with engine.connect() as c:
    got = c.execute(sa.select(readings).order_by(readings.c.id)).all()
    same_rows(got, ROWS, "Core select")
    got = c.execute(sa.select(per_sensor).where(per_sensor.c.n >= sa.bindparam("m")).order_by("sensor"), {"m": 1}).all()
    same_rows(got, PER_SENSOR, "materialized view through a reflected Table")
tested("reflected Table insert (jsonb, arrays) and select with bound parameters")
print("ok")
